"""The folder job: walk inputs, decode in threads, batch equal shapes, run, encode in threads.

::

    walk ─► decode pool ─► runner (batches equal keys) ─► encode pool ─► atomic write
            decode_image          model.run_items          model.finish
            (+ the mask)          (the network)            encode_image
            model.begin

One image's way: :func:`plan_jobs` pairs it with its output path (and :class:`MaskSource` with
its mask); a decode thread reads it (:func:`ganedit.imageio.decode_image`), builds an
:class:`~ganedit.images.ImageIn` and calls the model's ``begin``; the runner groups items of
equal ``key`` up to ``batch_size`` and calls ``run_items``; an encode thread calls ``finish`` and
writes the result atomically (:func:`ganedit.imageio.encode_image`). The pipeline knows no task:
a model that needs masks says so (``requires_mask``).

Queues between the stages are bounded, so memory stays flat however many files there are. Each
file fails on its own; the job goes on and the :class:`~ganedit.report.Report` lists failures.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePath
from typing import Any, Protocol

from . import imageio
from ._files import atomic_write, remove_stale_temporaries
from .errors import GaneditError
from .masks import MaskError, MaskSource
from .memory import default_limit
from .model import Model, WorkItem
from .planning import Job, plan_jobs, spare_inputs
from .report import FileResult, JobInterrupted, Report
from .steps import Begun, begin_image, finish_image, memory_budget

# Job and plan_jobs live in .planning, the per-image steps in .steps; Job and plan_jobs are
# re-exported here, where the folder job's callers have found them.
__all__ = [
    "FolderSettings",
    "Job",
    "JobRunner",
    "Progress",
    "ThreadRunner",
    "auto_workers",
    "failure_reason",
    "output_exists",
    "plan_jobs",
    "process_folder",
    "remove_job_temporaries",
    "run_jobs",
]


@dataclasses.dataclass(frozen=True)
class FolderSettings:
    """How a folder job runs.

    Attributes:
        recursive: Descend into subfolders of folder inputs.
        batch_size: Images of equal padded shape run through the network together.
        overwrite: Redo outputs that already exist (default: skip them, so reruns resume).
        ext: Output suffix such as ``".png"``; default keeps each input's suffix.
        workers: Threads for decoding and, separately, for encoding; ``None`` picks 2 when the
            network runs on the CPU (it uses the cores itself) and more on a GPU, where the
            host must decode and encode as fast as the device runs (see :func:`auto_workers`).
        jpeg_quality: Quality of JPEG (and WebP) outputs.
        fsync: Make each output durable (fsync) before it counts as done. Off, outputs are
            still written atomically, but a power cut may lose the newest ones; it saved
            0.8 ms per 256² JPEG, a fifth of the host work, on our test machine (RESULTS.md).
        max_memory: Bytes one image may take (estimated from its header before it is decoded,
            :func:`ganedit.memory.image_bytes`); a bigger image fails with the estimate.
            ``None``: half the memory available when the job starts; ``0``: no limit.
    """

    recursive: bool = False
    batch_size: int = 1
    overwrite: bool = False
    ext: str | None = None
    workers: int | None = None
    jpeg_quality: int = 95
    fsync: bool = True
    max_memory: int | None = None

    def __post_init__(self) -> None:
        if self.max_memory is not None and self.max_memory < 0:
            raise ValueError(f"max_memory must be >= 0, got {self.max_memory}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        if self.ext is not None:
            ext = self.ext if self.ext.startswith(".") else f".{self.ext}"
            imageio.format_for_suffix(ext)  # raises for a suffix no encoder handles
            object.__setattr__(self, "ext", ext.lower())


def auto_workers(model: Model) -> int:
    """Decode (and encode) threads for ``model``: 2 on the CPU; on a GPU, all but two of the
    CPU cores, at most 8 (the network keeps one core busy feeding the device)."""
    if not model.on_gpu:
        return 2
    return max(2, min(8, (os.cpu_count() or 4) - 2))


class Progress(Protocol):
    """Receives progress from :func:`process_folder` (the CLI draws a bar with it)."""

    def start(self, total: int) -> None: ...
    def advance(self, result: FileResult) -> None: ...


Record = Callable[[FileResult], None]


class JobRunner(Protocol):
    """Runs the planned files of a folder job: where :func:`process_folder` hands over once it
    has listed the inputs, matched the masks and skipped the outputs that exist. The default
    runs threads in this process (:class:`ThreadRunner`); ``ganedit.ray.RayRunner`` runs the
    files on the actors of a Ray cluster.
    """

    def run(
        self,
        model: Any,
        jobs: list[Job],
        settings: FolderSettings,
        masks: MaskSource | None,
        record: Record,
    ) -> None:
        """Process every job and ``record`` each one's result (from any thread).

        Raises:
            KeyboardInterrupt: The job was stopped; every output written is complete, and the
                jobs never recorded are left for a rerun.
        """


@dataclasses.dataclass(eq=False)
class _Decoded:
    job: Job
    begun: Begun

    @property
    def item(self) -> WorkItem:
        return self.begun.item


def _decode(job: Job, model: Model, masks: MaskSource | None, limit: int) -> _Decoded:
    image = imageio.decode_image(job.source, budget=memory_budget(model, limit))
    hole, mask_name = None, "the mask"
    if masks is not None and job.mask is not None:
        hole, mask_name = masks.read(job.mask), f"mask {job.mask}"
    fmt = imageio.format_for_suffix(job.output.suffix)
    return _Decoded(job, begin_image(model, image, format=fmt, hole=hole, mask_name=mask_name))


def _encode(decoded: _Decoded, output: Any, model: Model, settings: FolderSettings) -> Path:
    data = finish_image(model, decoded.begun, output, jpeg_quality=settings.jpeg_quality)
    decoded.job.output.parent.mkdir(parents=True, exist_ok=True)
    path = decoded.job.output
    try:
        atomic_write(path, lambda f: f.write(data), fsync=settings.fsync)
    except OSError as exc:
        raise GaneditError(f"{path}: cannot write file: {exc.strerror or exc}") from exc
    return path


def failure_reason(exc: BaseException, source: Path) -> str:
    """The message of ``exc`` without a leading file name (the report names the file)."""
    text = str(exc) or type(exc).__name__
    for prefix in (f"{source}: ", f"{source.name}: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class _Runner:
    """Owns the thread pools and bounded hand-offs of one folder job."""

    def __init__(
        self,
        model: Model,
        settings: FolderSettings,
        on_result: Record,
        masks: MaskSource | None,
    ):
        self.model = model
        self.masks = masks
        self.workers = settings.workers or auto_workers(model)
        self.settings = settings
        self.on_result = on_result
        depth = self.workers * 2 + settings.batch_size
        self.decode_slots = threading.BoundedSemaphore(depth)
        self.encode_slots = threading.BoundedSemaphore(depth)
        self.decoded: queue.Queue[tuple[Job, _Decoded | Exception]] = queue.Queue()
        # Groups of decoded images waiting to fill a batch; bounded by max_pending.
        self.pending: dict[Hashable, list[_Decoded]] = {}
        self.max_pending = max(4 * settings.batch_size, settings.batch_size + self.workers)
        # Several images are in flight at once (decoding, waiting, running, encoding): each
        # gets its share of the limit.
        limit = default_limit() if settings.max_memory is None else settings.max_memory
        self.memory_limit = limit // (1 if settings.max_memory else max(1, self.workers))

        # When each file's decoding began: its result carries the seconds since.
        self.began: dict[Path, float] = {}

    def record(self, result: FileResult) -> None:
        began = self.began.pop(result.source, None)
        if began is not None:
            result = dataclasses.replace(result, seconds=time.perf_counter() - began)
        self.on_result(result)

    def feed(self, jobs: list[Job], pool: ThreadPoolExecutor, stop: threading.Event) -> None:
        for job in jobs:
            self.decode_slots.acquire()
            if stop.is_set():
                return
            pool.submit(self._decode, job)

    def _decode(self, job: Job) -> None:
        self.began[job.source] = time.perf_counter()
        try:
            self.decoded.put((job, _decode(job, self.model, self.masks, self.memory_limit)))
        except Exception as exc:
            self.decoded.put((job, exc))

    def run(self, jobs: list[Job]) -> None:
        stop = threading.Event()
        workers = self.workers
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="ganedit-decode") as decode_pool,
            ThreadPoolExecutor(workers, thread_name_prefix="ganedit-encode") as encode_pool,
        ):
            feeder = threading.Thread(
                target=self.feed, args=(jobs, decode_pool, stop), name="ganedit-feed", daemon=True
            )
            feeder.start()
            try:
                for _ in range(len(jobs)):
                    job, item = self.decoded.get()
                    self.decode_slots.release()
                    if isinstance(item, Exception):
                        self.record(
                            FileResult(job.source, None, "failed", failure_reason(item, job.source))
                        )
                        continue
                    group = self.pending.setdefault(item.item.key, [])
                    group.append(item)
                    if len(group) >= self.settings.batch_size:
                        self.flush(item.item.key, encode_pool)
                    elif sum(len(g) for g in self.pending.values()) > self.max_pending:
                        largest = max(self.pending, key=lambda key: len(self.pending[key]))
                        self.flush(largest, encode_pool)
                for key in list(self.pending):
                    self.flush(key, encode_pool)
            except BaseException:
                stop.set()
                # Let the feeder see the stop flag instead of waiting on a slot forever.
                for _ in range(len(jobs)):
                    try:
                        self.decode_slots.release()
                    except ValueError:
                        break
                decode_pool.shutdown(wait=True, cancel_futures=True)
                encode_pool.shutdown(wait=True, cancel_futures=True)
                raise
            feeder.join()

    def flush(self, key: Hashable, encode_pool: ThreadPoolExecutor) -> None:
        items = self.pending.pop(key)
        try:
            outputs = self.model.run_items([item.item for item in items])
        except Exception as exc:
            for item in items:
                reason = f"model failed on this image: {failure_reason(exc, item.job.source)}"
                self.record(FileResult(item.job.source, None, "failed", reason))
            return
        for item, output in zip(items, outputs, strict=True):
            self.encode_slots.acquire()
            future = encode_pool.submit(_encode, item, output, self.model, self.settings)
            future.add_done_callback(self._encoded(item.job))

    def _encoded(self, job: Job) -> Callable[[Future[Path]], None]:
        def done(future: Future[Path]) -> None:
            self.encode_slots.release()
            if future.cancelled():  # the job was stopped before this file was written
                return
            try:
                future.result()
            except Exception as exc:
                self.record(FileResult(job.source, None, "failed", failure_reason(exc, job.source)))
            else:
                self.record(FileResult(job.source, job.output, "done"))

        return done


class ThreadRunner:
    """The default :class:`JobRunner`: decode and encode threads in this process around the
    network (the pipeline this module's docstring draws)."""

    def run(
        self,
        model: Model,
        jobs: list[Job],
        settings: FolderSettings,
        masks: MaskSource | None,
        record: Record,
    ) -> None:
        _Runner(model, settings, record, masks).run(jobs)


def run_jobs(
    model: Model,
    jobs: Sequence[Job],
    settings: FolderSettings | None = None,
    masks: MaskSource | None = None,
) -> list[FileResult]:
    """Run planned jobs in this process and return one result per job (in the order they
    finished): the per-file contract of :func:`process_folder` without its planning —
    no listing, no skipping of existing outputs. A Ray actor runs its share of a job with it.
    """
    results: list[FileResult] = []
    _Runner(model, settings or FolderSettings(), results.append, masks).run(list(jobs))
    return results


def _attach_masks(jobs: list[Job], masks: MaskSource) -> tuple[list[Job], list[FileResult]]:
    """Give each job its mask; images without one fail. Mask files that the inputs picked up
    (a masks folder inside, or equal to, an input folder) are not images to inpaint."""
    found: list[Job | FileResult] = []
    for job in jobs:
        try:
            mask = masks.find(job.relative or PurePath(job.source.name), source=job.source)
        except MaskError as exc:
            found.append(FileResult(job.source, None, "failed", str(exc)))
        else:
            found.append(dataclasses.replace(job, mask=mask.resolve()))
    mask_files = {item.mask for item in found if isinstance(item, Job)}
    kept = [item for item in found if item.source not in mask_files]
    return (
        [item for item in kept if isinstance(item, Job)],
        [item for item in kept if isinstance(item, FileResult)],
    )


def output_exists(output: Path) -> bool:
    """Whether an earlier run left a result here. An empty file is not one: no image format
    is empty, and a power cut after a ``fsync=False`` write can leave one."""
    try:
        info = output.stat()  # one stat per file, not two: reruns check millions of them
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


def remove_job_temporaries(jobs: list[Job]) -> None:
    """Delete temporary files an interrupted earlier run left beside our outputs."""
    for folder in {job.output.parent for job in jobs}:
        remove_stale_temporaries(folder)


def process_folder(
    model: Model,
    inputs: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    settings: FolderSettings | None = None,
    progress: Progress | None = None,
    masks: MaskSource | str | os.PathLike[str] | None = None,
    runner: JobRunner | None = None,
) -> Report:
    """Run ``model`` over files and folders, writing one output per input image.

    Outputs keep the input's relative path under ``output_dir``, its format (unless
    ``settings.ext``), size (times the model's scale), alpha, bit depth where the format allows,
    EXIF and ICC profile. Existing outputs are skipped unless ``settings.overwrite``. Files are
    written atomically; inputs are never modified. A file that cannot be read, run or written is
    reported and the job goes on.

    Args:
        model: A loaded model of any task (:func:`ganedit.load`).
        inputs: Image files and folders.
        output_dir: Where the results go (created if needed).
        settings: How to run; defaults to :class:`FolderSettings`.
        progress: Receives the total and each file's result.
        masks: For a model that needs masks (``model.requires_mask``): one mask file for
            every image, or a folder of masks matched by relative path and stem, as a path or a
            :class:`~ganedit.masks.MaskSource` (which can also invert them).
        runner: Who runs the planned files: threads here (the default), or the actors of a
            Ray cluster (``ganedit.ray.RayRunner``); the report is the same either way.

    Returns:
        A :class:`~ganedit.report.Report`; ``report.exit_code`` is 1 when any file failed.

    Raises:
        GaneditError: An input or the masks do not exist, the model cannot run folder jobs,
            or masks are missing for a model that needs them (or given to one that takes none).
        JobInterrupted: Ctrl-C (``KeyboardInterrupt``) stopped the job after the files in
            flight; its ``report`` says what was done. Every output written is complete.

    Example:
        >>> report = ganedit.process_folder(ganedit.load("horse2zebra"), ["photos"], "out")
        >>> print(report.summary())
    """
    from .remote import RemoteModel, RemoteRunner

    settings = settings or FolderSettings()
    remote = isinstance(model, RemoteModel)
    if not (remote or isinstance(model, Model)):
        raise GaneditError(f"process_folder cannot run {type(model).__name__} objects")
    jobs, rejected = plan_jobs(inputs, output_dir, recursive=settings.recursive, ext=settings.ext)
    if model.requires_mask and masks is None:
        raise GaneditError("an inpainting model needs masks: give --mask FILE_OR_FOLDER")
    if not model.requires_mask and masks is not None:
        raise GaneditError(f"{model.card.name} is not an inpainting model; it takes no masks")
    source = None
    if masks is not None:
        source = masks if isinstance(masks, MaskSource) else MaskSource(Path(masks))
        jobs, unmatched = _attach_masks(jobs, source)
        rejected = [r for r in rejected if r.source not in {j.mask for j in jobs}] + unmatched
    jobs, clashing = spare_inputs(jobs, [*(j.source for j in jobs), *(r.source for r in rejected)])
    rejected += clashing
    report = Report()
    lock = threading.Lock()

    def on_result(result: FileResult) -> None:
        if progress is not None:
            with lock:
                progress.advance(result)

    def record(result: FileResult) -> None:
        report.add(result)
        on_result(result)

    if progress is not None:
        progress.start(len(jobs) + len(rejected))
    for result in rejected:
        record(result)
    todo = []
    for job in jobs:
        if not settings.overwrite and output_exists(job.output):
            record(FileResult(job.source, job.output, "skipped"))
        else:
            todo.append(job)
    remove_job_temporaries(jobs)
    if runner is None:
        runner = RemoteRunner() if remote else ThreadRunner()
    if todo:
        before = len(report.results)
        try:
            runner.run(model, todo, settings, source, record)
        except KeyboardInterrupt:
            # The runner let the files in flight finish; the rest are left for a rerun.
            report.interrupted = True
            report.not_started = len(todo) - (len(report.results) - before)
            report.finish()
            raise JobInterrupted(report) from None
    report.finish()
    return report
