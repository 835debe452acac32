"""The pre/post-processing codec every task shares: pixels <-> what a network's card asks for.

One definition of each rule, used by translate, upscale, inpaint, tiling, ``bench`` and the
export verification:

- **Unit floats** (:func:`to_unit`): ``uint8 / 255`` and ``uint16 / 65535`` as float32 (a
  multiply by the float32 reciprocal); float pixels are taken as ``[0, 1]`` as they are.
- **Quantising** (:func:`quantise`): clip to ``[0, 1]`` (NaN counts as 0), scale to full scale in
  float32 and round half to even (``np.rint``). The only rounding rule in ganedit; 16 -> 8 bits
  (:func:`requantise`) is the same rule, which for integers never meets a tie.
- **Channels** (:func:`match_channels`): grey is repeated to RGB; RGB is reduced to BT.601 luma
  (:data:`LUMA`). For ``uint8`` pixels the luma is Pillow's ``convert("L")``, exactly: the same
  weights in 16-bit fixed point, so grey models see what the reference implementations fed them.
- **Ranges** (:func:`to_network_range`, :func:`from_network_range`): ``[0, 1]`` maps linearly
  onto the card's ``input_range``; the card's ``output_range`` maps back onto ``[0, 1]``.
- **Size** (:func:`padded_size`): each side grows to at least ``min_size``, then up to a
  multiple of ``size_multiple`` (and of ``bucket`` when one is asked for).
- **Padding** (:func:`pad_bottom_right`): rows and columns are added at the bottom and right only,
  so the image keeps its origin and is cropped back by slicing. Each axis is mirrored (without
  repeating the edge pixel) where the mirror fits, i.e. when fewer pixels are added than the
  axis has, and repeats the edge pixel otherwise.

Images are never resized here: they are padded and cropped back.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .card import ModelCard

__all__ = [
    "LUMA",
    "Prepared",
    "from_network_range",
    "match_channels",
    "pad_bottom_right",
    "padded_size",
    "postprocess",
    "prepare",
    "quantise",
    "requantise",
    "round_up",
    "to_network_range",
    "to_unit",
]

#: ITU-R BT.601 luma weights of R, G and B (what Pillow's ``convert("L")`` uses).
LUMA: tuple[float, float, float] = (0.299, 0.587, 0.114)
_LUMA = np.array(LUMA, dtype=np.float32)
# The same weights in 16-bit fixed point (19595, 38470, 7471; they sum to 65536): Pillow's.
_LUMA_FIXED = np.array([round(w * 65536) for w in LUMA], dtype=np.uint32)


def to_unit(pixels: np.ndarray) -> np.ndarray:
    """Pixels as float32 in ``[0, 1]``: ``uint8 / 255``, ``uint16 / 65535``; floats as they are.

    Raises:
        TypeError: Another dtype (the message names it).

    Example:
        >>> to_unit(np.array([0, 255], np.uint8)).tolist()
        [0.0, 1.0]
    """
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) * np.float32(1 / 255)
    if pixels.dtype == np.uint16:
        return pixels.astype(np.float32) * np.float32(1 / 65535)
    if np.issubdtype(pixels.dtype, np.floating):
        return pixels.astype(np.float32, copy=False)
    raise TypeError(f"pixels must be uint8, uint16 or float, got {pixels.dtype}")


def quantise(unit: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """``[0, 1]`` floats to ``dtype``: clipped (NaN to 0), then for uint8/uint16 scaled to full
    scale in float32 and rounded half to even; a float ``dtype`` gets the clipped values.

    Raises:
        TypeError: ``dtype`` is not uint8, uint16 or a float type.

    Example:
        >>> quantise(np.array([-1.0, 0.5, 2.0, np.nan]), np.uint8).tolist()
        [0, 128, 255, 0]
    """
    dtype = np.dtype(dtype)
    # fmax/fmin, unlike clip, turn NaN into the bound (fmax(NaN, 0) is 0) at clip's cost.
    clipped = np.fmax(unit, np.asarray(0.0, dtype=unit.dtype))
    np.fmin(clipped, np.asarray(1.0, dtype=clipped.dtype), out=clipped)
    if np.issubdtype(dtype, np.floating):
        return np.ascontiguousarray(clipped, dtype=dtype)
    if dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise TypeError(f"output dtype must be uint8, uint16 or float, got {dtype}")
    full = np.float32(np.iinfo(dtype).max)
    return np.rint(clipped.astype(np.float32, copy=False) * full).astype(dtype)


def requantise(pixels: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Pixels of one depth as another (full scale to full scale; floats are ``[0, 1]``):
    :func:`to_unit`, then :func:`quantise`. Pixels already of ``dtype`` come back as they are."""
    if pixels.dtype == np.dtype(dtype):
        return pixels
    return quantise(to_unit(pixels), dtype)


