"""Image formats by file suffix: which ganedit reads from folders and writes."""

from __future__ import annotations

from ganedit.errors import ImageError

__all__ = ["IMAGE_SUFFIXES", "INPUT_SUFFIXES", "SUFFIX_FORMATS", "format_for_suffix"]

SUFFIX_FORMATS: dict[str, str] = {
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

#: Suffixes (lower case, with the dot) that ``encode_image`` writes.
IMAGE_SUFFIXES: frozenset[str] = frozenset(SUFFIX_FORMATS)
#: Suffixes of the images the folder walker picks up: those it writes, and GIF, which it reads
#: (a still one; its result needs ``--ext``) but does not write.
INPUT_SUFFIXES: frozenset[str] = IMAGE_SUFFIXES | {".gif"}


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
        return SUFFIX_FORMATS[key]
    except KeyError:
        supported = " ".join(sorted(IMAGE_SUFFIXES))
        raise ImageError(f"unsupported image suffix {suffix!r}; supported: {supported}") from None
