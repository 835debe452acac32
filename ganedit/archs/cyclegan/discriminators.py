"""The reference discriminators (PatchGAN and per-pixel), with the reference's state dict keys.

Both return raw scores (logits); the GAN loss applies any sigmoid.
"""

from __future__ import annotations

import torch
from torch import nn

from ..norm import make_norm, norm_uses_bias
from .spec import NormType

__all__ = ["NLayerDiscriminator", "PixelDiscriminator"]

_MAX_MULT = 8


class NLayerDiscriminator(nn.Module):
    """The PatchGAN discriminator; ``n_layers=3`` is the reference's 70×70 PatchGAN.

    ``model`` is ``Conv(in, ndf, stride 2), LeakyReLU``, then ``n_layers - 1`` times
    ``Conv(stride 2), norm, LeakyReLU`` with filters doubling up to ``8·ndf``, then
    ``Conv(stride 1), norm, LeakyReLU`` and a final ``Conv(…, 1, stride 1)``; all kernels 4,
    padding 1. Keys read ``model.0.weight``, ``model.2.weight``, ``model.3.weight`` (norm) … .

    Args:
        in_channels: Channels of the input (for pix2pix: input and output image stacked).
        ndf: Filters of the first convolution (64 in the reference).
        n_layers: Strided convolutions; 3 gives 70×70 receptive fields.
        norm: ``"batch"`` (reference default), ``"instance"`` or ``"none"``.

    Input: ``(B, in_channels, H, W)``. Output: ``(B, 1, H', W')`` logits, one per patch
    (``H' = H/2**n_layers - 2`` for sizes divisible by ``2**n_layers``).

    Example:
        >>> NLayerDiscriminator(in_channels=3, ndf=8)(torch.zeros(1, 3, 64, 64)).shape
        torch.Size([1, 1, 6, 6])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        ndf: int = 64,
        n_layers: int = 3,
        norm: NormType = "batch",
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        bias = norm_uses_bias(norm)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, ndf, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, _MAX_MULT)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(
                    ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=bias
                ),
                make_norm(norm, ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """The 1×1 PatchGAN: classifies every pixel on its own.

    ``net`` is ``Conv1×1(in, ndf), LeakyReLU, Conv1×1(ndf, 2ndf), norm, LeakyReLU,
    Conv1×1(2ndf, 1)``; keys read ``net.0.weight``, ``net.2.weight``, ``net.5.weight``.

    Args:
        in_channels: Channels of the input.
        ndf: Filters of the first convolution (64 in the reference).
        norm: ``"batch"`` (reference default), ``"instance"`` or ``"none"``.

    Input: ``(B, in_channels, H, W)``. Output: ``(B, 1, H, W)`` logits.
    """

    def __init__(self, *, in_channels: int = 3, ndf: int = 64, norm: NormType = "batch") -> None:
        super().__init__()
        bias = norm_uses_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, kernel_size=1, stride=1, padding=0),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=bias),
            make_norm(norm, ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
