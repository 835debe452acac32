"""The ESRGAN / Real-ESRGAN super-resolution recipe, in its two stages.

- ``psnr`` (RealESRNet): the generator learns with an L1 loss against the (sharpened) target.
- ``gan`` (RealESRGAN): starting from a ``psnr`` generator, L1 + VGG19 perceptual loss + a
  vanilla GAN loss (weight 0.1) from a U-Net discriminator with spectral norm.

Low-resolution inputs are made from the high-resolution crops of each batch on the fly: the
second-order Real-ESRGAN degradations (blur, resize, noise, JPEG, twice) or a plain bicubic
downscale. Their randomness comes from the recipe's own generator, saved with every checkpoint,
so a resumed run continues exactly. An exponential moving average of the generator is kept and
is what gets exported (``G_ema``), as Real-ESRGAN releases ``params_ema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ganedit.archs import RRDBNet, SRVGGNetCompact
from ganedit.errors import GaneditError

from .config import OptimOptions, SRLoss, SRNetworkOptions, TrainConfig
from .degradations import DegradationConfig, bicubic_degrade, degrade, usm_sharp
from .ema import ModelEMA
from .losses import GANLoss
from .recipe import Precision, Recipe, Wrap, requires_grad
from .sr_data import HighResDataset
from .sr_discriminator import UNetDiscriminatorSN
from .sr_losses import PerceptualLoss

__all__ = ["SuperResolution", "build_sr_generator"]


def build_sr_generator(net: SRNetworkOptions) -> nn.Module:
    """RRDBNet or SRVGGNetCompact for ``net`` (3 channels in and out)."""
    if net.arch == "rrdb":
        return RRDBNet(
            scale=net.scale,
            num_feat=net.num_feat,
            num_block=net.num_block,
            num_grow_ch=net.num_grow_ch,
        )
    if net.arch == "srvgg":
        return SRVGGNetCompact(scale=net.scale, num_feat=net.num_feat, num_conv=net.num_conv)
    raise ValueError(f"unknown SR architecture {net.arch!r}: expected 'rrdb' or 'srvgg'")


def _initial_weights(source: str) -> dict[str, torch.Tensor]:
    """Generator weights from a run directory (its exported generator) or a checkpoint file."""
    from ganedit.archs import load_generator

    path = Path(source)
    if path.is_dir():
        from ganedit.export import run_generator

        path = run_generator(path, "AtoB")
    if not path.is_file():
        raise GaneditError(f"--init-from {source}: no such run directory or checkpoint file")
    return load_generator(path).module.state_dict()


class SuperResolution(Recipe):
    """Super-resolution training state and step.

    Batches are ``{"B": (B, 3, H, W)}`` high-resolution crops in ``[0, 1]``; ``H`` and ``W``
    must be multiples of the scale.
    """

    name = "sr"
    net_type = SRNetworkOptions
    loss_type = SRLoss
    generators: ClassVar[Mapping[str, str]] = MappingProxyType({"AtoB": "G_ema"})

    @classmethod
    def build_dataset(cls, config: TrainConfig, seed: int) -> Dataset[dict[str, Any]]:
        data = config.data
        return HighResDataset(
            data.root,
            crop_size=data.crop_size,
            seed=seed,
            flip=not data.no_flip,
            max_size=data.max_size,
        )

    def __init__(
        self,
        *,
        net: SRNetworkOptions,
        optim: OptimOptions,
        loss: SRLoss,
        device: torch.device,
        precision: Precision,
        seed: int,
        rank: int = 0,
        wrap: Wrap | None = None,
    ):
        super().__init__(device=device, precision=precision, wrap=wrap)
        self.opts = loss
        self.scale = net.scale
        torch.manual_seed(seed)  # the networks' own initialisation draws from the global RNG
        generator = build_sr_generator(net)
        if loss.init_from:
            try:
                generator.load_state_dict(_initial_weights(loss.init_from), strict=True)
            except RuntimeError as exc:  # another architecture, scale or size
                raise GaneditError(
                    f"--init-from {loss.init_from}: its generator does not fit this run's "
                    f"{net.arch} network; use the same --arch, --scale and sizes as that run "
                    f"({exc})"
                ) from exc
        generator.to(device)
        self.ema = ModelEMA(generator, decay=loss.ema_decay)
        self.nets = {"G": generator}
        if loss.stage == "gan":
            self.nets["D"] = UNetDiscriminatorSN(num_feat=net.d_num_feat).to(device)
        self._wrap_all()
        self.nets["G_ema"] = self.ema.module
        betas = (optim.beta1, optim.beta2)
        self.optimizers = {"G": self._adam(self.nets["G"].parameters(), optim.lr, betas)}
        if loss.stage == "gan":
            self.optimizers["D"] = self._adam(self.nets["D"].parameters(), optim.lr, betas)
            self.gan = GANLoss("vanilla").to(device)
            self.perceptual = PerceptualLoss(weights_path=loss.vgg_weights).to(device)
        self.degradation = DegradationConfig()
        self.rng = torch.Generator().manual_seed(seed * 1000 + rank)

    def _low_res(self, hr: torch.Tensor, sharpened: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.opts.degradation == "bicubic":
                return bicubic_degrade(hr, scale=self.scale)
            # Real-ESRGAN degrades the sharpened image (its feed_data filters gt_usm).
            return degrade(sharpened, scale=self.scale, config=self.degradation, generator=self.rng)

    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        hr = batch["B"].to(self.device, non_blocking=True)
        sharpened = hr
        if self.opts.usm_gt or self.opts.degradation != "bicubic":
            with torch.no_grad():  # costly on the CPU: only when it is used
                sharpened = usm_sharp(hr)
        lr = self._low_res(hr, sharpened)
        target = sharpened if self.opts.usm_gt else hr
        prec, opts = self.precision, self.opts
        gan = opts.stage == "gan"
        if gan:
            requires_grad([self.nets["D"]], False)
        self.optimizers["G"].zero_grad(set_to_none=True)
        with prec.autocast():
            out = self.fw["G"](lr)
            losses = {"l1": F.l1_loss(out, target) * opts.l1_weight}
            if gan:
                losses["percep"] = self.perceptual(out, target) * opts.perceptual_weight
                losses["gan"] = self.gan(self.nets["D"](out), True) * opts.gan_weight
            loss_g = sum(losses.values())
        prec.backward("G", loss_g)
        prec.step("G", self.optimizers["G"])

        if gan:
            # Real-ESRGAN: the discriminator sees the unsharpened target; two backward passes.
            requires_grad([self.nets["D"]], True)
            self.optimizers["D"].zero_grad(set_to_none=True)
            disc = self.fw["D"]
            with prec.autocast():
                loss_real = self.gan(disc(hr), True)
            prec.backward("D", loss_real)
            with prec.autocast():
                loss_fake = self.gan(disc(out.detach()), False)
            prec.backward("D", loss_fake)
            prec.step("D", self.optimizers["D"])
            losses["d_real"], losses["d_fake"] = loss_real.detach(), loss_fake.detach()

        self.ema.update(self.nets["G"])
        up = F.interpolate(lr.detach(), scale_factor=self.scale, mode="nearest")
        self.visuals = {"input": up * 2 - 1, "output": out.detach() * 2 - 1, "target": hr * 2 - 1}
        return {name: float(value.detach()) for name, value in losses.items()}

    def train(self) -> None:
        super().train()
        self.ema.module.eval()

    def extra_state(self) -> dict[str, Any]:
        return {"degradation_rng": self.rng.get_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "degradation_rng" in state:
            self.rng.set_state(state["degradation_rng"])
