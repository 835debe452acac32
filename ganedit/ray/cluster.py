"""Joining or starting Ray, and keeping Ray's own noise (start-up lines, core logs, notices
it prints on standard output, remote tracebacks) off the terminal of a folder job."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import GaneditError

__all__ = ["Notices", "cause", "connect", "quiet_ray_logging"]


def connect(ray: Any, address: str | None) -> bool:
    """Join or start the cluster; True when this call started Ray (and must shut it down)."""
    if ray.is_initialized():
        return False
    # Ray's C++ core logs an error for every Ray Data actor (its constructor arguments live in
    # the object store, ray#53727) and a line when it reads this setting: both for Ray's
    # developers, not for someone running a folder job. Set it to see them.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    quiet_ray_logging()
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


def quiet_ray_logging() -> None:
    """Ray's Python logging down to its warnings (Ray Data announces each execution at INFO),
    without the notice that its progress bars are off (ganedit draws its own)."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.WARNING)
    notices = logging.getLogger("ray.data._internal.progress")  # where Ray 2.5x says it
    if not any(isinstance(f, _NoProgressBarNotice) for f in notices.filters):
        notices.addFilter(_NoProgressBarNotice())


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RAISED = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception): (.+)$")


def cause(exc: BaseException) -> str:
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
