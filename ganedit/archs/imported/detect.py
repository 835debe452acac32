"""Registry entries for every architecture spandrel detects that ganedit does not implement.

One :class:`~ganedit.archs.registry.ArchEntry` per spandrel architecture, in spandrel's own
detection order (which settles its overlaps, e.g. Swin2SR before SwinIR), after ganedit's own
families, which keep priority (their reference parity is tested). Detection is spandrel's key
check; building loads the weights with spandrel and wraps the model in
:class:`~ganedit.archs.imported.network.ImportedNet` with an
:class:`~ganedit.archs.imported.spec.ImportedSpec`.

Architectures whose code is licensed for non-commercial use only (those of
``spandrel_extra_arches``, detected when it is installed) are refused unless the registry was
made with ``allow_noncommercial``; refused architectures (face restoration, untested ones) are
detected so that the refusal can say why.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from ...errors import CheckpointError
from ...resolve import NONCOMMERCIAL_ENV
from ..registry import ArchEntry, BuiltArch, StateDict
from .dft import use_matrix_dft
from .facts import FACTS, Fact
from .network import ImportedNet
from .pooling import use_strided_pooling
from .spec import ImportedSpec
from .windows import use_computed_masks

__all__ = ["imported_entries"]

_OPT_IN = (
    f"ganedit uses such code only when you opt in: --allow-noncommercial, "
    f"{NONCOMMERCIAL_ENV}=1 or ganedit.Runtime(allow_noncommercial=True)"
)


def _supports() -> list[tuple[Any, str]]:
    """spandrel's architectures in detection order, each with the package that defines it."""
    from spandrel import MAIN_REGISTRY

    found = [(support, "spandrel") for support in MAIN_REGISTRY.architectures("detection")]
    try:
        from spandrel_extra_arches import EXTRA_REGISTRY
    except ImportError:  # optional: only needed for its non-commercial architectures
        return found
    extra = EXTRA_REGISTRY.architectures("detection")
    return found + [(support, "spandrel_extra_arches") for support in extra]


def _canonical(state_dict: StateDict) -> dict[str, Any]:
    from spandrel import canonicalize_state_dict

    return dict(canonicalize_state_dict(dict(state_dict)))


def _detector(support: Any) -> Callable[[StateDict], bool]:
    def detect(state_dict: StateDict) -> bool:
        try:
            return bool(support.detect(_canonical(state_dict)))
        except Exception:  # a key check that trips over an unexpected layout says "not mine"
            return False

    return detect


def _a(name: str) -> str:
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"


def _builder(support: Any, fact: Fact, allow_noncommercial: bool) -> Callable[..., BuiltArch]:
    def build(state_dict: StateDict) -> BuiltArch:
        if fact.route == "refused":
            raise CheckpointError(
                f"this is {_a(fact.id)} model, which ganedit refuses: {fact.reason}"
            )
        if fact.noncommercial and not allow_noncommercial:
            raise CheckpointError(
                f"this is {_a(fact.id)} model, whose code is licensed {fact.license}, which "
                f"does not allow commercial use; {_OPT_IN}"
            )
        try:
            with _seeded(fact.seed):
                descriptor = support.architecture.load(_canonical(state_dict))
        except Exception as exc:  # spandrel raises assorted errors on inconsistent files
            raise CheckpointError(
                f"looks like {_a(fact.id)} model, but spandrel cannot load it: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _built(descriptor, fact)

    return build


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Seed numpy's and torch's global generators for what runs inside (MAT draws its latent
    when it is built), then put both back as they were."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        np.random.set_state(state)


def _built(descriptor: Any, fact: Fact) -> BuiltArch:
    requirements = descriptor.size_requirements
    # Square requirements are met in the module, as spandrel meets them (torch backend only);
    # others by ganedit's codec, from the card.
    own_padding = bool(requirements.square)
    if own_padding and fact.route == "onnx":
        raise CheckpointError(f"{fact.id} needs square inputs, which its ONNX export cannot pad")
    multiple, mode = 1, "reflect"
    if fact.pad is not None:
        where, mode = fact.pad
        multiple = int(getattr(descriptor.model, where)) if isinstance(where, str) else where
    if fact.matrix_dft:
        use_matrix_dft(descriptor.model)
    if fact.strided_pooling:
        use_strided_pooling(descriptor.model)
    if fact.computed_masks:
        use_computed_masks(descriptor.model)
    module = ImportedNet(
        descriptor,
        pad_multiple=multiple,
        pad_mode=mode,
        requirements=requirements if own_padding else None,
        seed=fact.seed,
    ).eval()
    tiling = "ok" if descriptor.tiling.name == "SUPPORTED" else "discouraged"
    spec = ImportedSpec(
        fact=fact,
        purpose=descriptor.purpose,
        scale=int(descriptor.scale),
        in_channels=int(descriptor.input_channels),
        out_channels=int(descriptor.output_channels),
        min_size=1 if own_padding else max(int(requirements.minimum), 1),
        size_multiple=1 if own_padding else int(requirements.multiple_of),
        tiling=tiling,
        tags=tuple(str(tag) for tag in descriptor.tags),
    )
    return BuiltArch(module=module, spec=spec, loaded=True)


def _example(fact: Fact, package: str) -> Callable[[], nn.Module] | None:
    if fact.example is None:
        return None
    class_name, kwargs = fact.example

    def example() -> nn.Module:
        module = importlib.import_module(f"{package}.architectures.{fact.id}")
        return getattr(module, class_name)(**kwargs)

    return example


def imported_entries(*, allow_noncommercial: bool = False) -> tuple[ArchEntry, ...]:
    """One entry per architecture spandrel registers and ganedit has facts about.

    Args:
        allow_noncommercial: Build architectures whose code is licensed for non-commercial use
            only, instead of refusing them.

    Raises:
        ImportError: spandrel is not installed (``pip install 'ganedit[train]'``).
    """
    entries = []
    for support, package in _supports():
        fact = FACTS.get(str(support.architecture.id))
        if fact is None:  # Compact: ganedit's own SRVGGNetCompact handles those files
            continue
        entries.append(
            ArchEntry(
                id=f"spandrel_{fact.id.lower()}",
                description=f"{_a(fact.id)} network ({package})",
                detect=_detector(support),
                build=_builder(support, fact, allow_noncommercial),
                example=_example(fact, package),
            )
        )
    return tuple(entries)
