"""Planning a folder job: which input files there are, where each result goes, and which
pairs are refused before anything runs (an unsupported type, two inputs claiming one output,
an output that would overwrite an input)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath

from . import imageio
from .errors import GaneditError
from .report import FileResult

__all__ = ["Job", "place", "plan_jobs", "spare_inputs"]


@dataclasses.dataclass(frozen=True)
class Job:
    """One input file and where its result goes.

    Attributes:
        source: The input image.
        output: Where the result is written.
        relative: The input's path relative to the folder it was found in (its name for a
            file given directly); masks are matched by it.
        mask: The inpainting mask of this image, if any.
    """

    source: Path
    output: Path
    relative: PurePath | None = None
    mask: Path | None = None


def _walk(root: Path, recursive: bool, skip: Path | None) -> Iterator[Path | FileResult]:
    """The images under ``root`` in sorted order, and a :class:`FileResult` for each folder
    that cannot be listed or is a symbolic link (not followed: a link can loop, or lead out of
    the tree) — nothing is passed over in silence but hidden files and ``skip``."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        yield FileResult(root, None, "failed", f"cannot list this folder: {exc.strerror or exc}")
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            continue  # hidden files and folders, including our own temporary files
        if skip is not None and path == skip:
            continue  # never read back our own outputs when OUT lies inside an input folder
        try:
            is_dir = entry.is_dir()
            is_link = entry.is_symlink()
            is_file = entry.is_file()
        except OSError:
            is_dir = is_link = is_file = False
        if is_dir and recursive:
            if is_link:
                yield FileResult(
                    path, None, "failed", "a link to a folder, not followed (give the folder "
                    "itself as an input)"
                )  # fmt: skip
            else:
                yield from _walk(path, recursive, skip)
        elif is_file and path.suffix.lower() in imageio.INPUT_SUFFIXES:
            yield path


def plan_jobs(
    inputs: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    recursive: bool = False,
    ext: str | None = None,
) -> tuple[list[Job], list[FileResult]]:
    """Pair every input image with its output path.

    A folder input ``ROOT`` maps ``ROOT/a/b.jpg`` to ``OUT/a/b.jpg``; a file input maps to
    ``OUT/<name>``. ``ext`` replaces the suffix. Returns the jobs and the inputs rejected up
    front (two inputs writing the same output, a file of an unsupported type).

    Raises:
        GaneditError: An input does not exist.
    """
    out = Path(output_dir).resolve()
    jobs: list[Job] = []
    rejected: list[FileResult] = []
    claimed: dict[Path, Path] = {}
    for raw in inputs:
        given = Path(raw)
        if not given.exists():
            raise GaneditError(f"input {given} does not exist")
        root = given.resolve()
        if root.is_dir() and root == out:
            raise GaneditError(
                f"the output folder {output_dir} is the input folder {given}: every result would "
                "replace its input; choose another output folder"
            )
        if root.is_dir():
            pairs = []
            for found in _walk(root, recursive, out):
                if isinstance(found, FileResult):
                    rejected.append(found)
                else:
                    pairs.append((found, found.relative_to(root)))
        else:
            pairs = [(root, PurePath(root.name))]
        for source, relative in pairs:
            placed = place(source, relative, out, ext)
            if isinstance(placed, FileResult):
                rejected.append(placed)
                continue
            target = placed.output
            if target in claimed:
                if claimed[target] != source:
                    reason = f"output {target} is also the output of {claimed[target]}"
                    rejected.append(FileResult(source, None, "failed", reason))
            else:
                claimed[target] = source
                jobs.append(placed)
    return jobs, rejected


def place(source: Path, relative: PurePath, output_dir: Path, ext: str | None) -> Job | FileResult:
    """Where ``source`` (found at ``relative`` under its input folder) goes under the absolute
    ``output_dir``: a :class:`Job`, or the failure when no output can be written for it (a type
    no encoder writes, or the input itself)."""
    target = output_dir / relative
    if ext is not None:
        target = target.with_suffix(ext)
    if target.suffix.lower() not in imageio.IMAGE_SUFFIXES:
        reason = f"unsupported file type {target.suffix!r}; use --ext to pick an output format"
        return FileResult(source, None, "failed", reason)
    if target == source:
        return FileResult(source, None, "failed", "output would overwrite the input")
    return Job(source, target, relative)


def spare_inputs(jobs: list[Job], sources: Sequence[Path]) -> tuple[list[Job], list[FileResult]]:
    """Refuse the jobs whose output is one of the job's inputs (an image or a mask, by path or
    through a symbolic link): whatever the flags, an input is never written."""
    inputs: dict[Path, Path] = {}
    for path in [*sources, *(j.mask for j in jobs if j.mask is not None)]:
        inputs[path] = path
        inputs.setdefault(_real(path), path)
    kept, refused = [], []
    for job in jobs:
        hit = inputs.get(job.output) or inputs.get(_real(job.output))
        if hit is None:
            kept.append(job)
        else:
            what = "its own input" if hit == job.source else f"the input {hit}"
            refused.append(FileResult(job.source, None, "failed", f"output would overwrite {what}"))
    return kept, refused


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return path
