"""What a super-resolution checkpoint is: ESRGAN-family hyperparameters and size requirements.

This module is torch-free, like :mod:`ganedit.archs.cyclegan.spec`; both specs implement
:class:`~ganedit.archs.registry.ModelSpec`, so the exporter writes their model cards unchanged.

Architecture ids:

- ``"rrdbnet_x<scale>_<num_block>b_<num_feat>f"``: an ESRGAN / Real-ESRGAN RRDBNet, e.g.
  ``rrdbnet_x4_23b_64f`` (RealESRGAN_x4plus, ESRGAN) or ``rrdbnet_x4_6b_64f``
  (RealESRGAN_x4plus_anime_6B). The growth channels (32 in every official model), the number of
  ×2 upsampling stages and the pixel-unshuffle factor are in the card's extra fields.
- ``"srvgg_x<scale>_<num_conv>c_<num_feat>f_<act>"``: a Real-ESRGAN SRVGGNetCompact, e.g.
  ``srvgg_x4_32c_64f_prelu`` (realesr-general-x4v3) or ``srvgg_x4_16c_64f_prelu``
  (realesr-animevideov3).

Both take and return images in ``[0, 1]``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

__all__ = [
    "ACT_TYPES",
    "ActType",
    "RRDBNetSpec",
    "SRVGGSpec",
    "rrdbnet_arch_id",
    "srvgg_arch_id",
]

ActType = Literal["prelu", "relu", "leakyrelu"]
ACT_TYPES: tuple[ActType, ...] = ("prelu", "relu", "leakyrelu")
# Factors by which RRDBNet folds pixels into channels before its body (BasicSR: ×2 models use 2,
# ×1 models use 4).
UNSHUFFLE_FACTORS = (1, 2, 4)


def rrdbnet_arch_id(*, scale: int, num_block: int, num_feat: int) -> str:
    """The id of an RRDBNet, e.g. ``rrdbnet_arch_id(scale=4, num_block=23, num_feat=64)``
    is ``"rrdbnet_x4_23b_64f"``."""
    return f"rrdbnet_x{scale}_{num_block}b_{num_feat}f"


def srvgg_arch_id(*, scale: int, num_conv: int, num_feat: int, act_type: str) -> str:
    """The id of an SRVGGNetCompact, e.g. ``"srvgg_x4_32c_64f_prelu"``."""
    return f"srvgg_x{scale}_{num_conv}c_{num_feat}f_{act_type}"


def _positive(spec: object, names: tuple[str, ...]) -> list[str]:
    problems = []
    for name in names:
        value = getattr(spec, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"{name} must be a positive integer, got {value!r}")
    return problems


class _UpscaleSpec:
    """What every super-resolution spec shares: task, [0, 1] ranges, tiling, no batch norm."""

    #: The exported graph is right at any batch size.
    max_batch: ClassVar[None] = None
    #: Exported to ONNX (nothing to say why not).
    export_note: ClassVar[None] = None

    @property
    def task(self) -> Literal["upscale"]:
        return "upscale"

    @property
    def input_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def output_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def tiling(self) -> Literal["ok"]:
        """Always ``"ok"``: no normalisation layers, the receptive field is local."""
        return "ok"

    @property
    def norm_stats(self) -> None:
        return None

    @property
    def mask(self) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class RRDBNetSpec(_UpscaleSpec):
    """An ESRGAN-family RRDBNet, as read from a checkpoint's keys and tensor shapes.

    The network pixel-unshuffles its input by ``unshuffle`` (``2**num_upsample // scale``), runs
    ``num_block`` RRDB blocks and upsamples by 2 ``num_upsample`` times (nearest + conv). BasicSR
    builds ×4 as 2 stages without unshuffle, ×2 as 2 stages after unshuffle 2, ×1 as 2 stages
    after unshuffle 4; ×8 community models have 3 stages, old ×1 models none.

    Attributes:
        in_channels: Channels of the input image (before the unshuffle), e.g. 3.
        out_channels: Channels of the output image.
        scale: Output size divided by input size: 1, 2, 4 or 8.
        num_feat: Feature channels (64 in the official models).
        num_block: RRDB blocks (23 in RealESRGAN_x4plus, 6 in the anime model).
        num_grow_ch: Growth channels of the dense blocks (32 in the official models).
        num_upsample: ×2 nearest-neighbour upsampling stages (2 in BasicSR's ×1/×2/×4).

    Example:
        >>> spec = RRDBNetSpec(in_channels=3, out_channels=3, scale=2, num_feat=64,
        ...                    num_block=23, num_grow_ch=32, num_upsample=2)
        >>> spec.arch, spec.unshuffle, spec.size_multiple
        ('rrdbnet_x2_23b_64f', 2, 2)
    """

    in_channels: int
    out_channels: int
    scale: int
    num_feat: int
    num_block: int
    num_grow_ch: int
    num_upsample: int

    def __post_init__(self) -> None:
        problems = _positive(
            self, ("in_channels", "out_channels", "scale", "num_feat", "num_block", "num_grow_ch")
        )
        if not isinstance(self.num_upsample, int) or self.num_upsample < 0:
            problems.append(f"num_upsample must be >= 0, got {self.num_upsample!r}")
        elif not problems:
            stages = 2**self.num_upsample
            if stages % self.scale or stages // self.scale not in UNSHUFFLE_FACTORS:
                problems.append(
                    f"{self.num_upsample} ×2 upsampling stages cannot give scale {self.scale}: "
                    f"the pixel-unshuffle factor 2**num_upsample / scale must be one of "
                    f"{UNSHUFFLE_FACTORS}"
                )
        if problems:
            raise ValueError("invalid RRDBNetSpec: " + "; ".join(problems))

    @property
    def unshuffle(self) -> int:
        """The pixel-unshuffle factor applied to the input: 1, 2 or 4."""
        return 2**self.num_upsample // self.scale

    @property
    def arch(self) -> str:
        """The architecture id, e.g. ``"rrdbnet_x4_23b_64f"``."""
        return rrdbnet_arch_id(scale=self.scale, num_block=self.num_block, num_feat=self.num_feat)

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of the unshuffle factor (×4: 1, ×2: 2, ×1: 4)."""
        return self.unshuffle

    @property
    def min_size(self) -> int:
        """Smallest height and width: one unshuffle block (zero-padded convolutions need no
        more)."""
        return self.unshuffle

    def card_extra(self) -> dict[str, object]:
        """Extra model-card fields: family and every hyperparameter."""
        return {
            "family": "rrdbnet",
            "num_feat": self.num_feat,
            "num_block": self.num_block,
            "num_grow_ch": self.num_grow_ch,
            "num_upsample": self.num_upsample,
            "unshuffle": self.unshuffle,
        }

    def describe(self) -> str:
        """A one-line summary, e.g.
        ``"rrdbnet_x4_23b_64f (ESRGAN RRDBNet, in 3, out 3, grow 32, 2 upsamplings)"``."""
        parts = [
            "ESRGAN RRDBNet",
            f"in {self.in_channels}",
            f"out {self.out_channels}",
            f"grow {self.num_grow_ch}",
            f"{self.num_upsample} upsamplings",
        ]
        if self.unshuffle > 1:
            parts.append(f"pixel-unshuffle {self.unshuffle}")
        return f"{self.arch} ({', '.join(parts)})"


@dataclasses.dataclass(frozen=True)
class SRVGGSpec(_UpscaleSpec):
    """A Real-ESRGAN SRVGGNetCompact, as read from a checkpoint's keys and tensor shapes.

    Attributes:
        in_channels: Channels of the input image.
        out_channels: Channels of the output image (equal to ``in_channels`` in every model:
            the nearest-upsampled input is added to the output).
        scale: Output size divided by input size (the pixel-shuffle factor).
        num_feat: Feature channels (64 in the official models).
        num_conv: Body convolutions between the first and the last one (32 in
            realesr-general-x4v3, 16 in realesr-animevideov3).
        act_type: ``"prelu"`` (every official model), ``"relu"`` or ``"leakyrelu"`` (slope 0.1).

    Example:
        >>> SRVGGSpec(in_channels=3, out_channels=3, scale=4, num_feat=64, num_conv=32,
        ...           act_type="prelu").arch
        'srvgg_x4_32c_64f_prelu'
    """

    in_channels: int
    out_channels: int
    scale: int
    num_feat: int
    num_conv: int
    act_type: ActType

    def __post_init__(self) -> None:
        problems = _positive(self, ("in_channels", "out_channels", "scale", "num_feat"))
        if not isinstance(self.num_conv, int) or self.num_conv < 0:
            problems.append(f"num_conv must be >= 0, got {self.num_conv!r}")
        if self.act_type not in ACT_TYPES:
            problems.append(f"act_type must be one of {ACT_TYPES}, got {self.act_type!r}")
        if problems:
            raise ValueError("invalid SRVGGSpec: " + "; ".join(problems))

    @property
    def arch(self) -> str:
        """The architecture id, e.g. ``"srvgg_x4_32c_64f_prelu"``."""
        return srvgg_arch_id(
            scale=self.scale, num_conv=self.num_conv, num_feat=self.num_feat, act_type=self.act_type
        )

    @property
    def size_multiple(self) -> int:
        """1: stride-1 convolutions and a final pixel shuffle accept any size."""
        return 1

    @property
    def min_size(self) -> int:
        return 1

    def card_extra(self) -> dict[str, object]:
        """Extra model-card fields: family and every hyperparameter."""
        return {
            "family": "srvgg",
            "num_feat": self.num_feat,
            "num_conv": self.num_conv,
            "act_type": self.act_type,
        }

    def describe(self) -> str:
        """A one-line summary, e.g. ``"srvgg_x4_32c_64f_prelu (Real-ESRGAN SRVGGNetCompact,
        in 3, out 3)"``."""
        return (
            f"{self.arch} (Real-ESRGAN SRVGGNetCompact, in {self.in_channels}, "
            f"out {self.out_channels})"
        )
