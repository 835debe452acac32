"""Resolving what ``ganedit.load`` is given, before anything is downloaded or converted.

Loading is two steps, in this order:

1. **resolve** (here, torch-free, no network): a name or path becomes a :class:`Source` — an
   ``.onnx`` file, a checkpoint file, a zoo entry (with its no-denoise twin when a blend is
   asked for), or a built-in algorithm — and the :class:`Variant` (which numbers to run: batch
   norm statistics, denoise strength, float16) is checked against it;
2. **convert** (:mod:`ganedit.export.variants`, which may need PyTorch or onnx): the source
   becomes the file a backend runs, converted once and cached under a key the variant makes.

Both backends (onnxruntime and torch) resolve through :func:`resolve`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .card import NormStats
from .errors import GaneditError

if TYPE_CHECKING:
    from .zoo import ModelRegistry, ZooEntry

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "NONCOMMERCIAL_ENV",
    "Source",
    "Variant",
    "noncommercial_allowed",
    "resolve",
]

#: Suffixes of the weight files ganedit reads (``.pth``/``.pt``/``.bin`` with
#: ``torch.load(weights_only=True)``, ``.safetensors`` with safetensors), lower case.
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".bin", ".safetensors")

SourceKind = Literal["onnx", "checkpoint", "zoo", "builtin"]

#: Set to 1 to use architectures whose code is licensed for non-commercial use only.
NONCOMMERCIAL_ENV = "GANEDIT_ALLOW_NONCOMMERCIAL"


def noncommercial_allowed(explicit: bool | None = None) -> bool:
    """Whether architectures licensed for non-commercial use only may be used: ``explicit``
    when given (``True`` or ``False``), else the ``GANEDIT_ALLOW_NONCOMMERCIAL`` variable
    (set to anything but ``0``)."""
    if explicit is not None:
        return explicit
    return os.environ.get(NONCOMMERCIAL_ENV, "") not in ("", "0")


@dataclasses.dataclass(frozen=True)
class Variant:
    """Which numbers a model runs with; each field not at its default is a cached conversion.

    Attributes:
        norm_stats: For batch-norm models (pix2pix): ``"image"`` normalises each image with its
            own statistics, as the reference does at test time; ``"running"`` uses the stored
            running statistics.
        denoise: For zoo models with a no-denoise twin (realesr-general-x4v3): 1 is the model's
            own denoising, 0 its twin, values between mix the weights (upstream's
            ``--denoise_strength``); ``None`` leaves the model as it is.
        half: Run a float16 copy of the model (CUDA only; instance norm stays float32).

    Raises:
        ValueError: ``norm_stats`` is not ``"image"`` or ``"running"``, or ``denoise`` is not a
            number in ``[0, 1]``.

    Example:
        >>> Variant(norm_stats="running", denoise=0.3).cache_suffix
        '.running.denoise0.3'
    """

    norm_stats: NormStats = "image"
    denoise: float | None = None
    half: bool = False

    def __post_init__(self) -> None:
        if self.norm_stats not in ("image", "running"):
            raise ValueError(f"norm_stats must be 'image' or 'running', got {self.norm_stats!r}")
        if self.denoise is not None and not (
            isinstance(self.denoise, (int, float))
            and not isinstance(self.denoise, bool)
            and math.isfinite(self.denoise)
            and 0.0 <= self.denoise <= 1.0
        ):
            raise ValueError(f"denoise must be in [0, 1], got {self.denoise}")

    @property
    def blends(self) -> bool:
        """Whether the weights are mixed with a twin's (``denoise`` below 1)."""
        return self.denoise is not None and self.denoise != 1.0

    @property
    def cache_suffix(self) -> str:
        """What tells the float32 conversion of this variant apart in the cache: ``""`` for
        the default, else ``".running"`` and/or ``".denoise<D>"`` (six significant digits, so
        close strengths such as 0.3 and 0.304 never share a file). Float16 is a conversion of
        that file, cached on its own."""
        suffix = "" if self.norm_stats == "image" else f".{self.norm_stats}"
        if self.blends:
            suffix += f".denoise{self.denoise:.6g}"
        return suffix


@dataclasses.dataclass(frozen=True)
class Source:
    """What a name or path stands for.

    Attributes:
        kind: ``"onnx"`` (run as it is), ``"checkpoint"`` (a weights file to convert),
            ``"zoo"`` (a named model to download and convert) or ``"builtin"`` (an algorithm
            ganedit computes itself, e.g. ``cv2-telea``).
        name: The model's name: the file's stem, or the zoo entry's name.
        origin: Where the weights come from, for the card: an absolute path or a URL.
        license: The weights' licence, as far as known.
        path: The file, for ``"onnx"`` and ``"checkpoint"``.
        entry: The zoo entry, for ``"zoo"`` and ``"builtin"``.
        twin: The entry whose weights a ``denoise`` blend mixes in, when one is asked for.
    """

    kind: SourceKind
    name: str
    origin: str
    license: str = ""
    path: Path | None = None
    entry: ZooEntry | None = None
    twin: ZooEntry | None = None


def _twins(registry: ModelRegistry) -> str:
    return ", ".join(e.name for e in registry.entries() if e.blend_with)


def resolve(
    name_or_path: str | os.PathLike[str],
    variant: Variant = Variant(),
    *,
    registry: ModelRegistry | None = None,
) -> Source:
    """What ``name_or_path`` stands for, checked against ``variant``; nothing is downloaded.

    - an existing ``.onnx`` file or checkpoint (``.pth``, ``.pt``, ``.bin``, ``.safetensors``);
    - otherwise a zoo name (``horse2zebra``, ``cyclegan/horse2zebra``, an alias; see
      ``ganedit models list``), including the built-in ``cv2-telea`` and ``cv2-ns``.

    Raises:
        UnknownModelError: Neither a file nor a zoo name.
        GaneditError: A missing file; a file of another type; ``denoise`` (other than 1) for a
            file or for a model without a no-denoise twin.
    """
    from .zoo import default_registry

    registry = registry if registry is not None else default_registry()
    path = Path(name_or_path)
    if path.is_file():
        if variant.blends:
            raise GaneditError(
                f"--denoise applies to zoo models with a no-denoise twin ({_twins(registry)}), "
                f"not to the file {path}"
            )
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return Source("onnx", path.stem, str(path.resolve()), path=path)
        if suffix not in CHECKPOINT_SUFFIXES:
            raise GaneditError(
                f"{path}: cannot load a {suffix or 'suffix-less'} file; expected .onnx or a "
                f"checkpoint ({', '.join(sorted(CHECKPOINT_SUFFIXES))})"
            )
        return Source("checkpoint", path.stem, str(path.resolve()), path=path)
    name = str(name_or_path)
    if name not in registry and (
        path.suffix.lower() in (*CHECKPOINT_SUFFIXES, ".onnx") or os.sep in name
    ):
        if path.exists():
            raise GaneditError(f"model file {path} is not a regular file")
        raise GaneditError(f"model file {path} does not exist")
    entry = registry.get(name)
    twin = None
    if variant.blends:
        if entry.blend_with is None:
            raise GaneditError(
                f"--denoise applies to models with a no-denoise twin ({_twins(registry)}), "
                f"not to {entry.name}"
            )
        twin = registry.get(entry.blend_with)
    if entry.builtin:
        if variant.half:
            raise GaneditError(f"{entry.name} is built in, not a network: it has no float16 copy")
        return Source("builtin", entry.name, entry.url, entry.license, entry=entry)
    return Source("zoo", entry.name, entry.url, entry.license, entry=entry, twin=twin)
