"""Decode image files into arrays and encode arrays back into files, losing nothing worth keeping.

This is the first and last stage of a folder job: ``decode_image`` turns one file into upright
RGB(A)/grey pixels plus the metadata to carry over (EXIF, ICC profile, DPI), and ``encode_image``
writes a result back through ``atomic_write`` so a crash never leaves a partial file under the
final name.

Decisions worth knowing:

- Pixels are ``uint8`` or ``uint16``, shape ``(H, W, C)`` with ``C`` in ``{1, 3}``, RGB order;
  alpha is split off as ``(H, W)`` of the same dtype. Grey stays one channel.
- 16-bit colour PNG and TIFF files, which Pillow would reduce to 8 bits, are decoded with OpenCV.
  Metadata still comes from Pillow, which also fully decodes the file once to detect truncation
  (OpenCV tolerates truncated data silently).
- EXIF orientation is applied to the pixels (``ImageOps.exif_transpose`` semantics), and the
  returned EXIF says Orientation 1. The EXIF block is re-serialised by Pillow: the stale thumbnail
  (IFD1) is dropped; the TIFF structure tags of a TIFF source are not copied into it.
- Float (``F``) images are taken as ``[0, 1]`` intensities, clipped and kept as ``uint16``;
  32-bit integer (``I``) images are clipped to ``[0, 65535]`` and kept as ``uint16``.
- Animated files (GIF, APNG, WebP, multi-page TIFF): the first frame only.
- CMYK and LAB are converted to sRGB with the embedded ICC profile when there is one (LittleCMS),
  and the returned ``icc_profile`` is then an sRGB profile.
- Writing 16-bit: PNG and TIFF keep 16 bits; JPEG, WebP and BMP get 8 bits, rounded to nearest.
  JPEG and BMP get no alpha channel: alpha is dropped. 16-bit grey with alpha is written as
  16-bit RGBA.
  16-bit colour TIFF keeps its ICC profile and dpi but not EXIF (OpenCV writes the file).
  WebP is written lossy at ``jpeg_quality`` (alpha lossless).
- Images above ``MAX_PIXELS`` pixels (2**30, e.g. a 32768 x 32768 scan) are refused. Pillow's
  own process-wide limit (``Image.MAX_IMAGE_PIXELS``, ~179 MP) is raised to it only while a
  decode runs, and restored afterwards (see ``_pillow_pixel_limit``).
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from ganedit.errors import ImageError

from ._deepcolor import encode_16bit_color
from ._files import TEMP_GLOB, atomic_write

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "TEMP_GLOB",
    "DecodedImage",
    "atomic_write",
    "decode_image",
    "encode_image",
    "format_for_suffix",
    "from_unit_float",
    "to_unit_float",
]

#: Largest image ``decode_image`` accepts, in pixels (Pillow's own default refuses ~179 MP).
MAX_PIXELS = 2**30

_SUFFIX_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

#: Suffixes (lower case, with the dot) the folder walker picks up; ``encode_image`` writes them all.
IMAGE_SUFFIXES: frozenset[str] = frozenset(_SUFFIX_FORMATS)

_ORIENTATION = ExifTags.Base.Orientation
_ICC_TAG = 34675
# IFD0 tags describing a TIFF file's own pixel layout (or metadata carried elsewhere): copying
# them into an EXIF block would describe the wrong image.
_TIFF_STRUCTURE_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320}
    | {322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 515, 529, 530, 531, 532}
    | {700, 33723, 34377, 37724, _ICC_TAG}
)
_JPEG_MAX_EXIF = 65533
# JPEG has no alpha; BMP's 32-bit BI_RGB alpha is ignored by most readers, Pillow included.
_NO_ALPHA = frozenset({"JPEG", "BMP"})


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """One decoded image file.

    Attributes:
        path: The file it was read from.
        color: ``(H, W, C)`` with ``C`` in ``{1, 3}``, ``uint8`` or ``uint16``, RGB order, upright
            (EXIF orientation applied).
        alpha: ``(H, W)``, same dtype as ``color``, or ``None``.
        format: Pillow's name for the source format: ``"JPEG"``, ``"PNG"``, ``"TIFF"``, ...
        exif: EXIF block (``b"Exif\\0\\0"`` + TIFF data) with Orientation 1, or ``None``.
        icc_profile: ICC profile describing ``color``, or ``None`` (assume sRGB).
        mode: The Pillow mode of the source (``"P"``, ``"I;16"``, ``"CMYK"``, ...); ``"RGB;16"``,
            ``"RGBA;16"`` or ``"LA;16"`` for files decoded with OpenCV.
        dpi: ``(x, y)`` dots per inch when the file records it, else ``None``.
        n_frames: Frames in the file; only the first was decoded.
    """

    path: Path
    color: np.ndarray
    alpha: np.ndarray | None
    format: str
    exif: bytes | None
    icc_profile: bytes | None
    mode: str
    dpi: tuple[float, float] | None = None
    n_frames: int = 1


def format_for_suffix(suffix: str) -> str:
    """Pillow format name for a file suffix (case-insensitive, with or without the dot).

    Raises:
        ImageError: the suffix is not one ganedit writes.

    Example:
        >>> format_for_suffix(".JPG")
        'JPEG'
    """
    key = suffix.lower() if suffix.startswith(".") else "." + suffix.lower()
    try:
        return _SUFFIX_FORMATS[key]
    except KeyError:
        supported = " ".join(sorted(IMAGE_SUFFIXES))
        raise ImageError(f"unsupported image suffix {suffix!r}; supported: {supported}") from None


def to_unit_float(a: np.ndarray) -> np.ndarray:
    """Pixels to ``float32`` in ``[0, 1]``: ``uint8 / 255``, ``uint16 / 65535``; floats unchanged.

    Example:
        >>> to_unit_float(np.array([0, 255], np.uint8)).tolist()
        [0.0, 1.0]
    """
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535)
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    raise TypeError(f"expected uint8, uint16 or float pixels, got dtype {a.dtype}")


def from_unit_float(x: np.ndarray, dtype: Any) -> np.ndarray:
    """``[0, 1]`` floats to ``uint8`` or ``uint16``: clip, scale, round half up; NaN becomes 0.

    Example:
        >>> from_unit_float(np.array([-1.0, 0.5, 2.0]), np.uint8).tolist()
        [0, 128, 255]
    """
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise TypeError(f"expected dtype uint8 or uint16, got {dt}")
    top = np.iinfo(dt).max
    v = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    return np.floor(np.clip(v, 0.0, 1.0) * top + 0.5).astype(dt)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    # Exact round-to-nearest of v * 255 / 65535 (ties cannot occur).
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


# --------------------------------------------------------------------------- decoding

_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved: int | None = None


@contextlib.contextmanager
def _pillow_pixel_limit() -> Iterator[None]:
    """Raise Pillow's process-wide decompression-bomb limit to MAX_PIXELS while decoding.

    Pillow has no per-call limit, and its TIFF and GIF loaders re-check the global while loading,
    so it must be raised for the duration of a decode. Concurrent decodes share one raise
    (reference count) and the host's value is restored when the last one ends; it is never
    lowered, and ``None`` (no limit) is kept. ``decode_image`` enforces MAX_PIXELS itself.
    """
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = Image.MAX_IMAGE_PIXELS
            if _limit_saved is not None and _limit_saved < MAX_PIXELS:
                Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                Image.MAX_IMAGE_PIXELS = _limit_saved


def decode_image(path: Path) -> DecodedImage:
    """Read one image file into upright pixels and the metadata worth carrying over.

    The whole file is decoded (first frame of an animation), so truncated or corrupt data is
    reported here rather than passed on as grey blocks.

    Args:
        path: The image file. Never written to.

    Returns:
        A ``DecodedImage``: ``color`` ``(H, W, C)``, ``C`` in ``{1, 3}``, ``uint8`` or ``uint16``,
        RGB; ``alpha`` ``(H, W)`` or ``None``.

    Raises:
        ImageError: the file is missing, not an image, truncated or corrupt, or larger than
            ``MAX_PIXELS``; the message starts with the file name.

    Example:
        >>> img = decode_image(Path("photo.jpg"))  # doctest: +SKIP
        >>> img.color.shape, img.color.dtype  # doctest: +SKIP
        ((3024, 4032, 3), dtype('uint8'))
    """
    path = Path(path)
    name = str(path)
    try:
        with _pillow_pixel_limit():
            return _decode(path)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (cannot identify image format)") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: image too large ({e})") from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode the image") from None
    except OSError as e:
        if e.filename is not None or isinstance(e, (PermissionError, IsADirectoryError)):
            raise ImageError(f"{name}: cannot read file: {e.strerror or e}") from e
        raise ImageError(f"{name}: truncated or corrupt image data: {e}") from e
    except Exception as e:  # Pillow signals bad data with SyntaxError, ValueError, struct.error...
        raise ImageError(f"{name}: truncated or corrupt image data: {type(e).__name__}: {e}") from e


def _decode(path: Path) -> DecodedImage:
    with Image.open(path) as im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ImageError(
                f"{path}: image is {width}x{height} = {width * height} pixels, more than "
                f"ganedit's limit of {MAX_PIXELS} (ganedit.imageio.MAX_PIXELS); split or "
                "downscale it first"
            )
        fmt = im.format or "UNKNOWN"
        n_frames = int(getattr(im, "n_frames", 1))
        deep_color = _is_16bit_color(im, path)
        # Pillow's TIFF loader applies and deletes the orientation itself: read it before
        # loading. Other formats load first, so that a load error is never mistaken for an
        # EXIF error (PNG's getexif loads the image to find an eXIf chunk after the pixels).
        if fmt != "TIFF":
            im.load()
        orientation = _orientation(im)
        im.load()
        pillow_oriented = orientation != 1 and _orientation(im) == 1
        exif = _exif_upright(im, had_orientation=orientation != 1)
        icc = im.info.get("icc_profile") or None
        dpi = _dpi(im)
        mode = im.mode

        if deep_color:
            color, alpha = _decode_16bit_color(path)
            mode = {(1, True): "LA;16", (3, False): "RGB;16"}.get(
                (color.shape[2], alpha is not None), "RGBA;16"
            )
            if orientation != 1:
                # Some OpenCV builds upright TIFFs themselves; Pillow's 8-bit decode tells which.
                reference = np.asarray(im.convert("RGB"))
                if not pillow_oriented:
                    reference = _orient(reference, orientation)
                color, alpha = _upright_like(color, alpha, orientation, reference)
            pillow_oriented = True  # done
        else:
            color, alpha, icc = _pixels(im, icc)

    if not pillow_oriented:
        color = _orient(color, orientation)
        alpha = None if alpha is None else _orient(alpha, orientation)
    return DecodedImage(
        path=path,
        color=color,
        alpha=alpha,
        format=fmt,
        exif=exif,
        icc_profile=icc,
        mode=mode,
        dpi=dpi,
        n_frames=n_frames,
    )


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8; 1 when absent, out of range or unreadable."""
    try:
        value = int(im.getexif().get(_ORIENTATION, 1))
    except Exception:  # A damaged EXIF block must not cost the user the image itself.
        return 1
    return value if 1 <= value <= 8 else 1


