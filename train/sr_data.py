"""High-resolution training images for super-resolution: random crops of a folder of photos.

The low-resolution inputs are made from these crops on the fly by the recipe (the degradation
pipeline runs on whole batches, as Real-ESRGAN does). Every random choice for sample ``index`` in
epoch ``epoch`` comes from a generator seeded with (seed, epoch, index), so data is the same with
any number of workers, ranks or restarts.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from .data import _load
from .data_layout import DatasetError, find_images
from .data_sampler import sample_seed

__all__ = ["HighResDataset"]


class HighResDataset(Dataset[dict[str, Any]]):
    """Random ``crop_size`` crops of the images under ``root``, flipped half the time.

    Items are ``{"B": (3, crop, crop) float32 in [0, 1], "B_path": str}`` ("B" is the target
    domain, as in the translation datasets). Images smaller than the crop are scaled up first
    (bicubic) so that every item has the same size.

    Raises:
        DatasetError: The folder is missing or holds no images.
    """

    def __init__(
        self, root: str | Path, *, crop_size: int, seed: int, flip: bool = True, max_size=None
    ):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such folder of high-resolution images")
        self.paths = find_images(root)[:max_size]
        if not self.paths:
            raise DatasetError(f"{root}: no images found (looked for image files recursively)")
        self.crop_size = crop_size
        self.seed = seed
        self.flip = flip
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        index = operator.index(index) % len(self)
        rng = torch.Generator().manual_seed(sample_seed(self.seed, operator.index(epoch), index))
        path = self.paths[index]
        image = _load(path, 3)
        if image.dtype == torch.uint8:
            image = image.float() / 255
        size = self.crop_size
        _, height, width = image.shape
        if min(height, width) < size:
            factor = size / min(height, width)
            image = TF.resize(
                image,
                [max(size, round(height * factor)), max(size, round(width * factor))],
                interpolation=TF.InterpolationMode.BICUBIC,
                antialias=True,
            ).clamp(0, 1)
            _, height, width = image.shape
        top = int(torch.randint(height - size + 1, (), generator=rng))
        left = int(torch.randint(width - size + 1, (), generator=rng))
        crop = image[:, top : top + size, left : left + size]
        if self.flip and bool(torch.rand((), generator=rng) < 0.5):
            crop = crop.flip(-1)
        return {"B": crop.contiguous(), "B_path": str(path)}
