"""The single operations of Real-ESRGAN's degradation model: blur kernels and the per-sample
filter that applies them, Gaussian and Poisson noise, JPEG. :mod:`.degradations` chains them.

Kernel formulas follow BasicSR's ``basicsr/data/degradations.py``; every kernel is a float64
``(k, k)`` tensor that sums to 1, with ``k`` odd, centred on the middle pixel. All random draws
come from an explicit ``torch.Generator`` (made on its device, moved to the images').
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "KERNEL_TYPES",
    "MAX_KERNEL_SIZE",
    "add_gaussian_noise",
    "add_poisson_noise",
    "filter2d",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "jpeg_compress",
    "plateau_kernel",
    "random_blur_kernel",
    "random_final_kernel",
    "reflect_pad",
    "sinc_kernel",
]

KERNEL_TYPES = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
MAX_KERNEL_SIZE = 21  # kernels are zero-padded to this size so a batch stacks
Range = tuple[float, float]


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> torch.Tensor:
    """``dᵀ Σ⁻¹ d`` over the kernel grid, ``Σ = R(θ) diag(σx², σy²) R(θ)ᵀ``."""
    if size % 2 == 0 or size < 1:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    axis = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([xx, yy], dim=-1)  # (k, k, 2): x varies along columns
    c, s = math.cos(theta), math.sin(theta)
    rotation = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    cov = rotation @ torch.diag(torch.tensor([sigma_x**2, sigma_y**2], dtype=torch.float64))
    inverse = torch.linalg.inv(cov @ rotation.T)
    return ((grid @ inverse) * grid).sum(-1)


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float = 0.0) -> torch.Tensor:
    """A normalised (an)isotropic 2-D Gaussian; ``sigma_x == sigma_y`` is isotropic.

    Args:
        size: Odd kernel size.
        sigma_x: Standard deviation along the rotated x axis, in pixels.
        sigma_y: Standard deviation along the rotated y axis, in pixels.
        theta: Rotation in radians.

    Returns:
        ``(size, size)`` float64, sums to 1.
    """
    kernel = torch.exp(-0.5 * _quadratic_form(size, sigma_x, sigma_y, theta))
    return kernel / kernel.sum()


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float, theta: float, beta: float
) -> torch.Tensor:
    """``exp(-½ (dᵀΣ⁻¹d)^β)``, normalised: β = 1 is the Gaussian, larger β a flatter top."""
    kernel = torch.exp(-0.5 * _quadratic_form(size, sigma_x, sigma_y, theta).pow(beta))
    return kernel / kernel.sum()


def plateau_kernel(
    size: int, sigma_x: float, sigma_y: float, theta: float, beta: float
) -> torch.Tensor:
    """``1 / (1 + (dᵀΣ⁻¹d)^β)``, normalised: a plateau-shaped kernel with heavy tails."""
    kernel = 1.0 / (_quadratic_form(size, sigma_x, sigma_y, theta).pow(beta) + 1.0)
    return kernel / kernel.sum()


def sinc_kernel(size: int, cutoff: float, *, pad_to: int = 0) -> torch.Tensor:
    """The circular low-pass (2-D sinc) filter ``ω·J₁(ω r) / (2π r)``, normalised.

    It causes the ringing and overshoot artifacts of real images.

    Args:
        size: Odd kernel size.
        cutoff: Cutoff frequency ω in radians (π is the maximum).
        pad_to: Zero-pad to this odd size when larger than ``size``.

    Returns:
        ``(max(size, pad_to),) * 2`` float64, sums to 1.
    """
    if size % 2 == 0 or size < 1:
        raise ValueError(f"kernel size must be odd and positive, got {size}")
    axis = torch.arange(size, dtype=torch.float64) - size // 2
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    r = torch.sqrt(xx**2 + yy**2)
    safe_r = torch.where(r == 0, torch.ones_like(r), r)
    kernel = cutoff * torch.special.bessel_j1(cutoff * safe_r) / (2 * math.pi * safe_r)
    kernel[size // 2, size // 2] = cutoff**2 / (4 * math.pi)  # the limit at r = 0
    kernel = kernel / kernel.sum()
    if pad_to > size:
        pad = (pad_to - size) // 2
        kernel = F.pad(kernel, (pad, pad, pad, pad))
    return kernel


def _uniform(generator: torch.Generator, low: float, high: float, n: int = 1) -> torch.Tensor:
    """``n`` float64 draws from ``U[low, high)`` on the CPU."""
    u = torch.rand(n, generator=generator, dtype=torch.float64, device=generator.device)
    return (low + (high - low) * u).cpu()


def _on(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``x`` on the generator's device (draws happen there), as float32."""
    return x.to(device=generator.device, dtype=torch.float32)


def _u(generator: torch.Generator, low: float, high: float) -> float:
    return float(_uniform(generator, low, high))


def _pick(generator: torch.Generator, probs: Sequence[float]) -> int:
    u, total = _u(generator, 0.0, 1.0), 0.0
    for i, p in enumerate(probs):
        total += p
        if u < total:
            return i
    return len(probs) - 1


