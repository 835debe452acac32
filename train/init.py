"""Weight initialisation of the CycleGAN / pix2pix reference (its ``init_weights``)."""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn
from torch.nn import init

__all__ = ["InitType", "init_weights"]

InitType = Literal["normal", "xavier", "kaiming", "orthogonal"]

_WEIGHTED = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)
# SyncBatchNorm is BatchNorm2d after torch.nn.SyncBatchNorm.convert_sync_batchnorm (DDP).
_BATCH_NORM = (nn.BatchNorm2d, nn.SyncBatchNorm)


@torch.no_grad()
def init_weights(
    net: nn.Module,
    *,
    init_type: InitType = "normal",
    gain: float = 0.02,
    generator: torch.Generator | None = None,
) -> None:
    """Initialise ``net`` in place as the reference does.

    Convolutions (plain and transposed) and linear layers: weight drawn per ``init_type``, bias
    set to 0.

    * ``"normal"``: ``N(0, gain²)`` — the reference default, std 0.02.
    * ``"xavier"``: ``xavier_normal_`` with ``gain``.
    * ``"kaiming"``: ``kaiming_normal_(a=0, mode="fan_in")``; ``gain`` is ignored, as in the
      reference.
    * ``"orthogonal"``: ``orthogonal_`` with ``gain``.

    ``BatchNorm2d`` (and ``SyncBatchNorm``) with affine parameters: weight ``N(1, gain²)``, bias 0.
    Other modules (instance norm, 1-d/3-d batch norm) keep their defaults.

    Args:
        net: The network; modified in place.
        init_type: ``"normal"``, ``"xavier"``, ``"kaiming"`` or ``"orthogonal"``.
        gain: Standard deviation for ``"normal"`` and batch norm, scale for the others.
        generator: Source of randomness, on the parameters' device (initialise on the CPU, then
            move the net, to use a CPU generator); ``None`` uses torch's global RNG.

    Raises:
        ValueError: Unknown ``init_type``.

    Example:
        >>> net = NLayerDiscriminator(in_channels=6)
        >>> init_weights(net, init_type="normal", gain=0.02,
        ...              generator=torch.Generator().manual_seed(0))
    """
    if init_type not in get_args(InitType):
        raise ValueError(f"init_type must be one of {get_args(InitType)}, got {init_type!r}")
    for module in net.modules():
        if isinstance(module, _WEIGHTED):
            _init_weight(module.weight, init_type, gain, generator)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, _BATCH_NORM) and module.weight is not None:
            init.normal_(module.weight, 1.0, gain, generator=generator)
            init.zeros_(module.bias)


def _init_weight(
    weight: torch.Tensor, init_type: InitType, gain: float, generator: torch.Generator | None
) -> None:
    if init_type == "normal":
        init.normal_(weight, 0.0, gain, generator=generator)
    elif init_type == "xavier":
        init.xavier_normal_(weight, gain=gain, generator=generator)
    elif init_type == "kaiming":
        init.kaiming_normal_(weight, a=0, mode="fan_in", generator=generator)
    else:
        init.orthogonal_(weight, gain=gain, generator=generator)
