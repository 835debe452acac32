"""ganedit.export: torch modules and checkpoints -> self-describing, verified ONNX files.

The names below need the ``train`` extra (PyTorch, onnx): ``pip install 'ganedit[train]'``.
They are imported on first use (PEP 562), so that ``import ganedit.export`` and its torch-free
submodules do not import torch.

Example:
    >>> from ganedit.export import checkpoint_to_onnx
    >>> result = checkpoint_to_onnx("latest_net_G_A.pth", "horse2zebra.onnx")  # doctest: +SKIP
    >>> result.card.arch, result.max_abs_diff < 1e-4  # doctest: +SKIP
    ('resnet_9blocks', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .from_checkpoint import (
        NotExportable,
        checkpoint_to_onnx,
        generator_card,
        inference_module,
    )
    from .run import export_run, run_generator
    from .to_onnx import DEFAULT_OPSET, ExportError, ExportResult, export_onnx, verify_onnx

__all__ = [
    "DEFAULT_OPSET",
    "ExportError",
    "ExportResult",
    "NotExportable",
    "checkpoint_to_onnx",
    "export_onnx",
    "export_run",
    "generator_card",
    "inference_module",
    "run_generator",
    "verify_onnx",
]

# Public name -> the submodule that defines it.
_SUBMODULES = {
    "DEFAULT_OPSET": "to_onnx",
    "ExportError": "to_onnx",
    "ExportResult": "to_onnx",
    "NotExportable": "from_checkpoint",
    "checkpoint_to_onnx": "from_checkpoint",
    "export_onnx": "to_onnx",
    "export_run": "run",
    "generator_card": "from_checkpoint",
    "inference_module": "from_checkpoint",
    "run_generator": "run",
    "verify_onnx": "to_onnx",
}


def __getattr__(name: str) -> Any:
    submodule = _SUBMODULES.get(name)
    if submodule is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f".{submodule}", __name__)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] == "ganedit":
            raise
        raise ImportError(
            f"ganedit.export.{name} needs {exc.name}, which is not installed; install it with: "
            'pip install "ganedit[train]"'
        ) from exc
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
