"""What an inpainting checkpoint is: the gated-convolution generator's hyperparameters.

This module is torch-free, like :mod:`ganedit.archs.cyclegan.spec`; :class:`InpaintSpec`
implements :class:`~ganedit.archs.registry.ModelSpec`, so the exporter writes its model card
unchanged.

Architecture id: ``"gated_inpaint"``, the DeepFill-v2-style coarse-to-fine network of
:mod:`ganedit.archs.inpaint.network` (gated convolutions, no contextual attention). The card's extra
fields carry ``ngf``.

The network takes the image in ``[-1, 1]`` with its holes set to 0 and, as one more input
channel after the image channels, the mask (1 = hole, 0 = known); it returns the image in
``[-1, 1]``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from ...card import MaskSpec

__all__ = ["INPAINT_ARCH", "INPAINT_MIN_SIZE", "INPAINT_SIZE_MULTIPLE", "InpaintSpec"]

INPAINT_ARCH = "gated_inpaint"
# Two stride-2 convolutions, undone by two ×2 nearest-neighbour upsamplings.
INPAINT_SIZE_MULTIPLE = 4
# Zero-padded convolutions run at any multiple of 4, but below 16 px the 1/4-scale features are
# under 4×4 and the dilated convolutions see only padding; 16 is the smallest size tested.
INPAINT_MIN_SIZE = 16


@dataclasses.dataclass(frozen=True)
class InpaintSpec:
    """A gated-convolution inpainting generator, as read from a checkpoint's keys and shapes.

    Attributes:
        ngf: Filters of the first gated convolution (DeepFill v2 uses 48; ganedit trains 32).
            Must be even: the last decoder layer has ``ngf // 2`` filters.
        in_channels: Image channels, without the mask channel (3 for RGB). The network takes
            ``in_channels + 1`` input channels and returns ``in_channels``.

    Example:
        >>> spec = InpaintSpec(ngf=32)
        >>> spec.arch, spec.size_multiple, spec.mask
        ('gated_inpaint', 4, MaskSpec(channel=3, hole=1))
    """

    ngf: int = 32
    in_channels: int = 3

    def __post_init__(self) -> None:
        problems = []
        for name in ("ngf", "in_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if not problems and self.ngf % 2:
            problems.append(f"ngf must be even (the last layer has ngf // 2), got {self.ngf}")
        if problems:
            raise ValueError("invalid InpaintSpec: " + "; ".join(problems))

    #: The exported graph is right at any batch size.
    max_batch: ClassVar[None] = None
    #: Exported to ONNX (nothing to say why not).
    export_note: ClassVar[None] = None

    @property
    def task(self) -> Literal["inpaint"]:
        return "inpaint"

    @property
    def arch(self) -> str:
        return INPAINT_ARCH

    @property
    def scale(self) -> int:
        return 1

    @property
    def out_channels(self) -> int:
        """Equal to ``in_channels``: the network fills holes in the image it is given."""
        return self.in_channels

    @property
    def input_range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    @property
    def output_range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    @property
    def size_multiple(self) -> int:
        return INPAINT_SIZE_MULTIPLE

    @property
    def min_size(self) -> int:
        return INPAINT_MIN_SIZE

    @property
    def tiling(self) -> Literal["discouraged"]:
        """``"discouraged"``: a hole is filled from the context around it, and a tile cut
        through a hole or its surroundings loses that context."""
        return "discouraged"

    @property
    def norm_stats(self) -> None:
        return None

    @property
    def mask(self) -> MaskSpec:
        """The mask is the input channel after the image channels; 1 marks a hole."""
        return MaskSpec(channel=self.in_channels, hole=1)

    def card_extra(self) -> dict[str, object]:
        """Extra model-card fields: family and ngf."""
        return {"family": INPAINT_ARCH, "ngf": self.ngf}

    def describe(self) -> str:
        """A one-line summary, e.g. ``"gated_inpaint (gated-conv coarse-to-fine, in 3 + mask,
        ngf 32)"``."""
        return (
            f"{self.arch} (gated-conv coarse-to-fine, in {self.in_channels} + mask, ngf {self.ngf})"
        )
