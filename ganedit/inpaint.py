"""Inpainting: the :class:`Inpainter` model, and how it feeds a network the holes to fill.

What it does to each image:

- ``begin`` (decode threads): the hole (``True``/white = hole, from the image record) is checked
  against the image's size (or resized, with ``resize_mask``) and grown by ``dilate`` pixels;
  then the filler sees only what it needs: a crop with ``crop_margin`` pixels of context around
  each masked region (``strategy="crop"``, for images longer than ``crop_trigger``; smaller
  ones whole, as IOPaint does), the whole image shrunk to ``resize_limit``
  (``"resize"``), or the whole image (``"full"``), each prepared for it here;
- ``run_items`` (runner thread): the filler runs, regions of equal shape in one batch;
- ``finish`` (encode threads): the result is composited so that every pixel outside the
  (dilated) hole is the input's pixel, bit for bit, with the border of the hole optionally
  feathered *inwards*; alpha is the input's; grey stays grey; 16-bit stays 16-bit.

The filler is the network, fed through the codec (:class:`NetworkFiller`), or for the OpenCV
baselines the session itself (:class:`~ganedit.baselines.OpenCVInpaint`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .card import ModelCard
from .codec import (
    from_network_range,
    match_channels,
    pad_bottom_right,
    padded_size,
    quantise,
    requantise,
    to_network_range,
)
from .images import ImageIn
from .masks import dilate, feather_weights, fit_mask, mask_regions
from .model import Model, WorkItem, run_grouped
from .resize import resize_float
from .session import Session

__all__ = ["HoleFiller", "InpaintOptions", "Inpainter", "NetworkFiller"]

Strategy = Literal["crop", "resize", "full"]
Box = tuple[int, int, int, int]


@dataclasses.dataclass(frozen=True)
class InpaintOptions:
    """How an :class:`Inpainter` treats each image and its hole.

    Attributes:
        dilate: Grow the hole by this many pixels first (covers halos around an object).
        feather: Blend the result into the surroundings over this many pixels inside the
            hole's border (0: a hard edge). Pixels outside the hole are never changed.
        strategy: ``"crop"`` runs the filler on a crop around each masked region at full
            resolution (on the whole image when its longer side is at most ``crop_trigger``);
            ``"resize"`` runs the whole image shrunk so its longer side is at most
            ``resize_limit`` and pastes back only the hole; ``"full"`` runs the whole image.
        crop_margin: Context pixels around each masked region (``"crop"``); ``None`` takes the
            filler's own (128 for networks, 16 for the OpenCV baselines).
        crop_trigger: ``"crop"`` crops only images whose longer side exceeds this many pixels
            and runs smaller ones whole (all the context, and the result a network gives the
            whole image); ``None`` takes the filler's own (800 for networks, as IOPaint's
            default; 0 for the OpenCV baselines, whose result does not depend on far context).
        resize_limit: Longer side the filler sees (``"resize"``).
        resize_mask: Resize a mask of another size to the image (nearest neighbour) instead of
            failing.
    """

    dilate: int = 0
    feather: int = 0
    strategy: Strategy = "crop"
    crop_margin: int | None = None
    crop_trigger: int | None = None
    resize_limit: int = 512
    resize_mask: bool = False

    def __post_init__(self) -> None:
        if self.dilate < 0 or self.feather < 0 or (self.crop_margin or 0) < 0:
            raise ValueError(
                "dilate, feather and crop_margin must be >= 0, got "
                f"{self.dilate}, {self.feather}, {self.crop_margin}"
            )
        if (self.crop_trigger or 0) < 0:
            raise ValueError(f"crop_trigger must be >= 0, got {self.crop_trigger}")
        if self.resize_limit < 16:
            raise ValueError(f"resize_limit must be >= 16, got {self.resize_limit}")
        if self.strategy not in ("crop", "resize", "full"):
            raise ValueError(f"strategy must be 'crop', 'resize' or 'full', got {self.strategy!r}")


@runtime_checkable
class HoleFiller(Protocol):
    """Fills the holes of image regions, in the three steps of the model protocol.

    A region is ``(unit, hole)``: ``(h, w, C)`` float32 in ``[0, 1]``, C in {1, 3}, and an
    ``(h, w)`` bool hole map. ``prepare`` runs in decode threads, ``fill`` in the runner thread
    (prepared regions with equal ``key`` may share a batch; ``run`` is the model's network),
    ``result`` in encode threads and returns ``(h, w, C)`` floats valid inside the hole.
    """

    default_margin: int
    default_trigger: int

    def prepare(self, unit: np.ndarray, hole: np.ndarray) -> Any: ...
    def key(self, prepared: Any) -> Hashable: ...
    def fill(
        self, prepared: Sequence[Any], run: Callable[[np.ndarray], np.ndarray]
    ) -> list[Any]: ...
    def result(self, prepared: Any, output: Any) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True, eq=False)
class _NetworkRegion:
    tensor: np.ndarray  # (in_channels + 1, Hp, Wp) float32, the mask at card.mask.channel
    height: int
    width: int
    channels: int  # of the region's pixels


class NetworkFiller:
    """Feeds an inpainting network through the codec: channels and range of the card, holes
    zeroed (they carry no information), the mask as the card's extra channel, padding to the
    network's size (the image planes by the codec's rule; the mask by repeating its edge, so
    a hole that touches the border stays a hole in the padding)."""

    default_margin = 128
    default_trigger = 800
    max_batch = 4

    def __init__(self, card: ModelCard):
        if card.mask is None:
            raise ValueError(f"{card.name}: an inpainting card needs a mask spec")
        self.card = card
        self.mask = card.mask

    def prepare(self, unit: np.ndarray, hole: np.ndarray) -> _NetworkRegion:
        card = self.card
        height, width, channels = unit.shape
        x = match_channels(unit, card.in_channels).transpose(2, 0, 1)
        hole_f = hole.astype(np.float32)[None]
        image = to_network_range(x, card.input_range) * (1.0 - hole_f)
        pad_h = padded_size(height, card) - height
        pad_w = padded_size(width, card) - width
        image = pad_bottom_right(image, pad_h, pad_w)
        plane = hole_f if self.mask.hole == 1 else 1.0 - hole_f
        plane = np.pad(plane, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
        tensor = np.insert(image, self.mask.channel, plane[0], axis=0)
        return _NetworkRegion(np.ascontiguousarray(tensor, np.float32), height, width, channels)

    def key(self, prepared: _NetworkRegion) -> Hashable:
        return prepared.tensor.shape

    def fill(
        self, prepared: Sequence[_NetworkRegion], run: Callable[[np.ndarray], np.ndarray]
    ) -> list[np.ndarray]:
        return run_grouped(run, [p.tensor for p in prepared], max_batch=self.max_batch)

    def result(self, prepared: _NetworkRegion, output: np.ndarray) -> np.ndarray:
        out = output[:, : prepared.height, : prepared.width]
        y = from_network_range(out, self.card.output_range).transpose(1, 2, 0)
        y = match_channels(y, prepared.channels)
        return np.clip(y, 0.0, 1.0).astype(np.float32)


@dataclasses.dataclass(eq=False)
class _Plan:
    unit: np.ndarray  # (H, W, C) float32 in [0, 1]
    hole: np.ndarray  # (H, W) bool, after fitting and dilation
    boxes: list[Box]  # where each region's result goes ("crop")
    regions: list[Any]  # what the filler prepared, one per region
    resized: bool  # the one region is the whole image shrunk ("resize")


class Inpainter(Model):
    """Fills holes in images; ``inp(image, mask)`` returns the image with the hole repainted.

    Example:
        >>> inp = ganedit.load("runs/places/inpaint.onnx")
        >>> clean = inp(Image.open("photo.jpg"), Image.open("photo_mask.png"))
        >>> soft = inp.with_options(dilate=2, feather=4)
    """

    options: InpaintOptions = InpaintOptions()
    keeps_grey = True
    requires_mask = True

    def __init__(self, session: Session, card: ModelCard, path: Path):
        super().__init__(session, card, path)
        # The OpenCV baselines fill holes themselves; a network goes through the codec.
        self.filler: HoleFiller = (
            session if isinstance(session, HoleFiller) else NetworkFiller(card)
        )

    def begin(self, image: ImageIn) -> WorkItem:
        self._check_mask(image)
        assert image.hole is not None  # _check_mask
        opts = self.options
        hole = fit_mask(
            image.hole, image.height, image.width, resize=opts.resize_mask, name=image.mask_name
        )
        hole = dilate(hole, opts.dilate)
        unit = requantise(image.color, np.float32)
        plan = _Plan(unit, hole, [], [], resized=False)
        if hole.any():
            self._plan_regions(plan)
        key: Hashable = object()
        if len(plan.regions) == 1:
            key = ("one", self.filler.key(plan.regions[0]))
        return WorkItem(image, plan, key)

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        regions = [region for item in items for region in item.payload.regions]
        outputs = iter(self.filler.fill(regions, self.run_batch))
        return [[next(outputs) for _ in item.payload.regions] for item in items]

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        plan: _Plan = item.payload
        dtype = item.image.dtype
        original = requantise(item.image.color, dtype)
        alpha = item.image.alpha
        if alpha is not None:
            alpha = requantise(alpha, dtype)
        if not plan.regions:  # nothing to fill
            return original, alpha
        results = [self.filler.result(p, o) for p, o in zip(plan.regions, output, strict=True)]
        if plan.boxes:
            filled = plan.unit.copy()
            for (top, left, bottom, right), result in zip(plan.boxes, results, strict=True):
                filled[top:bottom, left:right] = result
        elif plan.resized:
            filled = resize_float(results[0], *plan.hole.shape)
            filled = filled[:, :, None] if filled.ndim == 2 else filled
        else:
            filled = results[0]
        weights = feather_weights(plan.hole, self.options.feather)[:, :, None]
        base = requantise(original, np.float32)
        blended = quantise(base + weights * (filled - base), dtype)
        # Outside the hole the input's own values, not a round trip through float.
        return np.where(plan.hole[:, :, None], blended, original), alpha

    def _plan_regions(self, plan: _Plan) -> None:
        opts, unit, hole = self.options, plan.unit, plan.hole
        height, width = hole.shape
        trigger = self.filler.default_trigger if opts.crop_trigger is None else opts.crop_trigger
        if opts.strategy == "crop" and max(height, width) > trigger:
            margin = self.filler.default_margin if opts.crop_margin is None else opts.crop_margin
            plan.boxes = mask_regions(hole, margin, multiple=self.card.size_multiple)
            for top, left, bottom, right in plan.boxes:
                crop = np.ascontiguousarray(unit[top:bottom, left:right])
                plan.regions.append(self.filler.prepare(crop, hole[top:bottom, left:right]))
        elif opts.strategy == "resize" and max(height, width) > opts.resize_limit:
            factor = opts.resize_limit / max(height, width)
            size = (max(round(height * factor), 1), max(round(width * factor), 1))
            small = resize_float(unit, *size)
            small = small[:, :, None] if small.ndim == 2 else small
            small_hole = resize_float(hole.astype(np.float32), *size) > 0.01
            plan.regions.append(self.filler.prepare(np.clip(small, 0.0, 1.0), small_hole))
            plan.resized = True
        else:
            plan.regions.append(self.filler.prepare(unit, hole))
