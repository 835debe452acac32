"""Sessions: what runs a network, behind one typed protocol.

:class:`Session` is what a :class:`~ganedit.model.Model` holds. :class:`OrtSession` runs an
``.onnx`` file with onnxruntime (provider choice, tuned CUDA/TensorRT options, IO binding on the
GPU); :class:`~ganedit.torch_backend.TorchSession` runs a checkpoint with PyTorch. Both say
where they run (``providers``, ``on_gpu``) so nothing else parses provider strings.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from .card import METADATA_KEY, ModelCard
from .errors import GaneditError, ModelCardError

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "GPU_PROVIDERS",
    "Device",
    "OrtSession",
    "Session",
    "check_fp16_providers",
    "select_providers",
    "with_provider_options",
]

Device = Literal["auto", "cpu", "cuda"]
_DEVICES = ("auto", "cpu", "cuda")
#: onnxruntime providers that run on a GPU. They are also the ones that run float16 kernels: the
#: CPU provider runs a float16 graph in float32 behind inserted Casts (no float16 Conv on x86).
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")


class Session(Protocol):
    """What runs a model's network: onnxruntime, PyTorch, or (for the OpenCV inpainting
    baselines) no network at all.

    ``run`` takes ``(B, C, H, W)`` float32 in the card's ``input_range`` (H and W as the card
    requires) and returns ``(B, C_out, H*scale, W*scale)`` float32 in its ``output_range``.
    """

    @property
    def providers(self) -> list[str]:
        """Where it runs, best first: onnxruntime provider names, ``torch:DEVICE:PRECISION``, or
        ``opencv``."""
        ...

    @property
    def on_gpu(self) -> bool:
        """Whether the network runs on a GPU."""
        ...

    @property
    def is_network(self) -> bool:
        """Whether ``run`` runs a network (``False`` for an algorithm with no batch to time)."""
        ...

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on a batch (see the class docstring)."""
        ...


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
    if not providers or providers[0] not in GPU_PROVIDERS:
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


class OrtSession:
    """An ``.onnx`` file opened with onnxruntime.

    Args:
        path: The ``.onnx`` file.
        device: ``auto`` (CUDA when this onnxruntime has it), ``cpu`` or ``cuda``.
        providers: Explicit onnxruntime provider names; overrides ``device``.
        threads: Intra-op threads on the CPU (default: onnxruntime's choice, one per core).

    Raises:
        GaneditError: The device or providers are not available, or onnxruntime cannot load
            the file (the message names it).
    """

    is_network = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: Device = "auto",
        providers: Sequence[str] | None = None,
        threads: int | None = None,
    ):
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = threads
        chosen = select_providers(device, providers)
        try:
            self.ort: onnxruntime.InferenceSession = ort.InferenceSession(
                str(path), sess_options=options, providers=with_provider_options(chosen)
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise GaneditError(f"{path}: onnxruntime cannot load this model: {exc}") from exc
        self._input = self.ort.get_inputs()[0].name
        self._output = self.ort.get_outputs()[0].name
        # On the GPU, inputs and outputs go through IO binding: one host->device copy in, the
        # output allocated by onnxruntime on the device and copied out once.
        self.bind_device: str | None = "cuda" if self.on_gpu else None

    @property
    def providers(self) -> list[str]:
        return list(self.ort.get_providers())

    @property
    def on_gpu(self) -> bool:
        return self.providers[0] in GPU_PROVIDERS

    @property
    def card(self) -> ModelCard:
        """The ganedit model card stored in the file.

        Raises:
            ModelCardError: The file carries no card (it was not made by ``ganedit export``),
                or a malformed one; the message names the file.
        """
        meta = self.ort.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise ModelCardError(
                f"{self.path.name}: this ONNX file has no ganedit model card (metadata key "
                f"{METADATA_KEY!r}); found keys {sorted(meta)}. Make it with `ganedit export`."
            )
        try:
            return ModelCard.from_json(meta[METADATA_KEY])
        except ModelCardError as exc:
            raise ModelCardError(f"{self.path.name}: {exc}") from exc

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.bind_device is not None:
            return self.run_bound(batch, self.bind_device)
        (out,) = self.ort.run(None, {self._input: batch})
        return out

    def run_bound(self, batch: np.ndarray, device: str) -> np.ndarray:
        """:meth:`run` through onnxruntime's IO binding on ``device`` (``"cuda"``, ``"cpu"``)."""
        import onnxruntime as ort

        binding = self.ort.io_binding()
        value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), device, 0)
        binding.bind_ortvalue_input(self._input, value)
        binding.bind_output(self._output, device)
        self.ort.run_with_iobinding(binding)
        (out,) = binding.copy_outputs_to_cpu()
        return out

    def __repr__(self) -> str:
        return f"OrtSession({str(self.path)!r}, providers={self.providers})"
