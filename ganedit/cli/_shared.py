"""What the commands share: option groups that fold into typed settings, progress bars, and
loading with clear errors (the folder job's options and run are in :mod:`._folder`).

An option group (:func:`option_group`) adds a set of click options to a command and hands the
command one object built from them (a ``FolderJob``, an ``UpscaleOptions``, a ``Variant``),
so every value is validated — and a bad combination is a usage error — before any model is
downloaded or converted. Library code never imports click.
"""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from ..errors import DownloadError, GaneditError
from ..report import FileResult

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
