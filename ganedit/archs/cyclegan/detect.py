"""Recognise CycleGAN/pix2pix generators from their state dicts, and build them.

Detection reads only key names and tensor shapes:

- ResNet: ``model.1.weight`` is the 7×7 first convolution ``(ngf, in, 7, 7)``; the residual
  blocks sit at ``model.10 … model.(9+n)``; the last convolution ``model.(17+n).weight`` is
  ``(out, ngf, 7, 7)``. Inside a block, the first convolution is ``conv_block.1`` with
  reflection padding and ``conv_block.0`` with zero padding, and a dropout layer shifts the
  second one by one index.
- U-Net: ``model.model.0.weight`` is the outermost 4×4 convolution ``(ngf, in, 4, 4)`` and
  ``model.model.3.weight`` the outermost transposed one ``(2ngf, out, 4, 4)``; the depth is found
  by following ``model.3.`` (the submodule slot of a middle block) down to the innermost block.
- Norm: convolutions carry a bias only with instance norm; batch norm has
  ``weight``/``running_mean`` keys; no norm has neither.
"""

from __future__ import annotations

import re

from torch import nn

from ...errors import CheckpointError
from .. import _keys
from ..norm import use_image_statistics
from ..registry import ArchEntry, BuiltArch, StateDict
from .resnet import ResnetGenerator
from .spec import ArchSpec, NormType, PaddingType
from .unet import UnetGenerator

__all__ = [
    "RESNET_ENTRY",
    "UNET_ENTRY",
    "build_generator",
    "is_resnet",
    "is_unet",
    "resnet_spec",
    "unet_spec",
]

_BLOCK_CONV = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.weight$")
_FIRST_BLOCK = 10  # pad, conv, norm, relu + 2 × (conv, norm, relu)
_LAST_CONV_AFTER_BLOCKS = 17  # model.(17 + n) is the final 7×7 convolution
_MAX_UNET_DEPTH = 16


def _norm_from_keys(state_dict: StateDict, *, conv: str, norm: str) -> NormType:
    if f"{conv}.bias" in state_dict:
        return "instance"
    if f"{norm}.weight" in state_dict or f"{norm}.running_mean" in state_dict:
        return "batch"
    return "none"


