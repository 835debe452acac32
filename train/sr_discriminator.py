"""Real-ESRGAN's U-Net discriminator with spectral normalisation (BasicSR's keys)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

__all__ = ["UNetDiscriminatorSN"]

# Legacy ``torch.nn.utils.spectral_norm`` names (BasicSR checkpoints) -> parametrization names.
_LEGACY_SUFFIXES = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}


class UNetDiscriminatorSN(nn.Module):
    """The U-Net discriminator of Real-ESRGAN: a realness logit for every pixel.

    ``conv0`` (3×3, plain) then three stride-2 4×4 convolutions ``conv1``–``conv3`` down to
    ``8·num_feat`` channels at 1/8 size; three ×2 bilinear upsamplings each followed by a 3×3
    convolution ``conv4``–``conv6`` (added to the encoder feature of the same size when
    ``skip_connection``); two more 3×3 convolutions ``conv7``, ``conv8`` and a plain 3×3
    ``conv9`` to one channel. ``conv1``–``conv8`` are spectral-normalised and bias-free; all
    activations are LeakyReLU(0.2).

    Parameter names are BasicSR's (``conv0.weight`` … ``conv9.bias``) with torch's spectral-norm
    parametrization (``conv1.parametrizations.weight.original``); a Real-ESRGAN discriminator
    checkpoint, which uses the older ``conv1.weight_orig / weight_u / weight_v`` names, loads
    directly with :meth:`load_state_dict`.

    Args:
        in_channels: Channels of the input images.
        num_feat: Channels of the first convolution (64 in Real-ESRGAN).
        skip_connection: Add the encoder features to the decoder's (True in Real-ESRGAN).

    Input: ``(B, in_channels, H, W)``, ``H`` and ``W`` divisible by 8. Output: ``(B, 1, H, W)``
    logits.

    Example:
        >>> UNetDiscriminatorSN(num_feat=8)(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """

    def __init__(
        self, in_channels: int = 3, num_feat: int = 64, skip_connection: bool = True
    ) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        f = num_feat

        def sn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Module:
            return spectral_norm(nn.Conv2d(c_in, c_out, kernel, stride, 1, bias=False))

        self.conv0 = nn.Conv2d(in_channels, f, 3, 1, 1)
        self.conv1 = sn(f, f * 2, 4, 2)
        self.conv2 = sn(f * 2, f * 4, 4, 2)
        self.conv3 = sn(f * 4, f * 8, 4, 2)
        self.conv4 = sn(f * 8, f * 4, 3, 1)
        self.conv5 = sn(f * 4, f * 2, 3, 1)
        self.conv6 = sn(f * 2, f, 3, 1)
        self.conv7 = sn(f, f, 3, 1)
        self.conv8 = sn(f, f, 3, 1)
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel logits ``(B, 1, H, W)`` for images ``(B, C, H, W)`` (sizes divisible by 8)."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"height and width must be divisible by 8, got {tuple(x.shape[-2:])}")
        act = F.leaky_relu
        x0 = act(self.conv0(x), 0.2)
        x1 = act(self.conv1(x0), 0.2)
        x2 = act(self.conv2(x1), 0.2)
        x3 = act(self.conv3(x2), 0.2)
        up = x3
        for conv, skip in ((self.conv4, x2), (self.conv5, x1), (self.conv6, x0)):
            up = F.interpolate(up, scale_factor=2, mode="bilinear", align_corners=False)
            up = act(conv(up), 0.2)
            if self.skip_connection:
                up = up + skip
        out = act(self.conv7(up), 0.2)
        out = act(self.conv8(out), 0.2)
        return self.conv9(out)


def _rename_legacy_keys(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *args: Any
) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        head, _, suffix = key.rpartition(".")
        if suffix in _LEGACY_SUFFIXES:
            state_dict[f"{head}.{_LEGACY_SUFFIXES[suffix]}"] = state_dict.pop(key)