def _beta(generator: torch.Generator, span: tuple[float, float]) -> float:
    # As the reference: half the draws below 1 (where the range reaches), half above.
    if _u(generator, 0.0, 1.0) < 0.5:
        return _u(generator, span[0], 1.0)
    return _u(generator, 1.0, span[1])


def _pad(kernel: torch.Tensor) -> torch.Tensor:
    pad = (MAX_KERNEL_SIZE - kernel.shape[-1]) // 2
    return F.pad(kernel, (pad, pad, pad, pad))


def random_blur_kernel(
    generator: torch.Generator,
    *,
    sizes: Sequence[int],
    kernel_list: Sequence[str],
    kernel_prob: Sequence[float],
    sinc_prob: float,
    sigma_range: tuple[float, float],
    betag_range: tuple[float, float],
    betap_range: tuple[float, float],
) -> torch.Tensor:
    """One random blur kernel as Real-ESRGAN's dataset draws it.

    The size is drawn from ``sizes``; with probability ``sinc_prob`` the kernel is a sinc with
    ω in ``[π/3, π]`` (``[π/5, π]`` for sizes ≥ 13), else a family drawn from ``kernel_list``:
    sigmas from ``sigma_range`` (one for ``*_iso``, two and a rotation in ``[-π, π]`` for
    ``*_aniso``), β from ``betag_range``/``betap_range``.

    Returns:
        ``(21, 21)`` float64 (zero-padded), sums to 1.
    """
    size = sizes[_pick(generator, [1.0 / len(sizes)] * len(sizes))]
    if _u(generator, 0.0, 1.0) < sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        return _pad(sinc_kernel(size, _u(generator, low, math.pi)))
    family = kernel_list[_pick(generator, kernel_prob)]
    sigma_x = _u(generator, *sigma_range)
    sigma_y, theta = sigma_x, 0.0
    if family.endswith("aniso"):
        sigma_y = _u(generator, *sigma_range)
        theta = _u(generator, -math.pi, math.pi)
    if family.startswith("generalized"):
        kernel = generalized_gaussian_kernel(
            size, sigma_x, sigma_y, theta, _beta(generator, betag_range)
        )
    elif family.startswith("plateau"):
        kernel = plateau_kernel(size, sigma_x, sigma_y, theta, _beta(generator, betap_range))
    else:
        kernel = gaussian_kernel(size, sigma_x, sigma_y, theta)
    return _pad(kernel)


