"""What the commands share: option groups that fold into typed settings, progress bars, loading
with clear errors, and running a folder job to an exit code.

An option group (:func:`option_group`) adds a set of click options to a command and hands the
command one object built from them (a :class:`FolderJob`, an ``UpscaleOptions``, a ``Variant``),
so every value is validated — and a bad combination is a usage error — before any model is
downloaded or converted. Library code never imports click.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from ..errors import DownloadError, GaneditError
from ..report import FileResult, printable

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[Any], Any]


def option_group(
    name: str, build: Callable[..., Any], options: Sequence[Decorator], *, name_options: bool = True
) -> Decorator:
    """Add ``options`` (click decorators) to a command, which receives instead of their values
    one keyword argument ``name``: ``build(**values)``.

    ``build`` raising ``ValueError`` (or a :class:`~ganedit.errors.GaneditError`) is a usage
    error (exit 2), before the command body runs; its message names the group's options unless
    ``name_options`` is off (for big groups whose errors name the option themselves).
    """

    def probe(**_: Any) -> None:
        return None

    for option in reversed(options):
        probe = option(probe)
    names = [param.name for param in click.command()(probe).params if param.name]
    hint = " / ".join(f"'--{n.replace('_', '-')}'" for n in names) if name_options else None

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(**values: Any) -> Any:
            own = {key: values.pop(key) for key in names}
            try:
                values[name] = build(**own)
            except (ValueError, GaneditError) as exc:
                raise click.BadParameter(str(exc), param_hint=hint) from exc
            return func(**values)

        wrapped: Any = command
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped  # type: ignore[no-any-return]

    return decorate


# -- messages, logs and progress ----------------------------------------------------------------


def fail(exc: BaseException) -> NoReturn:
    """Print ``Error: <exc>`` on stderr and exit: 1 for a failed download, 2 otherwise."""
    code = 1 if isinstance(exc, DownloadError) else 2
    click.echo(f"Error: {exc}", err=True)
    sys.exit(code)


class _EchoHandler(logging.Handler):
    """Writes log records with click.echo to whatever stderr is current (CliRunner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def tame_warnings() -> None:
    """Python warnings reach a CLI user as one ``warning: ...`` line on stderr each (once per
    message), never with a file name and source line of ganedit's or a library's code; warnings
    meant for developers (deprecations) are not shown at all."""
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    seen: set[str] = set()

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        text = " ".join(str(message).split())
        if text not in seen:
            seen.add(text)
            click.echo(f"warning: {text}", err=True)

    warnings.showwarning = show


def log_to_stderr(quiet: bool) -> None:
    """Show the library's progress notes (download, conversion) unless ``quiet``."""
    logger = logging.getLogger("ganedit")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _EchoHandler)]
    if not quiet:
        logger.addHandler(_EchoHandler())
        logger.setLevel(logging.INFO)


def download_bar(enabled: bool) -> Callable[[int, int | None], None] | None:
    """A ``progress(done, total)`` callback drawing a download bar on stderr, or ``None``."""
    if not enabled:
        return None
    state: dict[str, Any] = {}

    def progress(done: int, total: int | None) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total, label="downloading", file=sys.stderr)
            bar.__enter__()
            state["bar"], state["done"] = bar, 0
        bar.update(done - state["done"])
        state["done"] = done
        if total is not None and done >= total:
            bar.__exit__(None, None, None)

    return progress


class ClickProgress:
    """Draws a folder job's progress bar on stderr (when it is a terminal)."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self._bar: Any = None

    def start(self, total: int) -> None:
        if self.enabled and total and sys.stderr.isatty():
            self._bar = click.progressbar(
                length=total, label=self.label, file=sys.stderr, show_pos=True, show_eta=True
            )
            self._bar.__enter__()

    def advance(self, result: FileResult) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# -- shared options ------------------------------------------------------------------------------

device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the model runs.",
)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads for the network (default: all cores).",
)
backend_option = click.option(
    "--backend",
    type=click.Choice(["onnxruntime", "torch", "auto"]),
    default="onnxruntime",
    show_default=True,
    help="Run the ONNX model with onnxruntime, or a checkpoint/named model with PyTorch "
    "(auto: torch only where onnxruntime lacks CUDA and torch has it).",
)
half_option = click.option(
    "--half",
    is_flag=True,
    help="Run a float16 variant of the model (made once, cached). CUDA only, never the CPU.",
)
norm_stats_option = click.option(
    "--norm-stats",
    type=click.Choice(["image", "running"]),
    default="image",
    show_default=True,
    help="Batch-norm models: per-image statistics (pix2pix test-time) or the running ones.",
)
allow_noncommercial_option = click.option(
    "--allow-noncommercial",
    is_flag=True,
    help="Use architectures whose code is licensed for non-commercial use only (MAT, SRFormer, "
    "Restormer, ...); also GANEDIT_ALLOW_NONCOMMERCIAL=1.",
)
quiet_option = click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."
)


def runtime_group() -> Decorator:
    """``--threads``, ``--backend`` and ``--allow-noncommercial`` as a
    :class:`~ganedit.loading.Runtime` named ``runtime``."""
    from ..loading import Runtime

    return option_group(
        "runtime",
        lambda threads, backend, allow_noncommercial: Runtime(
            threads=threads, backend=backend, allow_noncommercial=allow_noncommercial
        ),
        [threads_option, backend_option, allow_noncommercial_option],
    )


# -- loading -------------------------------------------------------------------------------------


def load_model(
    name: str,
    *,
    task: str | None = None,
    device: Any,
    variant: Any,
    runtime: Any,
    quiet: bool,
) -> Any:
    """:func:`ganedit.load` (downloading and converting once, with a progress bar unless
    ``quiet``), or exit 2 with a clear message; with ``task``, a model of another task is
    refused, naming the command that runs it."""
    from ..loading import load

    log_to_stderr(quiet)
    try:
        model = load(
            name, device=device, variant=variant, runtime=runtime, progress=download_bar(not quiet)
        )
    except (GaneditError, ImportError, ValueError) as exc:
        fail(exc)
    except OSError as exc:  # the model file or the cache cannot be read or written
        where = f" {exc.filename}" if exc.filename else ""
        fail(GaneditError(f"{name}: cannot read or write{where}: {exc.strerror or exc}"))
    if task is not None and model.card.task != task:
        other = model.card.task
        article = "an" if other[0] in "aeiou" else "a"
        fail(GaneditError(f"{name} is {article} {other} model, not {task}: use `ganedit {other}`"))
    return model


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
