"""The model card: the JSON that makes a ganedit ONNX file self-describing.

The card lives in the ONNX file's ``metadata_props`` under the key ``ganedit``. The runtime needs
nothing else: preprocessing, padding, value ranges and tiling all follow from it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from .errors import ModelCardError

__all__ = ["CARD_FORMAT", "METADATA_KEY", "TASKS", "MaskSpec", "ModelCard", "NormStats", "Task"]

METADATA_KEY = "ganedit"
CARD_FORMAT = 1

#: Bounds on a card's values: a card comes from a model file, which may be hostile, and each
#: value sizes an allocation or a loop (a ``min_size`` of 40000 would pad a thumbnail to
#: 18 GB). Real models sit far inside them.
LIMITS: Mapping[str, int] = {
    "scale": 16,
    "in_channels": 16,
    "out_channels": 16,
    "size_multiple": 1024,
    "min_size": 4096,
    "max_batch": 4096,
}
#: Largest absolute value of a range end, and longest string field.
MAX_RANGE = 1e6
MAX_TEXT = 4096
#: Largest card in bytes and deepest nesting of its JSON.
MAX_CARD_BYTES = 1 << 20
MAX_CARD_DEPTH = 16

#: What a model does; each task has its model class (Translator, Upscaler, Inpainter).
Task = Literal["translate", "upscale", "inpaint"]
TASKS: tuple[Task, ...] = ("translate", "upscale", "inpaint")
#: Which statistics batch-norm layers use: each image's own, or the stored running ones.
NormStats = Literal["image", "running"]


@dataclasses.dataclass(frozen=True)
class MaskSpec:
    """Where an inpainting model expects its mask: input channel index and the value of a hole."""

    channel: int
    hole: int = 1


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """What a model is and how to feed it.

    Attributes:
        name: Short name, e.g. ``"horse2zebra"``.
        task: ``"translate"``, ``"upscale"`` or ``"inpaint"``.
        arch: Architecture id, e.g. ``"resnet_9blocks"`` or ``"unet_256"``.
        scale: Output size divided by input size (1 for translation).
        in_channels: Image channels the network takes (1 or 3, without an inpainting mask).
        out_channels: Channels the network returns (1 or 3).
        input_range: ``(lo, hi)`` that pixel values 0 and full scale map to on the way in.
        output_range: ``(lo, hi)`` of the network's output that maps to 0 and full scale.
        size_multiple: Height and width are padded to a multiple of this.
        min_size: Height and width are padded to at least this.
        tiling: ``"ok"`` when the model can run on tiles, ``"discouraged"`` when its result
            depends on whole-image statistics (instance norm) and tiles would show.
        mask: For inpainting models, where the mask goes.
        max_batch: The most images one network call may hold, or ``None`` for any number.
            ``1`` for exported graphs whose results are only right at batch 1 (window-attention
            models whose batch size was frozen into a reshape); the runtime splits larger
            batches.
        norm_stats: For models with batch norm: ``"image"`` (per-image statistics, the
            pix2pix test-time behaviour) or ``"running"`` (the stored running statistics).
        source: Where the weights came from (a URL or a path).
        license: The weights' licence, as far as known.
        extra: Any further string keys, kept as they are.
    """

    name: str
    task: Task
    arch: str
    scale: int = 1
    in_channels: int = 3
    out_channels: int = 3
    input_range: tuple[float, float] = (-1.0, 1.0)
    output_range: tuple[float, float] = (-1.0, 1.0)
    size_multiple: int = 1
    min_size: int = 1
    tiling: Literal["ok", "discouraged"] = "ok"
    mask: MaskSpec | None = None
    max_batch: int | None = None
    norm_stats: NormStats | None = None
    source: str = ""
    license: str = ""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.task not in TASKS:
            problems.append(f"task must be one of {TASKS}, got {self.task!r}")
        for field in ("scale", "in_channels", "out_channels", "size_multiple", "min_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{field} must be a positive integer, got {value!r}")
            elif value > LIMITS[field]:
                problems.append(f"{field} must be at most {LIMITS[field]}, got {value}")
        for field in ("input_range", "output_range"):
            value = getattr(self, field)
            if (
                len(value) != 2
                or not all(math.isfinite(v) and abs(v) <= MAX_RANGE for v in map(float, value))
                or not float(value[0]) < float(value[1])
            ):
                problems.append(
                    f"{field} must be [lo, hi], finite, with lo < hi, got {list(value)!r}"
                )
        for field in ("name", "arch", "source", "license"):
            value = getattr(self, field)
            if not isinstance(value, str) or len(value) > MAX_TEXT:
                problems.append(f"{field} must be a string of at most {MAX_TEXT} characters")
        if self.mask is not None and not (
            isinstance(self.mask.channel, int)
            and 0 <= self.mask.channel <= self.in_channels
            and self.mask.hole in (0, 1)
        ):
            problems.append(
                f"mask must name a channel 0..{self.in_channels} and a hole value 0 or 1, "
                f"got {dataclasses.asdict(self.mask)}"
            )
        if self.tiling not in ("ok", "discouraged"):
            problems.append(f"tiling must be 'ok' or 'discouraged', got {self.tiling!r}")
        if (self.task == "inpaint") != (self.mask is not None):
            problems.append("mask must be given for inpaint models and only for them")
        if self.max_batch is not None and (
            not isinstance(self.max_batch, int)
            or isinstance(self.max_batch, bool)
            or not 1 <= self.max_batch <= LIMITS["max_batch"]
        ):
            problems.append(
                f"max_batch must be an integer in 1..{LIMITS['max_batch']} or absent, "
                f"got {self.max_batch!r}"
            )
        if self.norm_stats not in (None, "image", "running"):
            problems.append(f"norm_stats must be 'image' or 'running', got {self.norm_stats!r}")
        if problems:
            raise ModelCardError("invalid model card: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The card as the JSON-ready dict stored in the ONNX file."""
        out: dict[str, Any] = {"format": CARD_FORMAT}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "extra":
                continue
            if field.name in ("mask", "norm_stats", "max_batch") and value is None:
                continue
            if isinstance(value, MaskSpec):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def to_json(self) -> str:
        """The card serialised as compact JSON."""
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelCard:
        """Build a card from its dict form; unknown keys land in ``extra``.

        Raises:
            ModelCardError: A required key is missing, a value is invalid, or the card's
                format is newer than this version of ganedit understands.
        """
        fmt = data.get("format", CARD_FORMAT)
        if not isinstance(fmt, int) or fmt > CARD_FORMAT:
            raise ModelCardError(
                f"model card format {fmt!r} is newer than this ganedit understands "
                f"(format {CARD_FORMAT}); upgrade ganedit"
            )
        missing = [key for key in ("name", "task", "arch") if key not in data]
        if missing:
            raise ModelCardError(f"model card lacks required keys {missing}; found {sorted(data)}")
        names = {field.name for field in dataclasses.fields(cls)} - {"extra"}
        kwargs: dict[str, Any] = {key: data[key] for key in names if key in data}
        try:
            for key in ("input_range", "output_range"):
                if key in kwargs:
                    kwargs[key] = tuple(float(v) for v in kwargs[key])
            if kwargs.get("mask") is not None:
                kwargs["mask"] = MaskSpec(**kwargs["mask"])
        except (TypeError, ValueError) as exc:
            raise ModelCardError(f"malformed model card: {exc}") from exc
        extra = {k: v for k, v in data.items() if k not in names and k != "format"}
        try:
            return cls(**kwargs, extra=extra)
        except TypeError as exc:
            raise ModelCardError(f"malformed model card: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """Parse the JSON stored in an ONNX file's metadata."""
        if len(text) > MAX_CARD_BYTES:
            raise ModelCardError(
                f"model card is {len(text)} characters long; ganedit reads at most {MAX_CARD_BYTES}"
            )
        if _nesting(text) > MAX_CARD_DEPTH:
            raise ModelCardError(f"model card nests deeper than {MAX_CARD_DEPTH} levels")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelCardError(f"model card is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ModelCardError(f"model card must be a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _nesting(text: str) -> int:
    """How deep the brackets of a JSON text nest (strings skipped), without parsing it: a
    hostile card of a million ``[`` must not reach the parser's recursion."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')
