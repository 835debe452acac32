"""ganedit.export: torch modules and checkpoints -> self-describing, verified ONNX files.

Needs the ``train`` extra (PyTorch, onnx): ``pip install 'ganedit[train]'``.
"""

from .checkpoint import checkpoint_to_onnx, generator_card
from .run import export_run, run_generator
from .to_onnx import DEFAULT_OPSET, ExportError, ExportResult, export_onnx, verify_onnx

__all__ = [
    "DEFAULT_OPSET",
    "ExportError",
    "ExportResult",
    "checkpoint_to_onnx",
    "export_onnx",
    "export_run",
    "generator_card",
    "run_generator",
    "verify_onnx",
]
