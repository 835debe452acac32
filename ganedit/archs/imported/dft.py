"""Real 2-D Fourier transforms as matrix products, for LaMa's Fourier units in ONNX.

LaMa's fast Fourier convolutions call ``torch.fft.rfftn``/``irfftn``. The TorchScript exporter
has no FFT, and the dynamo exporter's ONNX ``DFT`` fails in onnxruntime on dynamic shapes. The
same transforms written as products with cosine and sine matrices, built in the graph from the
input's height and width, export with the TorchScript exporter and run at every size.

Conventions (``norm="ortho"``, over the last two axes):

- :func:`rfft2`: ``(..., H, W)`` real -> real and imaginary parts ``(..., H, W // 2 + 1)``;
- :func:`irfft2`: the half spectrum -> ``(..., H, W)`` real, as ``torch.fft.irfftn(s=(H, W))``
  does: a complex inverse along H, then a complex-to-real inverse along W in which the
  imaginary parts of the DC and Nyquist columns are ignored and the other columns count twice.

Angles are ``2π · ((k · n) mod N) / N`` with the product reduced modulo N before the float
conversion, so large sizes keep their precision.
"""

from __future__ import annotations

import math
import types

import torch
from torch import nn

__all__ = ["irfft2", "rfft2", "use_matrix_dft"]


def _cos_sin(rows: torch.Tensor, cols: torch.Tensor, n: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``cos`` and ``sin`` of ``2π (r · c mod n) / n`` over the outer product of rows and cols."""
    phase = torch.remainder(rows[:, None] * cols[None, :], n).to(torch.float32)
    angle = phase * (2 * math.pi) / n.to(torch.float32)
    return torch.cos(angle), torch.sin(angle)


def _indices(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``arange(size)`` and ``size`` as a 0-d tensor taken from it, so that an exported graph
    computes both from the input's shape (``torch.tensor(size)`` would be a constant)."""
    k = torch.arange(size, dtype=torch.int64)
    return k, k[-1] + 1


def rfft2(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")`` as ``(real, imag)``."""
    k_h, height = _indices(x.shape[-2])
    k_w, width = _indices(x.shape[-1])
    half = torch.arange(x.shape[-1] // 2 + 1, dtype=torch.int64)
    cos_w, sin_w = _cos_sin(k_w, half, width)  # (W, W2)
    cos_h, sin_h = _cos_sin(k_h, k_h, height)  # (H, H), symmetric
    a_re = x @ cos_w
    a_im = -(x @ sin_w)
    scale = torch.rsqrt((height * width).to(torch.float32))
    re = (cos_h @ a_re + sin_h @ a_im) * scale
    im = (cos_h @ a_im - sin_h @ a_re) * scale
    return re, im


def irfft2(re: torch.Tensor, im: torch.Tensor, width: int) -> torch.Tensor:
    """``torch.fft.irfftn(complex(re, im), s=(H, width), dim=(-2, -1), norm="ortho")``."""
    k_h, height = _indices(re.shape[-2])
    k_w, w = _indices(width)
    half = torch.arange(re.shape[-1], dtype=torch.int64)
    cos_h, sin_h = _cos_sin(k_h, k_h, height)
    # Inverse along H: exp(+iθ), with the (symmetric) forward matrices.
    b_re = cos_h @ re - sin_h @ im
    b_im = cos_h @ im + sin_h @ re
    # Complex to real along W: the DC column (and the Nyquist column of an even width) once,
    # the others twice (for their mirrored, conjugate halves); their imaginary parts drop out
    # because sin is 0 there.
    nyquist = torch.remainder(w, 2) == 0
    weight = torch.where(
        (half == 0) | ((half == w // 2) & nyquist), torch.ones_like(half), 2 * torch.ones_like(half)
    ).to(torch.float32)
    cos_w, sin_w = _cos_sin(half, k_w, w)  # (W2, W)
    y = (b_re * weight) @ cos_w - (b_im * weight) @ sin_w
    return y * torch.rsqrt((height * w).to(torch.float32))


def _fourier_unit_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """LaMa's ``FourierUnit.forward`` (2-D, orthonormal, no spatial scaling, no spectral
    position encoding, no squeeze-excitation) with :func:`rfft2`/:func:`irfft2`."""
    batch = x.shape[0]
    re, im = rfft2(x.float())
    # (B, C, 2, H, W2) flattened to (B, 2C, H, W2): each channel's real then imaginary part.
    ffted = torch.stack((re, im), dim=2).flatten(1, 2)
    ffted = self.relu(self.bn(self.conv_layer(ffted))).float()
    ffted = ffted.view(batch, -1, 2, ffted.shape[-2], ffted.shape[-1])
    return irfft2(ffted[:, :, 0], ffted[:, :, 1], x.shape[-1])


def use_matrix_dft(module: nn.Module) -> int:
    """Switch every LaMa ``FourierUnit`` inside ``module`` to the matrix transforms; returns how
    many were switched.

    Raises:
        ValueError: A Fourier unit uses options the matrix version does not implement.
    """
    switched = 0
    for layer in module.modules():
        if type(layer).__name__ != "FourierUnit":
            continue
        unsupported = [
            name
            for name, value in (
                ("spatial_scale_factor", layer.spatial_scale_factor),
                ("spectral_pos_encoding", layer.spectral_pos_encoding),
                ("use_se", layer.use_se),
                ("ffc3d", layer.ffc3d),
            )
            if value
        ]
        if unsupported or layer.fft_norm != "ortho" or layer.groups != 1:
            raise ValueError(f"a FourierUnit with {unsupported or 'other norms or groups'}")
        layer.forward = types.MethodType(_fourier_unit_forward, layer)
        switched += 1
    return switched
