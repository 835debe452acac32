"""Options and helpers shared by the ``ganedit train`` commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganedit.errors import GaneditError

from .config import DataOptions, RunOptions, TrainConfig

__all__ = [
    "CONTEXT",
    "decorate",
    "photo_data_options",
    "photo_loader_options",
    "require_data_and_out",
    "run_head_options",
    "run_options",
    "run_tail_options",
    "run_training",
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def run_head_options() -> list[Callable[..., Any]]:
    return [
        click.option(
            "--data",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Dataset folder (required unless --resume).",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            help="Run directory to create (required unless --resume).",
        ),
        click.option(
            "--resume",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Continue the run in this directory from its latest checkpoint.",
        ),
        click.option(
            "--max-steps",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many steps in total (quick runs).",
        ),
    ]


def run_tail_options() -> list[Callable[..., Any]]:
    return [
        click.option("--seed", type=int, default=0, show_default=True),
        click.option(
            "--save-every",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Checkpoint every N steps (and at the end).",
        ),
        click.option(
            "--sample-every",
            type=click.IntRange(min=1),
            default=500,
            show_default=True,
            help="Sample grid every N steps.",
        ),
        click.option("--log-every", type=click.IntRange(min=1), default=50, show_default=True),
        click.option(
            "--keep",
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="Checkpoints to keep (0: all).",
        ),
        click.option(
            "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."
        ),
        click.option(
            "--deterministic",
            is_flag=True,
            help="Deterministic algorithms (bitwise reproducible on the CPU).",
        ),
        click.option("--amp", is_flag=True, help="float16 mixed precision (CUDA only)."),
    ]


def run_options(
    *,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
) -> RunOptions:
    """The run options of :func:`run_head_options` and :func:`run_tail_options`; a resumed
    run lives in its ``--resume`` directory."""
    return RunOptions(
        out=str(resume if resume is not None else out),
        max_steps=max_steps,
        save_every=save_every,
        sample_every=sample_every,
        log_every=log_every,
        keep=keep,
        seed=seed,
        device=device,
        deterministic=deterministic,
        amp=amp,
    )


def decorate(
    options: list[Callable[..., Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def photo_loader_options() -> list[Callable[..., Any]]:
    """How the one-folder recipes (sr, inpaint) feed their photos; read by
    :func:`photo_data_options`."""
    return [
        click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True),
        click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True),
        click.option("--max-size", type=click.IntRange(min=1), default=None),
        click.option(
            "--epochs",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Passes over the photos (constant learning rate; use --max-steps).",
        ),
    ]


def photo_data_options(
    *,
    data: Path | None,
    crop_size: int,
    no_flip: bool,
    batch_size: int,
    workers: int,
    max_size: int | None,
) -> DataOptions:
    """The data options of the one-folder recipes (sr, inpaint): square crops of photos."""
    return DataOptions(
        root=str(data) if data is not None else "",
        crop_size=crop_size,
        load_size=crop_size,
        no_flip=no_flip,
        batch_size=batch_size,
        workers=workers,
        max_size=max_size,
    )


def require_data_and_out(*, data: Path | None, out: Path | None, resume: Path | None) -> None:
    """A new run needs ``--data`` and ``--out``; a resumed one takes them from its directory."""
    if resume is None and (data is None or out is None):
        raise click.UsageError("--data and --out are required (or --resume RUN_DIR)")


def run_training(config: TrainConfig, resume: bool) -> None:
    from .loop import train

    try:
        run_dir = train(config, resume=resume)
    except GaneditError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if int(os.environ.get("RANK", "0")) == 0:  # one line, not one per torchrun process
        click.echo(f"run directory: {run_dir}")
        click.echo(f"export it with: ganedit export {run_dir} -o {Path(run_dir).name}.onnx")
