"""Real-ESRGAN's SRVGGNetCompact, with its module layout and state dict keys.

``body`` (``n`` = ``num_conv``)::

    0 Conv2d(in, nf, 3)   1 act
    2 Conv2d(nf, nf, 3)   3 act     … up to 2n Conv2d, 2n+1 act
    2n+2 Conv2d(nf, out * scale², 3)

then a pixel shuffle by ``scale`` plus the nearest-upsampled input. Keys read ``body.0.weight``,
``body.0.bias``, …; a PReLU activation adds a 1-D ``body.<odd>.weight`` of ``nf`` slopes, ReLU
and LeakyReLU add none.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .spec import ACT_TYPES, ActType, SRVGGSpec

__all__ = ["SRVGGNetCompact"]

_LEAKY_SLOPE = 0.1  # Real-ESRGAN's choice for act_type="leakyrelu"


def _activation(act_type: ActType, num_feat: int) -> nn.Module:
    if act_type == "prelu":
        return nn.PReLU(num_parameters=num_feat)
    if act_type == "relu":
        return nn.ReLU(inplace=True)
    return nn.LeakyReLU(_LEAKY_SLOPE, inplace=True)


class SRVGGNetCompact(nn.Module):
    """A compact VGG-style super-resolution network that upsamples only at the end.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image; must equal ``in_channels`` because the
            upsampled input is added to the output.
        scale: Output size divided by input size.
        num_feat: Feature channels (64 in the official models).
        num_conv: Body convolutions between the first and the last (32 in
            realesr-general-x4v3, 16 in realesr-animevideov3).
        act_type: ``"prelu"``, ``"relu"`` or ``"leakyrelu"`` (slope 0.1).

    Input: ``(B, in_channels, H, W)`` in ``[0, 1]``, any size. Output:
    ``(B, out_channels, H * scale, W * scale)``, nominally in ``[0, 1]`` (not clamped).

    Raises:
        ValueError: Invalid hyperparameters, or ``out_channels != in_channels``.

    Example:
        >>> net = SRVGGNetCompact(num_feat=8, num_conv=2, scale=4)
        >>> net(torch.zeros(1, 3, 9, 7)).shape
        torch.Size([1, 3, 36, 28])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_conv: int = 16,
        act_type: ActType = "prelu",
    ) -> None:
        super().__init__()
        if act_type not in ACT_TYPES:
            raise ValueError(f"act_type must be one of {ACT_TYPES}, got {act_type!r}")
        if out_channels != in_channels:
            raise ValueError(
                "SRVGGNetCompact adds the upsampled input to its output, so out_channels must "
                f"equal in_channels; got {in_channels} in, {out_channels} out"
            )
        self.spec = SRVGGSpec(
            in_channels=in_channels,
            out_channels=out_channels,
            scale=scale,
            num_feat=num_feat,
            num_conv=num_conv,
            act_type=act_type,
        )
        self.scale = scale
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, num_feat, 3, 1, 1),
            _activation(act_type, num_feat),
        ]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), _activation(act_type, num_feat)]
        layers.append(nn.Conv2d(num_feat, out_channels * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.upsampler = nn.PixelShuffle(scale)

    @classmethod
    def from_spec(cls, spec: SRVGGSpec) -> SRVGGNetCompact:
        """A freshly initialised network for ``spec``."""
        return cls(
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            scale=spec.scale,
            num_feat=spec.num_feat,
            num_conv=spec.num_conv,
            act_type=spec.act_type,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.upsampler(self.body(x))
        # The network learns the residual over nearest-neighbour upsampling.
        return out + F.interpolate(x, scale_factor=float(self.scale), mode="nearest")
