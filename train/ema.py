"""Exponential moving average of a network's weights (BasicSR's ``model_ema``).

Real-ESRGAN keeps an EMA of the generator with decay 0.999 and releases it (``params_ema``):
it is smoother than the raw weights late in GAN training.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

__all__ = ["ModelEMA"]


def _unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside DDP / DataParallel / ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


class ModelEMA:
    """A shadow copy of a network whose weights follow the network's as a moving average.

    After each optimiser step call :meth:`update`: every floating-point parameter becomes
    ``p_ema = decay · p_ema + (1 − decay) · p``; buffers (e.g. batch-norm statistics) and
    non-floating parameters are copied. The shadow starts as a deep copy of ``model``, lives on
    the same device, never requires gradients and is kept in eval mode.

    Args:
        model: The network being trained (a DDP or compiled wrapper is unwrapped).
        decay: Weight of the running average per update, in ``[0, 1]`` (0.999 in Real-ESRGAN;
            0 makes the shadow a plain copy).

    Raises:
        ValueError: ``decay`` outside ``[0, 1]``.

    Example:
        >>> ema = ModelEMA(net_g, decay=0.999)
        >>> optimizer.step(); ema.update(net_g)
        >>> export(ema.module)
    """

    def __init__(self, model: nn.Module, *, decay: float = 0.999) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        self.decay = float(decay)
        self.module: nn.Module = copy.deepcopy(_unwrap(model)).eval()
        self.module.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the shadow weights towards ``model``'s (same architecture).

        Raises:
            ValueError: ``model`` has different parameter or buffer names.
        """
        model = _unwrap(model)
        params = dict(model.named_parameters())
        shadow = dict(self.module.named_parameters())
        if params.keys() != shadow.keys():
            raise ValueError("the model's parameters do not match the EMA's (another network?)")
        for name, p_ema in shadow.items():
            p = params[name].detach()
            if p_ema.is_floating_point():
                # lerp_: p_ema + (1 - decay) · (p − p_ema) = decay · p_ema + (1 − decay) · p
                p_ema.lerp_(p.to(p_ema.dtype), 1.0 - self.decay)
            else:
                p_ema.copy_(p)
        buffers = dict(model.named_buffers())
        for name, b_ema in self.module.named_buffers():
            if name not in buffers:
                raise ValueError(f"the model has no buffer {name!r} (another network?)")
            b_ema.copy_(buffers[name])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The shadow network's tensors (a flat state dict; fits a safetensors file)."""
        return self.module.state_dict()

    def load_state_dict(self, state: Mapping[str, torch.Tensor], *, strict: bool = True) -> None:
        """Restore the shadow network from :meth:`state_dict`'s output."""
        self.module.load_state_dict(state, strict=strict)

    def __repr__(self) -> str:
        return f"ModelEMA(decay={self.decay:g}, module={type(self.module).__name__})"
