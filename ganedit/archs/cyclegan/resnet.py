"""The CycleGAN ResNet generator, with the reference's module layout and state dict keys.

Layout of ``model`` (``n`` = ``n_blocks``)::

    0 ReflectionPad2d(3)   1 Conv2d(in, ngf, 7)        2 norm  3 ReLU
    4 Conv2d(ngf, 2ngf, 3, stride 2)                   5 norm  6 ReLU
    7 Conv2d(2ngf, 4ngf, 3, stride 2)                  8 norm  9 ReLU
    10 … 10+n-1  ResnetBlock(4ngf)
    10+n ConvTranspose2d(4ngf, 2ngf, 3, stride 2)     11+n norm  12+n ReLU
    13+n ConvTranspose2d(2ngf, ngf, 3, stride 2)      14+n norm  15+n ReLU
    16+n ReflectionPad2d(3)  17+n Conv2d(ngf, out, 7)  18+n Tanh

so keys read ``model.1.weight``, ``model.10.conv_block.1.weight``, … .
"""

from __future__ import annotations

import torch
from torch import nn

from ..norm import make_norm, norm_uses_bias
from .spec import PADDING_TYPES, NormType, PaddingType

__all__ = ["ResnetBlock", "ResnetGenerator"]

_N_DOWNSAMPLING = 2


class ResnetBlock(nn.Module):
    """A residual block: ``x + conv_block(x)``, keeping shape ``(B, dim, H, W)``.

    ``conv_block`` is ``[pad, conv3, norm, ReLU, (Dropout 0.5), pad, conv3, norm]``; with
    ``padding_type="zero"`` the pads are left out and the convolutions pad by 1 themselves,
    which shifts the keys (``conv_block.0.weight`` instead of ``conv_block.1.weight``).
    """

    def __init__(
        self,
        dim: int,
        *,
        padding_type: PaddingType = "reflect",
        norm: NormType = "instance",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if padding_type not in PADDING_TYPES:
            raise ValueError(f"padding_type must be one of {PADDING_TYPES}, got {padding_type!r}")
        bias = norm_uses_bias(norm)
        conv_padding = 1 if padding_type == "zero" else 0

        def pad() -> list[nn.Module]:
            return [nn.ReflectionPad2d(1)] if padding_type == "reflect" else []

        layers: list[nn.Module] = [
            *pad(),
            nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding, bias=bias),
            make_norm(norm, dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [
            *pad(),
            nn.Conv2d(dim, dim, kernel_size=3, padding=conv_padding, bias=bias),
            make_norm(norm, dim),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator: 2 downsamplings, ``n_blocks`` residual blocks, 2 upsamplings.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        ngf: Filters of the first convolution (64 in the reference).
        norm: ``"instance"`` (CycleGAN's default), ``"batch"`` or ``"none"``.
        use_dropout: Dropout(0.5) inside each residual block.
        n_blocks: Residual blocks: 9 for ``resnet_9blocks``, 6 for ``resnet_6blocks``.
        padding_type: ``"reflect"`` (the reference's default) or ``"zero"``.

    Input: ``(B, in_channels, H, W)`` in ``[-1, 1]`` with ``H`` and ``W`` multiples of 4 and at
    least 16. Output: ``(B, out_channels, H, W)`` in ``[-1, 1]``.

    Example:
        >>> net = ResnetGenerator(ngf=8, n_blocks=2)
        >>> net(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        norm: NormType = "instance",
        use_dropout: bool = False,
        n_blocks: int = 9,
        padding_type: PaddingType = "reflect",
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.ngf = ngf
        bias = norm_uses_bias(norm)

        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, padding=0, bias=bias),
            make_norm(norm, ngf),
            nn.ReLU(True),
        ]
        for i in range(_N_DOWNSAMPLING):
            channels = ngf * 2**i
            layers += [
                nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                make_norm(norm, channels * 2),
                nn.ReLU(True),
            ]
        inner = ngf * 2**_N_DOWNSAMPLING
        layers += [
            ResnetBlock(inner, padding_type=padding_type, norm=norm, use_dropout=use_dropout)
            for _ in range(n_blocks)
        ]
        for i in range(_N_DOWNSAMPLING):
            channels = ngf * 2 ** (_N_DOWNSAMPLING - i)
            layers += [
                nn.ConvTranspose2d(
                    channels,
                    channels // 2,
                    kernel_size=3,
                    stride=2,
                    padding=1,
                    output_padding=1,
                    bias=bias,
                ),
                make_norm(norm, channels // 2),
                nn.ReLU(True),
            ]
        layers += [
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_channels, kernel_size=7, padding=0),
            nn.Tanh(),
        ]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
