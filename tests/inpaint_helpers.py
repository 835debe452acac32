"""Images, masks and a known-answer ONNX model for the inpainting tests.

The ONNX model (``fill``) is a four-line torch module: it takes ``[image (3), mask (1)]`` in
``[-1, 1]`` and returns the image with every hole pixel set to 0.5, which is 0.75 of full scale:
191 at 8 bits, 49151 at 16 bits. So a test can say exactly what the hole must hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pytest

# What the fill model writes into a hole, at 8 bits: (0.5 + 1) / 2 * 255 = 191.25.
FILL_LEVEL_8 = 191
FILL_LEVEL_16 = round(0.75 * 65535)

_EXPORTED: dict[str, Path] = {}


def stripes(height: int, width: int, channels: int = 3, dtype: type = np.uint8) -> np.ndarray:
    """A sharp pattern (1-pixel vertical stripes, black and full scale), with a little colour
    so the channels differ; ``(H, W)`` when ``channels`` is 1."""
    full = np.iinfo(dtype).max
    xx = np.mgrid[:height, :width][1]
    planes = [np.where((xx + c) % 2 == 0, full, 0) for c in range(channels)]
    image = np.stack(planes, axis=2).astype(dtype)
    return image[:, :, 0] if channels == 1 else image


def noise(
    height: int, width: int, channels: int = 3, dtype: type = np.uint8, seed: int = 0
) -> np.ndarray:
    """Uniform noise over the whole range of ``dtype``; ``(H, W)`` when ``channels`` is 1."""
    full = np.iinfo(dtype).max
    rng = np.random.default_rng(seed)
    image = rng.integers(0, full, size=(height, width, channels), endpoint=True, dtype=dtype)
    return image[:, :, 0] if channels == 1 else image


def box(height: int, width: int, top: int, left: int, bottom: int, right: int) -> np.ndarray:
    """A ``(H, W)`` bool hole map, ``True`` in ``[top:bottom, left:right]``."""
    hole = np.zeros((height, width), dtype=bool)
    hole[top:bottom, left:right] = True
    return hole


def mask_png(path: Path, hole: np.ndarray) -> Path:
    """Save ``hole`` as an 8-bit grey mask (255 = hole)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(hole, 255, 0).astype(np.uint8), mode="L").save(path)
    return path


def fill_module() -> object:
    """``forward(x)``: ``x[:, :3] * (1 - m) + 0.5 * m`` with ``m = x[:, 3:4]``."""
    import torch

    class Fill(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            image = x[:, :3]
            m = x[:, 3:4]
            return image * (1 - m) + m * 0.5

    return Fill()


def fill_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fill model as an inpainting ``.onnx`` (size multiple 4, min size 16), once a session."""
    from ganedit import MaskSpec, ModelCard
    from ganedit.export import export_onnx

    path = _EXPORTED.get("fill")
    if path is None or not path.is_file():
        card = ModelCard(
            name="fill",
            task="inpaint",
            arch="test_fill",
            size_multiple=4,
            min_size=16,
            mask=MaskSpec(channel=3, hole=1),
        )
        folder = tmp_path_factory.mktemp("inpaint_models")
        path = export_onnx(fill_module(), card, folder / "fill.onnx").path
        _EXPORTED["fill"] = path
    return path
