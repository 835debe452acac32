"""Super-resolution: the :class:`Upscaler` model (Real-ESRGAN, ESRGAN, SRVGG-style networks).

What it does to each image:

- colour goes through the network in overlapping tiles blended with a smooth ramp (no seams),
  assembled on the host, so only the tiles in flight live on the device; on an out-of-memory
  error the tile size halves and the image is retried;
- alpha is upscaled once, by a high-quality resize (or by the network with ``alpha_mode
  "network"``), with the colour premultiplied so transparent edges pick up no halo;
- grey stays grey; 16-bit stays 16-bit (the caller's dtype decides); values stay float until
  the final rounding;
- ``outscale`` resizes the network's result (Lanczos or area, in float) to any factor.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .model import ImageModel, WorkItem, register_task
from .processing import convert_depth
from .resize import outscale_size, resize_float, upscale_with_alpha
from .tiling import looks_like_oom, min_tile_size, run_tiled_adaptive

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["UpscaleOptions", "Upscaler"]

log = logging.getLogger("ganedit")

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class UpscaleOptions:
    """How an :class:`Upscaler` treats each image.

    Attributes:
        outscale: Final size factor; ``None`` keeps the network's scale. Any positive value:
            the network's result is resized in float (Lanczos up, area down).
        tile: Largest tile side in input pixels; ``0`` runs whole images (still halving into
            tiles on an out-of-memory error).
        tile_overlap: Input pixels shared by neighbouring tiles, blended with a smooth ramp.
        tile_batch: Tiles per network call.
        alpha_mode: ``"resize"`` (a high-quality resize of the alpha plane) or ``"network"``
            (alpha through the network as grey).
        min_tile: Smallest tile the out-of-memory fallback tries.
    """

    outscale: float | None = None
    tile: int = 512
    tile_overlap: int = 16
    tile_batch: int = 4
    alpha_mode: Literal["resize", "network"] = "resize"
    min_tile: int = 32

    def __post_init__(self) -> None:
        if self.outscale is not None and not self.outscale > 0:
            raise ValueError(f"outscale must be > 0, got {self.outscale}")
        if self.tile < 0 or self.tile_overlap < 0 or self.tile_batch < 1:
            raise ValueError(
                "tile and tile_overlap must be >= 0 and tile_batch >= 1, got "
                f"{self.tile}, {self.tile_overlap}, {self.tile_batch}"
            )
        if self.tile and self.tile < min_tile_size(self.tile_overlap):
            raise ValueError(
                f"tile {self.tile} is too small for overlap {self.tile_overlap}: "
                f"use at least {min_tile_size(self.tile_overlap)}"
            )
        if self.alpha_mode not in ("resize", "network"):
            raise ValueError(f"alpha_mode must be 'resize' or 'network', got {self.alpha_mode!r}")


@dataclasses.dataclass(eq=False)
class _Pending:
    color: np.ndarray  # (H, W, C) float32 in [0, 1]
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1]


class Upscaler(ImageModel):
    """A super-resolution model; ``up(image)`` returns the image ``card.scale`` times larger.

    Example:
        >>> up = ganedit.load("realesrgan-x4plus")
        >>> big = up(Image.open("photo.jpg"), outscale=3.5, tile=256)
    """

    options: UpscaleOptions = UpscaleOptions()
    keeps_grey = True

    def __call__(  # type: ignore[override]
        self,
        image: Image.Image | np.ndarray,
        *,
        outscale: float | None = None,
        tile: int | None = None,
        tile_overlap: int | None = None,
        alpha_mode: Literal["resize", "network"] | None = None,
    ) -> Image.Image | np.ndarray:
        """Upscale one image.

        Args:
            image: A PIL image or an ``(H, W)``/``(H, W, C)`` array (C in 1..4, alpha last for
                2 and 4), uint8, uint16 or float in ``[0, 1]``.
            outscale: Final size factor (default: the network's scale).
            tile: Largest tile side (0: whole image).
            tile_overlap: Overlap between tiles.
            alpha_mode: ``"resize"`` or ``"network"``.

        Returns:
            The same kind as the input, ``outscale`` (or ``card.scale``) times larger.
        """
        changes = {
            key: value
            for key, value in {
                "outscale": outscale,
                "tile": tile,
                "tile_overlap": tile_overlap,
                "alpha_mode": alpha_mode,
            }.items()
            if value is not None
        }
        model = self.with_options(**changes) if changes else self
        return ImageModel.__call__(model, image)

    # -- the begin / run_items / finish protocol ----------------------------------------------

    def begin(self, color: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> WorkItem:
        unit = convert_depth(color, np.float32)
        if unit.ndim == 2:
            unit = unit[:, :, None]
        unit_alpha = None if alpha is None else convert_depth(alpha, np.float32)
        # Every image runs on its own (its tiles are batched), so keys never match.
        return WorkItem(_Pending(unit, unit_alpha), alpha, np.dtype(dtype), key=object())

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        return [self._upscale(item.payload) for item in items]

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        color, alpha = output
        color = convert_depth(np.clip(color, 0.0, 1.0), item.dtype)
        if alpha is not None:
            alpha = convert_depth(np.clip(alpha, 0.0, 1.0), item.dtype)
        return color, alpha

    # -- the work -------------------------------------------------------------------------------

    def _upscale(self, pending: _Pending) -> tuple[np.ndarray, np.ndarray | None]:
        opts = self.options
        height, width = pending.color.shape[:2]
        if pending.alpha is None:
            color, alpha = self._network(pending.color), None
        else:
            color, alpha = upscale_with_alpha(
                pending.color,
                pending.alpha,
                scale=self.card.scale,
                upscale_color=self._network,
                alpha_mode=opts.alpha_mode,
            )
        if opts.outscale is not None and opts.outscale != self.card.scale:
            size = outscale_size(height, width, opts.outscale)
            color = resize_float(color, *size)
            if alpha is not None:
                alpha = resize_float(alpha, *size)
        if color.ndim == 2:
            color = color[:, :, None]
        return color, alpha

    def _network(self, color: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` float in [0, 1] -> ``(H*s, W*s, C)`` float; grey in, grey out."""
        card, opts = self.card, self.options
        squeeze = color.ndim == 2
        x = color[:, :, None] if squeeze else color
        grey = x.shape[2] == 1
        if grey and card.in_channels == 3:
            x = np.repeat(x, 3, axis=2)
        elif not grey and card.in_channels == 1:
            x = (x @ _LUMA)[:, :, None]
        lo, hi = card.input_range
        chw = np.ascontiguousarray((x * np.float32(hi - lo) + np.float32(lo)).transpose(2, 0, 1))
        height, width = chw.shape[1:]
        # Tiny images are edge-padded up to the model's minimum and cropped back.
        pad_h, pad_w = max(card.min_size - height, 0), max(card.min_size - width, 0)
        if pad_h or pad_w:
            chw = np.pad(chw, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
        m = card.size_multiple
        # tile 0: the whole image as one tile (its side rounded up to the size multiple).
        tile = opts.tile or -(-max(chw.shape[1:]) // m) * m
        out, _tile_used = run_tiled_adaptive(
            self.run_batch,
            chw.astype(np.float32, copy=False),
            scale=card.scale,
            tile=max(tile, min_tile_size(opts.tile_overlap, card.size_multiple)),
            overlap=opts.tile_overlap,
            multiple=card.size_multiple,
            batch_size=opts.tile_batch,
            is_oom=looks_like_oom,
            min_tile=opts.min_tile,
            on_retry=lambda t: log.warning("out of memory: retrying with tile %d", t),
        )
        s = card.scale
        out = out[:, : height * s, : width * s]
        lo, hi = card.output_range
        y = ((out - np.float32(lo)) * np.float32(1 / (hi - lo))).transpose(1, 2, 0)
        if grey and y.shape[2] == 3:
            y = (y @ _LUMA)[:, :, None]
        elif not grey and y.shape[2] == 1:
            y = np.repeat(y, 3, axis=2)
        return y[:, :, 0] if squeeze else y


register_task("upscale", Upscaler)
