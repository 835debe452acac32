"""Hole masks for inpainting training: free-form strokes, boxes, or mask images from a folder.

(The masks a user gives at inference are read by :mod:`ganedit.masks`; this module makes the
random ones training needs.)

Generated masks follow DeepFill v2's free-form algorithm: each stroke is a polyline from a random
start through a few vertices, turning by a random angle (alternately mirrored, so strokes wind
rather than circle) and advancing by a random length, drawn with a random width and round joints.
Boxes are random axis-aligned rectangles. Sizes scale with the image, so a 32-px crop and a
512-px crop get masks of the same look.

Every random choice comes from the ``numpy.random.Generator`` passed in, so a mask is a function
of its seed. Coverage (the fraction of hole pixels) is kept in ``[min_coverage, max_coverage]``:
a target is drawn uniformly between the bounds, shapes are added until the mask reaches it, and a
mask that overshoots ``max_coverage`` is drawn again with smaller shapes.

Example:
    >>> import numpy as np
    >>> mask = generate_mask(64, 96, np.random.default_rng(0))
    >>> mask.shape, mask.dtype, 0.05 <= mask.mean() <= 0.5
    ((64, 96), dtype('uint8'), True)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from .data_layout import DatasetError, find_images

__all__ = [
    "MASK_KINDS",
    "MaskFolder",
    "MaskKind",
    "box_mask",
    "generate_mask",
    "stroke_mask",
]

MaskKind = Literal["strokes", "boxes", "mixed"]
MASK_KINDS: tuple[MaskKind, ...] = ("strokes", "boxes", "mixed")

# Stroke and box sizes as fractions of the shorter image side. At 256 px: 2-5 vertices, segments
# up to 77 px, widths 10-38 px (DeepFill v2's free-form masks use widths 12-40 and similar
# lengths at 256 px); boxes 26-128 px a side.
_MAX_VERTICES = 5
_MAX_LENGTH = 0.3
_WIDTH = (0.04, 0.15)
_MAX_ANGLE = 2 * math.pi / 5
_BOX_SIDE = (0.1, 0.5)
_RETRIES = 20
_SHRINK = 0.8  # shapes shrink by this much after each overshoot of max_coverage
_MAX_SHAPES = 200


def stroke_mask(height: int, width: int, rng: np.random.Generator, *, scale: float = 1.0):
    """One free-form brush stroke as a ``(height, width)`` uint8 mask (1 = hole).

    Args:
        height: Mask height.
        width: Mask width.
        rng: Source of every random choice.
        scale: Multiplies the stroke's lengths and widths.
    """
    mask = np.zeros((height, width), np.uint8)
    side = min(height, width)
    vertices = int(rng.integers(2, _MAX_VERTICES + 1))
    x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
    for i in range(vertices):
        angle = float(rng.uniform(0, _MAX_ANGLE))
        if i % 2 == 0:
            angle = 2 * math.pi - angle
        length = float(rng.uniform(0.1, 1.0)) * _MAX_LENGTH * side * scale
        brush = max(1, round(float(rng.uniform(*_WIDTH)) * side * scale))
        # A random heading per stroke: the turning angles only bend it.
        heading = angle + (float(rng.uniform(0, 2 * math.pi)) if i == 0 else 0.0)
        nx = float(np.clip(x + length * math.cos(heading), 0, width - 1))
        ny = float(np.clip(y + length * math.sin(heading), 0, height - 1))
        start, end = (round(x), round(y)), (round(nx), round(ny))
        cv2.line(mask, start, end, 1, thickness=brush)
        radius = max(brush // 2, 1)
        cv2.circle(mask, start, radius, 1, thickness=-1)
        cv2.circle(mask, end, radius, 1, thickness=-1)
        x, y = nx, ny
    return mask


def box_mask(height: int, width: int, rng: np.random.Generator, *, scale: float = 1.0):
    """One random rectangle as a ``(height, width)`` uint8 mask (1 = hole).

    Its sides are 10-50 % of the image's (times ``scale``), at least one pixel.
    """
    mask = np.zeros((height, width), np.uint8)
    box_h = max(1, round(float(rng.uniform(*_BOX_SIDE)) * height * scale))
    box_w = max(1, round(float(rng.uniform(*_BOX_SIDE)) * width * scale))
    top = int(rng.integers(0, height - box_h + 1))
    left = int(rng.integers(0, width - box_w + 1))
    mask[top : top + box_h, left : left + box_w] = 1
    return mask


def _check_coverage(min_coverage: float, max_coverage: float) -> None:
    if not 0 <= min_coverage <= max_coverage <= 1 or max_coverage <= 0:
        raise ValueError(
            "coverage bounds must satisfy 0 <= min_coverage <= max_coverage <= 1 and "
            f"max_coverage > 0, got min {min_coverage}, max {max_coverage}"
        )


def _fallback_box(height: int, width: int, coverage: float) -> np.ndarray:
    # Reached only with bounds too tight for random shapes: a centred box of the target area.
    area = coverage * height * width
    box_h = int(np.clip(round(math.sqrt(area)), 1, height))
    box_w = int(np.clip(round(area / box_h), 1, width))
    mask = np.zeros((height, width), np.uint8)
    top, left = (height - box_h) // 2, (width - box_w) // 2
    mask[top : top + box_h, left : left + box_w] = 1
    return mask


def generate_mask(
    height: int,
    width: int,
    rng: np.random.Generator,
    *,
    kind: MaskKind = "mixed",
    min_coverage: float = 0.05,
    max_coverage: float = 0.5,
) -> np.ndarray:
    """A random hole mask of ``height`` × ``width`` covering between the two bounds.

    Args:
        height: Mask height (at least 1).
        width: Mask width (at least 1).
        rng: Source of every random choice; the same generator state gives the same mask.
        kind: ``"strokes"`` (free-form brush strokes), ``"boxes"`` (rectangles) or
            ``"mixed"`` (the union of both: at least one stroke and one box).
        min_coverage: Smallest fraction of hole pixels.
        max_coverage: Largest fraction of hole pixels.

    Returns:
        ``(height, width)`` uint8 array, 1 = hole, 0 = known.

    Raises:
        ValueError: Invalid size, kind or coverage bounds.

    Example:
        >>> mask = generate_mask(32, 32, np.random.default_rng(1), kind="boxes")
        >>> int(mask.max())
        1
    """
    if height < 1 or width < 1:
        raise ValueError(f"mask size must be positive, got {height}x{width}")
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
    _check_coverage(min_coverage, max_coverage)
    limit = max_coverage * height * width
    needed = float(rng.uniform(min_coverage, max_coverage)) * height * width
    scale = 1.0
    for _ in range(_RETRIES):
        mask = np.zeros((height, width), np.uint8)
        shapes = {"strokes": ["stroke"], "boxes": ["box"], "mixed": ["stroke", "box"]}[kind]
        for n in range(_MAX_SHAPES):
            # One of each kind first, then either kind.
            shape = shapes[n] if n < len(shapes) else shapes[int(rng.integers(len(shapes)))]
            draw = stroke_mask if shape == "stroke" else box_mask
            mask |= draw(height, width, rng, scale=scale)
            holes = int(mask.sum())
            if holes > limit:
                break
            if n + 1 >= len(shapes) and holes >= needed:
                return mask
        scale *= _SHRINK
    return _fallback_box(height, width, (min_coverage + max_coverage) / 2)


class MaskFolder:
    """Hole masks from a folder of mask images: non-zero pixels are holes.

    Each call picks an image at random, resizes it to the requested size with nearest-neighbour
    interpolation (so holes stay binary) and flips it horizontally and vertically, each half the
    time. Colour masks are read as grey.

    Args:
        root: Folder searched recursively for images.

    Raises:
        DatasetError: The folder is missing or holds no images.

    Example:
        >>> masks = MaskFolder("masks/")  # doctest: +SKIP
        >>> masks.sample(256, 256, np.random.default_rng(0)).shape  # doctest: +SKIP
        (256, 256)
    """

    def __init__(self, root: str | Path) -> None:
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such folder of mask images")
        self.root = root
        self.paths = find_images(root)

    def __len__(self) -> int:
        return len(self.paths)

    def sample(self, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
        """A ``(height, width)`` uint8 mask (1 = hole) from a random image of the folder.

        Raises:
            DatasetError: The chosen file cannot be read as an image.
        """
        from PIL import Image, UnidentifiedImageError

        path = self.paths[int(rng.integers(len(self.paths)))]
        try:
            with Image.open(path) as image:
                grey = np.asarray(image.convert("L"))
        except (OSError, UnidentifiedImageError) as exc:
            raise DatasetError(f"{path}: cannot read this mask image ({exc})") from exc
        mask = (grey > 0).astype(np.uint8)
        if mask.shape != (height, width):
            mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
        if rng.random() < 0.5:
            mask = mask[:, ::-1]
        if rng.random() < 0.5:
            mask = mask[::-1, :]
        return np.ascontiguousarray(mask)
