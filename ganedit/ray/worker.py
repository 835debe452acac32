"""The actor's side: :class:`ImageWorker`, the callable class for ``Dataset.map_batches``, and
what it loads (:class:`ModelSpec`) and returns (records, :func:`results_of`)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from ..errors import GaneditError
from ..loading import LoadRecipe
from ..masks import MaskError, MaskSource
from ..model import Model
from ..pipeline import FolderSettings, output_exists, run_jobs
from ..planning import Job, place
from ..report import FileResult

__all__ = ["RECORD_COLUMNS", "ImageWorker", "ModelSpec", "results_of"]

#: The columns of the records :class:`ImageWorker` returns, one row per input file.
RECORD_COLUMNS = ("source", "output", "status", "reason", "seconds")


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
