"""The torch backend: run a checkpoint with PyTorch behind the same interface as onnxruntime.

For users with torch but without onnxruntime-gpu, and so that each backend keeps the other
honest. :class:`TorchSession` implements the :class:`~ganedit.session.Session` protocol, so
Translators, Upscalers and Inpainters run unchanged on either backend. The module and card come
from :func:`ganedit.export.inference_module`, the weights file from
:func:`ganedit.export.variants.checkpoint_file` (zoo download, denoise blend).

On CUDA the network runs channels-last, under fp16 (or bf16) autocast when ``half`` is asked
for, with input copies from pinned host memory that overlap the previous call's compute.
``torch.compile`` is used when asked for (it pays off over long jobs of equal shapes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .card import ModelCard
from .errors import GaneditError
from .resolve import Source, Variant

if TYPE_CHECKING:
    import torch

__all__ = ["TorchSession", "open_torch", "torch_available", "torch_cuda_available"]

Half = Literal["fp16", "bf16"] | None


def torch_available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_cuda_available() -> bool:
    """Whether PyTorch is installed and sees a CUDA device."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


class TorchSession:
    """A torch module behind the :class:`~ganedit.session.Session` protocol.

    Args:
        module: The network, ``(B, C, H, W)`` float in, ``(B, C', H', W')`` float out.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        half: ``"fp16"`` or ``"bf16"`` autocast (CUDA only), or ``None`` for fp32.
        compile: Wrap the module in ``torch.compile``.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        device: str = "cpu",
        half: Half = None,
        compile: bool = False,
    ):
        import torch

        self.device = torch.device(device)
        if half is not None and self.device.type != "cuda":
            raise GaneditError(
                f"{half} needs a CUDA device; half precision is never used on the CPU"
            )
        self.half = half
        self.channels_last = self.device.type == "cuda"
        module = module.eval().to(self.device)
        if self.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.module: Any = torch.compile(module) if compile else module

    is_network = True

    @property
    def providers(self) -> list[str]:
        """``["torch:DEVICE:PRECISION"]``, e.g. ``["torch:cuda:fp16"]``."""
        precision = self.half or "fp32"
        return [f"torch:{self.device}:{precision}"]

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

    def run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        with torch.inference_mode():
            if self.device.type == "cuda":
                x = x.pin_memory().to(self.device, non_blocking=True)
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
            dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.half or "")
            if dtype is not None:
                with torch.autocast(device_type="cuda", dtype=dtype):
                    y = self.module(x)
            else:
                y = self.module(x)
            return y.float().cpu().numpy()


def open_torch(
    source: Source,
    variant: Variant,
    *,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    threads: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    compile: bool = False,
    allow_noncommercial: bool | None = None,
) -> tuple[TorchSession, ModelCard, Path]:
    """Open a checkpoint or zoo source with PyTorch: the session, the card its ONNX export
    would carry, and the weights file.

    Raises:
        GaneditError: ``cuda`` asked for without a CUDA device, or ``half`` off CUDA.
        ImportError: PyTorch (or ganedit's export package) is not installed.
    """
    if device == "cuda" and not torch_cuda_available():
        raise GaneditError("device 'cuda' was requested but PyTorch sees no CUDA device")
    torch_device = "cuda" if device != "cpu" and torch_cuda_available() else "cpu"
    if variant.half and torch_device != "cuda":
        raise GaneditError("--half needs a CUDA device; fp16 is never used on the CPU")
    try:
        import torch

        from ganedit.export import inference_module, variants
    except ImportError as exc:
        raise ImportError(
            f"the torch backend needs PyTorch: pip install 'ganedit[train]' ({exc})"
        ) from exc
    checkpoint = variants.checkpoint_file(source, variant, progress=progress)
    if threads is not None:
        torch.set_num_threads(threads)
    module, card = inference_module(
        checkpoint,
        name=source.name,
        source=source.origin,
        license=source.license,
        norm_stats=variant.norm_stats,
        allow_noncommercial=allow_noncommercial,
    )
    session = TorchSession(
        module, device=torch_device, half="fp16" if variant.half else None, compile=compile
    )
    return session, card, checkpoint
