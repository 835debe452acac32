"""DDP set-up for ``torchrun``: one process per device, gloo on CPU, NCCL on CUDA."""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

__all__ = ["DistInfo", "init_distributed", "shutdown_distributed", "wrap_for_ddp"]


@dataclasses.dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (``world_size`` 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )


def shutdown_distributed(info: DistInfo) -> None:
    if info.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def wrap_for_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """Wrap a network in DistributedDataParallel (SyncBatchNorm on CUDA)."""
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        # Batch statistics across all processes, as one large batch would have; the CPU (gloo)
        # backend has no SyncBatchNorm, so there each process normalises its own batch.
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        return DistributedDataParallel(module, device_ids=[device.index])
    return DistributedDataParallel(module)