def is_resnet(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` has the key layout of a CycleGAN/pix2pix ResNet generator."""
    first = _keys.shape(state_dict, "model.1.weight")
    return (
        first is not None
        and len(first) == 4
        and first[2:] == (7, 7)
        and _keys.shape(state_dict, "model.4.weight") is not None
    )


def resnet_spec(state_dict: StateDict) -> ArchSpec:
    """Read a ResNet generator's hyperparameters from its keys and shapes.

    Raises:
        CheckpointError: The layout is close to the reference's but inconsistent; the message
            says which key was expected.
    """
    first = _keys.shape(state_dict, "model.1.weight")
    if first is None or len(first) != 4:
        raise CheckpointError(f"model.1.weight should be a 4-D convolution weight, got {first}")
    ngf, in_channels = first[0], first[1]
    norm = _norm_from_keys(state_dict, conv="model.1", norm="model.2")

    convs_per_block: dict[int, set[int]] = {}
    for key, tensor in state_dict.items():
        match = _BLOCK_CONV.match(key)
        if match and tensor.ndim == 4:
            convs_per_block.setdefault(int(match[1]), set()).add(int(match[2]))
    n_blocks = len(convs_per_block)
    expected_blocks = list(range(_FIRST_BLOCK, _FIRST_BLOCK + n_blocks))
    if sorted(convs_per_block) != expected_blocks:
        found = ", ".join(f"model.{i}" for i in sorted(convs_per_block))
        raise CheckpointError(
            f"residual blocks should sit at consecutive indices from model.{_FIRST_BLOCK}, "
            f"found them at {found}"
        )

    padding_type: PaddingType = "reflect"
    use_dropout = False
    if n_blocks:
        layouts = {tuple(sorted(convs)) for convs in convs_per_block.values()}
        layout = layouts.pop()
        # (first conv, second conv) index in conv_block for each padding and dropout setting.
        known: dict[tuple[int, ...], tuple[PaddingType, bool]] = {
            (1, 5): ("reflect", False),
            (1, 6): ("reflect", True),
            (0, 3): ("zero", False),
            (0, 4): ("zero", True),
        }
        if layouts or layout not in known:
            raise CheckpointError(
                "residual blocks should hold convolutions at conv_block.1 and conv_block.5 "
                "(reflection padding; .6 with dropout) or conv_block.0 and conv_block.3 (zero "
                f"padding; .4 with dropout), found conv_block indices {sorted({layout, *layouts})}"
            )
        padding_type, use_dropout = known[layout]

    last_key = f"model.{_LAST_CONV_AFTER_BLOCKS + n_blocks}.weight"
    last = _keys.shape(state_dict, last_key)
    if last is None or len(last) != 4:
        raise CheckpointError(
            f"with {n_blocks} residual blocks the last convolution should be {last_key}, "
            f"found {'no such key' if last is None else f'shape {last}'}"
        )
    return ArchSpec(
        family="resnet",
        in_channels=in_channels,
        out_channels=last[0],
        ngf=ngf,
        norm=norm,
        n_blocks=n_blocks,
        use_dropout=use_dropout,
        padding_type=padding_type,
    )


def is_unet(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` has the key layout of a CycleGAN/pix2pix U-Net generator."""
    down = _keys.shape(state_dict, "model.model.0.weight")
    up = _keys.shape(state_dict, "model.model.3.weight")
    return (
        down is not None
        and up is not None
        and len(down) == 4
        and len(up) == 4
        and down[2:] == (4, 4)
        and up[2:] == (4, 4)
    )


def unet_spec(state_dict: StateDict) -> ArchSpec:
    """Read a U-Net generator's hyperparameters from its keys and shapes.

    Dropout cannot be read (dropout layers have no weights), so ``use_dropout`` is ``None``.

    Raises:
        CheckpointError: The nesting does not end in an innermost block, or is shallower than
            the reference allows (5 downsamplings).
    """
    down = _keys.shape(state_dict, "model.model.0.weight")
    up = _keys.shape(state_dict, "model.model.3.weight")
    if down is None or up is None or len(down) != 4 or len(up) != 4:
        raise CheckpointError(
            "model.model.0.weight and model.model.3.weight should be 4-D convolution weights, "
            f"got {down} and {up}"
        )
    ngf, in_channels = down[0], down[1]
    out_channels = up[1]  # ConvTranspose2d weights are (in, out, kH, kW)
    norm = _norm_from_keys(state_dict, conv="model.model.0", norm="model.model.1.model.2")

    prefix = "model.model.1."
    num_downs = 1
    while True:
        num_downs += 1
        if f"{prefix}model.3.model.1.weight" in state_dict:
            prefix += "model.3."
        elif f"{prefix}model.1.weight" in state_dict and f"{prefix}model.3.weight" in state_dict:
            break
        else:
            raise CheckpointError(
                f"U-Net level {num_downs} should hold a submodule ({prefix}model.3.model.1.weight) "
                f"or be the innermost block ({prefix}model.1.weight and {prefix}model.3.weight); "
                "found neither"
            )
        if num_downs > _MAX_UNET_DEPTH:
            raise CheckpointError(f"U-Net nests deeper than {_MAX_UNET_DEPTH} levels")
    if num_downs < 5:
        raise CheckpointError(
            f"U-Net has {num_downs} downsamplings; the reference builds at least 5"
        )
    return ArchSpec(
        family="unet",
        in_channels=in_channels,
        out_channels=out_channels,
        ngf=ngf,
        norm=norm,
        num_downs=num_downs,
    )


def build_generator(spec: ArchSpec) -> nn.Module:
    """A freshly initialised generator for ``spec``, in training form (plain batch norm).

    Example:
        >>> spec = ArchSpec(family="unet", in_channels=3, out_channels=3, ngf=8,
        ...                 norm="batch", num_downs=8)
        >>> type(build_generator(spec)).__name__
        'UnetGenerator'
    """
    if spec.family == "resnet":
        return ResnetGenerator(
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            ngf=spec.ngf,
            norm=spec.norm,
            use_dropout=bool(spec.use_dropout),
            n_blocks=spec.n_blocks or 0,
            padding_type=spec.padding_type or "reflect",
        )
    return UnetGenerator(
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        num_downs=spec.num_downs or 0,
        ngf=spec.ngf,
        norm=spec.norm,
        use_dropout=bool(spec.use_dropout),
    )


def _build_for_inference(spec: ArchSpec) -> BuiltArch:
    # The reference tests with batch norm on per-image statistics; see ImageStatsBatchNorm2d.
    return BuiltArch(module=use_image_statistics(build_generator(spec)), spec=spec)


def _build_resnet(state_dict: StateDict) -> BuiltArch:
    return _build_for_inference(resnet_spec(state_dict))


def _build_unet(state_dict: StateDict) -> BuiltArch:
    return _build_for_inference(unet_spec(state_dict))


def _example_resnet() -> nn.Module:
    return ResnetGenerator(ngf=4, n_blocks=1)


def _example_unet() -> nn.Module:
    # Batch norm, so that the example also covers per-image statistics and norm buffers.
    return UnetGenerator(ngf=4, num_downs=5, norm="batch")


RESNET_ENTRY = ArchEntry(
    id="cyclegan_resnet",
    description=(
        "a CycleGAN/pix2pix ResNet generator (model.1.weight, model.4.weight, "
        "model.10.conv_block.1.weight, …)"
    ),
    detect=is_resnet,
    build=_build_resnet,
    example=_example_resnet,
)

UNET_ENTRY = ArchEntry(
    id="pix2pix_unet",
    description=(
        "a CycleGAN/pix2pix U-Net generator (model.model.0.weight, model.model.3.weight, "
        "model.model.1.model.1.weight, …)"
    ),
    detect=is_unet,
    build=_build_unet,
    example=_example_unet,
)
