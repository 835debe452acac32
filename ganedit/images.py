"""The image record every model takes, and its conversion from and to what users hand in.

:class:`ImageIn` is the one input of the per-image protocol (``Model.begin``): colour, alpha,
the dtype to produce, and for inpainting the hole. The folder pipeline builds it from decoded
files; the Python API builds it from PIL images and numpy arrays with :func:`split` and turns
results back into the caller's kind with :func:`join`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageIn", "ImageLike", "is_grey_pil", "join", "mask_array", "result_dtype", "split"]

ImageLike = TypeVar("ImageLike", "Image.Image", np.ndarray)

_GREY_MODES = ("L", "LA", "I;16", "I", "1")


@dataclasses.dataclass(frozen=True, eq=False)
class ImageIn:
    """One image on its way into a model.

    Attributes:
        color: ``(H, W, C)``, C in {1, 3}: uint8, uint16, or float in ``[0, 1]``; RGB order.
        alpha: ``(H, W)`` of any of those dtypes, or ``None``.
        dtype: The dtype the result is quantised to (uint8, uint16 or a float type).
        hole: For inpainting: ``(H, W)`` bool, ``True`` in the hole (another size is fitted or
            refused by the model); ``None`` for every other task.
        mask_name: How errors about the hole name it, e.g. ``"mask masks/a_mask.png"``.
    """

    color: np.ndarray
    alpha: np.ndarray | None
    dtype: np.dtype
    hole: np.ndarray | None = None
    mask_name: str = "the mask"

    def __post_init__(self) -> None:
        if self.color.ndim != 3 or self.color.shape[2] not in (1, 3):
            raise ValueError(f"colour must be (H, W, 1) or (H, W, 3), got {self.color.shape}")
        if self.alpha is not None and self.alpha.shape != self.color.shape[:2]:
            raise ValueError(
                f"alpha must be {self.color.shape[:2]} like the colour, got {self.alpha.shape}"
            )
        object.__setattr__(self, "dtype", np.dtype(self.dtype))

    @property
    def height(self) -> int:
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        return int(self.color.shape[1])


def _check_float(image: np.ndarray, what: str) -> None:
    """Float pixels must be finite and in ``[0, 1]``: 0..255 data given as float would otherwise
    be clipped to white without a word."""
    if image.size == 0 or not np.issubdtype(image.dtype, np.floating):
        return
    low, high = float(np.min(image)), float(np.max(image))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{what} holds NaN or infinite values")
    if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
        hint = "; divide by 255 (8-bit data) or 65535 (16-bit)" if high > 1 else ""
        raise ValueError(f"{what} must hold values in 0..1 as floats, got {low:g}..{high:g}{hint}")


#: How far outside 0..1 float pixels may stray (rounding in the caller's own maths).
_FLOAT_SLACK = 1e-3


def _split_array(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    _check_float(image, "a float image")
    if image.ndim == 2:
        return image[:, :, None], None
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1..4, got {image.shape}")
    if image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def _split_pil(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16)[:, :, None], None
    if image.mode == "I":
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)[:, :, None], None
    if image.mode == "F":
        pixels = np.asarray(image, dtype=np.float32)
        _check_float(pixels, "a PIL image of mode F (32-bit float)")
        return np.clip(pixels, 0, 1)[:, :, None], None
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    grey = image.mode in ("1", "L", "LA", "La")
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    return _split_array(np.asarray(image.convert(target)))


def split(image: Image.Image | np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(color (H, W, C), alpha (H, W) or None)`` of a PIL image or an array.

    Arrays are ``(H, W)`` or ``(H, W, C)`` with C in 1..4 (alpha last for 2 and 4). PIL images
    of any mode: 16-bit grey stays uint16, palettes and ``1`` become RGB/grey with alpha where
    the image has transparency.

    Raises:
        TypeError: Neither a PIL image nor a numpy array.
        ValueError: An array of another shape.
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return _split_pil(image)
    if isinstance(image, np.ndarray):
        return _split_array(image)
    raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")


def result_dtype(original: Image.Image | np.ndarray, dtype: np.dtype, *, grey: bool) -> np.dtype:
    """The dtype a result for ``original`` is quantised to: the input's, except that a 16-bit or
    float (``F``) PIL image comes back 8-bit unless the result is grey (Pillow has no 16-bit or
    float RGB mode)."""
    from PIL import Image

    if not isinstance(original, Image.Image) or (dtype != np.uint16 and dtype.kind != "f"):
        return np.dtype(dtype)
    # Pillow has no 16-bit or float colour modes: colour results come back 8-bit.
    return np.dtype(dtype if grey else np.uint8)


def is_grey_pil(image: object) -> bool:
    """Whether ``image`` is a PIL image in a grey mode (``L``, ``LA``, ``I;16``, ``I``, ``1``)."""
    from PIL import Image

    return isinstance(image, Image.Image) and image.mode in _GREY_MODES


def join(original: ImageLike, color: np.ndarray, alpha: np.ndarray | None) -> ImageLike:
    """A result as the same kind as ``original``: an array (``(H, W)`` if the input was 2-D and
    the result is grey, alpha appended last) or a PIL image (``L``, ``LA``, ``RGB``, ``RGBA``,
    or ``I;16`` for 16-bit grey)."""
    from PIL import Image

    if alpha is not None:
        color = np.concatenate([color, alpha[:, :, None].astype(color.dtype)], axis=2)
    if not isinstance(original, Image.Image):
        if original.ndim == 2 and color.shape[2] == 1:
            return color[:, :, 0]
        return color
    if color.shape[2] == 1:
        return Image.fromarray(color[:, :, 0])  # uint8 -> "L", uint16 -> "I;16"
    return Image.fromarray(color)  # 2 -> "LA", 3 -> "RGB", 4 -> "RGBA"


def mask_array(mask: Any) -> np.ndarray:
    """A mask given to the Python API (PIL image or array) as an array for
    :func:`ganedit.masks.hole_from_array`.

    Raises:
        TypeError: Neither a PIL image nor a numpy array.
    """
    from PIL import Image

    if isinstance(mask, Image.Image):
        if mask.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16", "I"):
            return np.asarray(mask)
        return np.asarray(mask.convert("RGBA" if "A" in mask.getbands() else "L"))
    if isinstance(mask, np.ndarray):
        return mask
    raise TypeError(f"expected the mask as a PIL image or a numpy array, got {type(mask)}")
