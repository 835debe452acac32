"""The ESRGAN / Real-ESRGAN RRDBNet, with BasicSR's module layout and state dict keys.

Keys (``K`` = ``num_upsample``, ``N`` = ``num_block``)::

    conv_first                         Conv2d(in * unshuffle², nf, 3)
    body.0 … body.(N-1)                RRDB: rdb1 … rdb3, each conv1 … conv5
    conv_body                          Conv2d(nf, nf, 3)
    conv_up1 … conv_upK                Conv2d(nf, nf, 3) after nearest ×2 upsampling
    conv_hr, conv_last                 Conv2d(nf, nf, 3), Conv2d(nf, out, 3)

Older ESRGAN layouts are converted to these keys by :mod:`ganedit.archs.esrgan.detect`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .spec import RRDBNetSpec

__all__ = ["RRDB", "RRDBNet", "ResidualDenseBlock", "pixel_unshuffle"]

# ESRGAN scales each residual branch by 0.2 before adding it back, for stable training.
_RESIDUAL_SCALE = 0.2
_LRELU_SLOPE = 0.2


def pixel_unshuffle(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Fold each ``factor``×``factor`` pixel block into channels, like ``nn.PixelUnshuffle``.

    Written with reshape/permute because the ONNX exporter's mapping of ``pixel_unshuffle``
    does not follow dynamic height and width; this form exports as Reshape/Transpose on the
    input's runtime shape. Channel ``c * factor² + i * factor + j`` holds pixel ``(i, j)`` of
    each block, as in torch and BasicSR.

    Args:
        x: ``(B, C, H, W)`` with ``H`` and ``W`` multiples of ``factor``.
        factor: Block size.

    Returns:
        ``(B, C * factor², H / factor, W / factor)``.

    Raises:
        ValueError: ``H`` or ``W`` is not a multiple of ``factor``.

    Example:
        >>> pixel_unshuffle(torch.zeros(1, 3, 8, 6), 2).shape
        torch.Size([1, 12, 4, 3])
    """
    _, channels, height, width = x.shape
    if not torch.jit.is_tracing() and (height % factor or width % factor):
        raise ValueError(
            f"pixel_unshuffle by {factor} needs height and width divisible by {factor}, "
            f"got {height}×{width}; pad the input first"
        )
    x = x.reshape(-1, channels, height // factor, factor, width // factor, factor)
    x = x.permute(0, 1, 3, 5, 2, 4)
    return x.reshape(-1, channels * factor * factor, height // factor, width // factor)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3×3 convolutions; ``x + 0.2 * conv5(…)``, shape ``(B, nf, H, W)``.

    Convolution ``k`` takes ``num_feat + (k-1) * num_grow_ch`` channels; ``conv1``…``conv4``
    give ``num_grow_ch``, ``conv5`` gives ``num_feat``.
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(_LRELU_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return self.conv5(torch.cat(features, 1)) * _RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Residual in residual dense block: three :class:`ResidualDenseBlock`, ``x + 0.2 * …``."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * _RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """ESRGAN's generator as BasicSR/Real-ESRGAN define it, for scales 1, 2, 4 and 8.

    Args:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image.
        scale: Output size divided by input size.
        num_feat: Feature channels (64 in the official models).
        num_block: RRDB blocks (23 in RealESRGAN_x4plus).
        num_grow_ch: Growth channels of the dense blocks (32).
        num_upsample: ×2 upsampling stages; ``None`` for BasicSR's choice: 2 for scales up to
            4 (×2 and ×1 reach their scale by pixel-unshuffling the input by 2 or 4), 3 for ×8.

    Input: ``(B, in_channels, H, W)`` in ``[0, 1]`` with ``H`` and ``W`` multiples of the
    unshuffle factor (``2**num_upsample // scale``: 1 for ×4, 2 for ×2, 4 for ×1).
    Output: ``(B, out_channels, H * scale, W * scale)``, nominally in ``[0, 1]`` (not clamped).

    Raises:
        ValueError: The stages cannot give ``scale`` (see :class:`RRDBNetSpec`).

    Example:
        >>> net = RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4)
        >>> net(torch.zeros(1, 3, 16, 12)).shape
        torch.Size([1, 3, 32, 24])
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        num_upsample: int | None = None,
    ) -> None:
        super().__init__()
        if num_upsample is None:
            num_upsample = max(2, scale.bit_length() - 1)
        self.spec = RRDBNetSpec(
            in_channels=in_channels,
            out_channels=out_channels,
            scale=scale,
            num_feat=num_feat,
            num_block=num_block,
            num_grow_ch=num_grow_ch,
            num_upsample=num_upsample,
        )
        self.unshuffle = self.spec.unshuffle
        self.conv_first = nn.Conv2d(in_channels * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self._up_names = tuple(f"conv_up{i}" for i in range(1, num_upsample + 1))
        for name in self._up_names:
            setattr(self, name, nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(_LRELU_SLOPE, inplace=True)

    @classmethod
    def from_spec(cls, spec: RRDBNetSpec) -> RRDBNet:
        """A freshly initialised network for ``spec``."""
        return cls(
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            scale=spec.scale,
            num_feat=spec.num_feat,
            num_block=spec.num_block,
            num_grow_ch=spec.num_grow_ch,
            num_upsample=spec.num_upsample,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for name in self._up_names:
            conv = getattr(self, name)
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
