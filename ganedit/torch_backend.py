"""The torch backend: run a checkpoint with PyTorch behind the same interface as onnxruntime.

For users with torch but without onnxruntime-gpu, and so that each backend keeps the other
honest. :class:`TorchSession` offers the three things :class:`~ganedit.model.Model` asks of an
onnxruntime session (``get_inputs``, ``run``, ``get_providers``), so Translators, Upscalers and
Inpainters run unchanged on either backend.

On CUDA the network runs channels-last, under fp16 (or bf16) autocast when ``half`` is asked
for, with input copies from pinned host memory that overlap the previous call's compute.
``torch.compile`` is used when asked for (it pays off over long jobs of equal shapes).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .card import ModelCard
from .errors import GaneditError

if TYPE_CHECKING:
    import torch

__all__ = ["TorchSession", "torch_available", "torch_cuda_available", "torch_session"]

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


@dataclasses.dataclass(frozen=True)
class _Input:
    name: str


class TorchSession:
    """A torch module that answers like an onnxruntime ``InferenceSession``.

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

    def get_inputs(self) -> list[_Input]:
        return [_Input("image")]

    def get_providers(self) -> list[str]:
        precision = self.half or "fp32"
        return [f"torch:{self.device}:{precision}"]

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        (batch,) = feeds.values()
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
            return [y.float().cpu().numpy()]


def torch_session(
    checkpoint: str | os.PathLike[str],
    *,
    name: str,
    source: str,
    license: str = "",
    device: str = "cpu",
    half: Half = None,
    norm_stats: Literal["image", "running"] = "image",
    compile: bool = False,
) -> tuple[TorchSession, ModelCard]:
    """Load a checkpoint (architecture detected from its keys) into a :class:`TorchSession`
    and the card its ONNX export would carry."""
    try:
        from ganedit.archs import load_generator, use_running_statistics
        from ganedit.export.from_checkpoint import generator_card
    except ImportError as exc:
        raise ImportError(
            f"the torch backend needs PyTorch: pip install 'ganedit[train]' ({exc})"
        ) from exc
    loaded = load_generator(Path(checkpoint))
    module = loaded.module
    if norm_stats == "running":
        module = use_running_statistics(module)
    card = generator_card(
        loaded.spec, name=name, source=source, license=license, norm_stats=norm_stats
    )
    return TorchSession(module, device=device, half=half, compile=compile), card
