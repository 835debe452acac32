"""SAFMN's multi-level pooling with fixed windows, for its ONNX export.

SAFMN's spatially-adaptive feature modulation (``SAFM``) pools level ``i`` of its features with
``adaptive_max_pool2d`` to ``(h // 2**i, w // 2**i)``. The TorchScript exporter refuses adaptive
pooling to a size that depends on the input. When ``h`` and ``w`` are multiples of ``2**i``,
each adaptive bin is exactly the window ``[j · 2**i, (j + 1) · 2**i)``, so the same result is a
``max_pool2d`` with kernel and stride ``2**i``, which exports with dynamic shapes. spandrel
requires SAFMN inputs to be multiples of ``2**(n_levels - 1)`` (8 for four levels) and ganedit
pads to that multiple (the card's ``size_multiple``), so the switch changes no result; a size
that is not such a multiple keeps the adaptive pooling.
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["use_strided_pooling"]


def _safm_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    height, width = x.shape[-2:]
    levels = self.n_levels
    window = 2 ** (levels - 1)
    strided = height % window == 0 and width % window == 0
    out = []
    for i, chunk in enumerate(x.chunk(levels, dim=1)):
        if i == 0:
            out.append(self.mfr[0](chunk))
            continue
        if strided:
            pooled = F.max_pool2d(chunk, kernel_size=2**i, stride=2**i)
        else:
            pooled = F.adaptive_max_pool2d(chunk, (height // 2**i, width // 2**i))
        level = self.mfr[i](pooled)
        out.append(F.interpolate(level, size=(height, width), mode="nearest"))
    return self.act(self.aggr(torch.cat(out, dim=1))) * x


def use_strided_pooling(module: nn.Module) -> int:
    """Switch every SAFMN ``SAFM`` block inside ``module`` to fixed-window pooling; returns how
    many were switched."""
    switched = 0
    for layer in module.modules():
        if type(layer).__name__ == "SAFM":
            layer.forward = types.MethodType(_safm_forward, layer)
            switched += 1
    return switched
