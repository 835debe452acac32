"""Resolving what ``ganedit.load`` is given: a zoo name, an ``.onnx`` file or a checkpoint.

``CHECKPOINT_SUFFIXES`` is the one list of weight-file suffixes ganedit reads; the torch-side
reader (:mod:`ganedit.archs.checkpoint`) imports it from here, so the runtime can check a
suffix without importing torch.
"""

from __future__ import annotations

__all__ = ["CHECKPOINT_SUFFIXES"]

#: Suffixes of the weight files ganedit reads (``.pth``/``.pt``/``.bin`` with
#: ``torch.load(weights_only=True)``, ``.safetensors`` with safetensors), lower case.
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".bin", ".safetensors")
