"""Inpainting training samples: random crops of a folder of photos, each with a hole mask.

The crops are the super-resolution dataset's (:class:`~ganedit.train.sr_data.HighResDataset`:
random ``crop_size`` window, flipped half the time, small images scaled up). The mask is drawn
from a generator seeded with (seed, epoch, index) too, so samples are the same with any number
of workers, ranks or restarts, and a resumed run sees the same holes.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .config import MaskOptions
from .data_sampler import sample_seed
from .random_masks import MaskFolder, generate_mask
from .sr_data import HighResDataset

__all__ = ["InpaintDataset"]

_MASK_STREAM = 1  # keeps the mask's random stream apart from the crop's


class InpaintDataset(Dataset[dict[str, Any]]):
    """Random crops of the photos under ``root`` with a hole mask each.

    Items are ``{"image": (3, crop, crop) float32 in [-1, 1], "mask": (1, crop, crop) float32
    (1 = hole, 0 = known), "path": str}``. The image is the whole crop (the target); the
    recipe blanks the holes itself.

    Args:
        root: Folder of photos, searched recursively.
        crop_size: Side of the square crops (a multiple of 4 for the generator).
        seed: Base seed of every random choice.
        masks: Generated masks (kind, coverage) or a folder of mask images.
        flip: Flip crops horizontally half the time.
        max_size: Use at most this many photos.

    Raises:
        DatasetError: The photo or mask folder is missing or holds no images.

    Example:
        >>> data = InpaintDataset("photos/", crop_size=256, seed=0, masks=MaskOptions())
        >>> item = data[0]  # doctest: +SKIP
        >>> item["image"].shape, item["mask"].shape  # doctest: +SKIP
        (torch.Size([3, 256, 256]), torch.Size([1, 256, 256]))
    """

    def __init__(
        self,
        root: str | Path,
        *,
        crop_size: int,
        seed: int,
        masks: MaskOptions,
        flip: bool = True,
        max_size: int | None = None,
    ) -> None:
        self.photos = HighResDataset(
            root, crop_size=crop_size, seed=seed, flip=flip, max_size=max_size
        )
        self.masks = masks
        self.folder = MaskFolder(masks.folder) if masks.folder is not None else None
        self.crop_size = crop_size
        self.seed = seed

    @property
    def epoch(self) -> int:
        return self.photos.epoch

    def set_epoch(self, epoch: int) -> None:
        self.photos.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.photos)

    def mask(self, epoch: int, index: int) -> np.ndarray:
        """The ``(crop, crop)`` uint8 hole mask of sample ``index`` in ``epoch``."""
        rng = np.random.default_rng([sample_seed(self.seed, epoch, index), _MASK_STREAM])
        size = self.crop_size
        if self.folder is not None:
            return self.folder.sample(size, size, rng)
        return generate_mask(
            size,
            size,
            rng,
            kind=self.masks.kind,
            min_coverage=self.masks.min_coverage,
            max_coverage=self.masks.max_coverage,
        )

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        epoch, index = operator.index(epoch), operator.index(index) % len(self)
        photo = self.photos[(epoch, index)]
        mask = torch.from_numpy(self.mask(epoch, index)).float().unsqueeze(0)
        return {"image": photo["B"] * 2 - 1, "mask": mask, "path": photo["B_path"]}
