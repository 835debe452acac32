"""One image's way through a model, shared by the folder job and the HTTP service.

:func:`begin_image` hands a decoded image to the model's ``begin`` (after the decoder's
:func:`memory_budget` let it through), the network runs the item, and :func:`finish_image`
encodes the result with the source's metadata. The folder job writes those bytes to a file
and ``ganedit serve`` answers with them, which is why a response equals the file.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from . import imageio
from .errors import GaneditError
from .images import ImageIn
from .memory import format_size, image_bytes
from .model import Model, WorkItem

__all__ = ["SIXTEEN_BIT_FORMATS", "Begun", "begin_image", "finish_image", "memory_budget"]

#: Formats that store 16 bits per channel; other formats get 8-bit output.
SIXTEEN_BIT_FORMATS = frozenset({"PNG", "TIFF"})
# Formats whose extra frames are an animation (a TIFF's extra pages are often thumbnails).
_ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP"})


@dataclasses.dataclass(eq=False)
class Begun:
    """One decoded image on its way through a model, with what its encoded result keeps.

    The folder job and the HTTP service both build it with :func:`begin_image` and write
    the result with :func:`finish_image`, so a response holds the bytes a file would.

    Attributes:
        item: What the model's ``begin`` made of it.
        format: The format of the result (Pillow's name: ``"PNG"``, ``"JPEG"``, ...).
        exif: The source's EXIF (orientation applied), carried to the result.
        icc_profile: The source's colour profile, carried to the result.
        dpi: The source's resolution, carried to the result.
    """

    item: WorkItem
    format: str
    exif: bytes | None
    icc_profile: bytes | None
    dpi: tuple[float, float] | None


def memory_budget(model: Model, limit: int) -> imageio.decode.Budget:
    """A decoder budget that refuses an image whose estimated memory exceeds ``limit`` bytes
    (``0``: none), naming the estimate and the option that raises it."""

    def budget(height: int, width: int, channels: int, itemsize: int) -> None:
        need = image_bytes(model, height, width, channels, itemsize)
        if limit and need > limit:
            raise GaneditError(
                f"a {width}x{height} image needs about {format_size(need)} of memory here, more "
                f"than the limit of {format_size(limit)}; raise it with --max-memory (0: no "
                "limit) or downscale the image"
            )

    return budget


def begin_image(
    model: Model,
    image: imageio.DecodedImage,
    *,
    format: str,
    hole: np.ndarray | None = None,
    mask_name: str = "the mask",
) -> Begun:
    """Hand a decoded image to ``model.begin``, for a result to be written as ``format``
    (16-bit sources keep 16 bits in PNG and TIFF).

    Raises:
        GaneditError: An animation, or the model refuses the image (its mask).
    """
    if image.n_frames > 1 and image.format in _ANIMATED_FORMATS:
        raise GaneditError(
            f"an animation ({image.n_frames} frames); ganedit edits still images, so that no "
            "frame is lost: extract the frames first"
        )
    dtype = np.dtype(image.color.dtype if format in SIXTEEN_BIT_FORMATS else np.uint8)
    record = ImageIn(image.color, image.alpha, dtype, hole=hole, mask_name=mask_name)
    try:
        item = model.begin(record)
    except ValueError as exc:
        raise GaneditError(str(exc)) from exc
    return Begun(item, format, image.exif, image.icc_profile, image.dpi)


def finish_image(model: Model, begun: Begun, output: Any, *, jpeg_quality: int = 95) -> bytes:
    """The encoded result of a :class:`Begun` image from the network's ``output``: the bytes
    the folder job writes for it."""
    color, alpha = model.finish(begun.item, output)
    return imageio.encode_bytes(
        color,
        alpha,
        format=begun.format,
        exif=begun.exif,
        icc_profile=begun.icc_profile,
        jpeg_quality=jpeg_quality,
        dpi=begun.dpi,
    )
