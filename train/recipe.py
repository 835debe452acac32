"""What a training recipe is: networks, optimisers and one step; shared building blocks."""

from __future__ import annotations

import abc
import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from ganedit.archs import ArchSpec, NLayerDiscriminator

from .config import (
    CycleGANLoss,
    InpaintLoss,
    InpaintNetworkOptions,
    NetworkOptions,
    Pix2PixLoss,
    SRLoss,
    SRNetworkOptions,
    TrainConfig,
)
from .data import PreprocessConfig, make_dataset
from .init import init_weights

__all__ = ["Precision", "Recipe", "build_discriminator", "generator_spec", "requires_grad"]

Wrap = Callable[[nn.Module], nn.Module]


def generator_spec(opts: NetworkOptions, *, in_channels: int, out_channels: int) -> ArchSpec:
    """The spec of the generator ``opts.net_g`` names (``resnet_<n>blocks`` or ``unet_<size>``).

    Build it with :func:`ganedit.archs.build_generator`.

    Raises:
        ValueError: ``opts.net_g`` is not a generator id (see
            :func:`ganedit.archs.cyclegan.spec.parse_arch_id`) or a value is out of range.

    Example:
        >>> spec = generator_spec(NetworkOptions(net_g="unet_256"), in_channels=3, out_channels=1)
        >>> spec.family, spec.num_downs
        ('unet', 8)
    """
    return ArchSpec.from_arch_id(
        opts.net_g,
        in_channels=in_channels,
        out_channels=out_channels,
        ngf=opts.ngf,
        norm=opts.norm,
        use_dropout=opts.dropout,
    )


def build_discriminator(opts: NetworkOptions, *, in_channels: int) -> nn.Module:
    """The PatchGAN discriminator (``n_layers_d`` = 3 gives 70×70 patches)."""
    return NLayerDiscriminator(
        in_channels=in_channels, ndf=opts.ndf, n_layers=opts.n_layers_d, norm=opts.norm
    )


def requires_grad(nets: list[nn.Module], flag: bool) -> None:
    """Switch gradients of whole networks on or off (the discriminators during G's step)."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


@dataclasses.dataclass
class Precision:
    """Mixed precision on CUDA: float16 autocast and one gradient scaler per optimiser."""

    device: torch.device
    enabled: bool = False
    scalers: dict[str, torch.amp.GradScaler] = dataclasses.field(default_factory=dict)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.float16)

    def backward(self, name: str, loss: torch.Tensor) -> None:
        if self.enabled:
            loss = self._scaler(name).scale(loss)
        loss.backward()

    def step(self, name: str, optimizer: torch.optim.Optimizer) -> None:
        if self.enabled:
            scaler = self._scaler(name)
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    def _scaler(self, name: str) -> torch.amp.GradScaler:
        if name not in self.scalers:
            self.scalers[name] = torch.amp.GradScaler(self.device.type)
        return self.scalers[name]

    def state_dict(self) -> dict[str, Any]:
        return {name: scaler.state_dict() for name, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, scaler_state in state.items():
            self._scaler(name).load_state_dict(scaler_state)


class Recipe(abc.ABC):
    """A training recipe: named networks, named optimisers, and one optimisation step.

    Subclasses fill :attr:`nets` (saved in the reference layout), :attr:`optimizers`,
    :attr:`generators` (export direction -> network name), and implement :meth:`step`.

    A recipe's identity is its class attributes, read by the loop (``RECIPES``), by
    :meth:`TrainConfig.from_dict <ganedit.train.config.TrainConfig.from_dict>` and by the CLI:
    :attr:`name` (``TrainConfig.recipe``), :attr:`net_type` and :attr:`loss_type` (the option
    classes of ``TrainConfig.net`` and ``TrainConfig.loss``).
    """

    name: ClassVar[str]
    net_type: ClassVar[type[NetworkOptions | SRNetworkOptions | InpaintNetworkOptions]]
    loss_type: ClassVar[type[CycleGANLoss | Pix2PixLoss | SRLoss | InpaintLoss]]
    nets: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    generators: ClassVar[Mapping[str, str]]

    def __init__(self, *, device: torch.device, precision: Precision, wrap: Wrap | None = None):
        self.device = device
        self.precision = precision
        self._wrap = wrap or (lambda net: net)
        self.visuals: dict[str, torch.Tensor] = {}

    def _adam(self, params: Iterator[nn.Parameter], lr: float, betas: tuple[float, float]):
        return torch.optim.Adam(params, lr=lr, betas=betas)

    def _init(self, generator: torch.Generator, init_type: str, gain: float) -> None:
        for net in self.nets.values():
            init_weights(net, init_type=init_type, gain=gain, generator=generator)
            net.to(self.device)

    def _wrap_all(self) -> None:
        """``fw``: the networks as forward passes use them (DDP-wrapped when distributed);
        ``nets`` keeps the plain modules (what is saved, and what frozen passes use)."""
        self.fw = {name: self._wrap(module) for name, module in self.nets.items()}
        self.nets = {name: getattr(net, "module", net) for name, net in self.fw.items()}

    @classmethod
    def build_dataset(cls, config: TrainConfig, seed: int) -> Dataset[dict[str, Any]]:
        """The training dataset for ``config`` (translation layouts; recipes may override)."""
        data = config.data
        return make_dataset(
            data.root,
            mode=data.mode,
            phase="train",
            direction=data.direction,
            preprocess=PreprocessConfig(
                load_size=data.load_size,
                crop_size=data.crop_size,
                preprocess=data.preprocess,
                no_flip=data.no_flip,
            ),
            seed=seed,
            in_channels=config.net.in_channels,
            out_channels=config.net.out_channels,
            max_size=data.max_size,
        )

    @abc.abstractmethod
    def step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One optimisation step on a batch; returns the losses."""

    def extra_state(self) -> dict[str, Any]:
        """Recipe state beyond networks and optimisers (image pools)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`."""
        if state:
            raise ValueError(f"{self.name} keeps no extra state, got {sorted(state)}")

    def train(self) -> None:
        for net in self.nets.values():
            net.train()
