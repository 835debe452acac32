"""VGG19 perceptual loss for super-resolution (BasicSR's ``PerceptualLoss``, content term).

The adversarial term of Real-ESRGAN is :class:`~ganedit.train.losses.GANLoss` ``("vanilla")``
with weight 0.1; it is not repeated here.

The VGG19 ImageNet weights are torchvision's ``vgg19-dcbb9e9d.pth``. Nothing is downloaded: the
file must be in torch hub's cache or given as ``weights_path``, otherwise
:class:`VGGWeightsNotFoundError` says where to put it.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ganedit.errors import GaneditError

__all__ = [
    "REALESRGAN_LAYER_WEIGHTS",
    "VGG19_LAYER_NAMES",
    "VGG19_URL",
    "PerceptualLoss",
    "VGGWeightsNotFoundError",
    "tiny_vgg19",
    "vgg19_features",
]

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
_VGG19_FILE = "vgg19-dcbb9e9d.pth"
# Convolutions per block of VGG19 (configuration "E"); each block ends with a max-pool.
_BLOCKS = (2, 2, 4, 4, 4)
_WIDTHS = (64, 128, 256, 512, 512)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    for block, convs in enumerate(_BLOCKS, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


VGG19_LAYER_NAMES = _layer_names()
"""BasicSR's names of ``vgg19().features``' 37 modules, in order (``conv1_1`` is index 0)."""

REALESRGAN_LAYER_WEIGHTS: Mapping[str, float] = types.MappingProxyType(
    {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
)
"""Real-ESRGAN's layer weights; ``conv*`` names are features before the ReLU."""

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGGWeightsNotFoundError(GaneditError, FileNotFoundError):
    """The VGG19 ImageNet weights needed by the perceptual loss are not on this machine."""


def vgg19_features(widths: tuple[int, ...] = _WIDTHS) -> nn.Sequential:
    """An uninitialised VGG19 feature stack with torchvision's layout (``0.weight`` … ``34``).

    Args:
        widths: Channels of the five blocks; the default is VGG19's ``(64, 128, 256, 512, 512)``.
    """
    layers: list[nn.Module] = []
    channels = 3
    for convs, width in zip(_BLOCKS, widths, strict=True):
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=False)]
            channels = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def tiny_vgg19(width: int = 4, *, seed: int = 0) -> nn.Sequential:
    """For tests only: VGG19's layer layout with ``width·(1, 2, 4, 8, 8)`` channels, random weights.

    Args:
        width: Channels of the first block.
        seed: Seed of the weights (a private generator; the global RNG is not used).
    """
    net = vgg19_features(tuple(width * m for m in (1, 2, 4, 8, 8)))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.Conv2d):
                fan_in = module.in_channels * 9
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
                module.bias.zero_()
    return net


def _default_weights_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / _VGG19_FILE


