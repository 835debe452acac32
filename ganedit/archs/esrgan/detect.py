"""Recognise ESRGAN-family checkpoints from their state dicts, convert old layouts, build them.

Detection reads only key names and tensor shapes.

RRDBNet, three key layouts (all converted to BasicSR's, see :mod:`ganedit.archs.esrgan.rrdb`):

- BasicSR / Real-ESRGAN: ``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``…,
  ``conv_hr``, ``conv_last``.
- ESRGAN's later release (also BSRGAN, RealSR): ``conv_first``, ``RRDB_trunk.N.RDB1.conv1``,
  ``trunk_conv``, ``upconv1``…, ``HRconv``, ``conv_last``.
- ESRGAN's first release (most community models): one flat ``model`` sequence: ``model.0``
  first conv, ``model.1.sub.N.RDB1.conv1.0`` blocks, ``model.1.sub.<num_block>`` body conv, then
  per ×2 stage ``[upsample, conv, act]`` so upconvs at ``model.3``, ``model.6``, ``model.9``, and
  finally the HR conv at ``model.(3K+2)`` and the last conv at ``model.(3K+4)`` for ``K``
  stages (``model.8`` and ``model.10`` for ×4).

Hyperparameters: ``num_feat`` and the input channels from ``conv_first`` ``(nf, in, 3, 3)``,
``num_grow_ch`` from ``body.0.rdb1.conv1`` ``(gc, nf, 3, 3)``, ``num_block`` from the block
indices, ``num_upsample`` from the ``conv_up`` keys, the output channels from ``conv_last``.
When ``conv_first`` takes 16 or 4 times the output channels, the input was pixel-unshuffled by
4 or 2 (Real-ESRGAN's ×1 and ×2 models) and the scale is ``2**num_upsample`` divided by that.

SRVGGNetCompact: only ``body.N.weight``/``body.N.bias`` keys; 4-D convolution weights at even
indices ``0, 2, …, 2n+2``, PReLU slopes (1-D) at the odd ones. The last convolution gives
``out * scale²`` channels; ``out`` is taken equal to ``in`` (the network adds its upsampled
input), which gives the scale.

Neither collides with the CycleGAN/pix2pix layouts: those have ``model.1.weight`` (ResNet) or
``model.model.0.weight`` (U-Net), which no ESRGAN file has, and ESRGAN's oldest layout is told by
``model.1.sub.0.RDB1.conv1.0.weight``, which no CycleGAN file has.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from ...errors import CheckpointError
from .. import _keys
from ..registry import ArchEntry, BuiltArch, StateDict
from .rrdb import RRDBNet
from .spec import UNSHUFFLE_FACTORS, RRDBNetSpec, SRVGGSpec
from .srvgg import SRVGGNetCompact

__all__ = [
    "RRDBNET_ENTRY",
    "SRVGG_ENTRY",
    "convert_rrdbnet_keys",
    "is_rrdbnet",
    "is_srvgg",
    "rrdbnet_spec",
    "srvgg_spec",
]

_BASICSR_KEYS = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_body.weight")
_ESRGAN_KEYS = ("conv_first.weight", "RRDB_trunk.0.RDB1.conv1.weight", "trunk_conv.weight")
_OLDEST_KEYS = ("model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight")

# ESRGAN's later release -> BasicSR, for keys that are renamed whole.
_ESRGAN_RENAMES = (
    (
        re.compile(r"^RRDB_trunk\.(\d+)\.RDB([123])\.(conv[1-5]\.(?:weight|bias))$"),
        r"body.\1.rdb\2.\3",
    ),
    (re.compile(r"^trunk_conv\.(weight|bias)$"), r"conv_body.\1"),
    (re.compile(r"^upconv(\d+)\.(weight|bias)$"), r"conv_up\1.\2"),
    (re.compile(r"^HRconv\.(weight|bias)$"), r"conv_hr.\1"),
)
_OLDEST_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)$")
_OLDEST_BODY_CONV = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")
_OLDEST_FLAT = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_SRVGG_KEY = re.compile(r"^body\.(\d+)\.(weight|bias)$")


def _is_conv3(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) == 4 and shape[2:] == (3, 3)


def _rrdbnet_layout(state_dict: StateDict) -> str | None:
    """``"basicsr"``, ``"esrgan"``, ``"oldest"`` or ``None``."""
    for layout, keys in (
        ("basicsr", _BASICSR_KEYS),
        ("esrgan", _ESRGAN_KEYS),
        ("oldest", _OLDEST_KEYS),
    ):
        if all(_is_conv3(_keys.shape(state_dict, key)) for key in keys):
            return layout
    return None


_NOT_RRDBNET = ("de_net.", "dd_embed.", "am_list.")


def is_rrdbnet(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` has one of the ESRGAN RRDBNet key layouts (any release).

    Not claimed, for spandrel to load (:mod:`ganedit.archs.imported`): ESRGAN+ files (RRDB
    blocks with ``conv1x1`` noise branches) and MM-RealSR files (an RRDBNet with a degradation
    estimator, ``de_net``/``dd_embed``/``am_list``), which ganedit's RRDBNet cannot hold.
    """
    if any(".conv1x1." in key or key.startswith(_NOT_RRDBNET) for key in state_dict):
        return False
    return _rrdbnet_layout(state_dict) is not None


