"""Read generator checkpoints (.pth/.pt/.bin/.safetensors), recognise and load them.

Pickled checkpoints are read with ``weights_only=True``: a file that needs arbitrary code to
unpickle is refused, never executed. TorchScript archives (``torch.jit.save``: IOPaint's
big-lama.pt) are read for their tensors only (:mod:`.torchscript`), never loaded as modules.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..resolve import CHECKPOINT_SUFFIXES
from ._keys import preview
from .registry import ArchRegistry, BuiltArch, ModelSpec, StateDict, default_arch_registry
from .torchscript import is_torchscript_archive, read_torchscript_tensors

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "LoadedGenerator",
    "detect_generator",
    "fit_norm_buffers",
    "load_generator",
    "read_state_dict",
]

# Read with torch.load; the rest of CHECKPOINT_SUFFIXES (.safetensors) with safetensors.
_PICKLE_SUFFIXES = tuple(suffix for suffix in CHECKPOINT_SUFFIXES if suffix != ".safetensors")
# Where training scripts put the generator's weights inside a larger checkpoint dict, in order
# of preference (EMA weights first, as Real-ESRGAN/BasicSR ship them).
CONTAINER_KEYS = (
    "params_ema",
    "params",
    "state_dict",
    "model",
    "netG",
    "generator",
    # Further containers spandrel recognises (its canonicalize_state_dict).
    "params-ema",
    "model_state_dict",
    "net",
)
_MAX_NESTING = 3


@dataclasses.dataclass(frozen=True)
class LoadedGenerator:
    """A generator with its weights loaded, ready for inference.

    Attributes:
        module: The network in eval mode (dropout off; batch norm, if any, on per-image
            statistics as in the reference's test script). Takes ``(B, C, H, W)`` in
            ``spec.input_range``, with ``C = spec.in_channels`` (plus the mask channel for an
            inpainting network, see ``spec.mask``) and ``H`` and ``W`` multiples of
            ``spec.size_multiple`` and at least ``spec.min_size``; returns
            ``(B, spec.out_channels, H * spec.scale, W * spec.scale)`` in
            ``spec.output_range``.
        spec: What the checkpoint is.
        source: The file it came from, or ``"<state dict>"``.
    """

    module: nn.Module
    spec: ModelSpec
    source: str


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def _load_torchscript(path: Path) -> dict[str, torch.Tensor]:
    try:
        return read_torchscript_tensors(path)
    except (pickle.UnpicklingError, KeyError, ValueError, RuntimeError, OSError) as exc:
        raise CheckpointError(
            f"{path}: a TorchScript archive whose weights ganedit cannot read ({exc})"
        ) from exc


def _load_pickle(path: Path) -> object:
    if is_torchscript_archive(path):
        return _load_torchscript(path)
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it did not write; the error below says more.
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        code = _code_it_would_run(path)
        if code:
            raise CheckpointError(
                f"{path}: refused: loading it would run Python code from the file ({code}); "
                "ganedit loads only tensors and never runs code from a model file. If you trust "
                "the file, load it yourself and save only its state dict (names to tensors), "
                "as .safetensors or with torch.save"
            ) from exc
        with open(path, "rb") as f:
            pickled = f.read(1) == b"\x80" or zipfile.is_zipfile(path)  # protocol 2+ or zip
        what = (
            "its pickle holds something other than tensors and plain data"
            if pickled
            else "neither a pickle nor a zip archive"
        )
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({what})") from exc
    except (EOFError, RuntimeError, KeyError, ValueError, OSError) as exc:
        reason = "the file is empty" if path.stat().st_size == 0 else f"{type(exc).__name__}"
        detail = str(exc).strip().splitlines()
        if detail and path.stat().st_size:
            reason += f": {detail[0][:200]}"
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({reason})") from exc


# What a weights file's pickle may name: tensors, storages, containers.
_DATA_GLOBALS = re.compile(
    r"(torch\._utils\._rebuild_\w+|torch\.\w*Storage|torch\.(float|bfloat|int|uint)\w*|"
    r"torch\.(device|Size|dtype)|collections\.OrderedDict|builtins\.(set|frozenset|slice))$"
)


def _code_it_would_run(path: Path) -> str:
    """The callables a pickled file names beyond tensors and containers (``posix.system``),
    read from its opcodes without unpickling: ``""`` when it names none."""
    try:
        data = _main_pickle(path)
        names: list[str] = []
        strings: list[str] = []
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                names.append(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # a broken pickle names nothing we can report
        return ""
    unsafe = sorted({name for name in names if not _DATA_GLOBALS.match(name)})
    return ", ".join(unsafe[:5]) + (", ..." if len(unsafe) > 5 else "")


def _main_pickle(path: Path) -> bytes:
    """The pickle of a ``torch.save`` file: ``*/data.pkl`` of its zip, or the file itself."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            return archive.read(name)
    with open(path, "rb") as f:
        return f.read(64 << 20)


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        from safetensors import SafetensorError
        from safetensors.torch import load_file
    except ImportError as exc:
        raise ImportError(
            'reading .safetensors files needs safetensors: pip install "ganedit[train]"'
        ) from exc
    try:
        return load_file(path, device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a safetensors file ({exc})") from exc


def _describe_value(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return "tensor"
    return type(value).__name__


def _unwrap(obj: object, source: str) -> dict[str, torch.Tensor]:
    for _ in range(_MAX_NESTING):
        if not isinstance(obj, Mapping):
            raise CheckpointError(
                f"{source}: holds a {type(obj).__name__}, expected a state dict "
                "(a dict mapping parameter names to tensors)"
            )
        if not obj:
            raise CheckpointError(f"{source}: the checkpoint is empty (it holds no tensors)")
        if all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
        inner = next(
            (obj[key] for key in CONTAINER_KEYS if isinstance(obj.get(key), Mapping)), None
        )
        if inner is None:
            found = [f"{key} ({_describe_value(value)})" for key, value in obj.items()]
            raise CheckpointError(
                f"{source}: not a state dict: its {len(found)} top-level entries "
                f"({preview(found)}) are not all tensors, and none of the usual containers "
                f"({', '.join(CONTAINER_KEYS)}) holds the weights"
            )
        obj = inner
    raise CheckpointError(f"{source}: state dict nested more than {_MAX_NESTING} levels deep")


def _strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # DataParallel / DistributedDataParallel save their wrapped module under "module.".
    while state_dict and all(key.startswith("module.") for key in state_dict):
        state_dict = {key[len("module.") :]: value for key, value in state_dict.items()}
    return state_dict


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read the weights of a checkpoint file as a flat ``{name: tensor}`` dict on the CPU.

    ``.pth``/``.pt``/``.bin`` files are read with ``torch.load(weights_only=True)`` (TorchScript
    archives for their modules' tensors, without running them), ``.safetensors`` with
    safetensors. The weights are taken out of common containers
    (``params_ema``, ``params``, ``state_dict``, ``model``, ``netG``, ``generator``), and the
    ``module.`` prefix that DataParallel/DDP add is removed.

    Raises:
        CheckpointError: The file is missing, has an unknown extension, is not a checkpoint,
            pickles objects other than tensors, holds no tensors, or its weights are not in a
            recognisable container. The message names the file.

    Example:
        >>> state_dict = read_state_dict("latest_net_G_A.pth")  # doctest: +SKIP
        >>> state_dict["model.1.weight"].shape  # doctest: +SKIP
        torch.Size([64, 3, 7, 7])
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        obj: object = _load_safetensors(path)
    elif suffix in _PICKLE_SUFFIXES:
        obj = _load_pickle(path)
    else:
        raise CheckpointError(
            f"{path}: unsupported checkpoint extension {suffix or '(none)'!r}; "
            f"expected one of {', '.join(CHECKPOINT_SUFFIXES)}"
        )
    return _strip_module_prefix(_unwrap(obj, str(path)))


def fit_norm_buffers(state_dict: StateDict, module: nn.Module) -> dict[str, torch.Tensor]:
    """Adapt norm-layer buffers of older checkpoints to ``module``'s layers.

    - Checkpoints saved with PyTorch 0.4.0, when the reference's instance norm tracked running
      statistics, carry ``running_mean``/``running_var``/``num_batches_tracked`` on instance-norm
      layers that no longer have them; these are dropped, as the reference does when loading.
    - Checkpoints from before PyTorch 0.4.1 lack batch norm's ``num_batches_tracked``; a zero
      counter is supplied (it is not used at inference).

    Returns a new dict; ``state_dict`` is not changed.
    """
    fitted = dict(state_dict)
    for name, layer in module.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(layer, nn.InstanceNorm2d) and not layer.track_running_stats:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                fitted.pop(prefix + buffer, None)
        elif isinstance(layer, nn.BatchNorm2d) and layer.track_running_stats:
            counter = prefix + "num_batches_tracked"
            if counter not in fitted and prefix + "running_mean" in fitted:
                fitted[counter] = torch.tensor(0, dtype=torch.long)
    return fitted


def _check_fit(source: str, state_dict: StateDict, module: nn.Module, spec: ModelSpec) -> None:
    expected = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    mismatched = [
        f"{key}: file {tuple(state_dict[key].shape)}, expected {shape}"
        for key, shape in expected.items()
        if key in state_dict and tuple(state_dict[key].shape) != shape
    ]
    problems = [
        f"{_count(len(names), *nouns)} ({preview(names)})"
        for names, nouns in (
            (missing, ("missing key", "missing keys")),
            (unexpected, ("unexpected key", "unexpected keys")),
            (mismatched, ("tensor of another shape", "tensors of other shapes")),
        )
        if names
    ]
    if problems:
        raise CheckpointError(
            f"{source}: looks like {spec.describe()}, but its weights do not fit that "
            f"network: {'; '.join(problems)}. The file may come from a modified version of "
            "the reference code"
        )


def _as_state_dict(
    checkpoint: str | os.PathLike[str] | StateDict,
) -> tuple[str, dict[str, torch.Tensor]]:
    if isinstance(checkpoint, (str, os.PathLike)):
        return str(checkpoint), read_state_dict(checkpoint)
    source = "<state dict>"
    return source, _strip_module_prefix(_unwrap(checkpoint, source))


def _no_match(source: str, state_dict: StateDict, registry: ArchRegistry) -> CheckpointError:
    keys = list(state_dict)
    own = [entry.description for entry in registry if not entry.id.startswith("spandrel_")]
    imported = [e.id.removeprefix("spandrel_") for e in registry if e.id.startswith("spandrel_")]
    if imported:
        own.append(f"one of {len(imported)} architectures spandrel detects ({preview(imported)})")
    expected = " or ".join(own) or "(the registry is empty)"
    hint = ""
    if imported and "mat" not in imported:  # spandrel_extra_arches is not installed
        hint = (
            "; architectures under non-commercial licences (MAT, SRFormer, Restormer, ...) are "
            "detected only with spandrel_extra_arches installed: pip install spandrel_extra_arches"
        )
    return CheckpointError(
        f"{source}: no known architecture matches its {_count(len(keys), 'key', 'keys')} "
        f"(first: {preview(keys)}); expected {expected}{hint}"
    )


def _build(
    checkpoint: str | os.PathLike[str] | StateDict, registry: ArchRegistry | None
) -> tuple[str, StateDict, BuiltArch]:
    """Read, recognise and build (weights not loaded); errors name the source."""
    source, state_dict = _as_state_dict(checkpoint)
    registry = default_arch_registry() if registry is None else registry
    entry = registry.detect(state_dict)
    if entry is None:
        raise _no_match(source, state_dict, registry)
    try:
        if entry.convert is not None:
            state_dict = entry.convert(state_dict)
        return source, state_dict, entry.build(state_dict)
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from exc


def detect_generator(
    checkpoint: str | os.PathLike[str] | StateDict, *, registry: ArchRegistry | None = None
) -> ModelSpec:
    """What generator a checkpoint holds, read from its keys and shapes alone.

    Args:
        checkpoint: A checkpoint file or a state dict.
        registry: The architectures to try; ``None`` uses :func:`default_arch_registry`
            (every architecture ganedit ships).

    Raises:
        CheckpointError: The file cannot be read or matches no architecture.

    Example:
        >>> detect_generator("latest_net_G_A.pth").arch  # doctest: +SKIP
        'resnet_9blocks'
    """
    return _build(checkpoint, registry)[2].spec


def load_generator(
    checkpoint: str | os.PathLike[str] | StateDict, *, registry: ArchRegistry | None = None
) -> LoadedGenerator:
    """Recognise a generator checkpoint, build its network and load the weights strictly.

    Args:
        checkpoint: A ``.pth``/``.pt``/``.bin``/``.safetensors`` file or a state dict.
        registry: The architectures to try; ``None`` uses :func:`default_arch_registry`
            (every architecture ganedit ships).

    Returns:
        The network in eval mode with its spec (an
        :class:`~ganedit.archs.cyclegan.spec.ArchSpec`, an ESRGAN-family spec or an
        :class:`~ganedit.archs.inpaint.spec.InpaintSpec`).

    Raises:
        CheckpointError: The file cannot be read, matches no known architecture (the message
            lists what was expected and what was found), or its tensors do not fit the
            detected network (missing, unexpected or differently shaped keys).

    Example:
        >>> gen = load_generator("latest_net_G_A.pth")  # doctest: +SKIP
        >>> gen.spec.arch, gen.spec.size_multiple  # doctest: +SKIP
        ('resnet_9blocks', 4)
        >>> gen.module(torch.zeros(1, 3, 256, 256)).shape  # doctest: +SKIP
        torch.Size([1, 3, 256, 256])
    """
    source, state_dict, built = _build(checkpoint, registry)
    if built.loaded:  # imported through spandrel, which loaded the weights itself
        built.module.eval()
        return LoadedGenerator(module=built.module, spec=built.spec, source=source)
    fitted = fit_norm_buffers(state_dict, built.module)
    _check_fit(source, fitted, built.module, built.spec)
    try:
        built.module.load_state_dict(fitted, strict=True)
    except RuntimeError as exc:  # e.g. a tensor that cannot be cast to float
        raise CheckpointError(f"{source}: loading the weights failed: {exc}") from exc
    built.module.eval()
    return LoadedGenerator(module=built.module, spec=built.spec, source=source)
