"""Training data for CycleGAN and pix2pix: folder layouts, preprocessing, and a resumable sampler.

Three layouts are read (``DATA`` is the dataset folder, ``train`` the phase):

- ``unaligned`` (CycleGAN): ``DATA/trainA`` and ``DATA/trainB``, unrelated images.
- ``aligned`` (pix2pix): ``DATA/train`` holds side-by-side images, A left, B right.
- ``paired`` (ganedit's own): ``DATA/train/A`` and ``DATA/train/B`` with matching file names.

Preprocessing follows the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix):
bicubic resize, random crop, random horizontal flip, values mapped to ``[-1, 1]``.

Unlike the reference, every random choice for sample ``index`` in epoch ``epoch`` (crop position,
flip, the B image of an unaligned pair) comes from a private ``torch.Generator`` seeded with a hash
of ``(seed, epoch, index)``. A sample is therefore the same tensor whatever the number of DataLoader
workers, process ranks or restarts, and the global RNG is never touched. With
``persistent_workers=True`` a dataset's :meth:`set_epoch` does not reach the worker copies; use
``EpochSampler(..., yield_epoch=True)``, whose ``(epoch, index)`` keys carry the epoch along.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from ganedit.codec import to_unit
from ganedit.imageio import decode_image

from .data_layout import (
    DatasetError,
    Layout,
    detect_layout,
    find_images,
    layout_folders,
    match_pairs,
    missing_data_error,
)
from .data_sampler import EpochSampler, sample_seed

__all__ = [
    "AlignedDataset",
    "DatasetError",
    "EpochSampler",
    "Layout",
    "PairedDataset",
    "PreprocessConfig",
    "UnalignedDataset",
    "detect_layout",
    "find_images",
    "make_dataset",
    "match_pairs",
    "sample_seed",
]

Preprocess = Literal["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"]
Direction = Literal["AtoB", "BtoA"]
Key = int | tuple[int, int]  # an index, or (epoch, index) from EpochSampler(yield_epoch=True)

_SIZE_BASE = 4  # preprocess "none" rounds sizes to a multiple of this (the reference's value)


@dataclass(frozen=True)
class PreprocessConfig:
    """How each training image is prepared; the defaults are the reference's.

    Attributes:
        load_size: ``resize_and_crop`` scales to ``load_size x load_size``; the ``scale_width``
            modes scale the width to ``load_size`` (height keeps the aspect ratio, at least
            ``crop_size``).
        crop_size: Side of the random square crop of the ``*crop`` modes.
        preprocess: ``"resize_and_crop"``, ``"crop"`` (crop only), ``"scale_width"``,
            ``"scale_width_and_crop"`` or ``"none"`` (sizes rounded to a multiple of 4).
        no_flip: Turn off the random horizontal flip (probability 0.5).
    """

    load_size: int = 286
    crop_size: int = 256
    preprocess: Preprocess = "resize_and_crop"
    no_flip: bool = False

    def __post_init__(self) -> None:
        if self.preprocess not in get_args(Preprocess):
            choices = ", ".join(get_args(Preprocess))
            raise ValueError(f"preprocess must be one of {choices}; got {self.preprocess!r}")
        if self.load_size < 1 or self.crop_size < 1:
            raise ValueError(
                f"load_size and crop_size must be positive; got {self.load_size}, {self.crop_size}"
            )
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and (
            self.crop_size > self.load_size
        ):
            raise ValueError(
                f"crop_size ({self.crop_size}) must not exceed load_size ({self.load_size}) "
                f"with preprocess={self.preprocess!r}"
            )


class _PairDataset(Dataset[dict[str, Any]]):
    """Shared machinery: epoch, per-sample generator, loading and preprocessing."""

    def __init__(
        self, *, preprocess: PreprocessConfig, seed: int, in_channels: int, out_channels: int
    ) -> None:
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value not in (1, 3):
                raise ValueError(f"{name} must be 1 or 3; got {value}")
        self.preprocess = preprocess
        self.seed = seed
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s random choices for plain integer indices from now on."""
        self.epoch = epoch

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, key: Key) -> dict[str, Any]:
        """One training pair.

        Args:
            key: An index, or ``(epoch, index)`` (which overrides :attr:`epoch`).

        Returns:
            ``{"A": (in_channels, H, W), "B": (out_channels, H, W), "A_path": str,
            "B_path": str}``; images are ``float32`` in ``[-1, 1]``.
        """
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        epoch, index = operator.index(epoch), operator.index(index)  # numpy/torch ints too
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        index %= n
        rng = torch.Generator().manual_seed(sample_seed(self.seed, epoch, index))
        return self._item(index, rng)

    def _item(self, index: int, rng: torch.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def _finish(self, image: torch.Tensor, params: tuple[int, int, bool]) -> torch.Tensor:
        """Crop, flip and map to ``[-1, 1]``: ``(C, H, W)`` uint8 or [0, 1] float in."""
        top, left, flip = params
        if "crop" in self.preprocess.preprocess:
            size = self.preprocess.crop_size
            image = TF.crop(image, top, left, size, size)
        if flip:
            image = TF.horizontal_flip(image)
        image = TF.to_dtype(image, torch.float32, scale=True).clamp(0.0, 1.0)
        channels = image.shape[0]
        return TF.normalize(image, [0.5] * channels, [0.5] * channels)

    def _params(
        self, image: torch.Tensor, path: Path, rng: torch.Generator
    ) -> tuple[int, int, bool]:
        """Random crop corner ``(top, left)`` and flip for an already resized image."""
        top = left = 0
        if "crop" in self.preprocess.preprocess:
            height, width = image.shape[-2:]
            size = self.preprocess.crop_size
            if height < size or width < size:
                raise DatasetError(
                    f"{path}: image is {width}x{height} after preprocessing, smaller than "
                    f"crop_size {size}; use preprocess='resize_and_crop' or a smaller crop_size"
                )
            top = int(torch.randint(height - size + 1, (), generator=rng))
            left = int(torch.randint(width - size + 1, (), generator=rng))
        flip = not self.preprocess.no_flip and bool(torch.rand((), generator=rng) < 0.5)
        return top, left, flip

    def _resize(self, image: torch.Tensor) -> torch.Tensor:
        """The preprocessing resize of ``(C, H, W)``: bicubic, antialiased."""
        cfg = self.preprocess
        height, width = image.shape[-2:]
        if cfg.preprocess == "resize_and_crop":
            size = (cfg.load_size, cfg.load_size)
        elif cfg.preprocess.startswith("scale_width"):
            if width == cfg.load_size and height >= cfg.crop_size:
                return image
            size = (int(max(cfg.load_size * height / width, cfg.crop_size)), cfg.load_size)
        elif cfg.preprocess == "none":
            size = tuple(
                max(_SIZE_BASE, round(s / _SIZE_BASE) * _SIZE_BASE) for s in (height, width)
            )
        else:
            return image
        if size == (height, width):
            return image
        return TF.resize(image, list(size), interpolation=InterpolationMode.BICUBIC, antialias=True)


def _load(path: Path, channels: int) -> torch.Tensor:
    """An image file as ``(channels, H, W)``: uint8, or float32 in [0, 1] for 16-bit files.

    EXIF orientation is applied and alpha dropped (``decode_image``); grey is repeated to RGB,
    RGB reduced to grey with the ITU-R 601 weights (the reference's ``Grayscale``).
    """
    color = decode_image(path).color  # raises ImageError naming the file
    if color.dtype != "uint8":
        color = to_unit(color)  # the codec's rule, as the runtime feeds networks
    color = color.transpose(2, 0, 1)
    image = torch.from_numpy(color.copy() if not color.flags.writeable else color).contiguous()
    if image.shape[0] == channels:
        return image
    if channels == 3:
        return image.expand(3, -1, -1).contiguous()
    return TF.rgb_to_grayscale(image, num_output_channels=1)


def _same_size(a: torch.Tensor, b: torch.Tensor, a_path: Path, b_path: Path) -> None:
    if a.shape[-2:] != b.shape[-2:]:
        raise DatasetError(
            f"A and B of a pair differ in size after preprocessing: {a_path} is "
            f"{a.shape[-1]}x{a.shape[-2]}, {b_path} is {b.shape[-1]}x{b.shape[-2]}; paired "
            "images must have the same size (or use preprocess='resize_and_crop')"
        )


class UnalignedDataset(_PairDataset):
    """Two unrelated image sets (CycleGAN). Length is the larger set's size.

    Sample ``i`` is ``A[i % len(A)]`` with a random B (``B[i % len(B)]`` with
    ``serial_batches``); A and B get independent crops and flips.
    """

    def __init__(
        self,
        a_paths: Sequence[Path],
        b_paths: Sequence[Path],
        *,
        preprocess: PreprocessConfig,
        seed: int,
        in_channels: int = 3,
        out_channels: int = 3,
        serial_batches: bool = False,
    ) -> None:
        super().__init__(
            preprocess=preprocess, seed=seed, in_channels=in_channels, out_channels=out_channels
        )
        if not a_paths or not b_paths:
            raise DatasetError("an unaligned dataset needs at least one A and one B image")
        self.a_paths = [Path(p) for p in a_paths]
        self.b_paths = [Path(p) for p in b_paths]
        self.serial_batches = serial_batches

    def __len__(self) -> int:
        return max(len(self.a_paths), len(self.b_paths))

    def _item(self, index: int, rng: torch.Generator) -> dict[str, Any]:
        a_path = self.a_paths[index % len(self.a_paths)]
        if self.serial_batches:
            b_index = index % len(self.b_paths)
        else:
            b_index = int(torch.randint(len(self.b_paths), (), generator=rng))
        b_path = self.b_paths[b_index]
        a = self._resize(_load(a_path, self.in_channels))
        b = self._resize(_load(b_path, self.out_channels))
        a = self._finish(a, self._params(a, a_path, rng))
        b = self._finish(b, self._params(b, b_path, rng))
        return {"A": a, "B": b, "A_path": str(a_path), "B_path": str(b_path)}


class AlignedDataset(_PairDataset):
    """Side-by-side images (pix2pix): the left half is A, the right half B (``swap``: reversed).

    The halves are split at ``w // 2`` (an odd width loses its last column) and get the same
    crop and flip. ``A_path`` and ``B_path`` are both the combined file.
    """

    def __init__(
        self,
        ab_paths: Sequence[Path],
        *,
        preprocess: PreprocessConfig,
        seed: int,
        in_channels: int = 3,
        out_channels: int = 3,
        swap: bool = False,
    ) -> None:
        super().__init__(
            preprocess=preprocess, seed=seed, in_channels=in_channels, out_channels=out_channels
        )
        if not ab_paths:
            raise DatasetError("an aligned dataset needs at least one image")
        self.ab_paths = [Path(p) for p in ab_paths]
        self.swap = swap

    def __len__(self) -> int:
        return len(self.ab_paths)

    def _item(self, index: int, rng: torch.Generator) -> dict[str, Any]:
        path = self.ab_paths[index]
        decoded = _load(path, 3)
        half = decoded.shape[-1] // 2
        if half == 0:
            raise DatasetError(f"{path}: image is 1 pixel wide, too narrow to hold A and B")
        left, right = decoded[..., :half], decoded[..., half : 2 * half]
        a, b = (right, left) if self.swap else (left, right)
        a = self._resize(_channels(a, self.in_channels))
        b = self._resize(_channels(b, self.out_channels))
        params = self._params(a, path, rng)
        return {
            "A": self._finish(a, params),
            "B": self._finish(b, params),
            "A_path": str(path),
            "B_path": str(path),
        }


def _channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    return image if channels == 3 else TF.rgb_to_grayscale(image, num_output_channels=1)


class PairedDataset(_PairDataset):
    """Two folders of matching images (``a_paths[i]`` pairs with ``b_paths[i]``); A and B get
    the same crop and flip and must have the same size after resizing."""

    def __init__(
        self,
        a_paths: Sequence[Path],
        b_paths: Sequence[Path],
        *,
        preprocess: PreprocessConfig,
        seed: int,
        in_channels: int = 3,
        out_channels: int = 3,
    ) -> None:
        super().__init__(
            preprocess=preprocess, seed=seed, in_channels=in_channels, out_channels=out_channels
        )
        if len(a_paths) != len(b_paths) or not a_paths:
            raise DatasetError(
                f"a paired dataset needs equally many A and B images, at least one; got "
                f"{len(a_paths)} and {len(b_paths)}"
            )
        self.a_paths = [Path(p) for p in a_paths]
        self.b_paths = [Path(p) for p in b_paths]

    def __len__(self) -> int:
        return len(self.a_paths)

    def _item(self, index: int, rng: torch.Generator) -> dict[str, Any]:
        a_path, b_path = self.a_paths[index], self.b_paths[index]
        a = self._resize(_load(a_path, self.in_channels))
        b = self._resize(_load(b_path, self.out_channels))
        _same_size(a, b, a_path, b_path)
        params = self._params(a, a_path, rng)
        return {
            "A": self._finish(a, params),
            "B": self._finish(b, params),
            "A_path": str(a_path),
            "B_path": str(b_path),
        }


def make_dataset(
    root: Path,
    *,
    mode: Layout | Literal["auto"] = "auto",
    phase: str = "train",
    direction: Direction = "AtoB",
    preprocess: PreprocessConfig,
    seed: int,
    in_channels: int = 3,
    out_channels: int = 3,
    serial_batches: bool = False,
    max_size: int | None = None,
) -> UnalignedDataset | AlignedDataset | PairedDataset:
    """The dataset under ``root`` for ``phase``, in the given or detected layout.

    Args:
        root: The dataset folder.
        mode: ``"unaligned"``, ``"aligned"``, ``"paired"``, or ``"auto"`` (:func:`detect_layout`).
        phase: Sub-folder prefix: ``"train"``, ``"test"``, ``"val"``.
        direction: ``"BtoA"`` swaps the sides: items' ``"A"`` is then the B image.
        preprocess: Resize, crop and flip settings.
        seed: Base seed of every random choice (see :func:`sample_seed`).
        in_channels: Channels of ``"A"`` (the generator input): 1 or 3.
        out_channels: Channels of ``"B"`` (the generator target): 1 or 3.
        serial_batches: Unaligned only: pair ``A[i]`` with ``B[i % len(B)]`` instead of a random B.
        max_size: Use at most this many images per side (the first in sorted order).

    Returns:
        A dataset whose items are ``{"A": (in_channels, H, W), "B": (out_channels, H, W),
        "A_path": str, "B_path": str}``, images ``float32`` in ``[-1, 1]``.

    Raises:
        DatasetError: Missing or empty folders, unmatched paired files, several layouts under
            ``mode="auto"``. ``ImageError`` (naming the file) comes later, from an unreadable
            image at ``__getitem__``.

    Example:
        >>> ds = make_dataset(Path("datasets/horse2zebra"), preprocess=PreprocessConfig(),
        ...                   seed=0)  # doctest: +SKIP
        >>> ds[0]["A"].shape  # doctest: +SKIP
        torch.Size([3, 256, 256])
    """
    root = Path(root)
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA'; got {direction!r}")
    if max_size is not None and max_size < 1:
        raise ValueError(f"max_size must be at least 1 (or None); got {max_size}")
    layout = detect_layout(root, phase) if mode == "auto" else mode
    if layout not in get_args(Layout):
        raise ValueError(f"mode must be auto, unaligned, aligned or paired; got {mode!r}")
    folders = layout_folders(root, phase, layout)
    if not all(folder.is_dir() for folder in folders):
        raise missing_data_error(root, phase, (layout,))
    swap = direction == "BtoA"
    common = {"preprocess": preprocess, "seed": seed}
    common |= {"in_channels": in_channels, "out_channels": out_channels}
    if layout == "aligned":
        return AlignedDataset(find_images(folders[0])[:max_size], swap=swap, **common)
    if layout == "paired":
        a_paths, b_paths = match_pairs(*folders)
        sides = (b_paths, a_paths) if swap else (a_paths, b_paths)
        return PairedDataset(sides[0][:max_size], sides[1][:max_size], **common)
    a_paths, b_paths = (find_images(folder)[:max_size] for folder in folders)
    if swap:
        a_paths, b_paths = b_paths, a_paths
    return UnalignedDataset(a_paths, b_paths, serial_batches=serial_batches, **common)