def _convert_oldest(state_dict: StateDict) -> dict[str, torch.Tensor]:
    converted: dict[str, torch.Tensor] = {}
    flat: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if match := _OLDEST_BLOCK.match(key):
            block, rdb, conv, kind = match.groups()
            converted[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif match := _OLDEST_BODY_CONV.match(key):
            converted[f"conv_body.{match[2]}"] = value
        elif match := _OLDEST_FLAT.match(key):
            flat.setdefault(int(match[1]), {})[match[2]] = value
        else:
            converted[key] = value  # left for the strict load to report as unexpected
    body_convs = {key for key in state_dict if _OLDEST_BODY_CONV.match(key)}
    if len({key.split(".")[3] for key in body_convs}) > 1:
        raise CheckpointError(
            "ESRGAN (first-release layout): expected one body convolution "
            f"model.1.sub.<num_block>.weight, found {sorted(body_convs)}"
        )
    indices = sorted(flat)
    last = indices[-1] if indices else 0
    stages, rest = divmod(last - 4, 3)
    expected = [0, *(3 * i for i in range(1, stages + 1)), 3 * stages + 2, 3 * stages + 4]
    if rest or stages < 0 or indices != expected:
        found = ", ".join(f"model.{i}" for i in indices)
        raise CheckpointError(
            "ESRGAN (first-release layout): expected convolutions at model.0, model.3, model.6, "
            "… (one per ×2 nearest-neighbour upsampling), then the HR and last convolutions "
            f"two and four places after the last upsampling; found {found}. Models with "
            "pixel-shuffle upsampling or scale 3 are not supported"
        )
    names = {0: "conv_first", 3 * stages + 2: "conv_hr", 3 * stages + 4: "conv_last"}
    names.update({3 * i: f"conv_up{i}" for i in range(1, stages + 1)})
    for index, tensors in flat.items():
        for kind, value in tensors.items():
            converted[f"{names[index]}.{kind}"] = value
    return converted


def _convert_esrgan(state_dict: StateDict) -> dict[str, torch.Tensor]:
    converted: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        for pattern, replacement in _ESRGAN_RENAMES:
            if pattern.match(key):
                new = pattern.sub(replacement, key)
                break
        converted[new] = value
    return converted


def convert_rrdbnet_keys(state_dict: StateDict) -> dict[str, torch.Tensor]:
    """An RRDBNet state dict in any ESRGAN layout, with BasicSR's key names.

    Tensors are shared, not copied. A BasicSR-layout dict comes back unchanged (as a new dict);
    keys that belong to no known part are kept, so that the strict load reports them.

    Raises:
        CheckpointError: ``state_dict`` is in no RRDBNet layout, or its first-release layout has
            convolutions at unexpected indices (pixel-shuffle upsampling, scale 3).

    Example:
        >>> old = read_state_dict("RRDB_ESRGAN_x4.pth")  # doctest: +SKIP
        >>> "RRDB_trunk.0.RDB1.conv1.weight" in old  # doctest: +SKIP
        True
        >>> "body.0.rdb1.conv1.weight" in convert_rrdbnet_keys(old)  # doctest: +SKIP
        True
    """
    layout = _rrdbnet_layout(state_dict)
    if layout == "oldest":
        return _convert_oldest(state_dict)
    if layout == "esrgan":
        return _convert_esrgan(state_dict)
    if layout == "basicsr":
        return dict(state_dict)
    raise CheckpointError(
        "not an ESRGAN RRDBNet state dict: expected "
        f"{', '.join(_BASICSR_KEYS)} (BasicSR), {', '.join(_ESRGAN_KEYS)} (ESRGAN) or "
        f"{', '.join(_OLDEST_KEYS)} (ESRGAN's first release)"
    )


def _count_consecutive(state_dict: StateDict, template: str, start: int) -> int:
    n = start
    while template.format(n) in state_dict:
        n += 1
    return n - start


def rrdbnet_spec(state_dict: StateDict) -> RRDBNetSpec:
    """Read an RRDBNet's hyperparameters from a BasicSR-layout state dict's keys and shapes.

    Convert older layouts with :func:`convert_rrdbnet_keys` first.

    Raises:
        CheckpointError: A key is missing or has an unexpected shape; the message names it.
    """
    if any(".conv1x1." in key for key in state_dict):
        raise CheckpointError(
            "this is an ESRGAN+ model (RRDB blocks with conv1x1 noise branches), which is not "
            "supported"
        )
    shapes = {
        key: _keys.shape(state_dict, key) for key in ("conv_first.weight", "conv_last.weight")
    }
    shapes["body.0.rdb1.conv1.weight"] = _keys.shape(state_dict, "body.0.rdb1.conv1.weight")
    for key, shape in shapes.items():
        if not _is_conv3(shape):
            raise CheckpointError(
                f"{key} should be a 3×3 convolution weight, found "
                f"{'no such key' if shape is None else f'shape {shape}'}"
            )
    num_feat, first_in = shapes["conv_first.weight"][:2]  # type: ignore[index]
    out_channels = shapes["conv_last.weight"][0]  # type: ignore[index]
    num_grow_ch = shapes["body.0.rdb1.conv1.weight"][0]  # type: ignore[index]
    num_block = _count_consecutive(state_dict, "body.{}.rdb1.conv1.weight", 0)
    num_upsample = _count_consecutive(state_dict, "conv_up{}.weight", 1)
    for i in range(1, num_upsample + 1):
        shape = _keys.shape(state_dict, f"conv_up{i}.weight")
        if shape != (num_feat, num_feat, 3, 3):
            raise CheckpointError(
                f"conv_up{i}.weight should be ({num_feat}, {num_feat}, 3, 3) for nearest-"
                f"neighbour upsampling, found {shape}; pixel-shuffle upsampling is not supported"
            )
    # Real-ESRGAN's ×2 and ×1 models fold 2×2 or 4×4 pixel blocks into channels first.
    unshuffle = 1
    for factor in sorted(UNSHUFFLE_FACTORS, reverse=True):
        if factor > 1 and first_in == out_channels * factor**2 and 2**num_upsample >= factor:
            unshuffle = factor
            break
    try:
        return RRDBNetSpec(
            in_channels=first_in // unshuffle**2,
            out_channels=out_channels,
            scale=2**num_upsample // unshuffle,
            num_feat=num_feat,
            num_block=num_block,
            num_grow_ch=num_grow_ch,
            num_upsample=num_upsample,
        )
    except ValueError as exc:
        raise CheckpointError(f"the RRDBNet shapes are inconsistent: {exc}") from exc


def is_srvgg(state_dict: StateDict) -> bool:
    """Whether ``state_dict`` has the key layout of a Real-ESRGAN SRVGGNetCompact."""
    return (
        bool(state_dict)
        and all(_SRVGG_KEY.match(key) for key in state_dict)
        and _is_conv3(_keys.shape(state_dict, "body.0.weight"))
        and _is_conv3(_keys.shape(state_dict, "body.2.weight"))
    )


def srvgg_spec(state_dict: StateDict) -> SRVGGSpec:
    """Read an SRVGGNetCompact's hyperparameters from its keys and shapes.

    Raises:
        CheckpointError: Convolutions sit at unexpected indices, the last one's channels are not
            ``in * scale²``, or the activations carry no weights (ReLU and LeakyReLU cannot be
            told apart from the file; every official model uses PReLU).
    """
    convs: dict[int, tuple[int, ...]] = {}
    slopes: dict[int, tuple[int, ...]] = {}
    for key, value in state_dict.items():
        match = _SRVGG_KEY.match(key)
        if match is None or match[2] != "weight":
            continue
        (convs if value.ndim == 4 else slopes)[int(match[1])] = tuple(value.shape)
    last = max(convs, default=0)
    num_conv = last // 2 - 1
    if num_conv < 0 or sorted(convs) != list(range(0, last + 1, 2)):
        raise CheckpointError(
            "SRVGGNetCompact convolutions should sit at body.0, body.2, …, body.<2n+2>, found "
            f"them at {', '.join(f'body.{i}' for i in sorted(convs))}"
        )
    num_feat, in_channels = convs[0][:2]
    if slopes:
        expected_slopes = list(range(1, last, 2))
        bad = [i for i, shape in slopes.items() if shape != (num_feat,)]
        if sorted(slopes) != expected_slopes or bad:
            raise CheckpointError(
                f"PReLU weights of shape ({num_feat},) should sit at body.1, body.3, …, "
                f"body.{last - 1}, found {sorted(slopes.items())}"
            )
    else:
        raise CheckpointError(
            "this SRVGGNetCompact has activations without weights (ReLU or LeakyReLU), which "
            "cannot be told apart from the file; build SRVGGNetCompact(act_type=...) yourself "
            "and load the state dict into it"
        )
    pixels = convs[last][0]
    scale = math.isqrt(pixels // in_channels) if pixels % in_channels == 0 else 0
    if scale < 1 or scale * scale * in_channels != pixels:
        raise CheckpointError(
            f"the last convolution body.{last}.weight gives {pixels} channels, expected "
            f"{in_channels} × scale² (the output has as many channels as the input)"
        )
    return SRVGGSpec(
        in_channels=in_channels,
        out_channels=in_channels,
        scale=scale,
        num_feat=num_feat,
        num_conv=num_conv,
        act_type="prelu",
    )


def _build_rrdbnet(state_dict: StateDict) -> BuiltArch:
    spec = rrdbnet_spec(state_dict)
    return BuiltArch(module=RRDBNet.from_spec(spec), spec=spec)


def _build_srvgg(state_dict: StateDict) -> BuiltArch:
    spec = srvgg_spec(state_dict)
    return BuiltArch(module=SRVGGNetCompact.from_spec(spec), spec=spec)


def _example_rrdbnet() -> nn.Module:
    # ×2: the example also covers the pixel-unshuffle input and its size multiple.
    return RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4)


def _example_srvgg() -> nn.Module:
    return SRVGGNetCompact(scale=4, num_feat=8, num_conv=1)


RRDBNET_ENTRY = ArchEntry(
    id="esrgan_rrdbnet",
    description=(
        "an ESRGAN/Real-ESRGAN RRDBNet (conv_first.weight, body.0.rdb1.conv1.weight, …; or "
        "RRDB_trunk.0.RDB1.conv1.weight, …; or model.0.weight, "
        "model.1.sub.0.RDB1.conv1.0.weight, …)"
    ),
    detect=is_rrdbnet,
    build=_build_rrdbnet,
    example=_example_rrdbnet,
    convert=convert_rrdbnet_keys,
)

SRVGG_ENTRY = ArchEntry(
    id="realesrgan_srvgg",
    description="a Real-ESRGAN SRVGGNetCompact (body.0.weight, body.1.weight, body.2.weight, …)",
    detect=is_srvgg,
    build=_build_srvgg,
    example=_example_srvgg,
)
