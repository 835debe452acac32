"""The CycleGAN recipe (Zhu et al. 2017), step for step as the reference implementation.

Two generators (G_A: A -> B, G_B: B -> A) and two PatchGAN discriminators (D_A judges domain B,
D_B judges domain A). Each step: generators first (GAN + cycle + identity losses, discriminators
frozen), then both discriminators on real images and on generated images drawn from a history
pool, each loss halved.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from ganedit.archs import build_generator

from .config import CycleGANLoss, NetworkOptions, OptimOptions
from .losses import GANLoss, gradient_penalty
from .pool import ImagePool
from .recipe import Precision, Recipe, Wrap, build_discriminator, generator_spec, requires_grad

__all__ = ["CycleGAN"]


class CycleGAN(Recipe):
    """CycleGAN training state and step.

    Batches are ``{"A": (B, C_a, H, W), "B": (B, C_b, H, W)}`` in ``[-1, 1]``.
    """

    name = "cyclegan"
    net_type = NetworkOptions
    loss_type = CycleGANLoss
    #: The reference's network defaults (``ganedit train cyclegan`` shows them).
    default_net: ClassVar[NetworkOptions] = NetworkOptions(
        net_g="resnet_9blocks", norm="instance", dropout=False
    )
    generators: ClassVar[Mapping[str, str]] = MappingProxyType({"AtoB": "G_A", "BtoA": "G_B"})

    def __init__(
        self,
        *,
        net: NetworkOptions,
        optim: OptimOptions,
        loss: CycleGANLoss,
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
            "G_A": build_generator(generator_spec(net, in_channels=a, out_channels=b)),
            "G_B": build_generator(generator_spec(net, in_channels=b, out_channels=a)),
            "D_A": build_discriminator(net, in_channels=b),
            "D_B": build_discriminator(net, in_channels=a),
        }
        self._init(torch.Generator().manual_seed(seed), net.init_type, net.init_gain)
        self._wrap_all()
        betas = (optim.beta1, optim.beta2)
        self.optimizers = {
            "G": self._adam(
                itertools.chain(self.nets["G_A"].parameters(), self.nets["G_B"].parameters()),
                optim.lr,
                betas,
            ),
            "D": self._adam(
                itertools.chain(self.nets["D_A"].parameters(), self.nets["D_B"].parameters()),
                optim.lr,
                betas,
            ),
        }
        self.gan = GANLoss(loss.gan_mode).to(device)
        self.l1 = nn.L1Loss()
        # Each process keeps its own history, seeded apart, as the reference would per GPU.
        self.pools = {
            "fake_A": ImagePool(loss.pool_size, seed=seed * 1000 + 2 * rank),
            "fake_B": ImagePool(loss.pool_size, seed=seed * 1000 + 2 * rank + 1),
        }

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        real_a = batch["A"].to(self.device, non_blocking=True)
        real_b = batch["B"].to(self.device, non_blocking=True)
        opts, prec, fw = self.loss_opts, self.precision, self.fw
        d_a, d_b = self.nets["D_A"], self.nets["D_B"]

        with prec.autocast():
            fake_b = fw["G_A"](real_a)
            rec_a = fw["G_B"](fake_b)
            fake_a = fw["G_B"](real_b)
            rec_b = fw["G_A"](fake_a)

        # Generators, with the discriminators frozen (their raw modules: no gradient sync).
        requires_grad([d_a, d_b], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        with prec.autocast():
            losses = {}
            if opts.lambda_identity > 0:
                idt_a = fw["G_A"](real_b)
                idt_b = fw["G_B"](real_a)
                losses["idt_A"] = self.l1(idt_a, real_b) * opts.lambda_b * opts.lambda_identity
                losses["idt_B"] = self.l1(idt_b, real_a) * opts.lambda_a * opts.lambda_identity
            losses["G_A"] = self.gan(d_a(fake_b), True)
            losses["G_B"] = self.gan(d_b(fake_a), True)
            losses["cycle_A"] = self.l1(rec_a, real_a) * opts.lambda_a
            losses["cycle_B"] = self.l1(rec_b, real_b) * opts.lambda_b
            loss_g = sum(losses.values())
        prec.backward("G", loss_g)
        prec.step("G", self.optimizers["G"])

        # Discriminators, on real images and on generated ones from the history pools.
        requires_grad([d_a, d_b], True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        pooled_b = self.pools["fake_B"].query(fake_b.detach())
        losses["D_A"] = self._backward_d("D_A", real_b, pooled_b)
        pooled_a = self.pools["fake_A"].query(fake_a.detach())
        losses["D_B"] = self._backward_d("D_B", real_a, pooled_a)
        prec.step("D", self.optimizers["D"])

        self.visuals = {
            "real_A": real_a.detach(),
            "fake_B": fake_b.detach(),
            "rec_A": rec_a.detach(),
            "real_B": real_b.detach(),
            "fake_A": fake_a.detach(),
            "rec_B": rec_b.detach(),
        }
        return {name: float(value.detach()) for name, value in losses.items()}

    def _backward_d(self, name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        disc = self.fw[name]
        with self.precision.autocast():
            loss = (self.gan(disc(real), True) + self.gan(disc(fake), False)) * 0.5
            if self.loss_opts.gan_mode == "wgangp":
                loss = loss + gradient_penalty(disc, real, fake, weight=self.loss_opts.gp_weight)
        self.precision.backward("D", loss)
        return loss.detach()

    def extra_state(self) -> dict[str, Any]:
        return {name: pool.state_dict() for name, pool in self.pools.items()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        for name, pool in self.pools.items():
            if name in state:
                pool.load_state_dict(state[name])
