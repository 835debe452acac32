"""A typed registry of architectures that can be recognised from a state dict.

An :class:`ArchEntry` pairs a cheap key check (``detect``) with a builder that reads the
hyperparameters from tensor shapes and returns an unloaded module (``build``). The loader takes
an :class:`ArchRegistry` as a parameter instead of reading a global one;
:func:`default_arch_registry` lists every architecture ganedit ships, one line per entry.

Adding an architecture is one folder and one line: a family package next to
:mod:`ganedit.archs.cyclegan` (its networks, its spec implementing :class:`ModelSpec`, and a
``detect`` module defining the :class:`ArchEntry`), and its entry in
:func:`default_arch_registry`. ``tests/test_registry.py`` then runs the entry's ``example``
through save, detect, load, forward and ONNX export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Literal, Protocol

import torch
from torch import nn

from ..card import MaskSpec
from ..resolve import noncommercial_allowed

__all__ = [
    "ArchEntry",
    "ArchRegistry",
    "BuiltArch",
    "ModelSpec",
    "StateDict",
    "default_arch_registry",
]

StateDict = Mapping[str, torch.Tensor]


class ModelSpec(Protocol):
    """What every architecture spec tells the exporter: enough to write the model card.

    :class:`~ganedit.archs.cyclegan.spec.ArchSpec` (CycleGAN/pix2pix generators), the
    super-resolution specs of :mod:`ganedit.archs.esrgan.spec` and
    :class:`~ganedit.archs.inpaint.spec.InpaintSpec` implement it. ``mask`` is where an
    inpainting network takes its mask (``None`` for every other task).
    """

    @property
    def task(self) -> Literal["translate", "upscale", "inpaint"]: ...
    @property
    def arch(self) -> str: ...
    @property
    def scale(self) -> int: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def out_channels(self) -> int: ...
    @property
    def input_range(self) -> tuple[float, float]: ...
    @property
    def output_range(self) -> tuple[float, float]: ...
    @property
    def size_multiple(self) -> int: ...
    @property
    def min_size(self) -> int: ...
    @property
    def tiling(self) -> Literal["ok", "discouraged"]: ...
    @property
    def norm_stats(self) -> Literal["image"] | None: ...
    @property
    def mask(self) -> MaskSpec | None: ...
    @property
    def max_batch(self) -> int | None:
        """The most images one call of the exported graph is right for (``None``: any)."""
        ...

    @property
    def export_note(self) -> str | None:
        """Why the network is not exported to ONNX (it runs on the torch backend), or
        ``None`` when it is."""
        ...

    def describe(self) -> str: ...
    def card_extra(self) -> dict[str, object]: ...


@dataclasses.dataclass(frozen=True)
class BuiltArch:
    """A built network and what it is.

    Attributes:
        module: The network: freshly initialised (the loader then loads the state dict into it
            strictly), or already holding its weights when ``loaded``.
        spec: What it is.
        loaded: The builder loaded the weights itself (architectures imported through spandrel,
            whose modules may name their weights differently from the file).
    """

    module: nn.Module
    spec: ModelSpec
    loaded: bool = False


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArchEntry:
    """One architecture the loader can recognise.

    Attributes:
        id: Unique name of the entry, e.g. ``"cyclegan_resnet"``.
        description: What a matching checkpoint looks like, for error messages, e.g.
            ``"a CycleGAN ResNet generator (model.1.weight, …)"``.
        detect: Returns whether a state dict has this architecture's key layout. Cheap; must
            not raise.
        build: Reads the hyperparameters from a detected state dict and returns the unloaded
            module with its spec. Raises :class:`~ganedit.errors.CheckpointError` when the
            shapes are inconsistent.
        example: Returns a freshly initialised, smallest useful instance of the architecture
            (a few channels, one block), whose state dict ``detect`` accepts. Used by tests
            (``tests/test_registry.py`` runs every registered entry's example through save,
            detect, load, forward and ONNX export) and by documentation; never by the loader.
            ``None`` only for an architecture ganedit detects in order to refuse it.
        convert: Renames a detected state dict's keys to the module's (for checkpoints saved
            with an older layout of the same network), or ``None`` when they already match. The
            loader applies it before ``build`` and before loading the weights. Raises
            :class:`~ganedit.errors.CheckpointError` on a layout it cannot convert.
    """

    id: str
    description: str
    detect: Callable[[StateDict], bool]
    build: Callable[[StateDict], BuiltArch]
    example: Callable[[], nn.Module] | None
    convert: Callable[[StateDict], dict[str, torch.Tensor]] | None = None


class ArchRegistry:
    """An ordered collection of :class:`ArchEntry`, tried in the order they were added.

    Example:
        >>> registry = ArchRegistry()
        >>> registry.add(entry)  # doctest: +SKIP
        >>> registry.detect(state_dict)  # doctest: +SKIP
        ArchEntry(id='cyclegan_resnet', ...)
    """

    def __init__(self, entries: tuple[ArchEntry, ...] = ()) -> None:
        self._entries: dict[str, ArchEntry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: ArchEntry) -> None:
        """Add an entry.

        Raises:
            ValueError: An entry with the same id is already registered.
        """
        if entry.id in self._entries:
            raise ValueError(f"an architecture with id {entry.id!r} is already registered")
        self._entries[entry.id] = entry

    def get(self, id: str) -> ArchEntry:
        """The entry with this id.

        Raises:
            KeyError: No entry has this id; the message lists the known ids.
        """
        try:
            return self._entries[id]
        except KeyError:
            raise KeyError(f"no architecture {id!r}; known: {', '.join(self._entries)}") from None

    def detect(self, state_dict: StateDict) -> ArchEntry | None:
        """The first entry whose key check accepts ``state_dict``, or ``None``."""
        for entry in self._entries.values():
            if entry.detect(state_dict):
                return entry
        return None

    def __iter__(self) -> Iterator[ArchEntry]:
        return iter(tuple(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, id: object) -> bool:
        return id in self._entries


def default_arch_registry(*, allow_noncommercial: bool | None = None) -> ArchRegistry:
    """A new registry holding every architecture ganedit knows, in the order they are tried.

    ganedit's own families first (they keep priority; their reference parity is tested): the
    CycleGAN ResNet and pix2pix U-Net generators, the ESRGAN/Real-ESRGAN RRDBNet (in every key
    layout), Real-ESRGAN's SRVGGNetCompact, the gated-convolution inpainting generator. Then,
    when spandrel is installed, every other architecture it detects
    (:mod:`ganedit.archs.imported`), in spandrel's detection order.

    Args:
        allow_noncommercial: Load architectures whose code is licensed for non-commercial use
            only; ``None`` reads the environment variable ``GANEDIT_ALLOW_NONCOMMERCIAL``.

    Example:
        >>> [entry.id for entry in default_arch_registry()][:5]
        ['cyclegan_resnet', 'pix2pix_unet', 'esrgan_rrdbnet', 'realesrgan_srvgg', 'gated_inpaint']
    """
    # Imported here: the family modules import this one for ArchEntry.
    from .cyclegan import detect as cyclegan
    from .esrgan import detect as esrgan
    from .inpaint import detect as inpaint

    entries = [
        cyclegan.RESNET_ENTRY,
        cyclegan.UNET_ENTRY,
        esrgan.RRDBNET_ENTRY,
        esrgan.SRVGG_ENTRY,
        inpaint.INPAINT_ENTRY,
    ]
    from .imported.detect import imported_entries

    try:
        imported = imported_entries(allow_noncommercial=noncommercial_allowed(allow_noncommercial))
    except ImportError:  # spandrel is not installed: ganedit's own families only
        imported = ()
    return ArchRegistry((*entries, *imported))