def random_final_kernel(
    generator: torch.Generator, *, prob: float, sizes: Sequence[int]
) -> torch.Tensor:
    """The final sinc filter with probability ``prob`` (ω in ``[π/3, π]``), else a unit pulse.

    Returns:
        ``(21, 21)`` float64, sums to 1.
    """
    if _u(generator, 0.0, 1.0) < prob:
        size = sizes[_pick(generator, [1.0 / len(sizes)] * len(sizes))]
        return sinc_kernel(size, _u(generator, math.pi / 3, math.pi), pad_to=MAX_KERNEL_SIZE)
    pulse = torch.zeros(MAX_KERNEL_SIZE, MAX_KERNEL_SIZE, dtype=torch.float64)
    pulse[MAX_KERNEL_SIZE // 2, MAX_KERNEL_SIZE // 2] = 1.0
    return pulse


def reflect_pad(img: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflect-pad the last two dims by ``pad`` (OpenCV's BORDER_REFLECT_101).

    Unlike ``F.pad(mode="reflect")`` it also works when ``pad`` is not smaller than the image:
    it reflects repeatedly, and a 1-pixel side is replicated.
    """
    left_h = left_w = pad
    while left_h > 0 or left_w > 0:
        h, w = img.shape[-2:]
        if h == 1 or w == 1:
            return F.pad(img, (left_w, left_w, left_h, left_h), mode="replicate")
        ph, pw = min(left_h, h - 1), min(left_w, w - 1)
        img = F.pad(img, (pw, pw, ph, ph), mode="reflect")
        left_h, left_w = left_h - ph, left_w - pw
    return img


def filter2d(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate each sample with its own kernel (all channels), borders reflected.

    Args:
        img: ``(B, C, H, W)``.
        kernel: ``(B, k, k)`` one per sample, or ``(k, k)`` / ``(1, k, k)`` for all; ``k`` odd.

    Returns:
        ``(B, C, H, W)``.
    """
    b, c, h, w = img.shape
    k = kernel.shape[-1]
    if k % 2 == 0 or kernel.shape[-2] != k:
        raise ValueError(f"kernel must be square with an odd size, got {tuple(kernel.shape)}")
    kernel = kernel.reshape(-1, k, k).to(img)
    if kernel.shape[0] not in (1, b):
        raise ValueError(f"need 1 or {b} kernels, got {kernel.shape[0]}")
    padded = reflect_pad(img, k // 2)
    weight = kernel.expand(b, k, k).repeat_interleave(c, dim=0).unsqueeze(1)
    out = F.conv2d(padded.reshape(1, b * c, *padded.shape[-2:]), weight, groups=b * c)
    return out.view(b, c, h, w)


# ------------------------------------------------------------------------------ noise, JPEG
def add_gaussian_noise(
    img: torch.Tensor, *, sigma_range: Range, gray_prob: float, generator: torch.Generator
) -> torch.Tensor:
    """Add Gaussian noise with one sigma (0–255 units) per sample, then clip to ``[0, 1]``.

    A sample is given gray noise (one map for all channels) with probability ``gray_prob``. Unlike
    the reference, each gray sample gets its own noise map (the reference shares one in a batch).

    Args:
        img: ``(B, C, H, W)`` in ``[0, 1]``.
        sigma_range: ``(low, high)`` of the noise standard deviation in 0–255 units.
        gray_prob: Per-sample probability of gray noise.
        generator: Source of all randomness.

    Returns:
        The noisy batch, same shape, in ``[0, 1]``.
    """
    b, c, h, w = img.shape
    sigma = _uniform(generator, *sigma_range, n=b).view(b, 1, 1, 1) / 255.0
    gray = (_uniform(generator, 0.0, 1.0, n=b) < gray_prob).view(b, 1, 1, 1)
    color = torch.randn(b, c, h, w, generator=generator, device=generator.device)
    if bool(gray.any()):
        mono = torch.randn(b, 1, h, w, generator=generator, device=generator.device)
        color = torch.where(gray.to(color.device), mono.expand_as(color), color)
    noise = color.to(img.device, img.dtype) * sigma.to(img.device, img.dtype)
    return (img + noise).clamp(0.0, 1.0)


def _poisson(img: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Poisson noise as the reference: photon counts ``2**ceil(log2(#distinct levels))``."""
    codes = (img * 255.0).round().clamp(0, 255).to(torch.int64)
    img = codes.to(img.dtype) / 255.0
    b = img.shape[0]
    offsets = torch.arange(b, device=img.device).view(b, 1, 1, 1) * 256
    histogram = torch.bincount((codes + offsets).flatten(), minlength=256 * b).view(b, 256)
    levels = (histogram > 0).sum(dim=1).to(img.dtype)
    vals = torch.exp2(torch.ceil(torch.log2(levels))).view(b, 1, 1, 1)
    counts = torch.poisson(_on(img * vals, generator), generator=generator).to(img)
    return counts / vals - img


def add_poisson_noise(
    img: torch.Tensor, *, scale_range: Range, gray_prob: float, generator: torch.Generator
) -> torch.Tensor:
    """Add signal-dependent Poisson noise scaled per sample, then clip to ``[0, 1]``.

    Args:
        img: ``(B, 3, H, W)`` RGB in ``[0, 1]``.
        scale_range: ``(low, high)`` of the per-sample multiplier of the noise.
        gray_prob: Per-sample probability that the noise is computed on the luma and shared by
            the channels.
        generator: Source of all randomness.

    Returns:
        The noisy batch, same shape, in ``[0, 1]``.
    """
    b = img.shape[0]
    scale = _uniform(generator, *scale_range, n=b).view(b, 1, 1, 1).to(img)
    gray = (_uniform(generator, 0.0, 1.0, n=b) < gray_prob).view(b, 1, 1, 1).to(img.device)
    noise = _poisson(img, generator)
    if bool(gray.any()):
        weights = img.new_tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)
        luma = (img * weights).sum(dim=1, keepdim=True)
        noise = torch.where(gray, _poisson(luma, generator).expand_as(noise), noise)
    return (img + noise * scale).clamp(0.0, 1.0)


def jpeg_compress(img: torch.Tensor, *, quality: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Exact JPEG round trip of each sample with Pillow (libjpeg, 4:2:0 chroma).

    The reference uses ``DiffJPEG(differentiable=False)``; this is the real codec instead. It
    runs on the CPU, is not differentiable, and is deterministic for given inputs.

    Args:
        img: ``(B, 3, H, W)`` RGB; clamped to ``[0, 1]`` and quantised to 8 bits first.
        quality: ``B`` qualities in ``[1, 95]``, rounded to integers.

    Returns:
        The decoded batch on ``img``'s device and dtype, multiples of 1/255 in ``[0, 1]``.
    """
    qualities = [round(float(q)) for q in quality]
    if len(qualities) != img.shape[0]:
        raise ValueError(f"need one quality per sample: {img.shape[0]}, got {len(qualities)}")
    pixels = (img.detach().clamp(0, 1) * 255.0).round().to(torch.uint8)
    decoded = []
    for array, q in zip(pixels.permute(0, 2, 3, 1).cpu().numpy(), qualities, strict=True):
        buffer = io.BytesIO()
        Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=q)
        buffer.seek(0)
        with Image.open(buffer) as decoded_image:
            decoded.append(np.asarray(decoded_image.convert("RGB")))
    out = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2)
    return out.to(device=img.device, dtype=img.dtype) / 255.0
