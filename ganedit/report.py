"""The outcome of a folder job: what was written, skipped and why anything failed."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any, Literal

__all__ = ["FileResult", "JobInterrupted", "Report", "printable"]

#: Exit code of a job stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED_EXIT = 130

Status = Literal["done", "skipped", "failed"]


def printable(text: object) -> str:
    """``text`` for one line of a terminal: control characters (a newline in a file name)
    escaped as Python writes them, so that one file's line cannot pose as another's."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


@dataclasses.dataclass(frozen=True)
class FileResult:
    """One input file's outcome.

    Attributes:
        source: The input file.
        output: The file written (or found, when skipped); ``None`` when it failed.
        status: ``"done"``, ``"skipped"`` (the output exists) or ``"failed"``.
        reason: Why it failed, without the file's name.
        seconds: From reading the file to its output being written, when it ran (not part
            of equality: two runs of one job give equal results).
    """

    source: Path
    output: Path | None
    status: Status
    reason: str = ""
    seconds: float | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass
class Report:
    """Collects per-file results from worker threads; safe to add to concurrently."""

    results: list[FileResult] = dataclasses.field(default_factory=list)
    started: float = dataclasses.field(default_factory=time.perf_counter)
    finished: float | None = None
    #: How many files were left undone because the job was stopped (Ctrl-C, SIGTERM).
    not_started: int = 0
    interrupted: bool = False
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def add(self, result: FileResult) -> None:
        with self._lock:
            self.results.append(result)

    def finish(self) -> None:
        self.finished = time.perf_counter()

    def _count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def done(self) -> int:
        return self._count("done")

    @property
    def skipped(self) -> int:
        return self._count("skipped")

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed

    @property
    def elapsed(self) -> float:
        end = self.finished if self.finished is not None else time.perf_counter()
        return end - self.started

    @property
    def exit_code(self) -> int:
        """0 when every file was done or skipped, 1 when any failed, 130 when stopped."""
        if self.interrupted:
            return INTERRUPTED_EXIT
        return 0 if self.ok else 1

    def summary(self) -> str:
        """One human-readable line, then one line per failure."""
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"{self.done} done, {self.skipped} skipped (output exists), "
            f"{len(self.failed)} failed in {self.elapsed:.1f}s ({rate:.2f} images/s)"
        ]
        lines += [
            f"  failed: {printable(r.source)}: {printable(r.reason)}" for r in self._failed_sorted()
        ]
        if self.interrupted:
            lines.append(
                f"interrupted: {self.not_started} not done; run the same command again to "
                "finish (done outputs are skipped)"
            )
        return "\n".join(lines)

    def _failed_sorted(self) -> list[FileResult]:
        return sorted(self.failed, key=lambda r: str(r.source))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``--json`` prints). Failures and outputs are sorted by
        path, so that two runs of one job (threads, or actors of a cluster, finish in any
        order) give the same lists."""
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "elapsed_s": round(self.elapsed, 3),
            "images_per_s": round(self.done / self.elapsed, 3) if self.elapsed > 0 else 0.0,
            "interrupted": self.interrupted,
            "not_done": self.not_started,
            "failures": [
                {"file": str(r.source), "reason": r.reason} for r in self._failed_sorted()
            ],
            "outputs": sorted(str(r.output) for r in self.results if r.status == "done"),
        }


class JobInterrupted(KeyboardInterrupt):
    """A folder job stopped by Ctrl-C (or SIGTERM in the CLI) after the files in flight; its
    :class:`Report` says what was done. A ``KeyboardInterrupt``, so a script still stops."""

    def __init__(self, report: Report):
        super().__init__("folder job interrupted")
        self.report = report
