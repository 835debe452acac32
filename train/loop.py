"""The training loop: data, recipe, schedules, checkpoints, samples, logs; resumable and DDP-ready.

``train(config)`` starts a run in ``config.run.out``; ``train(config, resume=True)`` continues the
run from its ``latest`` checkpoint at the same step, learning rate, image-pool contents, data
order and random state, so a resumed run ends with the same weights as an uninterrupted one (on
the CPU with ``deterministic``).
"""

from __future__ import annotations

import dataclasses
import random
import signal
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import torch

from ganedit.errors import GaneditError

from .config import TrainConfig
from .cyclegan import CycleGAN
from .data import EpochSampler
from .distributed import DistInfo, init_distributed, shutdown_distributed, wrap_for_ddp
from .inpaint import Inpainting
from .pix2pix import Pix2Pix
from .recipe import Precision, Recipe
from .run_state import Progress, latest_checkpoint, load_checkpoint, save_checkpoint
from .samples import save_sample_grid
from .schedule import make_scheduler
from .sr import SuperResolution

__all__ = ["StepCallback", "resolve_device", "train"]

#: Every recipe by its name (``TrainConfig.recipe``).
RECIPES: dict[str, type[Recipe]] = {
    recipe.name: recipe for recipe in (CycleGAN, Pix2Pix, SuperResolution, Inpainting)
}

# Called after every completed step with the progress and that step's losses.
StepCallback = Callable[[Progress, dict[str, float]], None]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> this process's CUDA device when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GaneditError(f"device {name!r} requested but CUDA is not available")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


