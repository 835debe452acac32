"""Encoding: pixels -> an image file, written atomically, at the deepest bit depth the format
keeps, with the metadata carried over."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganedit._files import atomic_write
from ganedit.codec import requantise
from ganedit.errors import ImageError

from ._deepcolor import encode_16bit_color
from .formats import SUFFIX_FORMATS, format_for_suffix

__all__ = ["encode_bytes", "encode_image"]

_JPEG_MAX_EXIF = 65533
# JPEG has no alpha; BMP's 32-bit BI_RGB alpha is ignored by most readers, Pillow included.
_NO_ALPHA = frozenset({"JPEG", "BMP"})


def encode_image(
    path: Path,
    color: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    format: str | None = None,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    dpi: tuple[float, float] | None = None,
    fsync: bool = True,
) -> None:
    """Write pixels to ``path`` atomically, at the array's bit depth where the format allows.

    Args:
        path: Destination; replaced atomically if it exists.
        color: ``(H, W, C)`` with ``C`` in ``{1, 3}`` (or ``(H, W)``), ``uint8`` or ``uint16``,
            RGB order.
        alpha: ``(H, W)`` of the same dtype, or ``None``. Dropped for JPEG and BMP.
        format: Pillow format name; default from the suffix (see ``format_for_suffix``).
        exif: EXIF block to embed (JPEG, PNG, WebP, 8-bit and 16-bit grey TIFF). JPEG holds
            at most 64 KiB of EXIF: a larger block is left out rather than failing the file.
        icc_profile: ICC profile to embed (JPEG, PNG, WebP, TIFF).
        jpeg_quality: 1..100 for JPEG and lossy WebP; from 90 up JPEG keeps full-resolution
            chroma (4:4:4).
        dpi: ``(x, y)`` dots per inch to record, or ``None``.
        fsync: Make the file durable before returning (see :func:`atomic_write`).

    16-bit data is kept by PNG and TIFF; JPEG, WebP and BMP get 8 bits, rounded to nearest.

    Raises:
        ImageError: bad array shape or dtype, unknown format, or the write failed; the message
            starts with the file name.

    Example:
        >>> encode_image(Path("out.png"), np.zeros((8, 8, 3), np.uint16))  # doctest: +SKIP
    """
    path = Path(path)
    color, alpha = _check_arrays(path, color, alpha)
    fmt = (format or format_for_suffix(path.suffix)).upper()
    if fmt not in set(SUFFIX_FORMATS.values()):
        supported = ", ".join(sorted(set(SUFFIX_FORMATS.values())))
        raise ImageError(f"{path}: cannot write format {fmt!r}; supported: {supported}")
    if not 1 <= jpeg_quality <= 100:
        raise ImageError(f"{path}: jpeg_quality must be in 1..100, got {jpeg_quality}")
    try:
        data = _encode_bytes(fmt, color, alpha, exif, icc_profile, jpeg_quality, dpi)
        atomic_write(path, lambda f: f.write(data), fsync=fsync)
    except ImageError:
        raise
    except MemoryError:
        raise ImageError(f"{path}: not enough memory to encode the image") from None
    except OSError as e:
        raise ImageError(f"{path}: cannot write file: {e.strerror or e}") from e
    except Exception as e:  # Pillow and OpenCV raise ValueError, KeyError, cv2.error...
        raise ImageError(f"{path}: cannot encode as {fmt}: {type(e).__name__}: {e}") from e


def encode_bytes(
    color: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    format: str,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    jpeg_quality: int = 95,
    dpi: tuple[float, float] | None = None,
    name: str = "<image>",
) -> bytes:
    """The bytes :func:`encode_image` would write, for an image sent elsewhere than a file
    (an HTTP response); ``name`` starts the error messages."""
    path = Path(name)
    color, alpha = _check_arrays(path, color, alpha)
    fmt = format.upper()
    if fmt not in set(SUFFIX_FORMATS.values()):
        supported = ", ".join(sorted(set(SUFFIX_FORMATS.values())))
        raise ImageError(f"{name}: cannot write format {fmt!r}; supported: {supported}")
    try:
        return _encode_bytes(fmt, color, alpha, exif, icc_profile, jpeg_quality, dpi)
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to encode the image") from None
    except Exception as e:  # Pillow and OpenCV raise ValueError, KeyError, cv2.error...
        raise ImageError(f"{name}: cannot encode as {fmt}: {type(e).__name__}: {e}") from e


def _check_arrays(
    path: Path, color: np.ndarray, alpha: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    color = np.asarray(color)
    if color.ndim == 2:
        color = color[:, :, None]
    if color.ndim != 3 or color.shape[2] not in (1, 3):
        raise ImageError(f"{path}: expected color of shape (H, W, 1|3), got {color.shape}")
    if color.dtype not in (np.uint8, np.uint16):
        raise ImageError(
            f"{path}: expected uint8 or uint16 color, got {color.dtype}; "
            "convert floats with ganedit.codec.quantise"
        )
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.ndim == 3 and alpha.shape[2] == 1:
            alpha = alpha[:, :, 0]
        if alpha.shape != color.shape[:2]:
            raise ImageError(
                f"{path}: alpha shape {alpha.shape} does not match color {color.shape[:2]}"
            )
        if alpha.dtype != color.dtype:
            raise ImageError(f"{path}: alpha dtype {alpha.dtype} differs from color {color.dtype}")
    return color, alpha


def _encode_bytes(
    fmt: str,
    color: np.ndarray,
    alpha: np.ndarray | None,
    exif: bytes | None,
    icc: bytes | None,
    quality: int,
    dpi: tuple[float, float] | None,
) -> bytes:
    deep = color.dtype == np.uint16 and fmt in ("PNG", "TIFF")
    if deep and (color.shape[2] == 3 or alpha is not None):
        return encode_16bit_color(fmt, color, alpha, exif, icc, dpi)
    if deep:
        im = Image.fromarray(np.ascontiguousarray(color[:, :, 0]))  # I;16
    else:
        color8 = requantise(color, np.uint8)
        alpha8 = None if alpha is None or fmt in _NO_ALPHA else requantise(alpha, np.uint8)
        im = _pil_image(color8, alpha8)
        if fmt == "WEBP" and im.mode == "LA":
            im = im.convert("RGBA")
        if fmt == "WEBP" and im.mode == "L":
            im = im.convert("RGB")

    params: dict[str, Any] = {}
    if dpi is not None:
        params["dpi"] = dpi
    if fmt != "BMP":
        if icc:
            params["icc_profile"] = icc
        if exif and not (fmt == "JPEG" and len(exif) > _JPEG_MAX_EXIF):
            params["exif"] = exif
    if fmt == "JPEG":
        params.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        params.update(quality=quality)
    elif fmt == "TIFF":
        params.update(compression="tiff_lzw")

    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


def _pil_image(color: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        arr = color[:, :, 0] if color.shape[2] == 1 else color
        return Image.fromarray(np.ascontiguousarray(arr))
    arr = np.concatenate([color, alpha[:, :, None]], axis=2)
    return Image.fromarray(np.ascontiguousarray(arr), mode="LA" if color.shape[2] == 1 else None)
