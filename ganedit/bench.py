"""``ganedit bench``: how fast a model runs here, for choosing the size, batch and device.

The network alone is timed on random inputs of the requested size (padded to the card's size
multiple), after warm-up calls, for a fixed wall-clock budget. While it runs, the GPU's
utilisation is sampled with ``nvidia-smi`` when the model runs on CUDA; on the CPU the number of
busy cores is reported instead (process CPU time over wall time).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import threading
import time
from typing import Any

import numpy as np

from .codec import padded_size
from .model import Model

__all__ = ["BenchResult", "bench_model", "parse_size"]


@dataclasses.dataclass(frozen=True)
class BenchResult:
    """What one ``bench_model`` run measured.

    Attributes:
        model: The card's name.
        providers: onnxruntime providers in use, best first.
        height: Input height after padding to the size multiple.
        width: Input width after padding.
        batch: Images per call.
        calls: Timed calls.
        seconds: Wall time of the timed calls.
        images_per_s: ``batch * calls / seconds``.
        latency_ms: Median and 90th percentile time of one call.
        gpu_percent: Mean GPU utilisation reported by nvidia-smi (CUDA only; else ``None``).
        cpu_cores_busy: Process CPU time over wall time (CPU only; else ``None``).
    """

    model: str
    providers: list[str]
    height: int
    width: int
    batch: int
    calls: int
    seconds: float
    images_per_s: float
    latency_ms: tuple[float, float]
    gpu_percent: float | None
    cpu_cores_busy: float | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """One line, e.g. ``"batch 4 at 256x256: 12.3 images/s (p50 325 ms) ..."``."""
        if self.gpu_percent is not None:
            load = f"GPU {self.gpu_percent:.0f}% busy"
        elif self.cpu_cores_busy is not None:
            load = f"{self.cpu_cores_busy:.1f} CPU cores busy"
        else:
            load = "utilisation unknown"
        p50, p90 = self.latency_ms
        return (
            f"batch {self.batch} at {self.width}x{self.height}: {self.images_per_s:.2f} images/s "
            f"(per call p50 {p50:.1f} ms, p90 {p90:.1f} ms; {self.calls} calls), {load}"
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"256"`` -> (256, 256); ``"512x384"`` (width x height) -> (384, 512) as (h, w).

    Raises:
        ValueError: Not ``N`` or ``WxH`` with positive integers.
    """
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values, default=0) < 1:
        raise ValueError(f"size must be N or WIDTHxHEIGHT, got {text!r}")
    width, height = (values[0], values[0]) if len(values) == 1 else values
    return height, width


class _GpuSampler:
    """Samples ``nvidia-smi``'s utilisation every ``interval`` seconds in a thread."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ganedit-gpu-sampler", daemon=True)

    def _run(self) -> None:
        command = [
            "nvidia-smi",
            "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits",
        ]
        while not self._stop.wait(self.interval):
            try:
                out = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
                self.samples.append(float(out.split()[0]))
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                return

    def __enter__(self) -> _GpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.samples)) if self.samples else None


def bench_model(
    model: Model,
    *,
    height: int = 256,
    width: int = 256,
    batch: int = 1,
    seconds: float = 10.0,
    warmup: int = 2,
    seed: int = 0,
) -> BenchResult:
    """Time ``model``'s network on random ``batch`` × ``height`` × ``width`` inputs.

    Args:
        model: A loaded model (its ``run_batch`` is timed; no decoding or encoding).
        height: Input height, padded up to the card's size multiple and minimum size.
        width: Input width, likewise.
        batch: Images per call.
        seconds: Wall-clock budget of the timed calls (at least 3 calls are made).
        warmup: Untimed calls first (memory arenas, algorithm search).
        seed: Seed of the random input.
    """
    if batch < 1 or height < 1 or width < 1 or seconds <= 0:
        raise ValueError("batch, height, width and seconds must be positive")
    card = model.card
    h, w = padded_size(height, card), padded_size(width, card)
    channels = card.in_channels + (1 if card.mask is not None else 0)
    lo, hi = card.input_range
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, size=(batch, channels, h, w)).astype(np.float32)
    if card.mask is not None:
        x[:, card.mask.channel] = (rng.random((batch, h, w)) < 0.2).astype(np.float32)
    for _ in range(warmup):
        model.run_batch(x)
    providers = model.providers
    on_gpu = model.on_gpu  # onnxruntime's CUDA/TensorRT or torch on CUDA alike
    times: list[float] = []
    sampler = _GpuSampler() if on_gpu and shutil.which("nvidia-smi") else None
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    if sampler is not None:
        sampler.__enter__()
    try:
        while len(times) < 3 or time.perf_counter() - wall_start < seconds:
            start = time.perf_counter()
            model.run_batch(x)
            times.append(time.perf_counter() - start)
    finally:
        if sampler is not None:
            sampler.__exit__(None, None, None)
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    total = float(np.sum(times))
    return BenchResult(
        model=card.name,
        providers=providers,
        height=h,
        width=w,
        batch=batch,
        calls=len(times),
        seconds=total,
        images_per_s=batch * len(times) / total,
        latency_ms=(
            float(np.percentile(times, 50) * 1000),
            float(np.percentile(times, 90) * 1000),
        ),
        gpu_percent=sampler.mean if sampler is not None else None,
        cpu_cores_busy=None if on_gpu else cpu / wall,
    )
