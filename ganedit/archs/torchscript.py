"""Read the weights of a TorchScript archive without running it.

Some models are published only as TorchScript (``torch.jit.save``): IOPaint's big-lama.pt is
one. ``torch.jit.load`` would run code from the file (a scripted class's ``__setstate__`` runs
at load time), and ``torch.load(weights_only=True)`` refuses such archives. This module reads
the archive's ``data.pkl`` with an unpickler that builds only tensors, plain containers and a
record of each scripted module's attributes, then walks the modules for their tensors: the
names a ``state_dict()`` of the loaded module would give (``generator.model.1.ffc.…``).

The archive's layout (a zip with ``<name>/data.pkl``, storages in ``<name>/data/<key>``, the
scripted code in ``<name>/code/``) is PyTorch's serialisation format; nothing of the code is
read.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["is_torchscript_archive", "read_torchscript_tensors"]

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}
# TorchScript's pickler writes typed lists through these helpers; each returns its argument.
_LIST_BUILDERS = {
    "build_intlist",
    "build_floatlist",
    "build_boollist",
    "build_doublelist",
    "build_tensorlist",
    "build_genericlist",
}


def is_torchscript_archive(path: Path) -> bool:
    """Whether ``path`` is a zip holding a ``data.pkl`` and scripted code (``torch.jit.save``),
    as opposed to a ``torch.save`` checkpoint (a zip without ``code/``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(n.endswith("/data.pkl") for n in names) and any("/code/" in n for n in names)


class _ScriptObject:
    """A scripted module or object, reduced to its attributes."""

    qualified_name = ""

    def __setstate__(self, state: Any) -> None:
        self.attributes = dict(state) if isinstance(state, dict) else {}


def _rebuild_tensor(
    flat: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> torch.Tensor:
    """A tensor of ``size`` and ``stride`` at ``offset`` in a storage (read as a flat tensor)."""
    if not size:
        return flat[offset].clone()
    return flat.as_strided(size, stride, offset).clone()


def _identity(value: Any, *_: Any) -> Any:
    return value


class _Unpickler(pickle.Unpickler):
    """Builds tensors from the archive's storages and nothing but data otherwise."""

    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, source: Path):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._prefix = prefix
        self._source = source
        self._classes: dict[str, type[_ScriptObject]] = {}
        self._storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qualified = f"{module}.{name}"
            if qualified not in self._classes:
                cls = type(name, (_ScriptObject,), {"qualified_name": qualified})
                self._classes[qualified] = cls
            return self._classes[qualified]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _identity
        if module == "torch.jit._pickle" and (name in _LIST_BUILDERS or name == "restore_type_tag"):
            return _identity
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(
            f"unsupported global in a TorchScript archive: {module}.{name}"
        )

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.80}")
        dtype, key = pid[1], str(pid[2])
        if not isinstance(dtype, torch.dtype):
            raise pickle.UnpicklingError(f"unsupported storage type {dtype!r:.80}")
        if key not in self._storages:
            raw = bytearray(self._archive.read(f"{self._prefix}data/{key}"))
            self._storages[key] = (
                torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
            )
        return self._storages[key]


def _collect(obj: Any, prefix: str, out: dict[str, torch.Tensor], seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    for name, value in getattr(obj, "attributes", {}).items():
        if isinstance(value, torch.Tensor):
            out[f"{prefix}{name}"] = value
        elif isinstance(value, _ScriptObject):
            _collect(value, f"{prefix}{name}.", out, seen)


def read_torchscript_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The named tensors of a TorchScript archive's modules (parameters and buffers), read
    without running anything from the file.

    Raises:
        pickle.UnpicklingError: The archive pickles something other than modules, tensors
            and plain data.
        KeyError: The archive lacks a storage its pickle names.
        zipfile.BadZipFile: Not a zip file.
    """
    with zipfile.ZipFile(path) as archive:
        data_pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
        prefix = data_pkl[: -len("data.pkl")]
        root = _Unpickler(archive.read(data_pkl), archive, prefix, path).load()
    tensors: dict[str, torch.Tensor] = {}
    _collect(root, "", tensors, set())
    return tensors
