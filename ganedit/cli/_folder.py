"""The folder job of ``translate``, ``upscale`` and ``inpaint``: its options (folded into a
:class:`FolderJob`), and running it — here or on Ray — to a summary and an exit code."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from ..errors import GaneditError
from ..report import printable
from ._shared import (
    ClickProgress,
    device_option,
    fail,
    json_option,
    load_model,
    option_group,
    quiet_option,
)

__all__ = ["FolderJob", "folder_options"]


# -- the folder job ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FolderJob:
    """What ``translate``, ``upscale`` and ``inpaint`` share: the model, the files, where the
    results go, how the job runs, and how it reports."""

    model: str
    inputs: tuple[Path, ...]
    output: Path
    settings: Any  # FolderSettings (imported lazily: `ganedit --help` stays fast)
    device: Any  # Device
    quiet: bool
    as_json: bool
    runner: Any = None  # a ganedit.ray.RayRunner with --ray; None runs here

    def load(self, task: str, *, variant: Any, runtime: Any) -> Any:
        """:func:`load_model` for this job's model and device; a model of another task is
        refused, naming the command that runs it."""
        return load_model(
            self.model,
            task=task,
            device=self.device,
            variant=variant,
            runtime=runtime,
            quiet=self.quiet,
        )

    def run(self, model: Any, *, masks: Any = None) -> NoReturn:
        """Run the folder job, print the summary (or JSON) and exit with the report's code."""
        from ..pipeline import process_folder
        from ..report import JobInterrupted

        progress = ClickProgress(f"{model.card.name}", enabled=not self.quiet)
        try:
            with _sigterm_interrupts(), self._ray_notices():
                report = process_folder(
                    model,
                    self.inputs,
                    self.output,
                    settings=self.settings,
                    progress=progress,
                    masks=masks,
                    runner=self.runner,
                )
        except (GaneditError, ImportError) as exc:  # ImportError: --ray without Ray installed
            progress.close()
            fail(exc)
        except JobInterrupted as stop:
            report = stop.report
        progress.close()
        if self.as_json:
            click.echo(json.dumps(report.to_dict(), indent=2))
        if not self.quiet:
            click.echo(report.summary(), err=True)
        else:
            for failure in report.failed:
                click.echo(
                    f"failed: {printable(failure.source)}: {printable(failure.reason)}", err=True
                )
            if report.interrupted:
                click.echo(f"interrupted: {report.not_started} not done", err=True)
        sys.exit(report.exit_code)

    @contextlib.contextmanager
    def _ray_notices(self) -> Iterator[None]:
        """On Ray: Ray's messages, which it prints on standard output, as one short
        ``ray: ...`` line each on stderr (unless quiet), so that stdout keeps only the JSON."""
        if self.runner is None:
            yield
            return
        from ..ray import Notices

        def say(line: str) -> None:
            if not self.quiet:
                click.echo(f"ray: {printable(line)}", err=True)

        with contextlib.redirect_stdout(Notices(say)):
            yield


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within: SIGTERM stops the job as Ctrl-C does (after the files in flight, with a
    summary), instead of killing the process mid-write. Only in the main thread, where signal
    handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _memory_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from ..memory import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except GaneditError as exc:
        raise click.BadParameter(str(exc)) from None


