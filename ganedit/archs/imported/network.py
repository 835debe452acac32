"""The network of an imported architecture, as ganedit exports and runs it.

:class:`ImportedNet` wraps a model spandrel loaded and calls it the way spandrel's own model
descriptor does (its ``call_fn``: the architecture's pre- and post-processing around the
network), without the descriptor's padding and clamping, which ganedit's codec does. It takes
one ``(B, C, H, W)`` tensor in ``[0, 1]``; an inpainting network takes the image channels and
then the mask (1 = hole) as one more channel.

Models that pad themselves to a window multiple decide whether to pad with a Python ``if`` that
the exporter freezes at the export size; :class:`ImportedNet` pads in the graph instead (to the
same multiple, in the model's own mode) and crops the result back, so the exported graph runs at
every size with the model's own results.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ImportedNet", "pad_like_spandrel", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str) -> torch.Tensor:
    """``(B, C, H, W)`` padded at the bottom and right to multiples of ``multiple``.

    Always emits the padding (of 0 where nothing is needed), so an exported graph pads at any
    size. ``mode``: ``"reflect"`` or ``"constant"`` (zeros), as :func:`torch.nn.functional.pad`.
    """
    height, width = x.shape[-2], x.shape[-1]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def pad_like_spandrel(x: torch.Tensor, requirements: Any) -> torch.Tensor:
    """``(B, C, H, W)`` padded at the bottom and right as spandrel's descriptors pad before
    calling a model: up to ``requirements.minimum``, to multiples of ``multiple_of``, to a
    square when ``square``; mirrored as far as the mirror reaches (one pixel less than the side),
    the rest repeating the edge. Python arithmetic on the shape: for the torch backend only."""
    height, width = int(x.shape[-2]), int(x.shape[-1])
    multiple = int(requirements.multiple_of)
    target_h = -(-max(height, int(requirements.minimum)) // multiple) * multiple
    target_w = -(-max(width, int(requirements.minimum)) // multiple) * multiple
    if requirements.square:
        target_h = target_w = max(target_h, target_w)
    pad_h, pad_w = target_h - height, target_w - width
    mirror_h, mirror_w = min(pad_h, height - 1), min(pad_w, width - 1)
    if mirror_h or mirror_w:
        x = F.pad(x, (0, mirror_w, 0, mirror_h), mode="reflect")
    if pad_h > mirror_h or pad_w > mirror_w:
        x = F.pad(x, (0, pad_w - mirror_w, 0, pad_h - mirror_h), mode="replicate")
    return x


class ImportedNet(nn.Module):
    """A spandrel model descriptor's network behind ganedit's one-tensor interface.

    Args:
        descriptor: What spandrel loaded (an image or masked-image model descriptor).
        pad_multiple: Pad inside the graph to this multiple first (1: never).
        pad_mode: The padding mode of the model's own padding (``"reflect"``, ``"constant"``).
        requirements: Pad as spandrel's descriptor does to these size requirements (square
            ones included; :func:`pad_like_spandrel`) instead of leaving it to ganedit's codec.
            Torch backend only: the arithmetic is Python's, frozen by an exporter.
        seed: Seed the random number generators at every call with this (models whose
            forward draws random numbers: MAT), so that results repeat; ``None``: no seeding.
    """

    def __init__(
        self,
        descriptor: Any,
        *,
        pad_multiple: int = 1,
        pad_mode: str = "reflect",
        requirements: Any = None,
        seed: int | None = None,
    ):
        super().__init__()
        self.model = descriptor.model
        # spandrel's descriptor keeps the architecture's calling convention here (e.g. DRUNet's
        # noise-level map, FBCNN's quality factor); it is private API of spandrel 0.4.
        self._call = descriptor._call_fn
        self.scale = int(descriptor.scale)
        self.in_channels = int(descriptor.input_channels)
        self.masked = descriptor.purpose == "Inpainting"
        self.pad_multiple = int(pad_multiple)
        self.pad_mode = pad_mode
        self.requirements = requirements
        self.seed = seed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Some forwards scale their input in place (RCAN): never the caller's tensor.
        x = x.clone()
        height, width = x.shape[-2], x.shape[-1]
        if self.pad_multiple > 1:
            x = pad_to_multiple(x, self.pad_multiple, self.pad_mode)
        if self.requirements is not None:
            x = pad_like_spandrel(x, self.requirements)
        if self.seed is None:
            y = self._forward(x)
        else:
            devices = [x.device] if x.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                y = self._forward(x)
        return y[:, :, : height * self.scale, : width * self.scale]

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.masked:
            channels = self.in_channels
            return self._call(self.model, x[:, :channels], x[:, channels : channels + 1])  # type: ignore[no-any-return]
        return self._call(self.model, x)  # type: ignore[no-any-return]
