"""Super-resolution: the :class:`Upscaler` model (Real-ESRGAN, ESRGAN, SRVGG-style networks).

What it does to each image, step by step:

- ``begin`` (decode threads): colour to unit floats; with alpha, every fully transparent pixel
  takes the colour of the nearest visible ones first (:func:`~ganedit.resize.bleed_colors`), so
  the colour hidden under them never reaches the network and edges get no halo; then the
  codec's channels, range and ``(C, H, W)`` layout. An image that fits in one tile is padded
  here to the network's size and can share a batch with others of its shape.
- ``run_items`` (runner thread): the network, over overlapping tiles blended with a smooth ramp
  (no seams), assembled on the host so only the tiles in flight live on the device; on an
  out-of-memory error the tile size halves and the image is retried.
- ``finish`` (encode threads): crop, range and channels back (grey stays grey); alpha is
  upscaled by a high-quality resize (or was run through the network as grey with
  ``alpha_mode="network"``); ``outscale`` resizes in float (Lanczos up, area down); one
  rounding at the very end, so 16-bit stays 16-bit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from .codec import (
    from_network_range,
    match_channels,
    pad_bottom_right,
    padded_size,
    quantise,
    requantise,
    round_up,
    to_network_range,
)
from .images import ImageIn
from .model import Model, WorkItem, run_grouped
from .resize import bleed_colors, outscale_size, resize_float
from .tiling import looks_like_oom, min_tile_size, run_tiled_adaptive

__all__ = ["AUTO_TILE", "WHOLE_PIXELS", "UpscaleOptions", "Upscaler"]

#: ``tile=None``: images of at most this many pixels (1024²) run whole ...
WHOLE_PIXELS = 1024 * 1024
#: ... and bigger ones in tiles of this side, which bounds the memory a network needs.
AUTO_TILE = 512

log = logging.getLogger("ganedit")


@dataclasses.dataclass(frozen=True)
class UpscaleOptions:
    """How an :class:`Upscaler` treats each image.

    Attributes:
        outscale: Final size factor; ``None`` keeps the network's scale. Any positive value:
            the network's result is resized in float (Lanczos up, area down).
        tile: Largest tile side in input pixels; ``0`` runs whole images (still halving into
            tiles on an out-of-memory error); ``None`` (the default) runs whole the images of at
            most :data:`WHOLE_PIXELS` pixels (so results are the network's own, with no seam),
            and those of models whose card discourages tiling (they use the whole image), and
            cuts bigger ones into tiles of :data:`AUTO_TILE`.
        tile_overlap: Input pixels shared by neighbouring tiles, blended with a smooth ramp.
        tile_batch: Tiles per network call.
        alpha_mode: ``"resize"`` (a high-quality resize of the alpha plane) or ``"network"``
            (alpha through the network as grey).
        min_tile: Smallest tile the out-of-memory fallback tries.
    """

    outscale: float | None = None
    tile: int | None = None
    tile_overlap: int = 16
    tile_batch: int = 4
    alpha_mode: Literal["resize", "network"] = "resize"
    min_tile: int = 32

    def __post_init__(self) -> None:
        if self.outscale is not None and not self.outscale > 0:
            raise ValueError(f"outscale must be > 0, got {self.outscale}")
        if (self.tile or 0) < 0 or self.tile_overlap < 0 or self.tile_batch < 1:
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
class _Plan:
    """What ``begin`` prepared for one image."""

    inputs: list[np.ndarray]  # (C, H, W) network inputs: colour, then alpha ("network" mode)
    height: int
    width: int
    grey: bool  # the image has one colour channel
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1], for alpha_mode "resize"
    whole: bool  # the inputs are padded whole images (one tile each)


class Upscaler(Model):
    """A super-resolution model; ``up(image)`` returns the image ``card.scale`` times larger.

    Example:
        >>> up = ganedit.load("realesrgan-x4plus")
        >>> big = up.with_options(outscale=3.5, tile=256)(Image.open("photo.jpg"))
    """

    options: UpscaleOptions = UpscaleOptions()
    keeps_grey = True

    def begin(self, image: ImageIn) -> WorkItem:
        self._check_mask(image)
        opts = self.options
        unit = requantise(image.color, np.float32)
        alpha = None
        if image.alpha is not None:
            alpha = np.clip(requantise(image.alpha, np.float32), 0.0, 1.0)
            unit = bleed_colors(unit, alpha)
        inputs = [self._network_input(unit)]
        if alpha is not None and opts.alpha_mode == "network":
            inputs.append(self._network_input(np.repeat(alpha[:, :, None], unit.shape[2], axis=2)))
        plan = _Plan(
            inputs=inputs,
            height=image.height,
            width=image.width,
            grey=unit.shape[2] == 1,
            alpha=alpha if opts.alpha_mode == "resize" else None,
            whole=self._fits_one_tile(image.height, image.width),
        )
        key: object = object()  # on its own: its tiles are batched instead
        if plan.whole:
            plan.inputs = [self._pad_whole(x) for x in plan.inputs]
            if len(plan.inputs) == 1:
                key = ("whole", *plan.inputs[0].shape)
        return WorkItem(image, plan, key)

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        plans: list[_Plan] = [item.payload for item in items]
        if len(plans) > 1:  # whole images of one shape: one batch
            inputs = [p.inputs[0] for p in plans]
            try:
                outs = run_grouped(self.run_batch, inputs, max_batch=len(plans))
            except Exception as exc:
                if not looks_like_oom(exc):
                    raise
                log.warning("out of memory on a batch of %d images: one at a time", len(plans))
            else:
                _check_scaled(outs[0], inputs[0], self.card.scale)
                return [[out] for out in outs]
        return [[self._run_tiled(x, item.progress) for x in item.payload.inputs] for item in items]

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        plan: _Plan = item.payload
        color = self._from_network(output[0], plan)
        alpha = None
        if item.image.alpha is not None:
            if plan.alpha is not None:
                alpha = resize_float(plan.alpha, *color.shape[:2])
            else:
                alpha = self._from_network(output[1], plan).mean(axis=2)
            color, alpha = np.clip(color, 0.0, 1.0), np.clip(alpha, 0.0, 1.0)
        outscale = self.options.outscale
        if outscale is not None and outscale != self.card.scale:
            size = outscale_size(plan.height, plan.width, outscale)
            color = resize_float(color, *size)
            if alpha is not None:
                alpha = resize_float(alpha, *size)
        if color.ndim == 2:
            color = color[:, :, None]
        dtype = item.image.dtype
        return quantise(color, dtype), None if alpha is None else quantise(alpha, dtype)

    # -- the network ----------------------------------------------------------------------------

    def _network_input(self, unit: np.ndarray) -> np.ndarray:
        """``(H, W, C)`` floats in [0, 1] -> ``(card.in_channels, H, W)`` in the input range."""
        x = to_network_range(match_channels(unit, self.card.in_channels), self.card.input_range)
        return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)

    def _tile(self, height: int, width: int) -> int:
        """The tile side for an image of ``height`` × ``width`` (each at least ``min_size``)."""
        multiple = self.card.size_multiple
        tile = self.options.tile
        if tile is None:
            whole = self.card.tiling == "discouraged" or height * width <= WHOLE_PIXELS
            tile = 0 if whole else AUTO_TILE
        # tile 0: the whole image as one tile (its side rounded up to the size multiple).
        tile = tile or round_up(max(height, width), multiple)
        return max(tile, min_tile_size(self.options.tile_overlap, multiple))

    def working_pixels(self, height: int, width: int) -> int:
        if self._fits_one_tile(height, width):
            return super().working_pixels(height, width)
        tile = self._tile(max(height, self.card.min_size), max(width, self.card.min_size))
        return (tile + 2 * self.options.tile_overlap) ** 2 * self.options.tile_batch

    def _fits_one_tile(self, height: int, width: int) -> bool:
        card = self.card
        tile = self._tile(max(height, card.min_size), max(width, card.min_size))
        size = tile // card.size_multiple * card.size_multiple
        return max(padded_size(height, card), padded_size(width, card)) <= size

    def _pad_whole(self, chw: np.ndarray) -> np.ndarray:
        height, width = chw.shape[1:]
        pad_h = padded_size(height, self.card) - height
        pad_w = padded_size(width, self.card) - width
        return np.ascontiguousarray(pad_bottom_right(chw, pad_h, pad_w))

    def _run_tiled(
        self, chw: np.ndarray, progress: Callable[[float], None] | None = None
    ) -> np.ndarray:
        card, opts = self.card, self.options
        height, width = chw.shape[1:]
        # A side below the network's minimum is padded up to it first (the codec's rule).
        pad_h, pad_w = max(card.min_size - height, 0), max(card.min_size - width, 0)
        chw = pad_bottom_right(chw, pad_h, pad_w)
        out, _tile_used = run_tiled_adaptive(
            self.run_batch,
            chw,
            scale=card.scale,
            tile=self._tile(*chw.shape[1:]),
            overlap=opts.tile_overlap,
            multiple=card.size_multiple,
            batch_size=opts.tile_batch,
            is_oom=looks_like_oom,
            min_tile=opts.min_tile,
            on_retry=lambda t: log.warning("out of memory: retrying with tile %d", t),
            on_progress=None if progress is None else lambda done, total: progress(done / total),
        )
        return out

    def _from_network(self, out: np.ndarray, plan: _Plan) -> np.ndarray:
        """A network output -> ``(H*s, W*s, C)`` floats in [0, 1] (not clipped), with the
        image's channel count."""
        s = self.card.scale
        y = from_network_range(out[:, : plan.height * s, : plan.width * s], self.card.output_range)
        return match_channels(y.transpose(1, 2, 0), 1 if plan.grey else 3)


def _check_scaled(out: np.ndarray, tensor: np.ndarray, scale: int) -> None:
    expected = (tensor.shape[1] * scale, tensor.shape[2] * scale)
    if out.ndim != 3 or out.shape[1:] != expected:
        raise ValueError(
            f"the network returned {out.shape} for an input of {tensor.shape}; expected "
            f"(C_out, {expected[0]}, {expected[1]}) — is scale={scale} the model's scale?"
        )
