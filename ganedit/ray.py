"""Folder jobs on a Ray cluster, with Ray Data: the same outputs and report as a local run.

::

    driver: plan ─► Dataset of paths ─► map_batches(ImageWorker, N actors) ─► records
                    (source, output,    each actor holds one loaded model,    (row, status,
                     mask, row)         reads, runs and writes its files      reason, seconds)

Only file paths go to the actors and only small per-file records come back: pixels never pass
through Ray's object store, and images of any size are fine (Ray's tensor columns want one
size). Each actor runs its share with the local pipeline's own code
(:func:`ganedit.pipeline.run_jobs`: decode threads, batches of equal shapes, encode threads,
atomic writes), so outputs are byte for byte those of a local run. An actor that dies is
restarted by Ray and its files are done again; writes are atomic, so no output is ever half
written, and the temporaries of a killed actor are removed when the job ends.

Two ways in:

- :class:`RayRunner` runs :func:`ganedit.process_folder` on a cluster (``ganedit translate …
  --ray``): the driver lists the inputs, matches masks and skips finished outputs as a local run
  does; the actors do the rest.
- :class:`ImageWorker` is the callable class for your own pipelines: a Dataset with a
  ``source`` column of paths, ``map_batches(ImageWorker, fn_constructor_kwargs=...)``.

Example:
    >>> import ray, ganedit
    >>> from ganedit.ray import ImageWorker
    >>> paths = ray.data.read_text("listing.txt").rename_columns({"text": "source"})
    >>> records = paths.map_batches(
    ...     ImageWorker,
    ...     fn_constructor_kwargs={"model": "realesrgan-x4plus", "root": "/data/photos",
    ...                            "output_dir": "/data/x4"},
    ...     batch_size=16, compute=ray.data.ActorPoolStrategy(size=4), num_gpus=1)
    >>> failed = records.filter(lambda r: r["status"] == "failed").take_all()

This module imports Ray only when a cluster is used (``pip install 'ganedit[ray]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from .errors import GaneditError
from .loading import LoadRecipe, Runtime
from .masks import MaskError, MaskSource
from .model import Model
from .pipeline import (
    FolderSettings,
    Record,
    output_exists,
    remove_job_temporaries,
    run_jobs,
)
from .planning import Job, place
from .report import FileResult

__all__ = ["RECORD_COLUMNS", "ImageWorker", "ModelSpec", "Notices", "RayRunner", "results_of"]

#: The columns of the records :class:`ImageWorker` returns, one row per input file.
RECORD_COLUMNS = ("source", "output", "status", "reason", "seconds")


def _ray() -> Any:
    """The ``ray`` module with Ray Data, or an ImportError naming the extra to install."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ImportError(
            f"running on a Ray cluster needs Ray Data: pip install 'ganedit[ray]' ({exc})"
        ) from exc
    return ray


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What each actor loads: how the model was loaded, and its task options.

    Attributes:
        recipe: The arguments of :func:`ganedit.load` (a zoo name, or a path every node can
            read: shared storage).
        options: The task's options (``TranslateOptions``, ``UpscaleOptions``,
            ``InpaintOptions``); ``None`` keeps the model's defaults.
    """

    recipe: LoadRecipe
    options: Any = None

    @classmethod
    def of(cls, model: Model | ModelSpec | LoadRecipe | str | os.PathLike[str]) -> ModelSpec:
        """The spec of a loaded model (made by :func:`ganedit.load`), or of a name or path."""
        if isinstance(model, ModelSpec):
            return model
        if isinstance(model, LoadRecipe):
            return cls(model)
        if isinstance(model, (str, os.PathLike)):
            given = os.fspath(model)
            name = str(Path(given).resolve()) if os.path.exists(given) else given
            return cls(LoadRecipe(name))
        if not isinstance(model, Model):
            raise GaneditError(
                f"a {type(model).__name__} cannot run on Ray actors: a model served by "
                "`ganedit serve` is already remote (run it without --ray)"
            )
        if model.recipe is None:
            raise GaneditError(
                f"{model.card.name} was not made by ganedit.load, so Ray actors cannot load "
                "it: give its name or path"
            )
        return cls(model.recipe, model.options)

    def load(self, **changes: Any) -> Model:
        """Load the model here (``changes`` replace fields of the recipe)."""
        model = self.recipe.load(**changes)
        return model if self.options is None else model.with_options(self.options)


class ImageWorker:
    """The callable class for ``Dataset.map_batches``: one loaded model per actor, which reads,
    runs and writes each file of its batches itself and returns only a record per file.

    Each row needs a ``source`` (the input image; absolute, or relative to ``root``) and may
    carry an ``output`` (where the result goes) and a ``mask`` (inpainting). Without an
    ``output``, the result goes to ``output_dir``, at the source's path relative to ``root``
    (its name without a ``root``), with ``settings.ext`` as suffix if set — as a local job
    names it. Without a ``mask`` column, an inpainting model's mask comes from ``masks``.

    The records (:data:`RECORD_COLUMNS`): ``source``, ``output`` (``""`` when it failed),
    ``status`` (``done``, ``skipped``, ``failed``), ``reason``, ``seconds``
    (``nan`` unless it ran), and the input's ``row`` column if it has one. A bad file is a
    ``failed`` record, never an exception.

    Args:
        model: A :class:`ModelSpec`, a :class:`~ganedit.loading.LoadRecipe`, or a zoo name or
            path (every node must reach it).
        output_dir: Where results go when rows carry no ``output``.
        root: The folder that ``source`` paths are relative to, and that output paths keep
            the layout of.
        settings: As a local job's (batch size, threads, extension, JPEG quality, fsync,
            memory limit); ``settings.recursive`` plays no part.
        masks: The masks of an inpainting job (a file for every image, or a folder matched by
            relative path).
        skip_existing: Skip sources whose output exists (default: unless
            ``settings.overwrite``), so that a rerun resumes.
        column: The column holding the source paths.
    """

    def __init__(
        self,
        model: ModelSpec | LoadRecipe | str | os.PathLike[str],
        *,
        output_dir: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] | None = None,
        settings: FolderSettings | None = None,
        masks: MaskSource | str | os.PathLike[str] | None = None,
        skip_existing: bool | None = None,
        column: str = "source",
    ):
        self.settings = settings or FolderSettings()
        self.model = ModelSpec.of(model).load()
        self.output_dir = None if output_dir is None else Path(output_dir).resolve()
        self.root = None if root is None else Path(root).resolve()
        if masks is not None and not isinstance(masks, MaskSource):
            masks = MaskSource(Path(masks))
        self.masks = masks
        self.skip_existing = not self.settings.overwrite if skip_existing is None else skip_existing
        self.column = column

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        """Process one batch (``batch_format`` numpy, pandas or pyarrow) and return its
        records as numpy columns."""
        columns = _columns(batch)
        if self.column not in columns:
            raise GaneditError(
                f"ImageWorker needs a {self.column!r} column of image paths; the dataset has "
                f"{sorted(columns)}"
            )
        wanted = (self.column, "output", "mask", "row")
        batch = {name: columns[name] for name in wanted if name in columns}
        outputs, masks = batch.get("output"), batch.get("mask")
        results: list[FileResult | None] = []
        waiting: dict[Path, list[int]] = {}
        jobs = []
        for i, source in enumerate(batch[self.column]):
            planned = self._plan(
                _text(source),
                "" if outputs is None else _text(outputs[i]),
                "" if masks is None else _text(masks[i]),
            )
            if isinstance(planned, FileResult):
                results.append(planned)
            else:
                results.append(None)
                waiting.setdefault(planned.source, []).append(i)
                jobs.append(planned)
        for result in run_jobs(self.model, jobs, self.settings, self.masks):
            results[waiting[result.source].pop(0)] = result
        kept = [i for i, r in enumerate(results) if r is not None]
        done = [results[i] for i in kept]
        records = {
            "source": np.array([str(r.source) for r in done], dtype=object),
            "output": np.array([str(r.output or "") for r in done], dtype=object),
            "status": np.array([r.status for r in done], dtype=object),
            "reason": np.array([r.reason for r in done], dtype=object),
            "seconds": np.array(
                [math.nan if r.seconds is None else r.seconds for r in done], dtype=np.float64
            ),
        }
        if "row" in batch:  # carried through, so the driver knows each record's job
            records["row"] = np.array([int(batch["row"][i]) for i in kept], dtype=np.int64)
        return records

    def _plan(self, source_text: str, output_text: str, mask_text: str) -> Job | FileResult:
        """One row as a :class:`Job`, or its result when it is decided without running."""
        source = Path(source_text)
        if not source.is_absolute():
            if self.root is None:
                reason = "a relative path: give absolute paths, or the root they are relative to"
                return FileResult(source, None, "failed", reason)
            source = self.root / source
        if output_text:
            job = Job(source, Path(output_text))
        else:
            relative = PurePath(source.name)
            if self.root is not None:
                try:
                    relative = source.relative_to(self.root)
                except ValueError:
                    return FileResult(source, None, "failed", f"not under the root {self.root}")
            if self.output_dir is None:
                raise GaneditError(
                    "ImageWorker needs output_dir for rows without an 'output' column"
                )
            placed = place(source, relative, self.output_dir, self.settings.ext)
            if isinstance(placed, FileResult):
                return placed
            job = placed
        if mask_text:
            job = dataclasses.replace(job, mask=Path(mask_text))
        elif self.masks is not None:
            try:
                mask = self.masks.find(job.relative or PurePath(source.name), source=source)
            except MaskError as exc:
                return FileResult(source, None, "failed", str(exc))
            job = dataclasses.replace(job, mask=mask.resolve())
        if job.output == job.mask:
            reason = f"output would overwrite the input {job.mask}"
            return FileResult(source, None, "failed", reason)
        if self.skip_existing and output_exists(job.output):
            return FileResult(source, job.output, "skipped")
        return job


def _columns(batch: Any) -> dict[str, Any]:
    """A batch of any of Ray Data's formats as {column: sequence}: a dict of arrays (numpy),
    a pandas DataFrame or a pyarrow Table."""
    if isinstance(batch, dict):
        return batch
    names = getattr(batch, "column_names", None)
    if names is not None:  # pyarrow.Table
        return {name: batch.column(name).to_pylist() for name in names}
    if hasattr(batch, "columns") and hasattr(batch, "to_dict"):  # pandas.DataFrame
        return {str(name): batch[name].tolist() for name in batch.columns}
    raise GaneditError(f"ImageWorker cannot read a batch of type {type(batch).__name__}")


def _text(value: Any) -> str:
    """A path cell of a batch as text ('' for a missing one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def results_of(records: dict[str, np.ndarray]) -> Iterator[FileResult]:
    """The :class:`~ganedit.report.FileResult` of each row of a batch of :class:`ImageWorker`
    records."""
    for source, output, status, reason, seconds in zip(
        *(records[name] for name in RECORD_COLUMNS), strict=True
    ):
        yield FileResult(
            Path(_text(source)),
            Path(_text(output)) if _text(output) else None,
            _text(status),  # type: ignore[arg-type]
            _text(reason),
            None if math.isnan(seconds) else float(seconds),
        )


@dataclasses.dataclass(frozen=True)
class RayRunner:
    """Runs the files of :func:`ganedit.process_folder` on the actors of a Ray cluster.

    Example:
        >>> report = ganedit.process_folder(
        ...     ganedit.load("realesrgan-x4plus"), ["/data/photos"], "/data/x4",
        ...     runner=RayRunner(address="auto", actors=8))

    Attributes:
        address: The cluster (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``); ``None``:
            the Ray this process has already started, else ``RAY_ADDRESS``, else a new local
            cluster on this machine, shut down when the job ends.
        actors: How many actors (each loads the model once). Default: one per GPU when the
            model runs on GPUs, else one per node.
        cpus_per_actor: CPUs Ray reserves for each actor. Default: 1 with GPUs; else the
            cluster's CPUs shared among the actors (and the network's threads set to match,
            unless the recipe says how many).
        gpus_per_actor: GPUs per actor (fractions share a GPU). Default: 1 when the cluster
            has GPUs and the model's device is not ``"cpu"``, else 0.
        rows_per_call: Files per ``map_batches`` call (a Ray task); their records come back
            together, and an actor that dies redoes them. Default: a quarter of each actor's
            share, at most 64 (or 4 network batches): each call costs Ray tens of
            milliseconds (RESULTS.md), and small jobs still spread over every actor.
    """

    address: str | None = None
    actors: int | None = None
    cpus_per_actor: float | None = None
    gpus_per_actor: float | None = None
    rows_per_call: int | None = None

    def __post_init__(self) -> None:
        for name in ("actors", "rows_per_call"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.cpus_per_actor is not None and self.cpus_per_actor <= 0:
            raise ValueError(f"cpus_per_actor must be > 0, got {self.cpus_per_actor}")
        if self.gpus_per_actor is not None and self.gpus_per_actor < 0:
            raise ValueError(f"gpus_per_actor must be >= 0, got {self.gpus_per_actor}")

    def run(
        self,
        model: Any,
        jobs: list[Job],
        settings: FolderSettings,
        masks: MaskSource | None,
        record: Record,
    ) -> None:
        spec = ModelSpec.of(model)
        ray = _ray()
        began = time.time()
        recorded = bytearray(len(jobs))  # by row: whether its record arrived
        started = _connect(ray, self.address)
        try:
            plan = self._resources(ray, spec)
            ray.data.DataContext.get_current().enable_progress_bars = False  # ours instead
            _quiet_ray_logging()
            records = _dataset(ray, jobs, self._rows(len(jobs), plan.actors, settings)).map_batches(
                ImageWorker,
                fn_constructor_kwargs={
                    "model": plan.spec,
                    "settings": settings,
                    "masks": None if masks is None else MaskSource(masks.path, masks.invert),
                    "skip_existing": False,  # the driver skipped the finished ones
                },
                batch_size=None,  # one call per block: the blocks are made rows_per_call long
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=plan.actors),
                num_cpus=plan.cpus,
                num_gpus=plan.gpus,
            )
            batches = records.iter_batches(batch_size=None, batch_format="numpy")
            try:
                for batch in batches:
                    for row, result in zip(batch["row"], results_of(batch), strict=True):
                        recorded[row] = 1
                        # The job's own paths, not copies: one record per file stays small.
                        job = jobs[row]
                        output = None if result.output is None else job.output
                        record(dataclasses.replace(result, source=job.source, output=output))
            finally:
                close = getattr(batches, "close", None)
                if close is not None:
                    close()
        except KeyboardInterrupt:
            if started:  # stop the actors first: none writes after the count below
                ray.shutdown()
                started = False
            # Records come back a call's files at a time: files written since the job began
            # whose record had not arrived are done all the same (writes are atomic).
            for job, arrived in zip(jobs, recorded, strict=True):
                if not arrived and _written_since(job.output, began):
                    record(FileResult(job.source, job.output, "done"))
            raise
        except GaneditError:
            raise
        except Exception as exc:
            if type(exc).__module__.split(".")[0] != "ray":
                raise
            what = "actors could not start" if "creation task" in str(exc) else "job failed"
            raise GaneditError(f"the Ray {what}: {_cause(exc)}") from exc
        finally:
            if started:
                ray.shutdown()
            # A killed actor's temporary files: its process is gone, the job is over.
            remove_job_temporaries(jobs)

    def _rows(self, files: int, actors: int, settings: FolderSettings) -> int:
        if self.rows_per_call is not None:
            return self.rows_per_call
        most = max(64, 4 * settings.batch_size)
        return max(1, min(most, math.ceil(files / (4 * actors))))

    def _resources(self, ray: Any, spec: ModelSpec) -> _Plan:
        cluster = ray.cluster_resources()
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        total_gpus = float(cluster.get("GPU", 0))
        device = spec.recipe.device
        if device == "cuda" and total_gpus == 0 and not self.gpus_per_actor:
            raise GaneditError("the model's device is cuda, but the Ray cluster has no GPUs")
        gpus = self.gpus_per_actor
        if gpus is None:
            gpus = 1.0 if total_gpus and device != "cpu" else 0.0
        actors = self.actors
        if actors is None:
            actors = max(1, int(total_gpus // gpus)) if gpus else max(1, len(nodes))
        _check_fits(nodes, "GPU", gpus, "--ray-gpus-per-actor")
        cpus = self.cpus_per_actor
        if cpus is not None:
            _check_fits(nodes, "CPU", cpus, "--ray-cpus-per-actor")
        else:
            if gpus:
                cpus = 1.0
            else:
                per_node = max((n.get("Resources", {}).get("CPU", 1) for n in nodes), default=1)
                cpus = float(max(1, min(per_node, cluster.get("CPU", 1) // actors)))
        runtime: Runtime = spec.recipe.runtime
        if not gpus and runtime.threads is None:
            # The network's threads fill the actor's share of the CPUs, not the whole node.
            runtime = dataclasses.replace(runtime, threads=max(1, int(cpus)))
        recipe = dataclasses.replace(spec.recipe, runtime=runtime)
        return _Plan(dataclasses.replace(spec, recipe=recipe), actors, cpus, gpus)


def _written_since(path: Path, began: float) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size > 0 and info.st_mtime >= began


def _check_fits(nodes: list[dict[str, Any]], resource: str, each: float, option: str) -> None:
    """Refuse actors no node can hold: Ray would wait for such a node for ever."""
    if not each:
        return
    most = max((float(n.get("Resources", {}).get(resource, 0)) for n in nodes), default=0.0)
    if each > most:
        raise GaneditError(
            f"{option} {each:g}: no node of the Ray cluster has that many {resource}s "
            f"(the largest has {most:g})"
        )


@dataclasses.dataclass(frozen=True)
class _Plan:
    spec: ModelSpec
    actors: int
    cpus: float
    gpus: float


def _dataset(ray: Any, jobs: Sequence[Job], rows: int) -> Any:
    """The jobs as a Dataset of string columns and their index (``row``), one block per
    ``rows`` files (so that each map_batches call gets one block, and the actors share the
    work evenly)."""
    import pyarrow as pa

    blocks = []
    for start in range(0, len(jobs), rows):
        part = jobs[start : start + rows]
        blocks.append(
            pa.table(
                {
                    "source": pa.array([str(j.source) for j in part], pa.string()),
                    "output": pa.array([str(j.output) for j in part], pa.string()),
                    "mask": pa.array([str(j.mask or "") for j in part], pa.string()),
                    "row": pa.array(range(start, start + len(part)), pa.int64()),
                }
            )
        )
    return ray.data.from_arrow(blocks)


def _connect(ray: Any, address: str | None) -> bool:
    """Join or start the cluster; True when this call started Ray (and must shut it down)."""
    if ray.is_initialized():
        return False
    # Ray's C++ core logs an error for every Ray Data actor (its constructor arguments live in
    # the object store, ray#53727) and a line when it reads this setting: both for Ray's
    # developers, not for someone running a folder job. Set it to see them.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    _quiet_ray_logging()
    with tempfile.TemporaryFile() as captured, _keeping_sigterm():
        try:
            with _stderr_to(captured):
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    configure_logging=False,
                )
        except Exception as exc:
            captured.seek(0)
            said = captured.read().decode(errors="replace").strip().splitlines()
            where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
            detail = _first_line(exc) + "".join(f"\n  {line}" for line in said[-5:])
            raise GaneditError(f"cannot start or join {where}: {detail}") from exc
    return True


@contextlib.contextmanager
def _keeping_sigterm() -> Iterator[None]:
    """Within: whatever Ray sets for SIGTERM (its core installs a handler that prints a stack
    and exits 15) is undone, so that SIGTERM still stops the job as the CLI arranged: after the
    files in flight, with the summary and exit 130."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _stderr_to(file: Any) -> Iterator[None]:
    """Within: the process's standard error (file descriptor 2, which Ray's C++ code and its
    child processes write to) goes to ``file``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(file.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class _NoProgressBarNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Progress bars disabled" not in record.getMessage()


def _quiet_ray_logging() -> None:
    """Ray's Python logging down to its warnings (Ray Data announces each execution at INFO),
    without the notice that its progress bars are off (ganedit draws its own)."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    notices = logging.getLogger("ray.data._internal.progress")  # where Ray 2.5x says it
    if not any(isinstance(f, _NoProgressBarNotice) for f in notices.filters):
        notices.addFilter(_NoProgressBarNotice())


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): (.+)$")


def _cause(exc: BaseException) -> str:
    """What went wrong in a Ray error: the message of the exception its remote traceback ends
    with (a worker's ``GaneditError: model file … does not exist``), else its first line."""
    text = _ANSI.sub("", str(exc))
    for line in reversed(text.splitlines()):
        raised = _RAISED.match(line)
        if raised:
            return raised.group(1).strip()
    return _first_line(exc)


class Notices(io.TextIOBase):
    """A text stream for Ray's driver-side messages, which Ray prints on standard output
    (``(raylet) A worker died or was killed …``, a failed task's remote traceback): each
    message becomes one short line for ``write_line`` — no colour codes, no traceback — so
    that standard output keeps only what ganedit prints (``--json``). The CLI swaps it in
    for ``sys.stdout`` while a job runs on Ray.
    """

    def __init__(self, write_line: Callable[[str], None], limit: int = 240):
        self.write_line = write_line
        self.limit = limit
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        line = _ANSI.sub("", line).strip()
        if not line.startswith("("):  # a remote traceback's body, or a blank line
            return
        line = line.split(" Traceback (most recent call last)")[0].removesuffix(" Error:")
        if len(line) > self.limit:
            line = line[: self.limit - 1] + "…"
        self.write_line(line)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
