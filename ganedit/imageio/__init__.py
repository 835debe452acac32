"""Decode image files into arrays and encode arrays back into files, losing nothing worth keeping.

This package is the first and last stage of a folder job: :func:`decode_image` (``decode``)
turns one file into upright RGB(A)/grey pixels plus the metadata to carry over (EXIF, ICC
profile, DPI), and :func:`encode_image` (``encode``) writes a result back atomically, so a crash
never leaves a partial file under the final name. ``formats`` maps suffixes to formats.

Decisions worth knowing:

- Pixels are ``uint8`` or ``uint16``, shape ``(H, W, C)`` with ``C`` in ``{1, 3}``, RGB order;
  alpha is split off as ``(H, W)`` of the same dtype. Grey stays one channel.
- 16-bit colour PNG and TIFF files, which Pillow would reduce to 8 bits, are decoded with OpenCV.
  Metadata still comes from Pillow, which also fully decodes the file once to detect truncation
  (OpenCV tolerates truncated data silently).
- EXIF orientation is applied to the pixels (``ImageOps.exif_transpose`` semantics), and the
  returned EXIF says Orientation 1. The EXIF block is re-serialised by Pillow: the stale thumbnail
  (IFD1) is dropped; the TIFF structure tags of a TIFF source are not copied into it.
- Float (``F``) images are taken as ``[0, 1]`` intensities, clipped and kept as ``uint16``
  (:func:`ganedit.codec.quantise`, the one rounding rule);
  32-bit integer (``I``) images are clipped to ``[0, 65535]`` and kept as ``uint16``.
- Animated files (GIF, APNG, WebP, multi-page TIFF): the first frame only (the folder job
  refuses animations rather than lose frames).
- :func:`decode_bytes` and :func:`encode_bytes` do the same for images held in memory
  (the HTTP service's uploads and responses).
- CMYK and LAB are converted to sRGB with the embedded ICC profile when there is one (LittleCMS),
  and the returned ``icc_profile`` is then an sRGB profile.
- Writing 16-bit: PNG and TIFF keep 16 bits; JPEG, WebP and BMP get 8 bits, rounded to nearest
  (:func:`ganedit.codec.requantise`).
  JPEG and BMP get no alpha channel: alpha is dropped. 16-bit grey with alpha is written as
  16-bit RGBA.
  16-bit colour TIFF keeps its ICC profile and dpi but not EXIF (OpenCV writes the file).
  WebP is written lossy at ``jpeg_quality`` (alpha lossless).
- Images above ``MAX_PIXELS`` pixels (2**30, e.g. a 32768 x 32768 scan) are refused. Pillow's
  own process-wide limit (``Image.MAX_IMAGE_PIXELS``, ~179 MP) is raised to it only while a
  decode runs, and restored afterwards (see ``decode._pillow_pixel_limit``).
"""

from __future__ import annotations

from .decode import MAX_PIXELS, DecodedImage, decode_bytes, decode_image
from .encode import encode_bytes, encode_image
from .formats import IMAGE_SUFFIXES, INPUT_SUFFIXES, format_for_suffix

__all__ = [
    "IMAGE_SUFFIXES",
    "INPUT_SUFFIXES",
    "MAX_PIXELS",
    "DecodedImage",
    "decode_bytes",
    "decode_image",
    "encode_bytes",
    "encode_image",
    "format_for_suffix",
]
