"""Array-level pre- and post-processing shared by the Python API and the folder pipeline.

Everything here follows from the model card: channel count, value ranges, the size multiple the
network needs and the output scale. Images are never resized; they are padded and cropped back.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .card import ModelCard

__all__ = ["Prepared", "convert_depth", "pad_amounts", "postprocess", "prepare", "scale_alpha"]

# ITU-R BT.601 luma weights, as Pillow's "L" conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
    """One image ready for the network.

    Attributes:
        tensor: ``(C, Hp, Wp)`` float32 in the card's ``input_range``, padded.
        height: Height before padding.
        width: Width before padding.
    """

    tensor: np.ndarray
    height: int
    width: int

    @property
    def shape_key(self) -> tuple[int, ...]:
        """Images with equal keys can share a batch."""
        return self.tensor.shape


def _unit_float(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) * np.float32(1 / 255)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) * np.float32(1 / 65535)
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32, copy=False)
    raise TypeError(f"pixels must be uint8, uint16 or float, got {pixels.dtype}")


def _match_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W, C)`` -> ``(H, W, channels)``: grey is repeated to RGB, RGB is reduced to luma."""
    have = x.shape[2]
    if have == channels:
        return x
    if have == 1 and channels == 3:
        return np.repeat(x, 3, axis=2)
    if have == 3 and channels == 1:
        return (x @ _LUMA)[:, :, None]
    raise ValueError(f"cannot feed a {have}-channel image to a {channels}-channel model")


def pad_amounts(height: int, width: int, card: ModelCard, bucket: int = 0) -> tuple[int, int]:
    """Rows and columns to add (bottom, right) so the network accepts the image.

    ``bucket`` > 0 pads further, to a multiple of ``bucket`` (and of the size multiple), so
    that images of nearby sizes share one shape: they batch together, and the GPU's
    per-shape set-up (cuDNN algorithm search, TensorRT engines) is done once per bucket.
    """
    m = math.lcm(card.size_multiple, bucket) if bucket else card.size_multiple

    def target(n: int) -> int:
        return -(-max(n, card.min_size) // m) * m

    return target(height) - height, target(width) - width


def _pad(x: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    """Pad ``(C, H, W)`` at the bottom and right: mirror where it fits, edge otherwise."""
    # Mirror padding keeps local statistics natural for the network; it needs pad < size.
    if pad_h:
        mode = "reflect" if pad_h < x.shape[1] else "edge"
        x = np.pad(x, ((0, 0), (0, pad_h), (0, 0)), mode=mode)
    if pad_w:
        mode = "reflect" if pad_w < x.shape[2] else "edge"
        x = np.pad(x, ((0, 0), (0, 0), (0, pad_w)), mode=mode)
    return x


def prepare(pixels: np.ndarray, card: ModelCard, *, bucket: int = 0) -> Prepared:
    """Turn an image into the network's input.

    Args:
        pixels: ``(H, W)`` or ``(H, W, C)`` with C in {1, 3}; uint8 (0..255), uint16
            (0..65535) or float (0..1). No alpha: split it off first.
        card: The model card.
        bucket: Pad to a multiple of this too (see :func:`pad_amounts`); 0 pads only to the
            card's size multiple.

    Returns:
        :class:`Prepared` holding ``(card.in_channels, Hp, Wp)`` float32 where 0 maps to
        ``input_range[0]`` and full scale to ``input_range[1]``, padded to the card's size
        multiple (and ``min_size``, and ``bucket``) at the bottom and right.

    Raises:
        ValueError: The array has an unsupported shape or channel count.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got {pixels.shape}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image is empty: {height}x{width}")
    if pixels.dtype == np.uint8 and pixels.shape[2] == 3 and card.in_channels == 1:
        # Pillow's own integer luma, so grey models see what the reference fed them
        # (it converts with PIL's convert("L")).
        weighted = pixels.astype(np.uint32) @ np.array([19595, 38470, 7471], dtype=np.uint32)
        pixels = ((weighted + 0x8000) >> 16).astype(np.uint8)[:, :, None]
    x = _match_channels(_unit_float(pixels), card.in_channels)
    lo, hi = card.input_range
    x = x * np.float32(hi - lo) + np.float32(lo)
    chw = np.ascontiguousarray(x.transpose(2, 0, 1))
    pad_h, pad_w = pad_amounts(height, width, card, bucket)
    chw = _pad(chw, pad_h, pad_w)
    return Prepared(tensor=np.ascontiguousarray(chw, dtype=np.float32), height=height, width=width)


def postprocess(
    output: np.ndarray, card: ModelCard, height: int, width: int, dtype: np.dtype | type
) -> np.ndarray:
    """Turn one network output back into an image.

    Args:
        output: ``(C, Hp*scale, Wp*scale)`` in the card's ``output_range``.
        card: The model card.
        height: Input height before padding; the result has ``height * scale`` rows.
        width: Input width before padding.
        dtype: uint8 or uint16 (quantised with rounding), or a float type (0..1, unclipped
            values are clipped).

    Returns:
        ``(H*scale, W*scale, C)`` array of ``dtype``.
    """
    s = card.scale
    y = output[:, : height * s, : width * s]
    lo, hi = card.output_range
    y = np.clip((y - np.float32(lo)) * np.float32(1 / (hi - lo)), 0.0, 1.0)
    y = y.transpose(1, 2, 0)
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return np.rint(y * np.float32(255)).astype(np.uint8)
    if dtype == np.uint16:
        return np.rint(y * np.float32(65535)).astype(np.uint16)
    if np.issubdtype(dtype, np.floating):
        return np.ascontiguousarray(y, dtype=dtype)
    raise TypeError(f"output dtype must be uint8, uint16 or float, got {dtype}")


def scale_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """Resize an ``(H, W)`` alpha plane by an integer ``scale`` (Lanczos), keeping its dtype."""
    if scale == 1:
        return alpha
    from PIL import Image

    height, width = alpha.shape
    resized = Image.fromarray(alpha.astype(np.float32)).resize(
        (width * scale, height * scale), Image.Resampling.LANCZOS
    )
    out = np.asarray(resized)
    if np.issubdtype(alpha.dtype, np.integer):
        out = np.clip(np.rint(out), 0, np.iinfo(alpha.dtype).max)
    return out.astype(alpha.dtype)


def convert_depth(pixels: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Re-quantise uint8/uint16/float pixels to ``dtype`` with rounding (full scale to full
    scale; floats are 0..1)."""
    dtype = np.dtype(dtype)
    if pixels.dtype == dtype:
        return pixels
    unit = np.clip(_unit_float(pixels), 0.0, 1.0)
    if np.issubdtype(dtype, np.floating):
        return unit.astype(dtype)
    return np.rint(unit * np.float32(np.iinfo(dtype).max)).astype(dtype)