def _is_16bit_color(im: Image.Image, path: Path) -> bool:
    """True for 16-bit-per-channel colour PNG/TIFF, which Pillow would reduce to 8 bits."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            head = f.read(26)
        # IHDR data starts at byte 16: width, height, bit depth (24), colour type (25).
        return len(head) == 26 and head[24] == 16 and head[25] in (2, 4, 6)
    if im.format == "TIFF":
        tags = getattr(im, "tag_v2", {})
        bits = tags.get(258, (1,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        samples = int(tags.get(277, len(bits)))
        photometric = tags.get(262)
        return max(bits) == 16 and samples >= 3 and photometric == 2  # RGB
    return False


def _decode_16bit_color(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2

    # imdecode instead of imread: imread cannot open non-ASCII paths on Windows.
    data = np.fromfile(path, dtype=np.uint8)
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        found = "nothing" if arr is None else f"{arr.dtype} {arr.shape}"
        raise ImageError(f"{path}: cannot decode 16-bit colour image with OpenCV (got {found})")
    if arr.shape[2] == 4:
        rgba = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        color, alpha = rgba[:, :, :3], np.ascontiguousarray(rgba[:, :, 3])
    else:
        color, alpha = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB), None
    # 16-bit grey+alpha PNG comes back as BGRA with equal colour channels: keep it grey.
    if _png_colour_type(path) == 4:
        color = color[:, :, :1]
    return np.ascontiguousarray(color), alpha


def _upright_like(
    color: np.ndarray, alpha: np.ndarray | None, orientation: int, reference: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Of (as decoded, orientation applied), the 16-bit pixels whose high byte matches reference."""
    oriented = (_orient(color, orientation), None if alpha is None else _orient(alpha, orientation))

    def distance(c: np.ndarray) -> float:
        if c.shape[:2] != reference.shape[:2]:
            return float("inf")
        high = (c >> 8).astype(np.int32)
        return float(np.abs(high - reference[:, :, : c.shape[2]].astype(np.int32)).mean())

    return oriented if distance(oriented[0]) <= distance(color) else (color, alpha)


