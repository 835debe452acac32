"""Recognise the gated-convolution inpainting generator from its state dict, and build it.

Detection reads only key names and tensor shapes (see :mod:`ganedit.archs.inpaint.network` for
the layout): ``coarse.encoder.0.conv.weight`` is the first gated convolution
``(2·ngf, C + 1, 5, 5)``, which gives ``ngf`` and the image channels ``C``, and
``refine.to_image.weight`` the last plain convolution ``(C, ngf // 2, 3, 3)``.
"""

from __future__ import annotations

from torch import nn

from ...errors import CheckpointError
from .. import _keys
from ..registry import ArchEntry, BuiltArch, StateDict
from .network import InpaintGenerator
from .spec import InpaintSpec

__all__ = ["INPAINT_ENTRY", "inpaint_spec", "is_inpaint"]

_FIRST_KEY = "coarse.encoder.0.conv.weight"
_LAST_KEY = "refine.to_image.weight"


def is_inpaint(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` has the key layout of :class:`InpaintGenerator`."""
    first = _keys.conv_shape(state_dict, _FIRST_KEY)
    return (
        first is not None
        and first[2:] == (5, 5)
        and _keys.conv_shape(state_dict, _LAST_KEY) is not None
    )


def inpaint_spec(state_dict: StateDict) -> InpaintSpec:
    """Read an inpainting generator's ``ngf`` and image channels from its shapes.

    Raises:
        CheckpointError: The first or last convolution has an inconsistent shape.
    """
    first = _keys.conv_shape(state_dict, _FIRST_KEY)
    last = _keys.conv_shape(state_dict, _LAST_KEY)
    if first is None or last is None:
        raise CheckpointError(
            f"{_FIRST_KEY} and {_LAST_KEY} should be 4-D convolution weights, got {first} "
            f"and {last}"
        )
    if first[0] % 4 or first[1] < 2:
        raise CheckpointError(
            f"{_FIRST_KEY} should be (2·ngf, channels + 1, 5, 5) with an even ngf, got {first}"
        )
    spec = InpaintSpec(ngf=first[0] // 2, in_channels=first[1] - 1)
    expected = (spec.in_channels, spec.ngf // 2, 3, 3)
    if last != expected:
        raise CheckpointError(
            f"with ngf {spec.ngf} and {spec.in_channels} image channels, {_LAST_KEY} should be "
            f"{expected}, got {last}"
        )
    return spec


def _build_inpaint(state_dict: StateDict) -> BuiltArch:
    spec = inpaint_spec(state_dict)
    return BuiltArch(module=InpaintGenerator.from_spec(spec), spec=spec)


def _example_inpaint() -> nn.Module:
    return InpaintGenerator(ngf=4)


INPAINT_ENTRY = ArchEntry(
    id="gated_inpaint",
    description=(
        "a ganedit gated-convolution inpainting generator (coarse.encoder.0.conv.weight, "
        "refine.to_image.weight, …)"
    ),
    detect=is_inpaint,
    build=_build_inpaint,
    example=_example_inpaint,
)
