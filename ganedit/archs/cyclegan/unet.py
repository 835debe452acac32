"""The pix2pix U-Net generator, with the reference's nested layout and state dict keys.

The U-Net is built from the inside out: each :class:`UnetSkipConnectionBlock` holds the next
one inside its ``model`` ``Sequential``, so keys nest as ``model.model.1.model.3.model.3…``.
Layouts of a block's ``model`` (all convolutions kernel 4, stride 2, padding 1):

- outermost: ``0 Conv2d(in, ngf)  1 submodule  2 ReLU  3 ConvTranspose2d(2ngf, out)  4 Tanh``
- middle: ``0 LeakyReLU(0.2)  1 Conv2d  2 norm  3 submodule  4 ReLU  5 ConvTranspose2d
  6 norm  (7 Dropout(0.5))``
- innermost: ``0 LeakyReLU(0.2)  1 Conv2d  2 ReLU  3 ConvTranspose2d  4 norm``

Every block but the outermost returns ``cat([x, model(x)], dim=1)``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..norm import make_norm, norm_uses_bias
from .spec import NormType

__all__ = ["UnetGenerator", "UnetSkipConnectionBlock"]

_MIN_DOWNS = 5


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net: downsample, run ``submodule``, upsample, add the skip.

    Args:
        outer_nc: Channels this block returns before the skip concatenation (for the
            outermost block: the output image's channels).
        inner_nc: Channels after this block's downsampling convolution.
        input_nc: Channels this block takes; ``None`` means ``outer_nc``.
        submodule: The next level inward; ``None`` only for the innermost block.
        outermost: The top level: no norm, no skip, ``Tanh`` at the end.
        innermost: The bottom level: no submodule.
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        use_dropout: Dropout(0.5) after the upsampling (middle blocks only).

    Input: ``(B, input_nc, H, W)``. Output: ``(B, input_nc + outer_nc, H, W)``, or
    ``(B, outer_nc, H, W)`` for the outermost block.
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        *,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: NormType = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if innermost == (submodule is not None):
            raise ValueError("the innermost block takes no submodule, every other block one")
        self.outermost = outermost
        bias = norm_uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)

        layers: list[nn.Module]
        if outermost:
            assert submodule is not None  # checked above; narrows the type
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            layers = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(
                inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias
            )
            layers = [
                nn.LeakyReLU(0.2, True),
                downconv,
                nn.ReLU(True),
                upconv,
                make_norm(norm, outer_nc),
            ]
        else:
            assert submodule is not None
            upconv = nn.ConvTranspose2d(
                inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=bias
            )
            layers = [
                nn.LeakyReLU(0.2, True),
                downconv,
                make_norm(norm, inner_nc),
                submodule,
                nn.ReLU(True),
                upconv,
                make_norm(norm, outer_nc),
            ]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """The pix2pix generator: a U-Net with ``num_downs`` downsamplings and skip connections.

    From the inside out: an innermost block at ``8·ngf``, ``num_downs - 5`` blocks at ``8·ngf``
    (with dropout when ``use_dropout``), then blocks at ``4·ngf``, ``2·ngf``, ``ngf`` and the
    outermost block.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        num_downs: Downsamplings, at least 5: 7 for ``unet_128``, 8 for ``unet_256``.
        ngf: Filters of the first convolution (64 in the reference).
        norm: ``"batch"`` (pix2pix's default), ``"instance"`` or ``"none"``.
        use_dropout: Dropout(0.5) in the ``num_downs - 5`` inner ``8·ngf`` blocks.

    Input: ``(B, in_channels, H, W)`` in ``[-1, 1]`` with ``H`` and ``W`` multiples of
    ``2**num_downs``. Output: ``(B, out_channels, H, W)`` in ``[-1, 1]``.

    Example:
        >>> net = UnetGenerator(num_downs=5, ngf=4)
        >>> net(torch.zeros(1, 3, 32, 32)).shape
        torch.Size([1, 3, 32, 32])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: NormType = "batch",
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < _MIN_DOWNS:
            raise ValueError(f"num_downs must be >= {_MIN_DOWNS}, got {num_downs}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.ngf = ngf
        self.num_downs = num_downs
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
        for _ in range(num_downs - _MIN_DOWNS):
            block = UnetSkipConnectionBlock(
                ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout
            )
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(
            out_channels,
            ngf,
            input_nc=in_channels,
            submodule=block,
            outermost=True,
            norm=norm,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