def _png_colour_type(path: Path) -> int | None:
    with open(path, "rb") as f:
        head = f.read(26)
    return head[25] if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 else None


def _pixels(
    im: Image.Image, icc: bytes | None
) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Pixels of a loaded Pillow image as (color, alpha, icc), converting exotic modes."""
    mode = im.mode
    if mode in ("CMYK", "LAB"):
        im, icc = _to_srgb(im, icc)
        mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16)[:, :, None], None, icc
    if mode == "I":
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)[:, :, None], None, icc
    if mode == "F":
        return from_unit_float(np.asarray(im), np.uint16)[:, :, None], None, icc
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"))[:, :, None], None, icc
    if mode in ("LA", "La"):
        a = np.asarray(im.convert("LA"))
        return np.ascontiguousarray(a[:, :, :1]), np.ascontiguousarray(a[:, :, 1]), icc
    has_alpha = mode in ("RGBA", "RGBa", "PA") or (
        mode == "P" and ("transparency" in im.info or im.palette.mode == "RGBA")
    )
    if has_alpha:
        a = np.asarray(im.convert("RGBA"))
        return np.ascontiguousarray(a[:, :, :3]), np.ascontiguousarray(a[:, :, 3]), icc
    return np.asarray(im.convert("RGB")), None, icc  # RGB, RGBX, YCbCr, HSV, ...


def _to_srgb(im: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """CMYK/LAB to RGB: through the embedded profile when there is one, else Pillow's formula."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    source: ImageCms.ImageCmsProfile | None = None
    if icc:
        with contextlib.suppress(ImageCms.PyCMSError, OSError, ValueError):
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if source is None and im.mode == "LAB":
        source = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    if source is not None:
        with contextlib.suppress(ImageCms.PyCMSError, ValueError):
            out = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            if out is not None:
                return out, srgb.tobytes()
    # The CMYK profile does not describe RGB pixels: never attach it to them.
    return im.convert("RGB"), None


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to ``(H, W, ...)`` pixels, like ImageOps.exif_transpose."""
    ops: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: x.swapaxes(0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: x.swapaxes(0, 1)[::-1, ::-1],
        8: lambda x: np.rot90(x, 1),
    }
    op = ops.get(orientation)
    return a if op is None else np.ascontiguousarray(op(a))


def _exif_upright(im: Image.Image, *, had_orientation: bool) -> bytes | None:
    """The image's EXIF as bytes with Orientation 1; None when it has none or is unreadable."""
    try:
        exif = im.getexif()
        if im.format == "TIFF":
            # A TIFF's EXIF is its own IFD0: keep only the descriptive tags.
            clean = Image.Exif()
            for tag in list(exif):
                if tag not in _TIFF_STRUCTURE_TAGS:
                    value = exif.get_ifd(tag) if tag in (0x8769, 0x8825) else exif[tag]
                    clean[tag] = value
            exif = clean
        if had_orientation or _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        if len(exif) == 0:
            return None
        return exif.tobytes()
    except Exception:  # A damaged EXIF block must not cost the user the image itself.
        return None


def _dpi(im: Image.Image) -> tuple[float, float] | None:
    dpi = im.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2:
        try:
            x, y = float(dpi[0]), float(dpi[1])
        except (TypeError, ValueError):
            return None
        if x > 0 and y > 0:
            return (x, y)
    return None


# --------------------------------------------------------------------------- encoding


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
    if fmt not in set(_SUFFIX_FORMATS.values()):
        supported = ", ".join(sorted(set(_SUFFIX_FORMATS.values())))
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
            "convert floats with from_unit_float"
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
        color8 = _to_uint8(color)
        alpha8 = None if alpha is None or fmt in _NO_ALPHA else _to_uint8(alpha)
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
