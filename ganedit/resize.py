"""Float resizing, and the colour bleeding that keeps transparent edges clean when upscaling.

``--outscale`` and alpha planes need resizing by any factor without quantising in between:
:func:`resize_float` does it in float32 with OpenCV. :func:`bleed_colors` prepares a colour
image with an alpha plane for a network: every fully transparent pixel takes the colour of the
nearest visible ones, so the arbitrary colour hidden under transparency never reaches the
network and edges keep their own colour on both sides, however sharp or soft the network's edge
is compared with the resized alpha. The :class:`~ganedit.Upscaler` bleeds, upscales the colour
with the network and the alpha with :func:`resize_float` (or the network), and quantises once,
at the very end.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["bleed_colors", "outscale_size", "premultiply", "resize_float", "unpremultiply"]

Method = Literal["auto", "lanczos", "bicubic", "bilinear", "area"]


def _cv2_flag(method: str) -> int:
    import cv2

    flags = {
        "lanczos": cv2.INTER_LANCZOS4,
        "bicubic": cv2.INTER_CUBIC,
        "bilinear": cv2.INTER_LINEAR,
        "area": cv2.INTER_AREA,
    }
    if method not in flags:
        raise ValueError(f"method must be 'auto' or one of {sorted(flags)}, got {method!r}")
    return flags[method]


def _resize(x: np.ndarray, height: int, width: int, method: str) -> np.ndarray:
    import cv2

    if (height, width) == x.shape[:2]:
        return x.copy()
    if method == "auto":
        h_up, w_up = height > x.shape[0], width > x.shape[1]
        if h_up != w_up and height != x.shape[0] and width != x.shape[1]:
            # Shrinking one axis and enlarging the other: one pass per axis, each with its kind.
            x = _resize(x, height, x.shape[1], "auto")
            return _resize(x, height, width, "auto")
        method = "lanczos" if h_up or w_up else "area"
    flag = _cv2_flag(method)
    channels = x.shape[2]
    if channels <= 4:
        out = cv2.resize(x, (width, height), interpolation=flag)
        return out.reshape(height, width, channels)
    # OpenCV resizes at most 4 channels at a time with every interpolation.
    parts = [_resize(x[:, :, i : i + 4], height, width, method) for i in range(0, channels, 4)]
    return np.concatenate(parts, axis=2)


def resize_float(
    image: np.ndarray, height: int, width: int, *, method: Method = "auto"
) -> np.ndarray:
    """Resize a float image to ``height`` x ``width`` without quantising.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` float, usually in [0, 1].
        height: Rows of the result, >= 1.
        width: Columns of the result, >= 1.
        method: ``"lanczos"`` (Lanczos-4), ``"bicubic"``, ``"bilinear"``, ``"area"``
            (pixel-area average, the right filter for shrinking) or ``"auto"``: area where an
            axis shrinks, Lanczos where it grows. Lanczos and bicubic may overshoot [0, 1]
            slightly at hard edges; clip when quantising.

    Returns:
        ``(height, width)`` or ``(height, width, C)`` float32, same number of dimensions.

    Raises:
        TypeError: The image is not a float array.
        ValueError: Bad shape, size or method.

    Example:
        >>> big = resize_float(np.zeros((10, 20, 3), np.float32), 25, 50)
        >>> big.shape, big.dtype
        ((25, 50, 3), dtype('float32'))
    """
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"resize_float needs a float image, got {image.dtype}; divide by 255")
    if image.ndim not in (2, 3) or 0 in image.shape:
        raise ValueError(f"expected a non-empty (H, W) or (H, W, C) image, got {image.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"target size must be at least 1x1, got {height}x{width}")
    x = np.ascontiguousarray(image, dtype=np.float32)
    flat = x.ndim == 2
    out = _resize(x[:, :, None] if flat else x, height, width, method)
    return out[:, :, 0] if flat else out


def outscale_size(height: int, width: int, outscale: float) -> tuple[int, int]:
    """Size of an image scaled by ``outscale`` (any positive factor), rounded, at least 1."""
    if not outscale > 0:
        raise ValueError(f"outscale must be positive, got {outscale}")
    return max(1, round(height * outscale)), max(1, round(width * outscale))


def _alpha3(alpha: np.ndarray) -> np.ndarray:
    return alpha[:, :, None] if alpha.ndim == 2 else alpha


def premultiply(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Associate colour with alpha: ``color * alpha``.

    Args:
        color: ``(H, W, C)`` float in [0, 1], straight (unassociated) colour.
        alpha: ``(H, W)`` or ``(H, W, 1)`` float in [0, 1].

    Returns:
        ``(H, W, C)`` float32 premultiplied colour; fully transparent pixels become 0.
    """
    return (color * _alpha3(alpha)).astype(np.float32, copy=False)


def unpremultiply(color: np.ndarray, alpha: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """Undo :func:`premultiply`: ``color / alpha`` where ``alpha > eps``, 0 elsewhere.

    Args:
        color: ``(H, W, C)`` float premultiplied colour.
        alpha: ``(H, W)`` or ``(H, W, 1)`` float in [0, 1].
        eps: Alphas at or below this count as fully transparent (colour 0).

    Returns:
        ``(H, W, C)`` float32 straight colour, not clipped.
    """
    a = _alpha3(alpha).astype(np.float32)
    visible = a > eps
    return np.where(visible, color / np.where(visible, a, 1.0), 0.0).astype(np.float32)


def bleed_colors(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Give fully transparent pixels the colour of the nearest visible ones (push-pull).

    Visible pixels (alpha > 0) keep their colour. Each transparent pixel takes the
    alpha-weighted mean colour of the smallest surrounding block (halving pyramid, area
    filtered) that holds any visible pixel, so the result is smooth and the hidden colour is
    gone.

    Args:
        color: ``(H, W, C)`` float straight colour.
        alpha: ``(H, W)`` float in [0, 1].

    Returns:
        ``(H, W, C)`` float32; unchanged where ``alpha > 0``, 0 if nothing is visible.
    """
    a = np.clip(alpha.astype(np.float32), 0.0, 1.0)
    levels = [(premultiply(color, a), a)]
    while max(levels[-1][1].shape) > 1 and not (levels[-1][1] > 0).all():
        pm, w = levels[-1]
        h, wd = (pm.shape[0] + 1) // 2, (pm.shape[1] + 1) // 2
        levels.append((resize_float(pm, h, wd, method="area"), resize_float(w, h, wd)))
    fill: np.ndarray | None = None
    for pm, w in reversed(levels):
        own = unpremultiply(pm, w, eps=1e-6)
        if fill is not None:
            # Bilinear: no overshoot, so bled colours stay within the visible ones' range.
            coarse = resize_float(fill, *w.shape, method="bilinear")
            own = np.where((w > 1e-6)[:, :, None], own, coarse)
        fill = own
    assert fill is not None
    return np.where((a > 0)[:, :, None], color, fill).astype(np.float32)
