"""Inpainting masks: reading them, matching them to images, and shaping the hole.

Conventions, whatever the model: a mask is a boolean ``(H, W)`` array, ``True`` where the hole
is. In files, white (any non-zero value) is the hole; ``invert`` flips that. A mask file with a
real alpha channel (not all opaque) is read from its alpha, so a brush layer exported from an
editor works as it is. Masks are never resized silently: a mask of the wrong size is an error
unless resizing (nearest neighbour) is asked for.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path, PurePath

import numpy as np

from . import imageio
from .codec import round_up
from .errors import GaneditError, ImageError

__all__ = [
    "MaskError",
    "MaskSource",
    "dilate",
    "feather_weights",
    "fit_mask",
    "hole_from_array",
    "mask_regions",
    "read_mask",
]

# JPEG and lossy WebP turn black into small non-zero values; their masks are cut at half.


class MaskError(GaneditError):
    """A mask that cannot be used: unreadable, of the wrong size, or not found."""


def hole_from_array(mask: np.ndarray, *, invert: bool = False, threshold: float = 0) -> np.ndarray:
    """A boolean hole map from a mask array.

    Args:
        mask: ``(H, W)`` or ``(H, W, C)``; bool, an integer type or float. With ``C`` 2 or 4
            the last channel is alpha and is used when it is not all opaque; otherwise a
            pixel is a hole when any colour channel exceeds ``threshold``.
        invert: Holes are the pixels at or below the threshold instead.
        threshold: Values above it are holes, in the array's own units.

    Returns:
        ``(H, W)`` bool, ``True`` in the hole.
    """
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 0:
        raise ValueError(f"a mask must have at least one channel, got shape {mask.shape}")
    if mask.ndim == 3:
        if mask.shape[2] in (2, 4):
            alpha = mask[:, :, -1]
            mask = alpha if not np.all(alpha == _full_scale(mask.dtype)) else mask[:, :, :-1]
        if mask.ndim == 3:
            mask = mask.max(axis=2)
    if mask.ndim != 2:
        raise ValueError(f"a mask must be (H, W) or (H, W, C), got shape {mask.shape}")
    hole = mask if mask.dtype.kind == "b" else mask > threshold
    return ~hole if invert else hole


def _full_scale(dtype: np.dtype) -> bool | int | float:
    if dtype.kind == "b":
        return True
    if np.issubdtype(dtype, np.integer):
        return int(np.iinfo(dtype).max)
    return 1.0


def read_mask(path: str | os.PathLike[str], *, invert: bool = False) -> np.ndarray:
    """Read a mask file, upright (its own EXIF orientation applied), as a boolean hole map.

    Raises:
        MaskError: The file cannot be read as an image; the message names it.
    """
    path = Path(path)
    try:
        decoded = imageio.decode_image(path)
    except ImageError as exc:
        raise MaskError(f"mask {exc}") from None
    return hole_from_decoded(decoded, invert=invert)


def hole_from_decoded(decoded: imageio.DecodedImage, *, invert: bool = False) -> np.ndarray:
    """The hole map of a decoded mask image: any colour above black, or alpha where the mask
    has some; for lossy formats (JPEG, WebP) above half scale, so compression noise around a
    black area does not count."""
    color = decoded.color
    lossy = decoded.format in ("JPEG", "WEBP")
    full = np.iinfo(color.dtype).max
    threshold = full // 2 if lossy else 0
    array = color
    if decoded.alpha is not None:
        array = np.concatenate([color, decoded.alpha[:, :, None].astype(color.dtype)], axis=2)
    return hole_from_array(array, invert=invert, threshold=threshold)


def fit_mask(
    hole: np.ndarray,
    height: int,
    width: int,
    *,
    resize: bool = False,
    name: str = "the mask",
) -> np.ndarray:
    """Check that a hole map matches the image, or resize it (nearest neighbour) when allowed.

    Raises:
        MaskError: Sizes differ and ``resize`` is off; the message gives both sizes.
    """
    if hole.shape == (height, width):
        return hole
    mh, mw = hole.shape
    if not resize:
        raise MaskError(
            f"{name} is {mw}×{mh} but the image is {width}×{height}; "
            "use --resize-mask (resize_mask=True) to resize it (nearest neighbour)"
        )
    import cv2

    small = cv2.resize(hole.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    return small.astype(bool)


def _disc(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def dilate(hole: np.ndarray, pixels: int) -> np.ndarray:
    """Grow the hole by ``pixels`` in every direction (a disc), so fringes get repainted too."""
    if pixels <= 0 or not hole.any():
        return hole
    import cv2

    return cv2.dilate(hole.astype(np.uint8), _disc(pixels)).astype(bool)


def feather_weights(hole: np.ndarray, pixels: int) -> np.ndarray:
    """How much of the model's result each pixel takes: 0 outside the hole, ramping up over
    ``pixels`` inside its border, 1 deeper in (float32 ``(H, W)``).

    The ramp lies wholly inside the hole, so pixels outside it keep the input exactly.
    """
    weights = hole.astype(np.float32)
    if pixels <= 0 or not hole.any():
        return weights
    import cv2

    # Distance of each hole pixel to the nearest kept pixel (1 next to the border).
    padded = np.pad(hole.astype(np.uint8), 1, mode="edge")
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    if hole.all():
        return weights
    return np.where(hole, np.minimum(distance / np.float32(pixels + 1), 1.0), 0.0).astype(
        np.float32
    )


def mask_regions(
    hole: np.ndarray, margin: int, *, multiple: int = 1
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(top, left, bottom, right)`` that cover every hole with ``margin`` pixels of
    context on each side, overlapping boxes merged, clipped to the image.

    Each box is widened (within the image) towards a multiple of ``multiple`` so the network
    sees real pixels rather than padding where it can.
    """
    if not hole.any():
        return []
    import cv2

    height, width = hole.shape
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), 8)
    boxes = []
    for x, y, w, h, _area in stats[1:count]:
        boxes.append(
            [
                max(int(y) - margin, 0),
                max(int(x) - margin, 0),
                min(int(y + h) + margin, height),
                min(int(x + w) + margin, width),
            ]
        )
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    boxes[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    out = []
    for top, left, bottom, right in boxes:
        top, bottom = _widen(top, bottom, height, multiple)
        left, right = _widen(left, right, width, multiple)
        out.append((top, left, bottom, right))
    return sorted(out)


def _widen(lo: int, hi: int, size: int, multiple: int) -> tuple[int, int]:
    want = round_up(hi - lo, multiple)
    extra = min(want, size) - (hi - lo)
    if extra <= 0:
        return lo, hi
    grow_lo = min(extra // 2, lo)
    hi = min(hi + extra - grow_lo, size)
    lo = max(hi - min(want, size), 0)
    return lo, hi


@dataclasses.dataclass(frozen=True)
class MaskSource:
    """Where the masks of a folder job come from, and how they read: one file for every image,
    or a folder.

    In a folder, the mask of ``a/photo.jpg`` (its path relative to the input folder) is
    ``MASKS/a/photo_mask.<ext>`` or ``MASKS/a/photo.<ext>``, any image suffix, the ``_mask``
    name first. The masks folder may be the input folder itself; there only ``_mask`` names
    match. Each folder of masks is listed once per source, however many images look in it.

    Attributes:
        path: The mask file or the folder of masks.
        invert: Black (zero) is the hole instead of white.

    Raises:
        MaskError: ``path`` does not exist, or is neither a file nor a folder (a named pipe).
    """

    path: Path
    invert: bool = False
    # folder -> image files in it by stem, listed on first use (see find).
    _listings: dict[Path, dict[str, list[Path]]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        path = Path(self.path)
        if not path.exists():
            raise MaskError(f"mask {path} does not exist")
        if not (path.is_dir() or path.is_file()):
            raise MaskError(f"mask {path} is neither a file nor a folder")
        object.__setattr__(self, "path", path.resolve())

    @property
    def is_folder(self) -> bool:
        return self.path.is_dir()

    def read(self, mask: Path) -> np.ndarray:
        """The hole map of the mask file ``mask`` (from :meth:`find`), inverted if asked.

        Raises:
            MaskError: The file cannot be read as an image; the message names it.
        """
        return read_mask(mask, invert=self.invert)

    def find(self, relative: PurePath, *, source: Path | None = None) -> Path:
        """The mask of the image at ``relative``; ``source`` (the image itself) is never its
        own mask.

        Raises:
            MaskError: No mask, or more than one equally good one; the message says where
                it looked.
        """
        if not self.is_folder:
            return self.path
        folder = self.path / relative.parent
        stem = relative.stem
        # Beside the photos only the _mask name counts: photo.jpg and photo.png side by side
        # are two photos, not a photo and its mask.
        beside = source is not None and folder.resolve() == source.parent
        listing = self._listing(folder)
        for wanted in (f"{stem}_mask",) if beside else (f"{stem}_mask", stem):
            found = [p for p in listing.get(wanted, ()) if source is None or p.resolve() != source]
            if len(found) > 1:
                names = ", ".join(p.name for p in found)
                raise MaskError(f"more than one mask for {relative} in {folder}: {names}")
            if found:
                return found[0]
        looked = f"{folder / stem}_mask.*" + ("" if beside else f" and {folder / stem}.*")
        raise MaskError(f"no mask for {relative}: looked for {looked}")

    def _listing(self, folder: Path) -> dict[str, list[Path]]:
        listing = self._listings.get(folder)
        if listing is None:
            listing = {}
            for path in _images_in(folder):
                listing.setdefault(path.stem, []).append(path)
            self._listings[folder] = listing
        return listing


def _images_in(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return ()
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in imageio.IMAGE_SUFFIXES
    )