def _folder_job(
    *,
    model: str,
    inputs: tuple[Path, ...],
    output: Path,
    recursive: bool,
    overwrite: bool,
    ext: str | None,
    device: str,
    batch_size: int,
    workers: int | None,
    jpeg_quality: int,
    no_fsync: bool,
    max_memory: int | None,
    quiet: bool,
    as_json: bool,
    ray_address: str | None,
    ray_actors: int | None,
    ray_cpus_per_actor: float | None,
    ray_gpus_per_actor: float | None,
) -> FolderJob:
    from ..pipeline import FolderSettings

    settings = FolderSettings(
        recursive=recursive,
        batch_size=batch_size,
        overwrite=overwrite,
        ext=ext,
        workers=workers,
        jpeg_quality=jpeg_quality,
        fsync=not no_fsync,
        max_memory=max_memory,
    )
    runner = None
    ray_options = {
        "--ray-actors": ray_actors,
        "--ray-cpus-per-actor": ray_cpus_per_actor,
        "--ray-gpus-per-actor": ray_gpus_per_actor,
    }
    if ray_address is not None:
        from ..ray import RayRunner

        runner = RayRunner(
            address=None if ray_address == _RAY_DEFAULT else ray_address,
            actors=ray_actors,
            cpus_per_actor=ray_cpus_per_actor,
            gpus_per_actor=ray_gpus_per_actor,
        )
    elif given := [name for name, value in ray_options.items() if value is not None]:
        raise ValueError(f"{given[0]} needs --ray (run on a Ray cluster)")
    return FolderJob(model, inputs, output, settings, device, quiet, as_json, runner)


# `--ray` given without an address: RAY_ADDRESS, or a new local cluster.
_RAY_DEFAULT = "(RAY_ADDRESS or a new local cluster)"


folder_options = option_group(
    "job",
    _folder_job,
    [
        click.argument("model"),
        click.argument(
            "inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
        ),
        click.option(
            "-o",
            "--output",
            required=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder for the results; inputs keep their relative paths under it.",
        ),
        click.option("-r", "--recursive", is_flag=True, help="Descend into subfolders."),
        click.option(
            "--overwrite", is_flag=True, help="Redo outputs that exist (default: skip them)."
        ),
        click.option("--ext", help="Output format by suffix, e.g. png (default: input's)."),
        device_option,
        click.option(
            "--batch-size",
            default=1,
            show_default=True,
            type=click.IntRange(min=1),
            help="Images of equal padded size run through the network together.",
        ),
        click.option(
            "--workers",
            default=None,
            type=click.IntRange(min=1),
            help="Decode and encode threads (each; default 2 on the CPU, up to 8 on a GPU).",
        ),
        click.option(
            "--jpeg-quality",
            default=95,
            show_default=True,
            type=click.IntRange(1, 100),
            help="Quality of JPEG and WebP outputs.",
        ),
        click.option(
            "--no-fsync",
            is_flag=True,
            help="Do not fsync each output (faster on big jobs; still atomic, but a power cut "
            "may lose the newest files).",
        ),
        click.option(
            "--max-memory",
            default=None,
            metavar="SIZE",
            callback=_memory_size,
            help="Memory one image may take, estimated from its header before it is decoded "
            "(e.g. 8G; 0: no limit) [default: half the memory available, shared by the images "
            "in flight].",
        ),
        click.option(
            "--ray",
            "ray_address",
            is_flag=False,
            flag_value=_RAY_DEFAULT,
            default=None,
            metavar="[ADDRESS]",
            help="Run on a Ray cluster with Ray Data (pip install 'ganedit[ray]'): ADDRESS "
            "such as auto, HOST:6379 or ray://HOST:10001; alone (put it after the inputs, or "
            "write --ray=ADDRESS), RAY_ADDRESS or a new local cluster. Same outputs, summary "
            "and exit codes as a local run.",
        ),
        click.option(
            "--ray-actors",
            type=click.IntRange(min=1),
            default=None,
            help="Actors, each holding the model once [default: one per GPU, or per node].",
        ),
        click.option(
            "--ray-cpus-per-actor",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="CPUs per actor [default: 1 with GPUs, else the CPUs shared among actors].",
        ),
        click.option(
            "--ray-gpus-per-actor",
            type=click.FloatRange(min=0),
            default=None,
            help="GPUs per actor; a fraction shares a GPU [default: 1 when the cluster has "
            "GPUs and --device is not cpu].",
        ),
        quiet_option,
        json_option,
    ],
    name_options=False,
)
"""MODEL INPUTS... -o OUT and the options of every folder command, as ``job``
(a :class:`FolderJob`)."""
