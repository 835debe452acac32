"""Generated two-domain datasets with a known answer, for demos, tests and benchmarks.

Domain A holds "day" scenes (sky gradient, ground, sun, buildings with windows); domain B holds
other scenes of the same kind at "night": a fixed per-channel colour transform of a day scene
(:func:`to_night`). A translator trained A -> B can be scored exactly on held-out scenes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["NIGHT_GAIN", "NIGHT_OFFSET", "day_scene", "make_day_night", "to_night"]

NIGHT_GAIN = np.array([0.35, 0.42, 0.7], dtype=np.float32)
NIGHT_OFFSET = np.array([0.0, 0.02, 0.1], dtype=np.float32)


def day_scene(height: int, width: int, seed: int) -> np.ndarray:
    """A random daytime scene, ``(height, width, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(0.45, 0.75, 3), rng.uniform(0.75, 1.0, 3)
    top[2], bottom[2] = rng.uniform(0.85, 1.0), 1.0
    img = np.broadcast_to(top + (bottom - top) * y, (height, width, 3)).copy()
    horizon = int(height * rng.uniform(0.55, 0.75))
    img[horizon:] = rng.uniform([0.2, 0.4, 0.1], [0.4, 0.65, 0.3])
    yy, xx = np.mgrid[:height, :width]
    cy, cx, r = rng.uniform(0.1, 0.35) * height, rng.uniform(0.1, 0.9) * width, height * 0.08
    img[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = [1.0, 0.92, 0.5]
    for _ in range(rng.integers(2, 6)):
        w, h = int(rng.uniform(0.08, 0.2) * width), int(rng.uniform(0.15, 0.45) * height)
        x0 = int(rng.uniform(0, width - w))
        colour = rng.uniform(0.3, 0.8, 3)
        img[max(horizon - h, 0) : horizon, x0 : x0 + w] = colour
        for wy in range(max(horizon - h, 0) + 2, horizon - 2, 5):
            img[wy : wy + 2, x0 + 2 : x0 + w - 2 : 4] = colour * 0.5
    return np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)


def to_night(day: np.ndarray) -> np.ndarray:
    """The known answer: the night version of a day scene (uint8 in, uint8 out)."""
    x = day.astype(np.float32) / 255 * NIGHT_GAIN + NIGHT_OFFSET
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def make_day_night(
    root: Path, *, count: int = 48, size: int = 64, paired: bool = False, seed: int = 0
) -> Path:
    """Write a dataset: ``trainA``/``trainB`` (unpaired: B shows other scenes than A) or, with
    ``paired``, ``train/A``/``train/B`` (B is exactly the night version of A). Returns ``root``."""
    from PIL import Image

    dirs = ("train/A", "train/B") if paired else ("trainA", "trainB")
    for d in dirs:
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        day = day_scene(size, size, seed * 100_000 + i)
        night_source = day if paired else day_scene(size, size, seed * 100_000 + 50_000 + i)
        Image.fromarray(day).save(root / dirs[0] / f"{i:04d}.png")
        Image.fromarray(to_night(night_source)).save(root / dirs[1] / f"{i:04d}.png")
    return root
