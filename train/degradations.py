"""Real-ESRGAN's second-order degradation model, on batched tensors, driven by one generator.

:func:`degrade` turns high-resolution images into low-resolution training inputs as Real-ESRGAN's
``RealESRGANModel.feed_data`` does (blur → resize → noise → JPEG, twice, then resize back to
``H/scale`` with a final sinc filter and JPEG in random order). Every random draw comes from the
``torch.Generator`` passed in, never from the global RNGs, so a resumed run that restores the
generator's state degrades the same batches the same way.

Which draws are per sample and which per batch follows the reference: blur kernels, noise levels,
gray-noise choices and JPEG qualities are per sample; the resize factor and mode, the choice of
Gaussian versus Poisson noise, the second-blur skip and the order of the final step are per batch.

:func:`bicubic_degrade` is the simple (classic ESRGAN) alternative and :func:`usm_sharp` the
unsharp mask Real-ESRGAN applies to the ground truth.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .degradation_ops import (
    KERNEL_TYPES,
    MAX_KERNEL_SIZE,
    Range,
    _pick,
    _uniform,
    add_gaussian_noise,
    add_poisson_noise,
    filter2d,
    jpeg_compress,
    random_blur_kernel,
    random_final_kernel,
    reflect_pad,
)

__all__ = [
    "RESIZE_MODES",
    "DegradationConfig",
    "add_gaussian_noise",
    "add_poisson_noise",
    "bicubic_degrade",
    "degrade",
    "jpeg_compress",
    "usm_sharp",
]

RESIZE_MODES = ("area", "bilinear", "bicubic")
_ALL_TYPES = tuple(KERNEL_TYPES)
_REFERENCE_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
_SIZES = tuple(range(7, MAX_KERNEL_SIZE + 1, 2))


@dataclasses.dataclass(frozen=True)
class DegradationConfig:
    """Parameters of :func:`degrade`; the defaults are ``options/train_realesrgan_x4plus.yml``.

    Names follow the reference; a ``2`` suffix is the second degradation stage. Sigmas and
    noise levels are in pixels and 0–255 units, as in the reference.

    Attributes:
        kernel_sizes: Odd blur-kernel sizes drawn uniformly (7, 9, …, 21).
        kernel_list / kernel_prob: Blur kernel families and their probabilities:
            ``iso``, ``aniso`` (Gaussian), ``generalized_iso/aniso``, ``plateau_iso/aniso``.
        sinc_prob: Probability that the first blur is a sinc (circular low-pass) filter instead.
        blur_sigma: Range of the Gaussian widths of the first blur.
        betag_range / betap_range: Shape ranges of the generalized-Gaussian and plateau kernels.
        resize_prob: Probabilities of scaling ``up``, ``down`` or ``keep`` in the first stage.
        resize_range: Range of the first stage's scale factor.
        gaussian_noise_prob: Probability of Gaussian noise (else Poisson).
        noise_range: Gaussian noise sigma range (0–255 units).
        poisson_scale_range: Poisson noise scale range.
        gray_noise_prob: Per-sample probability that the noise is the same in all channels.
        jpeg_range: JPEG quality range.
        second_blur_prob: Probability that the second stage blurs at all.
        final_sinc_prob: Per-sample probability of the final sinc filter (else no filter).
        resize_modes: Interpolation modes drawn uniformly for each resize.
    """

    kernel_sizes: tuple[int, ...] = _SIZES
    kernel_list: tuple[str, ...] = _ALL_TYPES
    kernel_prob: tuple[float, ...] = _REFERENCE_PROBS
    sinc_prob: float = 0.1
    blur_sigma: Range = (0.2, 3.0)
    betag_range: Range = (0.5, 4.0)
    betap_range: Range = (1.0, 2.0)
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_range: Range = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: Range = (1.0, 30.0)
    poisson_scale_range: Range = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: Range = (30.0, 95.0)

    second_blur_prob: float = 0.8
    kernel_list2: tuple[str, ...] = _ALL_TYPES
    kernel_prob2: tuple[float, ...] = _REFERENCE_PROBS
    sinc_prob2: float = 0.1
    blur_sigma2: Range = (0.2, 1.5)
    betag_range2: Range = (0.5, 4.0)
    betap_range2: Range = (1.0, 2.0)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: Range = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: Range = (1.0, 25.0)
    poisson_scale_range2: Range = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: Range = (30.0, 95.0)

    final_sinc_prob: float = 0.8
    resize_modes: tuple[str, ...] = RESIZE_MODES

    def __post_init__(self) -> None:
        for size in self.kernel_sizes:
            if size % 2 == 0 or not 3 <= size <= MAX_KERNEL_SIZE:
                raise ValueError(f"kernel sizes must be odd, 3..{MAX_KERNEL_SIZE}, got {size}")
        for names, probs in (
            (self.kernel_list, self.kernel_prob),
            (self.kernel_list2, self.kernel_prob2),
        ):
            unknown = set(names) - set(KERNEL_TYPES)
            if unknown or len(names) != len(probs):
                raise ValueError(
                    f"kernel_list {names} must name kernels from {KERNEL_TYPES} and match "
                    f"kernel_prob {probs} in length"
                )
        for name in ("kernel_prob", "kernel_prob2", "resize_prob", "resize_prob2"):
            probs = getattr(self, name)
            if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
                raise ValueError(f"{name} must be non-negative and sum to 1, got {probs}")
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name.endswith(("range", "range2", "sigma", "sigma2")) and value[0] > value[1]:
                raise ValueError(f"{field.name} must be (low, high) with low <= high, got {value}")
        unknown_modes = set(self.resize_modes) - set(RESIZE_MODES)
        if not self.resize_modes or unknown_modes:
            raise ValueError(
                f"resize_modes must be taken from {RESIZE_MODES}, got {self.resize_modes}"
            )


# ------------------------------------------------------------------------------ random draws
def _resize_factor(generator: torch.Generator, probs: Sequence[float], span: Range) -> float:
    kind = _pick(generator, probs)  # up, down, keep
    if kind == 0:
        return float(_uniform(generator, 1.0, span[1]))
    if kind == 1:
        return float(_uniform(generator, span[0], 1.0))
    return 1.0


def _mode(generator: torch.Generator, modes: Sequence[str]) -> str:
    return modes[_pick(generator, [1.0 / len(modes)] * len(modes))]


# ------------------------------------------------------------------------------ the stages
def _noise(
    img: torch.Tensor,
    generator: torch.Generator,
    *,
    gaussian_prob: float,
    sigma: Range,
    poisson: Range,
    gray_prob: float,
) -> torch.Tensor:
    if float(_uniform(generator, 0.0, 1.0)) < gaussian_prob:
        return add_gaussian_noise(img, sigma_range=sigma, gray_prob=gray_prob, generator=generator)
    return add_poisson_noise(img, scale_range=poisson, gray_prob=gray_prob, generator=generator)


def _jpeg(img: torch.Tensor, generator: torch.Generator, span: Range) -> torch.Tensor:
    return jpeg_compress(img, quality=_uniform(generator, *span, n=img.shape[0]))


def _kernels(
    generator: torch.Generator, config: DegradationConfig, second: bool, batch: int
) -> torch.Tensor:
    suffix = "2" if second else ""
    kernels = [
        random_blur_kernel(
            generator,
            sizes=config.kernel_sizes,
            kernel_list=getattr(config, "kernel_list" + suffix),
            kernel_prob=getattr(config, "kernel_prob" + suffix),
            sinc_prob=getattr(config, "sinc_prob" + suffix),
            sigma_range=getattr(config, "blur_sigma" + suffix),
            betag_range=getattr(config, "betag_range" + suffix),
            betap_range=getattr(config, "betap_range" + suffix),
        )
        for _ in range(batch)
    ]
    return torch.stack(kernels)


def degrade(
    hr: torch.Tensor, *, scale: int, config: DegradationConfig, generator: torch.Generator
) -> torch.Tensor:
    """Synthesize low-resolution inputs from ``hr`` with Real-ESRGAN's second-order degradations.

    Real-ESRGAN degrades the *sharpened* ground truth: pass ``usm_sharp(gt)`` to match it.

    Args:
        hr: ``(B, 3, H, W)`` RGB in ``[0, 1]``, ``H`` and ``W`` divisible by ``scale``.
        scale: The super-resolution factor (4 for x4plus).
        config: Degradation parameters (:class:`DegradationConfig`; reference defaults).
        generator: Source of every random draw (any device; draws are made on its device and
            moved to ``hr``'s). The global RNGs are not touched.

    Returns:
        ``(B, 3, H/scale, W/scale)`` on ``hr``'s device, clamped to ``[0, 1]`` and rounded to
        multiples of 1/255. Not differentiable (JPEG runs through the real codec).

    Raises:
        ValueError: Wrong shape, or sizes not divisible by ``scale``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> degrade(usm_sharp(gt), scale=4, config=DegradationConfig(), generator=g).shape
        torch.Size([12, 3, 64, 64])
    """
    _check(hr, scale)
    b, _, h, w = hr.shape
    out_h, out_w = h // scale, w // scale
    with torch.no_grad():
        # Kernels are drawn first, per sample, as the reference's dataset does.
        kernel1 = _kernels(generator, config, False, b).to(hr)
        kernel2 = _kernels(generator, config, True, b).to(hr)
        sinc = torch.stack(
            [
                random_final_kernel(
                    generator, prob=config.final_sinc_prob, sizes=config.kernel_sizes
                )
                for _ in range(b)
            ]
        ).to(hr)

        out = filter2d(hr, kernel1)
        factor = _resize_factor(generator, config.resize_prob, config.resize_range)
        out = _resize(
            out, (int(h * factor), int(w * factor)), _mode(generator, config.resize_modes)
        )
        out = _noise(
            out,
            generator,
            gaussian_prob=config.gaussian_noise_prob,
            sigma=config.noise_range,
            poisson=config.poisson_scale_range,
            gray_prob=config.gray_noise_prob,
        )
        out = _jpeg(out, generator, config.jpeg_range)

        if float(_uniform(generator, 0.0, 1.0)) < config.second_blur_prob:
            out = filter2d(out, kernel2)
        factor = _resize_factor(generator, config.resize_prob2, config.resize_range2)
        size = (int(h / scale * factor), int(w / scale * factor))
        out = _resize(out, size, _mode(generator, config.resize_modes))
        out = _noise(
            out,
            generator,
            gaussian_prob=config.gaussian_noise_prob2,
            sigma=config.noise_range2,
            poisson=config.poisson_scale_range2,
            gray_prob=config.gray_noise_prob2,
        )
        # [resize back + sinc] and JPEG, in either order; other orders give twisted lines.
        if float(_uniform(generator, 0.0, 1.0)) < 0.5:
            out = _resize(out, (out_h, out_w), _mode(generator, config.resize_modes))
            out = filter2d(out, sinc)
            out = _jpeg(out, generator, config.jpeg_range2)
        else:
            out = _jpeg(out, generator, config.jpeg_range2)
            out = _resize(out, (out_h, out_w), _mode(generator, config.resize_modes))
            out = filter2d(out, sinc)
        return (out * 255.0).round().clamp(0, 255) / 255.0


def _resize(img: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    size = (max(1, size[0]), max(1, size[1]))
    if mode == "area":
        return F.interpolate(img, size=size, mode="area")
    return F.interpolate(img, size=size, mode=mode, align_corners=False)


def _check(img: torch.Tensor, scale: int) -> None:
    if img.dim() != 4 or img.shape[1] != 3 or not img.is_floating_point():
        raise ValueError(f"expected a float (B, 3, H, W) batch, got {img.dtype} {tuple(img.shape)}")
    if scale < 1 or img.shape[2] % scale or img.shape[3] % scale:
        raise ValueError(
            f"height and width {tuple(img.shape[2:])} must be divisible by scale {scale}; "
            "crop the HR patches to a multiple of the scale"
        )


def bicubic_degrade(hr: torch.Tensor, *, scale: int) -> torch.Tensor:
    """Classic SR inputs: antialiased bicubic downscaling, clamped and rounded to 8 bits.

    Args:
        hr: ``(B, 3, H, W)`` in ``[0, 1]``, ``H`` and ``W`` divisible by ``scale``.
        scale: The downscaling factor.

    Returns:
        ``(B, 3, H/scale, W/scale)`` multiples of 1/255 in ``[0, 1]``.

    Raises:
        ValueError: Wrong shape, or sizes not divisible by ``scale``.
    """
    _check(hr, scale)
    size = (hr.shape[2] // scale, hr.shape[3] // scale)
    out = F.interpolate(hr, size=size, mode="bicubic", align_corners=False, antialias=True)
    return (out * 255.0).round().clamp(0, 255) / 255.0


def usm_sharp(
    img: torch.Tensor, *, weight: float = 0.5, radius: int = 50, threshold: float = 10
) -> torch.Tensor:
    """Unsharp masking as BasicSR's ``USMSharp`` (Real-ESRGAN sharpens its ground truth).

    ``sharp = clip(img + weight·(img − blur), 0, 1)`` is blended in where the residual exceeds
    ``threshold``/255 (mask softened by the same blur), so flat areas are left alone. The blur is
    OpenCV's default Gaussian for a ``radius``-pixel kernel (made odd; sigma
    ``0.3·((k−1)/2 − 1) + 0.8``), with reflected borders.

    Args:
        img: ``(B, C, H, W)`` in ``[0, 1]``.
        weight: Strength of the sharpening.
        radius: Size of the blur kernel (made odd).
        threshold: Residual (0–255 units) above which pixels are sharpened.

    Returns:
        The sharpened batch, same shape, in ``[0, 1]``.
    """
    size = radius + 1 if radius % 2 == 0 else radius
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum()).to(img)

    def blur(t: torch.Tensor) -> torch.Tensor:
        b, c, h, w = t.shape
        padded = reflect_pad(t.reshape(b * c, 1, h, w), size // 2)
        padded = F.conv2d(padded, g.view(1, 1, 1, size))
        return F.conv2d(padded, g.view(1, 1, size, 1)).view(b, c, h, w)

    residual = img - blur(img)
    mask = blur((residual.abs() * 255 > threshold).to(img))
    sharp = (img + weight * residual).clamp(0, 1)
    return mask * sharp + (1 - mask) * img
