"""The inpainting recipe: a DeepFill-v2-style gated generator against an SN-PatchGAN.

Each step, on a batch of photo crops with hole masks:

1. The generator sees the crop with its holes blanked plus the mask and returns a coarse and a
   refined image; the refined one pasted into the holes is the *composite*.
2. The discriminator (image + mask, spectral norm) scores real crops against composites with
   the hinge loss, ``0.5 · mean(relu(1 - D(real))) + 0.5 · mean(relu(1 + D(fake)))``, real and
   fake in one batch (DeepFill v2's ``gan_hinge_loss``).
3. The generator minimises ``lambda_l1 · (L(coarse) + L(refined))`` plus
   ``lambda_gan · -mean(D(composite))`` through the frozen discriminator, where ``L`` is the
   L1 error to the target over the whole image with hole pixels weighted ``hole_weight``
   (:func:`weighted_l1`; weight 1 is DeepFill v2's ``ae_loss``).

Defaults: ``lambda_l1`` 1.0 each stage, ``hole_weight`` 6 (Liu et al. 2018's hole to valid
ratio), ``lambda_gan`` 0.1 (DeepFill v2 uses 1.0 with 48
filters and batches of 16; small CPU runs with tiny batches stay stable with the L1 terms
leading), Adam lr 1e-4 with betas (0.5, 0.999) for both networks, constant rate (DeepFill v2's
settings). Why SN-PatchGAN + hinge and not R1: see :mod:`ganedit.archs.inpaint.network`.

The exported network is ``G`` (no moving average: DeepFill v2 releases its raw weights).
Masks are drawn per sample by the dataset (:mod:`ganedit.train.inpaint_data`), so the recipe
keeps no random state of its own and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ganedit.archs import InpaintGenerator, SNPatchDiscriminator

from .config import InpaintLoss, InpaintNetworkOptions, MaskOptions, OptimOptions, TrainConfig
from .inpaint_data import InpaintDataset
from .recipe import Precision, Recipe, Wrap, requires_grad

__all__ = ["Inpainting", "hinge_d_loss", "hinge_g_loss", "weighted_l1"]


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss, each half weighted 0.5 (DeepFill v2)."""
    return 0.5 * F.relu(1 - real_scores).mean() + 0.5 * F.relu(1 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's hinge loss: raise the discriminator's scores of its outputs."""
    return -fake_scores.mean()


def weighted_l1(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, hole_weight: float
) -> torch.Tensor:
    """Mean absolute error with hole pixels (``mask`` 1) weighted ``hole_weight`` and known
    pixels 1; with ``hole_weight`` 1 it is ``F.l1_loss(output, target)``."""
    error = (output - target).abs()
    if hole_weight == 1:
        return error.mean()
    return (error * (1 + (hole_weight - 1) * mask)).mean()


class _BothStages(nn.Module):
    """Calls the generator's ``forward_stages`` through ``forward``, so that a DDP wrapper
    (which only hooks ``forward``) synchronises the gradients of both stages."""

    def __init__(self, generator: InpaintGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generator.forward_stages(x)


class Inpainting(Recipe):
    """Inpainting training state and step.

    Batches are ``{"image": (B, C, H, W) in [-1, 1], "mask": (B, 1, H, W)}`` (1 = hole) with
    ``H`` and ``W`` multiples of 4.
    """

    name = "inpaint"
    net_type = InpaintNetworkOptions
    loss_type = InpaintLoss
    generators: ClassVar[Mapping[str, str]] = MappingProxyType({"AtoB": "G"})

    @classmethod
    def build_dataset(cls, config: TrainConfig, seed: int) -> Dataset[dict[str, Any]]:
        data = config.data
        return InpaintDataset(
            data.root,
            crop_size=data.crop_size,
            seed=seed,
            masks=config.masks or MaskOptions(),
            flip=not data.no_flip,
            max_size=data.max_size,
        )

    def __init__(
        self,
        *,
        net: InpaintNetworkOptions,
        optim: OptimOptions,
        loss: InpaintLoss,
        device: torch.device,
        precision: Precision,
        seed: int,
        rank: int = 0,
        wrap: Wrap | None = None,
    ):
        super().__init__(device=device, precision=precision, wrap=wrap)
        self.opts = loss
        torch.manual_seed(seed)  # PyTorch's default initialisation draws from the global RNG
        self.nets = {
            "G": InpaintGenerator(ngf=net.ngf, in_channels=net.in_channels).to(device),
            "D": SNPatchDiscriminator(
                ndf=net.ndf, in_channels=net.in_channels + 1, n_layers=net.n_layers_d
            ).to(device),
        }
        # ``nets`` keeps the plain modules (what is saved); ``fw`` what forward passes use.
        self.fw = {"G": self._wrap(_BothStages(self.nets["G"])), "D": self._wrap(self.nets["D"])}
        betas = (optim.beta1, optim.beta2)
        self.optimizers = {
            "G": self._adam(self.nets["G"].parameters(), optim.lr, betas),
            "D": self._adam(self.nets["D"].parameters(), optim.lr, betas),
        }

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        target = batch["image"].to(self.device, non_blocking=True)
        mask = batch["mask"].to(self.device, non_blocking=True)
        masked = target * (1 - mask)
        prec, opts = self.precision, self.opts
        with prec.autocast():
            coarse, refined = self.fw["G"](torch.cat([masked, mask], dim=1))
            composite = masked + refined * mask

        # Discriminator: real crops against composites, both with the mask, in one batch.
        requires_grad([self.nets["D"]], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        pair = torch.cat([torch.cat([target, mask], 1), torch.cat([composite.detach(), mask], 1)])
        with prec.autocast():
            real_scores, fake_scores = self.fw["D"](pair).chunk(2)
            loss_d = hinge_d_loss(real_scores, fake_scores)
        prec.backward("D", loss_d)
        prec.step("D", self.optimizers["D"])

        # Generator through the frozen discriminator (its raw module: no gradient sync).
        requires_grad([self.nets["D"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        with prec.autocast():
            loss_coarse = weighted_l1(coarse, target, mask, opts.hole_weight) * opts.lambda_l1
            loss_refined = weighted_l1(refined, target, mask, opts.hole_weight) * opts.lambda_l1
            loss_gan = hinge_g_loss(self.nets["D"](torch.cat([composite, mask], 1)))
            loss_gan = loss_gan * opts.lambda_gan
            loss_g = loss_coarse + loss_refined + loss_gan
        prec.backward("G", loss_g)
        prec.step("G", self.optimizers["G"])

        self.visuals = {
            "input": masked.detach() + mask,  # holes shown white
            "output": composite.detach(),
            "target": target,
        }
        return {
            "G_L1_coarse": float(loss_coarse.detach()),
            "G_L1_refined": float(loss_refined.detach()),
            "G_GAN": float(loss_gan.detach()),
            "D": float(loss_d.detach()),
        }
