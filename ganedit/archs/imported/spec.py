"""What an imported checkpoint is: spandrel's description of it plus ganedit's facts.

:class:`ImportedSpec` implements :class:`~ganedit.archs.registry.ModelSpec`, so the exporter
writes its card like any other: task (``upscale`` for super-resolution and ×1 restoration,
``inpaint`` for inpainting), scale, channels, ``[0, 1]`` ranges, the size requirements spandrel
declares (the padding ganedit's codec does outside the graph, as spandrel pads before calling
the model), tiling advice, the batch limit, and in the card's extra fields the spandrel
architecture, its tags, its purpose and the licence of its code.

This module is torch-free.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from ...card import MaskSpec
from .facts import Fact

__all__ = ["ImportedSpec"]


@dataclasses.dataclass(frozen=True)
class ImportedSpec:
    """An architecture spandrel loaded, as ganedit exports and runs it.

    Attributes:
        fact: ganedit's facts about the architecture (route, licence, padding, batch limit).
        purpose: spandrel's purpose: ``"SR"``, ``"Restoration"`` or ``"Inpainting"``.
        scale: Output size divided by input size.
        in_channels: Image channels in (without an inpainting mask).
        out_channels: Image channels out.
        min_size: Smallest side spandrel runs it at (it pads up to it).
        size_multiple: Sides spandrel pads to a multiple of (1: any).
        tiling: spandrel's advice: ``"ok"``, or ``"discouraged"`` for models that use the whole
            image (or tile internally).
        tags: spandrel's tags (size variant, hyperparameters).
    """

    fact: Fact
    purpose: Literal["SR", "Restoration", "Inpainting"]
    scale: int
    in_channels: int
    out_channels: int
    min_size: int
    size_multiple: int
    tiling: Literal["ok", "discouraged"]
    tags: tuple[str, ...] = ()

    @property
    def task(self) -> Literal["upscale", "inpaint"]:
        return "inpaint" if self.purpose == "Inpainting" else "upscale"

    @property
    def arch(self) -> str:
        """The architecture id, e.g. ``"swinir_x2"`` (spandrel's id in lower case and the scale)."""
        return f"{self.fact.id.lower()}_x{self.scale}"

    @property
    def input_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def output_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    @property
    def norm_stats(self) -> None:
        return None

    @property
    def mask(self) -> MaskSpec | None:
        """Inpainting networks take the mask after the image channels; 1 marks a hole."""
        if self.purpose != "Inpainting":
            return None
        return MaskSpec(channel=self.in_channels, hole=1)

    @property
    def max_batch(self) -> int | None:
        return self.fact.max_batch

    @property
    def export_note(self) -> str | None:
        """Why this architecture is not exported to ONNX (it runs on the torch backend), or
        ``None`` when it is."""
        return None if self.fact.route == "onnx" else self.fact.reason

    def card_extra(self) -> dict[str, object]:
        """Extra card fields: the family, spandrel's architecture id, tags and purpose, and the
        licence of the architecture's code."""
        return {
            "family": "spandrel",
            "spandrel_arch": self.fact.id,
            "purpose": self.purpose,
            "tags": list(self.tags),
            "arch_license": self.fact.license,
            "noncommercial": self.fact.noncommercial,
        }

    def describe(self) -> str:
        """A one-line summary, e.g. ``"swinir_x2 (SwinIR via spandrel, SR ×2, in 3, out 3)"``."""
        kind = f"{self.purpose} ×{self.scale}" if self.purpose == "SR" else self.purpose
        return (
            f"{self.arch} ({self.fact.id} via spandrel, {kind}, in {self.in_channels}, "
            f"out {self.out_channels})"
        )