class _StopRequest:
    """Turns SIGINT/SIGTERM into a request honoured between steps, so a checkpoint is whole."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _Logger:
    """Rank-0 console and TensorBoard logging."""

    def __init__(self, run_dir: Path, enabled: bool, stream: TextIO):
        self.enabled = enabled
        self.stream = stream
        self.writer = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is in the train extra; go on without it
                print("tensorboard is not installed: no event logs", file=stream)
            else:
                self.writer = SummaryWriter(str(run_dir / "logs"))
        self._last = time.perf_counter()
        self._last_step = 0
        self._bar = enabled and hasattr(stream, "isatty") and stream.isatty()
        self._bar_start: tuple[float, int] | None = None

    def tick(self, progress: Progress, losses: dict[str, float], total: int, batch: int) -> None:
        """On a terminal: one self-overwriting line with the step, losses, rate and ETA."""
        if not self._bar:
            return
        now = time.perf_counter()
        if self._bar_start is None:  # rates count from the first step this run saw
            self._bar_start = (now, progress.step)
        started, first = self._bar_start
        text = " ".join(f"{k} {v:.2f}" for k, v in losses.items())
        line = f"\r{progress.step}/{total} | {text}"
        if progress.step > first:
            per_step = (now - started) / (progress.step - first)
            eta = int(max(total - progress.step, 0) * per_step)
            line += f" | {batch / per_step:.2f} images/s | ETA {eta // 3600}:{eta % 3600 // 60:02d}"
            line += f":{eta % 60:02d}"
        self.stream.write(line[:200].ljust(80))
        self.stream.flush()

    def losses(self, progress: Progress, losses: dict[str, float], lr: float, batch: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        rate = (progress.step - self._last_step) * batch / max(now - self._last, 1e-9)
        self._last, self._last_step = now, progress.step
        text = " ".join(f"{k} {v:.3f}" for k, v in losses.items())
        print(
            ("\n" if self._bar else "")
            + f"step {progress.step} epoch {progress.epoch + 1} | {text} | lr {lr:.2e} | "
            + f"{rate:.2f} images/s",
            file=self.stream,
            flush=True,
        )
        if self.writer is not None:
            for key, value in losses.items():
                self.writer.add_scalar(f"loss/{key}", value, progress.step)
            self.writer.add_scalar("lr", lr, progress.step)
            self.writer.add_scalar("images_per_s", rate, progress.step)

    def image(self, tag: str, grid: torch.Tensor, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, grid, step)

    def note(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def _set_determinism(deterministic: bool, device: torch.device) -> None:
    if deterministic:
        if device.type == "cuda":
            import os

            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = device.type == "cuda"


def _prepare_run_dir(config: TrainConfig, resume: bool) -> tuple[Path, TrainConfig]:
    run_dir = Path(config.run.out)
    saved = run_dir / "config.json"
    if resume:
        if not saved.is_file():
            raise GaneditError(f"cannot resume {run_dir}: it has no config.json")
        stored = TrainConfig.load(saved)
        if stored.recipe != config.recipe:
            raise GaneditError(
                f"cannot resume {run_dir} as {config.recipe}: it is a {stored.recipe} run"
            )
        # Only the stopping point may change on resume; everything else is the run's own.
        run = dataclasses.replace(stored.run, max_steps=config.run.max_steps, out=str(run_dir))
        return run_dir, dataclasses.replace(stored, run=run)
    if saved.exists() or (run_dir / "checkpoints").exists():
        raise GaneditError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose "
            "another --out"
        )
    return run_dir, config


def _loader(dataset: Any, sampler: EpochSampler, config: TrainConfig, device: torch.device):
    # The loader's own generator: without one, its iterator draws the worker base seed from
    # the global RNG, which would put a resumed run's global stream, and its dropout masks,
    # out of step with an uninterrupted one.
    generator = torch.Generator().manual_seed(config.run.seed * 1_000_003 + sampler.epoch)
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=config.data.batch_size,
        sampler=sampler,
        num_workers=config.data.workers,
        pin_memory=device.type == "cuda",
        drop_last=False,
        generator=generator,
        # One loader for the whole run: with small folders an epoch is a step or two, and
        # starting worker processes every epoch would cost more than the step itself.
        persistent_workers=config.data.workers > 0,
    )


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    callbacks: tuple[StepCallback, ...] = (),
    stream: TextIO | None = None,
) -> Path:
    """Run (or resume) a training run; returns the run directory.

    Under ``torchrun`` each process trains on its shard of the data with DDP; only rank 0 writes
    logs, samples and checkpoints.

    Args:
        config: The run's options (``config.run.out`` is the run directory).
        resume: Continue the run in ``config.run.out`` from its latest checkpoint; the stored
            configuration is used, except ``max_steps``.
        callbacks: Called after every step with the progress and the losses (tests, hooks).
        stream: Where progress lines go (default: stdout).

    Raises:
        GaneditError: Bad run directory, dataset or device.
    """
    stream = stream or sys.stdout
    device_pref = (
        "cuda"
        if config.run.device.startswith("cuda")
        or (config.run.device == "auto" and torch.cuda.is_available())
        else "cpu"
    )
    dist = init_distributed(device_pref)
    # Deterministic mode is process-wide in torch; give the caller back what it had.
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    benchmark_before = torch.backends.cudnn.benchmark
    try:
        return _train(config, resume=resume, callbacks=callbacks, stream=stream, dist=dist)
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.backends.cudnn.benchmark = benchmark_before
        shutdown_distributed(dist)


@dataclasses.dataclass
class _Run:
    """A built run: what the loop needs, in the order it was made (see :func:`_build`)."""

    config: TrainConfig
    run_dir: Path
    device: torch.device
    dist: DistInfo
    log: _Logger
    dataset: Any
    sampler: EpochSampler
    recipe: Recipe
    schedulers: dict[str, Any]


def _build(config: TrainConfig, *, resume: bool, stream: TextIO, dist: DistInfo) -> _Run:
    """The run directory, logger, seeds, data, networks and schedules of a run (in this order:
    the seeds are set before anything random is built)."""
    device = resolve_device(config.run.device, dist.local_rank)
    if config.run.amp and device.type != "cuda":
        raise GaneditError("--amp (float16 mixed precision) needs a CUDA device")
    run_dir, config = _prepare_run_dir(config, resume)
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    log = _Logger(run_dir, dist.is_main, stream)
    _set_determinism(config.run.deterministic, device)
    seed = config.run.seed
    _seed_everything(seed + dist.rank)

    recipe_type = RECIPES[config.recipe]
    dataset = recipe_type.build_dataset(config, seed)
    # (epoch, index) keys: each sample's random choices follow from them, in any worker.
    sampler = EpochSampler(
        len(dataset), seed=seed, rank=dist.rank, world_size=dist.world_size, yield_epoch=True
    )
    wrap = (lambda net: wrap_for_ddp(net, device)) if dist.enabled else None
    recipe = recipe_type(
        net=config.net,
        optim=config.optim,
        loss=config.loss,
        device=device,
        precision=Precision(device=device, enabled=config.run.amp),
        seed=seed,
        rank=dist.rank,
        wrap=wrap,
    )
    if dist.is_main and not resume:
        # Only once the data and networks are built: a run that cannot start (no VGG weights,
        # a bad --init-from) leaves no config.json, so the fixed command may reuse the --out.
        config.save(run_dir / "config.json")
    schedulers = {
        name: make_scheduler(
            opt,
            policy=config.optim.lr_policy,
            epochs=config.optim.epochs,
            epochs_decay=config.optim.epochs_decay,
        )
        for name, opt in recipe.optimizers.items()
    }
    return _Run(config, run_dir, device, dist, log, dataset, sampler, recipe, schedulers)


def _resume(run: _Run) -> Progress:
    """Where a resumed run starts: its latest checkpoint's progress (networks, optimisers,
    schedules and random state restored), or step 0 when it has none yet."""
    latest = latest_checkpoint(run.run_dir)
    if latest is None:
        run.log.note(f"{run.run_dir} has no checkpoint yet: starting from step 0")
        return Progress()
    progress = load_checkpoint(latest, run.recipe, run.schedulers)
    if run.dist.rank != 0:
        # The checkpoint holds rank 0's random state; other ranks get fresh streams,
        # apart from rank 0's and from their own earlier ones.
        _seed_everything(run.config.run.seed + run.dist.rank + progress.step)
    run.log.note(f"resumed {run.run_dir} at step {progress.step} (epoch {progress.epoch + 1})")
    return progress


def _train(
    config: TrainConfig,
    *,
    resume: bool,
    callbacks: tuple[StepCallback, ...],
    stream: TextIO,
    dist: DistInfo,
) -> Path:
    run = _build(config, resume=resume, stream=stream, dist=dist)
    progress = _resume(run) if resume else Progress()
    _run_epochs(run, progress, callbacks)
    run.log.close()
    return run.run_dir


def _run_epochs(run: _Run, progress: Progress, callbacks: tuple[StepCallback, ...]) -> None:
    """Train from ``progress`` to the last epoch (or ``max_steps``, or a stop request), with
    logs, samples and checkpoints on their schedules; always ends with a checkpoint."""
    config, data, dist, recipe, log = run.config, run.config.data, run.dist, run.recipe, run.log
    total_epochs = config.optim.epochs + config.optim.epochs_decay
    max_steps = config.run.max_steps
    steps_per_epoch = -(-run.sampler.num_samples // data.batch_size)
    total_steps = min(max_steps or 10**12, total_epochs * steps_per_epoch)
    recipe.train()
    log.note(
        f"{config.recipe}: {len(run.dataset)} training samples, {run.sampler.num_samples} per "
        f"process, batch {data.batch_size}, {total_epochs} epochs, device {run.device}"
        + (f", {dist.world_size} processes" if dist.enabled else "")
    )

    def save() -> None:
        if dist.is_main:
            path = save_checkpoint(
                run.run_dir, recipe, run.schedulers, progress, keep=config.run.keep
            )
            log.note(f"saved {path}")

    def done() -> bool:
        return max_steps is not None and progress.step >= max_steps

    loader = _loader(run.dataset, run.sampler, config, run.device)
    with _StopRequest() as stop:
        while progress.epoch < total_epochs and not done():
            done_samples = progress.batch_in_epoch * data.batch_size
            run.sampler.set_epoch(progress.epoch, skip=min(done_samples, run.sampler.num_samples))
            for batch in loader:
                losses = recipe.step(batch)
                progress.step += 1
                progress.batch_in_epoch += 1
                for callback in callbacks:
                    callback(progress, losses)
                log.tick(progress, losses, total_steps, data.batch_size * dist.world_size)
                step = progress.step
                if step % config.run.log_every == 0:
                    lr = recipe.optimizers["G"].param_groups[0]["lr"]
                    log.losses(progress, losses, lr, data.batch_size * dist.world_size)
                if dist.is_main and step % config.run.sample_every == 0:
                    grid = save_sample_grid(recipe.visuals, run.run_dir / "samples", step)
                    log.image("samples", grid, step)
                if done() or stop.requested:
                    break
                if step % config.run.save_every == 0:
                    save()
            else:
                progress.epoch += 1
                progress.batch_in_epoch = 0
                with warnings.catch_warnings():
                    # A run resumed at an epoch's end steps its schedulers before this process
                    # has stepped an optimiser; across the whole run the order is right.
                    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler")
                    for scheduler in run.schedulers.values():
                        scheduler.step()
                continue
            break
        save()
        if stop.requested:
            log.note(f"stopped at step {progress.step}; continue with --resume {run.run_dir}")