def _load_vgg19(weights_path: str | Path | None) -> nn.Sequential:
    path = Path(weights_path) if weights_path is not None else _default_weights_file()
    if not path.is_file():
        where = f"{path} does not exist" if weights_path is not None else f"not found at {path}"
        raise VGGWeightsNotFoundError(
            f"the perceptual loss needs torchvision's VGG19 ImageNet weights ({_VGG19_FILE}), "
            f"{where}. Nothing is downloaded during training: fetch {VGG19_URL} on a machine "
            f"with internet access and either put it at {_default_weights_file()} (torch hub's "
            "cache, torch.hub.get_dir()/checkpoints) or pass its path with --vgg-weights FILE."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which
        raise GaneditError(f"{path}: cannot read VGG19 weights: {exc}") from exc
    # torchvision's file holds the whole classifier too; a features-only dict is accepted as well.
    if any(key.startswith("features.") for key in state):
        state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    net = vgg19_features()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise GaneditError(
            f"{path}: not torchvision's VGG19 weights ({_VGG19_FILE} from {VGG19_URL}): {exc}"
        ) from exc
    return net


class PerceptualLoss(nn.Module):
    """Weighted distance between VGG19 features of the output and the target.

    ``perceptual_weight · Σₖ wₖ · criterion(φₖ(x), φₖ(gt))`` over the layers ``k`` named in
    ``layer_weights`` (BasicSR names, ``conv*`` taken before the ReLU). The target's features
    are computed without gradients. The VGG is frozen and in eval mode. BasicSR's style (Gram)
    term is not implemented: Real-ESRGAN sets its weight to 0.

    Args:
        layer_weights: Layer name -> weight (Real-ESRGAN's by default).
        vgg: A VGG19 feature stack with torchvision's layout to use instead of loading weights —
            for tests (:func:`tiny_vgg19`). It is frozen in place.
        weights_path: torchvision's ``vgg19-dcbb9e9d.pth``; ``None`` looks in torch hub's cache.
        use_input_norm: Normalise inputs with the ImageNet mean and std.
        range_norm: Map inputs from ``[-1, 1]`` to ``[0, 1]`` first.
        criterion: ``"l1"`` (mean absolute), ``"l2"`` (mean squared) or ``"fro"`` (Frobenius
            norm of the difference, not averaged, as BasicSR).
        perceptual_weight: Multiplier of the whole loss.

    Raises:
        VGGWeightsNotFoundError: No ``vgg`` given and the weights file is not on this machine.
        GaneditError: The weights file cannot be read or is not VGG19's.
        ValueError: Unknown layer name or criterion.

    Example:
        >>> loss = PerceptualLoss(weights_path="vgg19-dcbb9e9d.pth")
        >>> loss(sr, usm_sharp(hr)).backward()   # (B, 3, H, W) in [0, 1]
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self,
        layer_weights: Mapping[str, float] = REALESRGAN_LAYER_WEIGHTS,
        *,
        vgg: nn.Module | None = None,
        weights_path: str | Path | None = None,
        use_input_norm: bool = True,
        range_norm: bool = False,
        criterion: Literal["l1", "l2", "fro"] = "l1",
        perceptual_weight: float = 1.0,
    ) -> None:
        super().__init__()
        unknown = set(layer_weights) - set(VGG19_LAYER_NAMES)
        if not layer_weights or unknown:
            raise ValueError(
                f"layer_weights must name VGG19 layers such as conv3_4 or relu5_4, got "
                f"{sorted(layer_weights)} (unknown: {sorted(unknown)})"
            )
        if criterion not in ("l1", "l2", "fro"):
            raise ValueError(f"criterion must be 'l1', 'l2' or 'fro', got {criterion!r}")
        self.layer_weights = dict(layer_weights)
        self.criterion = criterion
        self.perceptual_weight = float(perceptual_weight)
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        net = vgg if vgg is not None else _load_vgg19(weights_path)
        last = max(VGG19_LAYER_NAMES.index(name) for name in self.layer_weights)
        layers = list(net.children())
        if len(layers) <= last:
            raise ValueError(f"the VGG has {len(layers)} layers, need {last + 1} (torchvision's)")
        # Only the layers up to the deepest one used; in-place ReLUs would overwrite features.
        self.vgg = nn.Sequential(*layers[: last + 1])
        for module in self.vgg:
            if isinstance(module, nn.ReLU):
                module.inplace = False
        self.vgg.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.vgg.eval()  # frozen: never in training mode
        return self

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named features of ``x`` ``(B, 3, H, W)`` for the layers in ``layer_weights``."""
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = {}
        for name, layer in zip(VGG19_LAYER_NAMES, self.vgg, strict=False):
            x = layer(x)
            if name in self.layer_weights:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """The loss of ``x`` against ``gt``, both ``(B, 3, H, W)`` in ``[0, 1]``
        (``[-1, 1]`` with ``range_norm``). Returns a scalar with gradients to ``x``."""
        if x.shape != gt.shape:
            raise ValueError(f"x and gt differ in shape: {tuple(x.shape)} vs {tuple(gt.shape)}")
        x_feats = self.features(x)
        with torch.no_grad():
            gt_feats = self.features(gt.detach())
        total = x.new_zeros(())
        for name, weight in self.layer_weights.items():
            a, b = x_feats[name], gt_feats[name]
            if self.criterion == "l1":
                term = F.l1_loss(a, b)
            elif self.criterion == "l2":
                term = F.mse_loss(a, b)
            else:
                term = torch.linalg.vector_norm(a - b)
            total = total + term * weight
        return total * self.perceptual_weight

    def extra_repr(self) -> str:
        return f"layers={self.layer_weights}, criterion={self.criterion!r}"
