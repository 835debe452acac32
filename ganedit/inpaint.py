"""Inpainting: the :class:`Inpainter` model and the OpenCV baselines ``cv2-telea``/``cv2-ns``.

What it does to each image:

- the mask (``True``/white = hole) is checked against the image's size, optionally grown by
  ``dilate`` pixels, and its border optionally feathered *inwards*;
- the network sees only what it needs: a crop with ``crop_margin`` pixels of context around
  each masked region (``strategy="crop"``), the whole image shrunk to ``resize_limit``
  (``"resize"``), or the whole image (``"full"``);
- the result is composited so that every pixel outside the (dilated) hole is the input's pixel,
  bit for bit; alpha is the input's; grey stays grey; 16-bit stays 16-bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .card import MaskSpec, ModelCard
from .errors import GaneditError
from .masks import dilate, feather_weights, fit_mask, hole_from_array, mask_regions
from .model import ImageModel, WorkItem, _as_arrays, _as_original_kind, register_task
from .processing import convert_depth
from .resize import resize_float

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["BASELINES", "InpaintOptions", "Inpainter", "OpenCVInpainter"]

Strategy = Literal["crop", "resize", "full"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class InpaintOptions:
    """How an :class:`Inpainter` treats each image and mask.

    Attributes:
        dilate: Grow the hole by this many pixels first (covers halos around an object).
        feather: Blend the result into the surroundings over this many pixels inside the
            hole's border (0: a hard edge). Pixels outside the hole are never changed.
        strategy: ``"crop"`` runs the network on a crop around each masked region at full
            resolution; ``"resize"`` runs the whole image shrunk so its longer side is at most
            ``resize_limit`` and pastes back only the hole; ``"full"`` runs the whole image.
        crop_margin: Context pixels around each masked region (``"crop"``).
        resize_limit: Longer side the network sees (``"resize"``).
        invert_mask: Black (zero) is the hole instead of white.
        resize_mask: Resize a mask of another size to the image (nearest neighbour) instead of
            failing.
    """

    dilate: int = 0
    feather: int = 0
    strategy: Strategy = "crop"
    crop_margin: int = 128
    resize_limit: int = 512
    invert_mask: bool = False
    resize_mask: bool = False

    def __post_init__(self) -> None:
        if self.dilate < 0 or self.feather < 0 or self.crop_margin < 0:
            raise ValueError(
                "dilate, feather and crop_margin must be >= 0, got "
                f"{self.dilate}, {self.feather}, {self.crop_margin}"
            )
        if self.resize_limit < 16:
            raise ValueError(f"resize_limit must be >= 16, got {self.resize_limit}")
        if self.strategy not in ("crop", "resize", "full"):
            raise ValueError(f"strategy must be 'crop', 'resize' or 'full', got {self.strategy!r}")


@dataclasses.dataclass(eq=False)
class _Pending:
    color: np.ndarray  # (H, W, C) as given, C in {1, 3}
    hole: np.ndarray  # (H, W) bool, after dilation


class Inpainter(ImageModel):
    """Fills holes in images; ``inp(image, mask)`` returns the image with the hole repainted.

    Example:
        >>> inp = ganedit.load("runs/places/inpaint.onnx")
        >>> clean = inp(Image.open("photo.jpg"), Image.open("photo_mask.png"))
    """

    options: InpaintOptions = InpaintOptions()
    keeps_grey = True

    def __call__(  # type: ignore[override]
        self,
        image: Image.Image | np.ndarray,
        mask: Image.Image | np.ndarray,
        **options: Any,
    ) -> Image.Image | np.ndarray:
        """Inpaint one image.

        Args:
            image: A PIL image or an ``(H, W)``/``(H, W, C)`` array (C in 1..4, alpha last for
                2 and 4), uint8, uint16 or float in ``[0, 1]``.
            mask: Same height and width (unless ``resize_mask=True``): a bool array (``True``
                = hole), or any image/array where non-zero is the hole (alpha used when the
                mask has a real alpha channel). ``invert_mask=True`` flips the convention.
            **options: Any :class:`InpaintOptions` field for this call.

        Returns:
            The same kind as ``image``; pixels outside the (dilated) hole equal the input's.
        """
        model = self.with_options(**options) if options else self
        color, alpha = _as_arrays(image)
        hole = hole_from_array(_mask_array(mask), invert=model.options.invert_mask)
        item = model.begin_masked(color, alpha, model._output_dtype(image, color.dtype), hole)
        (output,) = model.run_items([item])
        return _as_original_kind(image, *model.finish(item, output))

    def map(self, images: Any, *, batch_size: int = 4) -> Any:  # type: ignore[override]
        """Run over ``(image, mask)`` pairs, lazily, in order."""
        for image, mask in images:
            yield self(image, mask)

    # -- the begin / run_items / finish protocol ----------------------------------------------

    def begin(self, color: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> WorkItem:
        raise GaneditError(
            f"{self.card.name} is an inpainting model: it needs a mask "
            "(inp(image, mask), or --mask on the command line)"
        )

    def begin_masked(
        self,
        color: np.ndarray,
        alpha: np.ndarray | None,
        dtype: np.dtype,
        hole: np.ndarray,
        *,
        mask_name: str = "the mask",
    ) -> WorkItem:
        """Prepare one image and its hole map (``(H, W)`` bool, before dilation)."""
        if color.ndim == 2:
            color = color[:, :, None]
        height, width = color.shape[:2]
        hole = fit_mask(hole, height, width, resize=self.options.resize_mask, name=mask_name)
        hole = dilate(hole, self.options.dilate)
        return WorkItem(_Pending(color, hole), alpha, np.dtype(dtype), key=object())

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        return [self._predict(item.payload) for item in items]

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        pending: _Pending = item.payload
        original = pending.color
        if original.dtype != item.dtype:
            original = convert_depth(original, item.dtype)
        alpha = item.alpha
        if alpha is not None and alpha.dtype != item.dtype:
            alpha = convert_depth(alpha, item.dtype)
        if output is None:  # nothing to fill
            return original, alpha
        weights = feather_weights(pending.hole, self.options.feather)[:, :, None]
        base = convert_depth(original, np.float32)
        blended = base + weights * (output - base)
        filled = convert_depth(np.clip(blended, 0.0, 1.0), item.dtype)
        # Outside the hole the input's own values, not a round trip through float.
        result = np.where(pending.hole[:, :, None], filled, original)
        return result, alpha

    # -- the work -------------------------------------------------------------------------------

    def _predict(self, pending: _Pending) -> np.ndarray | None:
        """The model's ``(H, W, C)`` float result, valid inside the hole; ``None`` if no hole."""
        hole = pending.hole
        if not hole.any():
            return None
        unit = convert_depth(pending.color, np.float32)
        opts = self.options
        height, width = hole.shape
        if opts.strategy == "crop":
            out = unit.copy()
            multiple = self.card.size_multiple
            for top, left, bottom, right in mask_regions(hole, opts.crop_margin, multiple=multiple):
                crop = np.ascontiguousarray(unit[top:bottom, left:right])
                out[top:bottom, left:right] = self._fill(crop, hole[top:bottom, left:right])
            return out
        if opts.strategy == "resize" and max(height, width) > opts.resize_limit:
            factor = opts.resize_limit / max(height, width)
            size = (max(round(height * factor), 1), max(round(width * factor), 1))
            small = resize_float(unit, *size)
            if small.ndim == 2:
                small = small[:, :, None]
            small_hole = resize_float(hole.astype(np.float32), *size) > 0.01
            filled = self._fill(np.clip(small, 0.0, 1.0), small_hole)
            big = resize_float(filled, height, width)
            return big[:, :, None] if big.ndim == 2 else big
        return self._fill(unit, hole)

    def _fill(self, unit: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """Run the network on ``unit`` (``(h, w, C)`` float in [0, 1]) with ``hole``; returns
        ``(h, w, C)`` float in [0, 1]."""
        card = self.card
        channels = unit.shape[2]
        x = unit
        if channels == 1 and card.in_channels == 3:
            x = np.repeat(x, 3, axis=2)
        elif channels == 3 and card.in_channels == 1:
            x = (x @ _LUMA)[:, :, None]
        lo, hi = card.input_range
        image = x.transpose(2, 0, 1) * np.float32(hi - lo) + np.float32(lo)
        hole_f = hole.astype(np.float32)[None]
        image = image * (1.0 - hole_f)  # holes carry no information
        assert card.mask is not None
        known = 1.0 - hole_f
        mask_plane = hole_f if card.mask.hole == 1 else known
        planes = [image[i : i + 1] for i in range(image.shape[0])]
        planes.insert(card.mask.channel, mask_plane)
        tensor = np.concatenate(planes, axis=0).astype(np.float32)
        height, width = hole.shape
        m = card.size_multiple
        target_h = max(-(-height // m) * m, -(-card.min_size // m) * m)
        target_w = max(-(-width // m) * m, -(-card.min_size // m) * m)
        pad_h, pad_w = target_h - height, target_w - width
        if pad_h or pad_w:
            image_part = np.delete(tensor, card.mask.channel, axis=0)
            mode = "reflect" if pad_h < height and pad_w < width else "edge"
            image_part = np.pad(image_part, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode)
            mask_part = np.pad(tensor[card.mask.channel], ((0, pad_h), (0, pad_w)), mode="edge")
            tensor = np.insert(image_part, card.mask.channel, mask_part, axis=0)
        out = self.run_batch(np.ascontiguousarray(tensor[None]))[0][:, :height, :width]
        lo, hi = card.output_range
        y = ((out - np.float32(lo)) * np.float32(1 / (hi - lo))).transpose(1, 2, 0)
        if channels == 1 and y.shape[2] == 3:
            y = (y @ _LUMA)[:, :, None]
        elif channels == 3 and y.shape[2] == 1:
            y = np.repeat(y, 3, axis=2)
        return np.clip(y, 0.0, 1.0).astype(np.float32)


def _mask_array(mask: Any) -> np.ndarray:
    from PIL import Image

    if isinstance(mask, Image.Image):
        if mask.mode in ("1", "L", "LA", "RGB", "RGBA", "I;16", "I"):
            return np.asarray(mask)
        return np.asarray(mask.convert("RGBA" if "A" in mask.getbands() else "L"))
    if isinstance(mask, np.ndarray):
        return mask
    raise TypeError(f"expected the mask as a PIL image or a numpy array, got {type(mask)}")


# -- the OpenCV baselines --------------------------------------------------------------------

_CV2_METHODS = {"cv2-telea": "INPAINT_TELEA", "cv2-ns": "INPAINT_NS"}
BASELINES = tuple(_CV2_METHODS)


class OpenCVInpainter(Inpainter):
    """``cv2.inpaint`` (Telea's fast marching, or Navier–Stokes) behind the same interface as
    the network models: a known baseline, and a fast choice for thin scratches.

    Example:
        >>> inp = ganedit.load("cv2-telea")
        >>> clean = inp(photo, scratches)
    """

    def __init__(self, name: str, *, radius: int = 3):
        # No onnxruntime session behind it, so Model.__init__ is not called.
        if name not in _CV2_METHODS:
            raise GaneditError(f"unknown OpenCV inpainting method {name!r}; known: {BASELINES}")
        if radius < 1:
            raise ValueError(f"radius must be >= 1, got {radius}")
        self.radius = radius
        self.card = ModelCard(
            name=name,
            task="inpaint",
            arch=name.replace("-", "_"),
            input_range=(0.0, 1.0),
            output_range=(0.0, 1.0),
            mask=MaskSpec(channel=3, hole=1),
            source=f"OpenCV cv2.inpaint, cv2.{_CV2_METHODS[name]}",
            license="Apache-2.0",
        )
        self.path = Path(name)
        self.options = InpaintOptions(crop_margin=16)

    @property
    def providers(self) -> list[str]:
        return ["opencv"]

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        raise GaneditError(f"{self.card.name} is not a network")

    def _fill(self, unit: np.ndarray, hole: np.ndarray) -> np.ndarray:
        import cv2

        method = getattr(cv2, _CV2_METHODS[self.card.name])
        mask = hole.astype(np.uint8)
        if unit.shape[2] == 3:
            # cv2.inpaint takes 3 channels only at 8 bits; deeper images go plane by plane.
            eight = np.round(unit * 255).astype(np.uint8)
            if np.allclose(eight * np.float32(1 / 255), unit, rtol=0, atol=1e-6):
                return cv2.inpaint(eight, mask, self.radius, method).astype(np.float32) / 255
        # Telea's weights assume 8-bit-like magnitudes; on [0, 1] floats it returns noise.
        # Float planes scaled to 0..255 keep the extra precision of 16-bit images.
        scaled = unit.astype(np.float32) * np.float32(255)
        planes = [
            cv2.inpaint(np.ascontiguousarray(scaled[:, :, c]), mask, self.radius, method)
            for c in range(unit.shape[2])
        ]
        return np.stack(planes, axis=2).astype(np.float32) * np.float32(1 / 255)


register_task("inpaint", Inpainter)
