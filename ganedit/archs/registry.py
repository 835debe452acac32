"""A typed registry of architectures that can be recognised from a state dict.

An :class:`ArchEntry` pairs a cheap key check (``detect``) with a builder that reads the
hyperparameters from tensor shapes and returns an unloaded module (``build``). The loader takes
an :class:`ArchRegistry` as a parameter instead of reading a global one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import nn

from .spec import ModelSpec

__all__ = ["ArchEntry", "ArchRegistry", "BuiltArch", "StateDict"]

StateDict = Mapping[str, torch.Tensor]


@dataclasses.dataclass(frozen=True)
class BuiltArch:
    """A freshly built network (weights not yet loaded) and what it is."""

    module: nn.Module
    spec: ModelSpec


@dataclasses.dataclass(frozen=True)
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
        convert: Renames a detected state dict's keys to the module's (for checkpoints saved
            with an older layout of the same network), or ``None`` when they already match. The
            loader applies it before ``build`` and before loading the weights. Raises
            :class:`~ganedit.errors.CheckpointError` on a layout it cannot convert.
    """

    id: str
    description: str
    detect: Callable[[StateDict], bool]
    build: Callable[[StateDict], BuiltArch]
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
