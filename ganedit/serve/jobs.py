"""Long jobs of the HTTP service: submitted, polled for progress, fetched, cancelled."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from typing import Any

from .requests import ApiError

__all__ = ["Cancelled", "Job", "Jobs", "stopper"]


class Cancelled(Exception):
    """Raised from a request's progress callback to stop its network run."""


def stopper(flag: threading.Event) -> Any:
    def progress(done: float) -> None:
        if flag.is_set():
            raise Cancelled("cancelled")

    return progress


@dataclasses.dataclass(eq=False)
class Job:
    id: str
    status: str = "queued"
    progress: float = 0.0
    error: str | None = None
    result: bytes | None = None
    media_type: str = "application/octet-stream"
    task: Any = None
    cancelled: threading.Event = dataclasses.field(default_factory=threading.Event)
    created: float = dataclasses.field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"/v1/jobs/{self.id}"

    def on_progress(self, done: float) -> None:
        """Called by the runner thread (tiles done); stops the run once cancelled."""
        if self.cancelled.is_set():
            raise Cancelled("cancelled")
        self.status, self.progress = "running", max(self.progress, min(done, 1.0))

    def cancel(self) -> None:
        if self.status in ("queued", "running"):
            self.cancelled.set()
            self.status = "cancelled"
            if self.task is not None:
                self.task.cancel()

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status, "progress": self.progress}
        if self.error is not None:
            out["error"] = self.error
        if self.status == "done":
            out["result"] = f"{self.url}/result"
        return out


class Jobs:
    """The service's long jobs; finished ones are kept for ``keep`` seconds."""

    def __init__(self, keep: float = 3600.0, most: int = 1000):
        self.keep, self.most = keep, most
        self._jobs: dict[str, Job] = {}

    def new(self) -> Job:
        now = time.monotonic()
        for key in [k for k, j in self._jobs.items() if now - j.created > self.keep]:
            del self._jobs[key]
        if len(self._jobs) >= self.most:
            raise ApiError(503, "busy", f"{self.most} jobs are kept", {"Retry-After": "10"})
        job = Job(secrets.token_urlsafe(12))
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, "unknown_job", f"no job {job_id!r}")
        return job
