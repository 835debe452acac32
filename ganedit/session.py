"""onnxruntime sessions: provider choice and the card stored in the file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .card import METADATA_KEY, ModelCard
from .errors import GaneditError, ModelCardError

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "FP16_PROVIDERS",
    "Device",
    "check_fp16_providers",
    "create_session",
    "read_card",
    "select_providers",
]

Device = Literal["auto", "cpu", "cuda"]
_DEVICES = ("auto", "cpu", "cuda")
# Providers that run float16 kernels; the CPU provider runs a float16 graph in float32 behind
# inserted Casts (no float16 Conv on x86), so float16 gains nothing there.
FP16_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


def select_providers(device: Device = "auto", providers: Sequence[str] | None = None) -> list[str]:
    """The onnxruntime execution providers for ``device``.

    ``auto`` takes CUDA when this onnxruntime build has it, else the CPU; ``cuda`` insists on CUDA;
    an explicit ``providers`` list wins over ``device``.

    Raises:
        GaneditError: ``cuda`` was asked for but onnxruntime has no CUDA provider, or a requested
            provider is not available.
    """
    import onnxruntime as ort

    available = ort.get_available_providers()
    if providers is not None:
        missing = [p for p in providers if p not in available]
        if missing:
            raise GaneditError(
                f"onnxruntime providers {missing} are not available; this build has {available}"
            )
        return list(providers)
    if device not in _DEVICES:
        raise GaneditError(f"device must be one of {_DEVICES}, got {device!r}")
    has_cuda = "CUDAExecutionProvider" in available
    if device == "cuda" and not has_cuda:
        raise GaneditError(
            "device 'cuda' was requested but this onnxruntime has no CUDA provider "
            f"(available: {available}); install the GPU build: pip install 'ganedit[gpu]'"
        )
    if device != "cpu" and has_cuda:
        gpu = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return (
            ["TensorrtExecutionProvider", *gpu] if "TensorrtExecutionProvider" in available else gpu
        )
    return ["CPUExecutionProvider"]


def check_fp16_providers(providers: Sequence[str]) -> None:
    """Accept ``providers`` for a float16 model only when the first one is a GPU provider.

    Raises:
        GaneditError: The model would run on the CPU; fp16 is never used there.
    """
    if not providers or providers[0] not in FP16_PROVIDERS:
        raise GaneditError(
            "--half needs a CUDA device; fp16 is never used on the CPU (onnxruntime's CPU "
            "provider would run a float16 model in float32 behind Casts). The model would run "
            f"on {list(providers)}: use --device cuda with the GPU build of onnxruntime "
            "(pip install 'ganedit[gpu]'), or drop --half."
        )


# CUDA: search the conv algorithms once per input shape (the pipeline batches equal shapes,
# so a job sees few), let cuDNN use the workspace it wants, and grow the memory arena by what
# is asked rather than doubling, which wastes memory when image sizes vary.
CUDA_OPTIONS = {
    "cudnn_conv_algo_search": "EXHAUSTIVE",
    "cudnn_conv_use_max_workspace": "1",
    "arena_extend_strategy": "kSameAsRequested",
    "do_copy_in_default_stream": "1",
}


def with_provider_options(
    providers: Sequence[str], *, home: Path | None = None
) -> list[str | tuple[str, dict[str, str]]]:
    """``providers`` with ganedit's tuned options: CUDA's above, and TensorRT's engine and
    timing caches under ``$GANEDIT_HOME/tensorrt`` (engines are built once per shape)."""
    out: list[str | tuple[str, dict[str, str]]] = []
    for name in providers:
        if name == "CUDAExecutionProvider":
            out.append((name, dict(CUDA_OPTIONS)))
        elif name == "TensorrtExecutionProvider":
            from .zoo import ModelCache

            cache = str((home or ModelCache().home) / "tensorrt")
            out.append(
                (
                    name,
                    {
                        "trt_engine_cache_enable": "True",
                        "trt_engine_cache_path": cache,
                        "trt_timing_cache_enable": "True",
                        "trt_timing_cache_path": cache,
                    },
                )
            )
        else:
            out.append(name)
    return out


def create_session(
    path: str | os.PathLike[str],
    *,
    device: Device = "auto",
    providers: Sequence[str] | None = None,
    threads: int | None = None,
) -> onnxruntime.InferenceSession:
    """An onnxruntime session for the model at ``path``.

    Args:
        path: An ``.onnx`` file.
        device: ``auto``, ``cpu`` or ``cuda``.
        providers: Explicit onnxruntime provider names; overrides ``device``.
        threads: Intra-op threads on the CPU (default: onnxruntime's choice, one per core).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
    chosen = select_providers(device, providers)
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=with_provider_options(chosen)
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise GaneditError(f"{path}: onnxruntime cannot load this model: {exc}") from exc


def read_card(session: onnxruntime.InferenceSession, path: str | os.PathLike[str]) -> ModelCard:
    """The ganedit model card stored in a loaded model.

    Raises:
        ModelCardError: The file carries no card (it was not made by ``ganedit export``).
    """
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise ModelCardError(
            f"{Path(path).name}: this ONNX file has no ganedit model card (metadata key "
            f"{METADATA_KEY!r}); found keys {sorted(meta)}. Make it with `ganedit export`."
        )
    try:
        return ModelCard.from_json(meta[METADATA_KEY])
    except ModelCardError as exc:
        raise ModelCardError(f"{Path(path).name}: {exc}") from exc
