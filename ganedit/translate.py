"""Image-to-image translation: the :class:`Translator` model (CycleGAN, pix2pix).

What it does to each image: the whole image goes through the network at once (padded by the
codec's rule to what the network needs, cropped back), in the card's value ranges; alpha is
carried over (resized with the image when the network changes its size); a grey photo through
an RGB model comes back RGB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .codec import Prepared, postprocess, prepare, quantise, requantise, to_unit
from .images import ImageIn
from .model import Model, WorkItem, run_grouped
from .resize import resize_float

__all__ = ["TranslateOptions", "Translator"]


@dataclasses.dataclass(frozen=True)
class TranslateOptions:
    """How a :class:`Translator` runs.

    Attributes:
        bucket: Pad each image up to a multiple of this many pixels (0: only to the model's
            size multiple), so that photos of nearby sizes share one shape and batch
            together. Padding is mirrored and cropped off again, but it widens what the
            network sees: pixels within its receptive field of the right and bottom edges,
            and for instance-normalised generators the whole image's statistics, change
            slightly with it.
    """

    bucket: int = 0

    def __post_init__(self) -> None:
        if self.bucket < 0:
            raise ValueError(f"bucket must be >= 0, got {self.bucket}")


class Translator(Model):
    """Image-to-image translation (CycleGAN, pix2pix): output has the input's size.

    Example:
        >>> t = ganedit.load("horse2zebra")
        >>> zebra = t(Image.open("horse.jpg"))
        >>> fast = t.with_options(bucket=64)  # nearby sizes batch together
    """

    options: TranslateOptions = TranslateOptions()

    def begin(self, image: ImageIn) -> WorkItem:
        self._check_mask(image)
        prepared = prepare(image.color, self.card, bucket=self.options.bucket)
        return WorkItem(image, prepared, prepared.shape_key)

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        tensors = [item.payload.tensor for item in items]
        return run_grouped(self.run_batch, tensors, max_batch=len(tensors))

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        prepared: Prepared = item.payload
        color = postprocess(output, self.card, prepared.height, prepared.width, item.image.dtype)
        alpha = item.image.alpha
        if alpha is not None:
            if self.card.scale == 1:
                alpha = requantise(alpha, color.dtype)
            else:
                size = color.shape[:2]
                alpha = quantise(resize_float(to_unit(alpha), *size), color.dtype)
        return color, alpha
