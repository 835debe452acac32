"""Deterministic randomness for training data: per-sample seeds and the epoch sampler.

Every random choice derives from a hash of ``(seed, epoch, index)`` or ``(seed, epoch)``, never
from a global RNG, so a run gives the same batches with any number of workers or processes and
can resume mid-epoch exactly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Sampler

__all__ = ["EpochSampler", "sample_seed"]


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of every random choice for one sample: a 63-bit hash of the three numbers.

    Example:
        >>> sample_seed(0, 1, 2) == sample_seed(0, 1, 2) != sample_seed(0, 2, 2)
        True
    """
    return _hash("sample", int(seed), int(epoch), int(index))


def _hash(*parts: object) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class EpochSampler(Sampler[Any]):
    """Indices of one epoch for one process: a ``(seed, epoch)`` permutation, sharded by rank.

    Like ``DistributedSampler``: without ``drop_last`` the permutation is padded (wrapping
    around) to a multiple of ``world_size``; with it, the tail is dropped. Rank ``r`` takes
    every ``world_size``-th index from ``r``. ``set_epoch(epoch, skip=k)`` resumes an epoch
    after this rank's first ``k`` samples (``k = batches_done * batch_size``).

    Args:
        length: Dataset size.
        seed: Base seed; epoch ``e``'s order depends only on ``(seed, e)``.
        shuffle: Permute each epoch; otherwise dataset order.
        rank: This process's rank, ``0 <= rank < world_size``.
        world_size: Number of processes sharing the epoch.
        drop_last: Drop the tail that does not divide evenly instead of padding.
        yield_epoch: Yield ``(epoch, index)`` keys instead of indices, for the training
            datasets, so the epoch reaches persistent DataLoader workers too.

    Example:
        >>> sampler = EpochSampler(10, seed=0, rank=1, world_size=2)
        >>> sampler.set_epoch(3, skip=2)
        >>> len(sampler)
        3
    """

    def __init__(
        self,
        length: int,
        *,
        seed: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
        yield_epoch: bool = False,
    ) -> None:
        if length < 1:
            raise ValueError(f"length must be at least 1; got {length}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size; got rank {rank}, world {world_size}")
        if drop_last and length < world_size:
            raise ValueError(f"drop_last with {length} samples leaves none for {world_size} ranks")
        self.length = length
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.yield_epoch = yield_epoch
        per_rank = length / world_size
        self.num_samples = math.floor(per_rank) if drop_last else math.ceil(per_rank)
        self.epoch = 0
        self.skip = 0

    def set_epoch(self, epoch: int, *, skip: int = 0) -> None:
        """Iterate ``epoch`` next, leaving out this rank's first ``skip`` samples."""
        if not 0 <= skip <= self.num_samples:
            raise ValueError(f"skip must be in [0, {self.num_samples}]; got {skip}")
        self.epoch = epoch
        self.skip = skip

    def indices(self, epoch: int) -> list[int]:
        """This rank's full list of dataset indices for ``epoch`` (``skip`` not applied)."""
        if self.shuffle:
            rng = torch.Generator().manual_seed(_hash("order", int(self.seed), int(epoch)))
            order = torch.randperm(self.length, generator=rng).tolist()
        else:
            order = list(range(self.length))
        total = self.num_samples * self.world_size
        while len(order) < total:
            order += order[: total - len(order)]
        return order[self.rank : total : self.world_size]

    def __iter__(self) -> Iterator[Any]:
        chosen = self.indices(self.epoch)[self.skip :]
        if self.yield_epoch:
            return iter([(self.epoch, i) for i in chosen])
        return iter(chosen)

    def __len__(self) -> int:
        return self.num_samples - self.skip
