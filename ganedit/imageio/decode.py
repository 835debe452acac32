"""Decoding: one image file -> upright pixels and the metadata worth carrying over."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageCms, UnidentifiedImageError

from ganedit.codec import quantise
from ganedit.errors import GaneditError, ImageError

__all__ = ["MAX_PIXELS", "DecodedImage", "decode_bytes", "decode_image"]

#: Largest image ``decode_image`` accepts, in pixels (Pillow's own default refuses ~179 MP).
MAX_PIXELS = 2**30

_ORIENTATION = ExifTags.Base.Orientation
_ICC_TAG = 34675
# IFD0 tags describing a TIFF file's own pixel layout (or metadata carried elsewhere): copying
# them into an EXIF block would describe the wrong image.
_TIFF_STRUCTURE_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320}
    | {322, 323, 324, 325, 330, 338, 339, 340, 341, 347, 513, 514, 515, 529, 530, 531, 532}
    | {700, 33723, 34377, 37724, _ICC_TAG}
)


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


#: Called with ``(height, width, channels, itemsize)`` from the header, before the pixels are
#: decoded; it raises to refuse the image.
Budget = Callable[[int, int, int, int], None]


def decode_image(path: Path, *, budget: Budget | None = None) -> DecodedImage:
    """Read one image file into upright pixels and the metadata worth carrying over.

    The whole file is decoded (first frame of an animation), so truncated or corrupt data is
    reported here rather than passed on as grey blocks.

    Args:
        path: The image file. Never written to.
        budget: Called with the image's size from its header before its pixels are decoded
            (see :data:`Budget`); whatever it raises propagates.

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
            return _decode(path, budget)
    except (ImageError, GaneditError):
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


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file (a FIFO, a device, a socket)
    without blocking on it: the file is opened non-blocking and checked on its descriptor, so a
    FIFO swapped in after a check cannot hang the job either.

    Raises:
        ImageError: Not a regular file; the message names it and what it is.
        OSError: It cannot be opened or read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ImageError(f"{path}: not a regular file ({_file_kind(mode)})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a file")


def decode_bytes(
    data: bytes, *, name: str = "<image>", budget: Budget | None = None
) -> DecodedImage:
    """:func:`decode_image` for an encoded image held in memory (an upload): the same pixels
    and metadata the file would give; ``name`` starts the error messages."""
    path = Path(name)
    try:
        with _pillow_pixel_limit():
            return _decode_data(data, path, budget)
    except (ImageError, GaneditError):
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image file (cannot identify image format)") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: image too large ({e})") from None
    except MemoryError:
        raise ImageError(f"{name}: not enough memory to decode the image") from None
    except Exception as e:  # Pillow signals bad data with OSError, SyntaxError, ValueError...
        raise ImageError(f"{name}: truncated or corrupt image data: {type(e).__name__}: {e}") from e


def _decode(path: Path, budget: Budget | None) -> DecodedImage:
    return _decode_data(read_regular_file(path), path, budget)


def _decode_data(data: bytes, path: Path, budget: Budget | None) -> DecodedImage:
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ImageError(
                f"{path}: image is {width}x{height} = {width * height} pixels, more than "
                f"ganedit's limit of {MAX_PIXELS} (ganedit.imageio.decode.MAX_PIXELS); split or "
                "downscale it first"
            )
        fmt = im.format or "UNKNOWN"
        n_frames = int(getattr(im, "n_frames", 1))
        deep_color = _is_16bit_color(im, data)
        if budget is not None:
            bands = 4 if im.mode in ("P", "PA") else len(im.getbands())
            wide = deep_color or im.mode.startswith(("I;16", "I", "F"))
            budget(height, width, min(bands, 4), 2 if wide else 1)
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
            color, alpha = _decode_16bit_color(data, path)
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


def _is_16bit_color(im: Image.Image, data: bytes) -> bool:
    """True for 16-bit-per-channel colour PNG/TIFF, which Pillow would reduce to 8 bits."""
    if im.format == "PNG":
        head = data[:26]
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


def _decode_16bit_color(data: bytes, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        found = "nothing" if arr is None else f"{arr.dtype} {arr.shape}"
        raise ImageError(f"{path}: cannot decode 16-bit colour image with OpenCV (got {found})")
    if arr.shape[2] == 4:
        rgba = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA)
        color, alpha = rgba[:, :, :3], np.ascontiguousarray(rgba[:, :, 3])
    else:
        color, alpha = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB), None
    # 16-bit grey+alpha PNG comes back as BGRA with equal colour channels: keep it grey.
    if _png_colour_type(data) == 4:
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


def _png_colour_type(data: bytes) -> int | None:
    head = data[:26]
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
        return quantise(np.asarray(im), np.uint16)[:, :, None], None, icc
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
