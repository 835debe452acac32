"""Atomic file writes: a file holds either its old content or the complete new one."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_GLOB",
    "atomic_write",
    "fsync_dir",
    "remove_stale_temporaries",
    "stale_temporaries",
    "temporary_prefix",
]

# Temporary files and folders (atomic_write, downloads, ONNX exports): hidden, beside their
# target, named after it and their writer's process id. A killed run may leave some behind,
# which the next run that writes into the same folder removes.
TEMP_GLOB = ".*.ganedit-*.tmp"


def temporary_prefix(target: Path) -> str:
    """The name prefix of a temporary file or folder for ``target`` (with suffix ``.tmp``)."""
    return f".{target.name}.ganedit-{os.getpid()}-"


@lru_cache(maxsize=1)
def _umask() -> int:
    # os.umask can only be read by setting it, which races with other threads; Linux exposes it.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], None], *, fsync: bool = True) -> None:
    """Write a file so that ``path`` holds either its old content or the complete new one.

    ``write`` receives a binary file in the same directory; when it returns, the data is flushed,
    fsynced and renamed over ``path``. ``fsync=False`` skips both fsyncs (the file's and the
    directory's): the rename still never shows a partial file, but after a power cut the
    newest files may be empty or missing. On any exception the temporary
    file is removed, ``path`` is left untouched and the exception propagates. The new file gets
    ordinary permissions (``0o666`` less the umask).

    Example:
        >>> atomic_write(Path("out.bin"), lambda f: f.write(b"data"))  # doctest: +SKIP
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if fsync:
        fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable. Best effort: not every platform or filesystem
    lets a directory be opened or fsynced, and the data itself is already on disk."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def stale_temporaries(folder: Path) -> Iterator[Path]:
    """Temporary files and folders (:data:`TEMP_GLOB`) in ``folder`` whose writer is gone.

    A temporary names its writer's process id; one whose process still runs (another job
    writing into the same folder right now) is not stale. Names without a readable id are.
    """
    for path in folder.glob(TEMP_GLOB):
        pid_part = path.name.rpartition(".ganedit-")[2].split("-", 1)[0]
        if not (pid_part.isdigit() and _process_alive(int(pid_part))):
            yield path


def remove_stale_temporaries(folder: Path) -> None:
    """Delete what killed writers left in ``folder`` (:func:`stale_temporaries`)."""
    if not folder.is_dir():
        return
    for stale in stale_temporaries(folder):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                stale.unlink()
