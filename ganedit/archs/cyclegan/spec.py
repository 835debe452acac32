"""What a generator checkpoint is: family, hyperparameters and size requirements.

This module is torch-free so that specs can be passed around and printed without torch.

Architecture ids (``ArchSpec.arch``) follow the reference's ``--netG`` names:

- ``"resnet_<n>blocks"``: a CycleGAN ResNet generator with ``n`` residual blocks
  (``resnet_9blocks`` and ``resnet_6blocks`` are the reference's own).
- ``"unet_<s>"``: a pix2pix U-Net with ``log2(s)`` downsamplings, so that an ``s``×``s`` image
  reaches 1×1 at the bottleneck (``unet_128`` = 7 downs and ``unet_256`` = 8 downs are the
  reference's own; ``unet_32`` = 5 downs is the smallest the reference can build).
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Literal

__all__ = [
    "NORM_TYPES",
    "PADDING_TYPES",
    "ArchSpec",
    "Family",
    "NormType",
    "PaddingType",
    "parse_arch_id",
    "resnet_arch_id",
    "unet_arch_id",
]

Family = Literal["resnet", "unet"]
NormType = Literal["instance", "batch", "none"]
PaddingType = Literal["reflect", "zero"]

NORM_TYPES: tuple[NormType, ...] = ("instance", "batch", "none")
PADDING_TYPES: tuple[PaddingType, ...] = ("reflect", "zero")

# Reflection padding needs more pixels than it pads, at full scale (pad 3) and at 1/4 scale
# inside the residual blocks (pad 1); 16 leaves room for both with a margin.
_RESNET_MIN_SIZE = 16
_RESNET_SIZE_MULTIPLE = 4  # two stride-2 convolutions, undone by two transposed ones


def resnet_arch_id(n_blocks: int) -> str:
    """The id of a ResNet generator, e.g. ``resnet_arch_id(9) == "resnet_9blocks"``."""
    return f"resnet_{n_blocks}blocks"


def unet_arch_id(num_downs: int) -> str:
    """The id of a U-Net generator, e.g. ``unet_arch_id(8) == "unet_256"``."""
    return f"unet_{2**num_downs}"


def parse_arch_id(arch: str) -> tuple[Family, int]:
    """The family and depth of an architecture id: the inverse of :func:`resnet_arch_id` and
    :func:`unet_arch_id`.

    Returns:
        ``("resnet", n_blocks)`` for ``"resnet_<n>blocks"``, ``("unet", num_downs)`` for
        ``"unet_<size>"`` with ``size == 2**num_downs``.

    Raises:
        ValueError: ``arch`` names neither family, its number is not an integer, or a U-Net
            size is not a power of two of at least 32.

    Example:
        >>> parse_arch_id("resnet_9blocks"), parse_arch_id("unet_256")
        (('resnet', 9), ('unet', 8))
    """
    if arch.startswith("resnet_") and arch.endswith("blocks"):
        return "resnet", int(arch[len("resnet_") : -len("blocks")])
    if arch.startswith("unet_"):
        size = int(arch[len("unet_") :])
        num_downs = int(math.log2(size))
        if 2**num_downs != size or num_downs < 5:
            raise ValueError(f"unet size must be a power of two >= 32, got {arch!r}")
        return "unet", num_downs
    raise ValueError(
        f"unknown generator {arch!r}: expected resnet_<n>blocks (e.g. resnet_9blocks) or "
        "unet_<size> (unet_128, unet_256)"
    )


@dataclasses.dataclass(frozen=True)
class ArchSpec:
    """A CycleGAN/pix2pix generator, as read from a checkpoint's keys and tensor shapes.

    Attributes:
        family: ``"resnet"`` (CycleGAN) or ``"unet"`` (pix2pix).
        in_channels: Channels of the input image, e.g. 3 for RGB, 1 for grey.
        out_channels: Channels of the output image.
        ngf: Filters of the first convolution (64 in the reference).
        norm: ``"instance"``, ``"batch"`` or ``"none"``.
        n_blocks: Residual blocks (ResNet only, else ``None``).
        num_downs: Downsamplings (U-Net only, else ``None``).
        use_dropout: Whether the residual blocks hold dropout layers (ResNet). ``None`` for a
            detected U-Net, whose dropout layers carry no weights and so cannot be seen in a
            checkpoint (a U-Net built for training, :meth:`from_arch_id`, says whether it has
            them); dropout is off at inference either way.
        padding_type: ``"reflect"`` or ``"zero"`` padding in the residual blocks (ResNet;
            ``"replicate"`` has the same keys as ``"reflect"`` and reads as it). ``None`` for a
            U-Net.

    Example:
        >>> spec = ArchSpec(family="resnet", in_channels=3, out_channels=3, ngf=64,
        ...                 norm="instance", n_blocks=9, use_dropout=False,
        ...                 padding_type="reflect")
        >>> spec.arch, spec.size_multiple, spec.tiling
        ('resnet_9blocks', 4, 'discouraged')
    """

    family: Family
    in_channels: int
    out_channels: int
    ngf: int
    norm: NormType
    n_blocks: int | None = None
    num_downs: int | None = None
    use_dropout: bool | None = None
    padding_type: PaddingType | None = None

    def __post_init__(self) -> None:
        problems = []
        for name in ("in_channels", "out_channels", "ngf"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a positive integer, got {value!r}")
        if self.norm not in NORM_TYPES:
            problems.append(f"norm must be one of {NORM_TYPES}, got {self.norm!r}")
        if self.family == "resnet":
            if not isinstance(self.n_blocks, int) or self.n_blocks < 0:
                problems.append(f"a ResNet needs n_blocks >= 0, got {self.n_blocks!r}")
            if self.padding_type not in PADDING_TYPES:
                problems.append(
                    f"a ResNet needs padding_type in {PADDING_TYPES}, got {self.padding_type!r}"
                )
            if self.num_downs is not None:
                problems.append("num_downs is for U-Nets; a ResNet has n_blocks")
        elif self.family == "unet":
            if not isinstance(self.num_downs, int) or self.num_downs < 5:
                problems.append(f"a U-Net needs num_downs >= 5, got {self.num_downs!r}")
            if self.n_blocks is not None or self.padding_type is not None:
                problems.append("n_blocks and padding_type are for ResNets; a U-Net has num_downs")
        else:
            problems.append(f"family must be 'resnet' or 'unet', got {self.family!r}")
        if problems:
            raise ValueError("invalid ArchSpec: " + "; ".join(problems))

    @classmethod
    def from_arch_id(
        cls,
        arch: str,
        *,
        in_channels: int,
        out_channels: int,
        ngf: int,
        norm: NormType,
        use_dropout: bool,
        padding_type: PaddingType = "reflect",
    ) -> ArchSpec:
        """The spec of the generator named ``arch`` (``"resnet_<n>blocks"`` or
        ``"unet_<size>"``), as training builds it.

        ``padding_type`` applies to a ResNet only. A U-Net spec keeps ``use_dropout`` as given
        (detection cannot see dropout, training can ask for it).

        Raises:
            ValueError: ``arch`` is not a valid id (see :func:`parse_arch_id`) or a value is
                out of range.

        Example:
            >>> ArchSpec.from_arch_id("unet_256", in_channels=3, out_channels=3, ngf=64,
            ...                       norm="batch", use_dropout=True).num_downs
            8
        """
        family, depth = parse_arch_id(arch)
        if family == "resnet":
            return cls(
                family="resnet",
                in_channels=in_channels,
                out_channels=out_channels,
                ngf=ngf,
                norm=norm,
                n_blocks=depth,
                use_dropout=use_dropout,
                padding_type=padding_type,
            )
        return cls(
            family="unet",
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=ngf,
            norm=norm,
            num_downs=depth,
            use_dropout=use_dropout,
        )

    #: The exported graph is right at any batch size.
    max_batch: ClassVar[None] = None
    #: Exported to ONNX (nothing to say why not).
    export_note: ClassVar[None] = None

    @property
    def task(self) -> Literal["translate"]:
        return "translate"

    @property
    def scale(self) -> int:
        return 1

    @property
    def input_range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    @property
    def output_range(self) -> tuple[float, float]:
        return (-1.0, 1.0)

    def card_extra(self) -> dict[str, object]:
        """Extra model-card fields: family, ngf and norm."""
        return {"family": self.family, "ngf": self.ngf, "norm": self.norm}

    @property
    def arch(self) -> str:
        """The architecture id, e.g. ``"resnet_9blocks"`` or ``"unet_256"``."""
        if self.family == "resnet":
            return resnet_arch_id(self.n_blocks or 0)
        return unet_arch_id(self.num_downs or 0)

    @property
    def size_multiple(self) -> int:
        """Height and width must be a multiple of this (4 for ResNet, ``2**num_downs`` U-Net)."""
        if self.family == "resnet":
            return _RESNET_SIZE_MULTIPLE
        return 2 ** (self.num_downs or 0)

    @property
    def min_size(self) -> int:
        """Smallest height and width the network accepts (16 for ResNet, ``2**num_downs``)."""
        if self.family == "resnet":
            return _RESNET_MIN_SIZE
        return 2 ** (self.num_downs or 0)

    @property
    def tiling(self) -> Literal["ok", "discouraged"]:
        """``"discouraged"`` when outputs depend on whole-image statistics (any norm layer)."""
        return "ok" if self.norm == "none" else "discouraged"

    @property
    def norm_stats(self) -> Literal["image"] | None:
        """``"image"`` for batch norm, which runs on per-image statistics; else ``None``."""
        return "image" if self.norm == "batch" else None

    @property
    def mask(self) -> None:
        """``None``: translation networks take no mask."""
        return None

    def describe(self) -> str:
        """A one-line summary, e.g. ``"resnet_9blocks (in 3, out 3, ngf 64, norm instance)"``."""
        parts = [
            f"in {self.in_channels}",
            f"out {self.out_channels}",
            f"ngf {self.ngf}",
            f"norm {self.norm}",
        ]
        if self.family == "resnet":
            parts.append(f"padding {self.padding_type}")
            if self.use_dropout:
                parts.append("dropout")
        return f"{self.arch} ({', '.join(parts)})"
