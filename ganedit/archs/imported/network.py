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

__all__ = ["ImportedNet", "pad_to_multiple"]


def pad_to_multiple(x: torch.Tensor, multiple: int, mode: str) -> torch.Tensor:
    """``(B, C, H, W)`` padded at the bottom and right to multiples of ``multiple``.

    Always emits the padding (of 0 where nothing is needed), so an exported graph pads at any
    size. ``mode``: ``"reflect"`` or ``"constant"`` (zeros), as :func:`torch.nn.functional.pad`.
    """
    height, width = x.shape[-2], x.shape[-1]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


class ImportedNet(nn.Module):
    """A spandrel model descriptor's network behind ganedit's one-tensor interface.

    Args:
        descriptor: What spandrel loaded (an image or masked-image model descriptor).
        pad_multiple: Pad inside the graph to this multiple first (1: never).
        pad_mode: The padding mode of the model's own padding (``"reflect"``, ``"constant"``).
    """

    def __init__(self, descriptor: Any, *, pad_multiple: int = 1, pad_mode: str = "reflect"):
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Some forwards scale their input in place (RCAN): never the caller's tensor.
        x = x.clone()
        height, width = x.shape[-2], x.shape[-1]
        if self.pad_multiple > 1:
            x = pad_to_multiple(x, self.pad_multiple, self.pad_mode)
        if self.masked:
            channels = self.in_channels
            y = self._call(self.model, x[:, :channels], x[:, channels : channels + 1])
        else:
            y = self._call(self.model, x)
        return y[:, :, : height * self.scale, : width * self.scale]
