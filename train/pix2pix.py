"""The pix2pix recipe (Isola et al. 2017), step for step as the reference implementation.

A U-Net generator G: A -> B and a conditional PatchGAN D that sees the input next to the output.
Each step: the discriminator first (real pair vs generated pair, halved), then the generator
(GAN loss through the frozen discriminator + L1 to the target × 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from ganedit.archs import build_generator

from .config import NetworkOptions, OptimOptions, Pix2PixLoss
from .losses import GANLoss, gradient_penalty
from .pool import ImagePool
from .recipe import Precision, Recipe, Wrap, build_discriminator, generator_spec, requires_grad

__all__ = ["Pix2Pix"]


class Pix2Pix(Recipe):
    """pix2pix training state and step.

    Batches are ``{"A": (B, C_a, H, W), "B": (B, C_b, H, W)}`` in ``[-1, 1]``, aligned.
    """

    name = "pix2pix"
    net_type = NetworkOptions
    loss_type = Pix2PixLoss
    #: The reference's network defaults (``ganedit train pix2pix`` shows them).
    default_net: ClassVar[NetworkOptions] = NetworkOptions(
        net_g="unet_256", norm="batch", dropout=True
    )
    generators: ClassVar[Mapping[str, str]] = MappingProxyType({"AtoB": "G"})

    def __init__(
        self,
        *,
        net: NetworkOptions,
        optim: OptimOptions,
        loss: Pix2PixLoss,
        device: torch.device,
        precision: Precision,
        seed: int,
        rank: int = 0,
        wrap: Wrap | None = None,
    ):
        super().__init__(device=device, precision=precision, wrap=wrap)
        self.loss_opts = loss
        a, b = net.in_channels, net.out_channels
        self.nets = {
            "G": build_generator(generator_spec(net, in_channels=a, out_channels=b)),
            "D": build_discriminator(net, in_channels=a + b),
        }
        self._init(torch.Generator().manual_seed(seed), net.init_type, net.init_gain)
        self._wrap_all()
        betas = (optim.beta1, optim.beta2)
        self.optimizers = {
            "G": self._adam(self.nets["G"].parameters(), optim.lr, betas),
            "D": self._adam(self.nets["D"].parameters(), optim.lr, betas),
        }
        self.gan = GANLoss(loss.gan_mode).to(device)
        self.l1 = nn.L1Loss()
        self.pool = ImagePool(loss.pool_size, seed=seed * 1000 + rank)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        real_a = batch["A"].to(self.device, non_blocking=True)
        real_b = batch["B"].to(self.device, non_blocking=True)
        prec, opts = self.precision, self.loss_opts
        with prec.autocast():
            fake_b = self.fw["G"](real_a)

        # Discriminator on (input, target) against (input, output).
        requires_grad([self.nets["D"]], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        fake_ab = self.pool.query(torch.cat((real_a, fake_b), 1).detach())
        real_ab = torch.cat((real_a, real_b), 1)
        disc = self.fw["D"]
        with prec.autocast():
            loss_d = (self.gan(disc(fake_ab), False) + self.gan(disc(real_ab), True)) * 0.5
            if opts.gan_mode == "wgangp":
                loss_d = loss_d + gradient_penalty(disc, real_ab, fake_ab, weight=opts.gp_weight)
        prec.backward("D", loss_d)
        prec.step("D", self.optimizers["D"])

        # Generator through the frozen discriminator (its raw module: no gradient sync).
        requires_grad([self.nets["D"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        with prec.autocast():
            loss_gan = self.gan(self.nets["D"](torch.cat((real_a, fake_b), 1)), True)
            loss_l1 = self.l1(fake_b, real_b) * opts.lambda_l1
            loss_g = loss_gan + loss_l1
        prec.backward("G", loss_g)
        prec.step("G", self.optimizers["G"])

        self.visuals = {
            "real_A": real_a.detach(),
            "fake_B": fake_b.detach(),
            "real_B": real_b.detach(),
        }
        return {
            "G_GAN": float(loss_gan.detach()),
            "G_L1": float(loss_l1.detach()),
            "D": float(loss_d.detach()),
        }

    def extra_state(self) -> dict[str, Any]:
        return {"fake_AB": self.pool.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "fake_AB" in state:
            self.pool.load_state_dict(state["fake_AB"])
