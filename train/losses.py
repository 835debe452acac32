"""Adversarial losses of the CycleGAN / pix2pix reference: ``GANLoss`` and the WGAN-GP penalty.

Discriminators return raw scores (logits); nothing here expects a sigmoid in the network.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GANLoss", "GANMode", "PenaltyKind", "gradient_penalty"]

GANMode = Literal["lsgan", "vanilla", "wgangp"]
PenaltyKind = Literal["mixed", "real", "fake"]


class GANLoss(nn.Module):
    """The reference's GAN objective for a discriminator output of any shape.

    * ``"lsgan"``: mean squared error against a tensor filled with the label (CycleGAN default).
    * ``"vanilla"``: binary cross-entropy on logits against the label (pix2pix default).
    * ``"wgangp"``: ``-mean(prediction)`` for real, ``mean(prediction)`` for fake; the labels are
      not used. Add :func:`gradient_penalty` to the discriminator loss.

    The labels are (non-persistent) buffers, so ``.to(device)`` moves them and the module adds
    nothing to a state dict.

    Args:
        mode: ``"lsgan"``, ``"vanilla"`` or ``"wgangp"``.
        real_label: Target for real samples (1.0 in the reference; 0.9 gives one-sided smoothing).
        fake_label: Target for fake samples.

    Raises:
        ValueError: ``mode`` is not one of the three above.

    Example:
        >>> loss = GANLoss("lsgan")
        >>> loss(torch.ones(2, 1, 30, 30), target_is_real=True)
        tensor(0.)
    """

    real_label: torch.Tensor
    fake_label: torch.Tensor

    def __init__(self, mode: GANMode, *, real_label: float = 1.0, fake_label: float = 0.0) -> None:
        super().__init__()
        if mode not in get_args(GANMode):
            raise ValueError(f"GAN mode must be one of {get_args(GANMode)}, got {mode!r}")
        self.mode = mode
        self.register_buffer("real_label", torch.tensor(float(real_label)), persistent=False)
        self.register_buffer("fake_label", torch.tensor(float(fake_label)), persistent=False)

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        """The loss of ``prediction`` against the real or the fake target.

        Args:
            prediction: Discriminator logits, any shape, e.g. PatchGAN's ``(B, 1, H', W')``.
            target_is_real: Whether the samples should be judged real.

        Returns:
            A scalar tensor: the mean over all elements of ``prediction``.
        """
        if self.mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        label = self.real_label if target_is_real else self.fake_label
        # Follow the prediction's dtype, so a loss under autocast does not mix precisions.
        target = label.to(prediction.dtype).expand_as(prediction)
        if self.mode == "lsgan":
            return F.mse_loss(prediction, target)
        return F.binary_cross_entropy_with_logits(prediction, target)

    def extra_repr(self) -> str:
        return (
            f"mode={self.mode!r}, real_label={self.real_label.item():g}, "
            f"fake_label={self.fake_label.item():g}"
        )


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor] | nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    kind: PenaltyKind = "mixed",
    constant: float = 1.0,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The WGAN-GP gradient penalty (Gulrajani et al. 2017), as the reference's
    ``cal_gradient_penalty``.

    ``weight · mean_b((‖∇ₓ D(x_b)‖₂ − constant)²)``, where ``x`` is, per ``kind``, the real
    batch, the fake batch, or ``α·real + (1 − α)·fake`` with one ``α ~ U[0, 1)`` per sample.
    The gradient is that of the sum of ``D``'s outputs for each sample (all PatchGAN patches),
    flattened per sample; like the reference, ``1e-16`` is added to it before taking the norm.

    ``real`` and ``fake`` are detached first: the penalty regularises the discriminator only, so
    its graph (built with ``create_graph=True``) reaches ``D``'s parameters and never the
    generator. A discriminator with batch norm mixes samples, which WGAN-GP advises against.

    Args:
        discriminator: Maps ``(B, C, H, W)`` to scores of any shape with leading dim ``B``.
        real: Real images, ``(B, C, H, W)``.
        fake: Generated images, same shape as ``real``.
        kind: ``"mixed"`` (interpolates; the WGAN-GP default), ``"real"`` or ``"fake"``.
        constant: Target gradient norm (1 in WGAN-GP).
        weight: Multiplier of the penalty (λ = 10 in WGAN-GP); 0 returns a zero tensor at once.
        generator: Source of the interpolation weights (on ``real``'s device); ``None`` uses
            torch's global RNG, as the reference does.

    Returns:
        A scalar tensor that can be backpropagated into the discriminator's parameters.

    Raises:
        ValueError: ``real`` and ``fake`` differ in shape, or ``kind`` is unknown.

    Example:
        >>> loss_d = loss_d + gradient_penalty(net_d, real_b, fake_b.detach())
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    if kind not in get_args(PenaltyKind):
        raise ValueError(f"kind must be one of {get_args(PenaltyKind)}, got {kind!r}")
    if weight == 0.0:
        return real.new_zeros(())
    real, fake = real.detach(), fake.detach()
    if kind == "real":
        points = real
    elif kind == "fake":
        points = fake
    else:
        alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        alpha = torch.rand(alpha_shape, generator=generator, device=real.device, dtype=real.dtype)
        points = alpha * real + (1.0 - alpha) * fake
    points.requires_grad_(True)
    scores = discriminator(points)
    (gradients,) = torch.autograd.grad(
        outputs=scores,
        inputs=points,
        grad_outputs=torch.ones_like(scores),
        create_graph=True,
    )
    norms = (gradients.reshape(real.shape[0], -1) + 1e-16).norm(2, dim=1)
    return ((norms - constant) ** 2).mean() * weight