def match_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W, C)`` to ``(H, W, channels)``: grey is repeated to RGB, RGB is reduced to luma.

    Args:
        pixels: ``(H, W, C)``, C in {1, 3}: uint8 (luma in Pillow's exact integer arithmetic) or
            float (luma with the float32 :data:`LUMA` weights).
        channels: 1 or 3.

    Returns:
        ``pixels`` itself when it already has ``channels``; else a new array of its dtype.

    Raises:
        ValueError: Channel counts that do not convert (e.g. 2 to 3).

    Example:
        >>> match_channels(np.full((1, 1, 1), 0.5, np.float32), 3).shape
        (1, 1, 3)
    """
    have = pixels.shape[2]
    if have == channels:
        return pixels
    if have == 1 and channels == 3:
        return np.repeat(pixels, 3, axis=2)
    if have == 3 and channels == 1:
        if pixels.dtype == np.uint8:
            weighted = pixels.astype(np.uint32) @ _LUMA_FIXED
            return ((weighted + 0x8000) >> 16).astype(np.uint8)[:, :, None]
        return (pixels.astype(np.float32, copy=False) @ _LUMA)[:, :, None]
    raise ValueError(f"cannot turn a {have}-channel image into {channels} channels")


def to_network_range(unit: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """``[0, 1]`` floats onto ``value_range`` (the card's ``input_range``), float32."""
    lo, hi = value_range
    return unit * np.float32(hi - lo) + np.float32(lo)


def from_network_range(output: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """A network's output in ``value_range`` (the card's ``output_range``) onto ``[0, 1]``,
    float32, not clipped."""
    lo, hi = value_range
    return (output - np.float32(lo)) * np.float32(1 / (hi - lo))


def round_up(size: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is at least ``size``.

    Example:
        >>> round_up(37, 4), round_up(40, 4)
        (40, 40)
    """
    return -(-size // multiple) * multiple


def padded_size(size: int, card: ModelCard, *, bucket: int = 0) -> int:
    """The side a network of ``card`` runs an image side of ``size`` at: at least
    ``card.min_size``, rounded up to a multiple of ``card.size_multiple`` (and of ``bucket``).

    ``bucket`` > 0 pads further so that images of nearby sizes share one shape: they batch
    together, and the GPU's per-shape set-up (cuDNN algorithm search, TensorRT engines) is done
    once per bucket.

    Example:
        >>> padded_size(37, ModelCard(name="m", task="translate", arch="a", size_multiple=4,
        ...                           min_size=16))
        40
    """
    multiple = math.lcm(card.size_multiple, bucket) if bucket else card.size_multiple
    return round_up(max(size, card.min_size), multiple)


def pad_bottom_right(chw: np.ndarray, pad_h: int, pad_w: int) -> np.ndarray:
    """Add ``pad_h`` rows at the bottom and ``pad_w`` columns at the right of ``(C, H, W)``.

    Each axis is mirrored where the mirror fits (``pad < size``: no pixel repeated, so the
    network sees natural local statistics) and repeats its edge pixel otherwise.

    Example:
        >>> pad_bottom_right(np.arange(3.0)[None, None], 0, 2)[0, 0].tolist()
        [0.0, 1.0, 2.0, 1.0, 0.0]
    """
    if pad_h:
        mode = "reflect" if pad_h < chw.shape[1] else "edge"
        chw = np.pad(chw, ((0, 0), (0, pad_h), (0, 0)), mode=mode)
    if pad_w:
        mode = "reflect" if pad_w < chw.shape[2] else "edge"
        chw = np.pad(chw, ((0, 0), (0, 0), (0, pad_w)), mode=mode)
    return chw


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


def prepare(pixels: np.ndarray, card: ModelCard, *, bucket: int = 0) -> Prepared:
    """Turn a whole image into the network's input.

    Args:
        pixels: ``(H, W)`` or ``(H, W, C)`` with C in {1, 3}; uint8 (0..255), uint16
            (0..65535) or float (0..1). No alpha: split it off first.
        card: The model card.
        bucket: Pad to a multiple of this too (see :func:`padded_size`); 0 pads only to the
            card's size multiple.

    Returns:
        :class:`Prepared` holding ``(card.in_channels, Hp, Wp)`` float32 in the card's
        ``input_range``, padded at the bottom and right by :func:`pad_bottom_right`.

    Raises:
        ValueError: The array has an unsupported shape or channel count, or is empty.
        TypeError: The dtype is not uint8, uint16 or float.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"expected an (H, W), (H, W, 1) or (H, W, 3) image, got {pixels.shape}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"image is empty: {height}x{width}")
    if pixels.dtype == np.uint8:  # 8-bit luma in Pillow's integer arithmetic, before floats
        pixels = match_channels(pixels, card.in_channels)
    x = to_network_range(match_channels(to_unit(pixels), card.in_channels), card.input_range)
    chw = np.ascontiguousarray(x.transpose(2, 0, 1))
    pad_h = padded_size(height, card, bucket=bucket) - height
    pad_w = padded_size(width, card, bucket=bucket) - width
    chw = pad_bottom_right(chw, pad_h, pad_w)
    return Prepared(tensor=np.ascontiguousarray(chw, dtype=np.float32), height=height, width=width)


def postprocess(
    output: np.ndarray, card: ModelCard, height: int, width: int, dtype: np.dtype | type
) -> np.ndarray:
    """Turn one network output for a whole image back into pixels.

    Args:
        output: ``(C, Hp*scale, Wp*scale)`` in the card's ``output_range``.
        card: The model card.
        height: Input height before padding; the result has ``height * scale`` rows.
        width: Input width before padding.
        dtype: uint8 or uint16 (:func:`quantise`), or a float type (clipped ``[0, 1]``).

    Returns:
        ``(H*scale, W*scale, C)`` array of ``dtype``.
    """
    s = card.scale
    y = from_network_range(output[:, : height * s, : width * s], card.output_range)
    return quantise(y.transpose(1, 2, 0), dtype)
