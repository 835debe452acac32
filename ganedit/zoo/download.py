"""Download one file safely: streamed, hashed on the way, checked, then moved into place.

Only the standard library is used (``urllib``); it is imported when a download starts, so that
importing ganedit stays fast and never touches the network.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING
from urllib.parse import urlsplit

from .._files import fsync_dir, remove_stale_temporaries, temporary_prefix
from ..errors import DownloadError

if TYPE_CHECKING:
    from http.client import HTTPResponse

__all__ = ["ChecksumMismatchError", "Progress", "download", "sha256_file"]

Progress = Callable[[int, "int | None"], None]
"""``progress(bytes_done, total_bytes_or_None)``, called at the start and after every chunk."""


class ChecksumMismatchError(DownloadError):
    """A downloaded file's sha256 differs from the expected one; nothing was saved.

    Attributes:
        url: What was downloaded.
        expected: The sha256 the file should have had.
        actual: The sha256 it had.
    """

    def __init__(self, message: str, *, url: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.url = url
        self.expected = expected
        self.actual = actual

    def __reduce__(self) -> tuple[object, ...]:  # Keyword-only arguments need help to pickle.
        return (_rebuild_checksum_error, (str(self), self.url, self.expected, self.actual))


def _rebuild_checksum_error(
    message: str, url: str, expected: str, actual: str
) -> ChecksumMismatchError:
    return ChecksumMismatchError(message, url=url, expected=expected, actual=actual)


_CHUNK = 1 << 20
_USER_AGENT = "ganedit"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


def download(
    url: str,
    dest: Path,
    *,
    expected_sha256: str | None = None,
    progress: Progress | None = None,
    timeout: float = 60,
) -> str:
    """Download ``url`` to ``dest`` atomically and return the file's sha256.

    The data streams to a temporary file next to ``dest`` and is hashed on the way; only when it
    is complete (the size matches ``Content-Length``) and its sha256 matches ``expected_sha256``
    is it flushed to disk and renamed to ``dest``. On any failure the temporary file is removed
    and ``dest`` is left as it was. A connection that drops mid-transfer is retried once,
    resuming with an HTTP ``Range`` request where the server supports it.

    Args:
        url: ``http://``, ``https://`` or ``file://`` URL, or a plain local path (copied).
        dest: Where the file goes; its folder is created if needed.
        expected_sha256: The file's known sha256 (hex), or ``None`` to accept any content.
        progress: Called as ``progress(bytes_done, total)`` at the start and after each chunk;
            ``total`` is ``None`` when the server does not say.
        timeout: Seconds to wait for the connection or for each read, not for the whole file.

    Returns:
        The downloaded file's sha256, lower-case hex.

    Raises:
        DownloadError: The URL cannot be reached (HTTP error status, connection refused, DNS
            failure, timeout), the transfer is cut short, the file cannot be written, or its
            checksum differs from ``expected_sha256``. The message names the URL.
        ValueError: ``expected_sha256`` is not 64 hex digits.

    Example:
        >>> digest = download("https://example.org/model.pth", Path("model.pth"))  # doctest: +SKIP
    """
    dest = Path(dest)
    expected = None
    if expected_sha256 is not None:
        expected = expected_sha256.strip().lower()
        if not _SHA256_RE.match(expected):
            raise ValueError(f"expected_sha256 must be 64 hex digits, got {expected_sha256!r}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(dest.parent)  # partial downloads of killed runs
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(dest), suffix=".tmp", dir=dest.parent
        )
    except OSError as exc:
        raise DownloadError(
            f"could not download {url}: cannot write to {dest.parent}: {exc}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as out:
            try:
                digest = _fetch_into(url, out, progress=progress, timeout=timeout)
                out.flush()
                os.fsync(out.fileno())
            except DownloadError:
                raise
            except OSError as exc:  # Local trouble: disk full, permissions, unreadable source.
                raise DownloadError(f"could not download {url} to {dest}: {exc}") from exc
        if expected is not None and digest != expected:
            raise ChecksumMismatchError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {digest}; "
                f"the file was not saved to {dest}",
                url=url,
                expected=expected,
                actual=digest,
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)
    return digest


def sha256_file(path: Path) -> str:
    """The sha256 of a file, lower-case hex, read in chunks."""
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _fetch_into(url: str, out: IO[bytes], *, progress: Progress | None, timeout: float) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return _http_into(url, out, progress=progress, timeout=timeout)
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise DownloadError(
                f"could not download {url}: file:// URLs on other hosts are not supported"
            )
        from urllib.request import url2pathname

        return _copy_into(url, Path(url2pathname(parts.path)), out, progress=progress)
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # "C:\..." parses as scheme "c".
        return _copy_into(url, Path(url), out, progress=progress)
    raise DownloadError(
        f"could not download {url}: unsupported URL scheme {parts.scheme!r} "
        "(expected http, https, file or a local path)"
    )


def _copy_into(url: str, source: Path, out: IO[bytes], *, progress: Progress | None) -> str:
    try:
        src = open(source, "rb")  # noqa: SIM115 - closed below; the error needs its own message.
    except FileNotFoundError as exc:
        raise DownloadError(f"could not download {url}: no such file {source}") from exc
    with src:
        sink = _Sink(out, progress)
        sink.restart(total=os.fstat(src.fileno()).st_size)
        sink.pump(src.read)
    return sink.hexdigest()


def _http_into(url: str, out: IO[bytes], *, progress: Progress | None, timeout: float) -> str:
    import http.client
    import urllib.error
    import urllib.request

    sink = _Sink(out, progress)
    for attempt in (1, 2):
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        if sink.done:
            headers["Range"] = f"bytes={sink.done}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response: HTTPResponse
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = _int_header(response.headers.get("Content-Length"))
                continues, total = _continuation(response, sink.done, sink.total, length)
                if continues:
                    sink.total = total
                else:  # A fresh start, also when the server ignored the Range request.
                    sink.restart(total=length)
                sink.pump(response.read)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            reason = _reason(exc.reason, timeout)
            raise DownloadError(f"could not download {url}: {reason}") from exc
        except TimeoutError as exc:
            raise DownloadError(f"could not download {url}: {_reason(exc, timeout)}") from exc
        except (ConnectionError, http.client.HTTPException) as exc:
            if attempt == 1:
                continue
            raise DownloadError(
                f"could not download {url}: connection dropped after {sink.done} bytes, "
                f"also after retrying ({_reason(exc, timeout)})"
            ) from exc
        if sink.total is None or sink.done == sink.total:
            return sink.hexdigest()
        if sink.done > sink.total:
            raise DownloadError(
                f"could not download {url}: received {sink.done} bytes, more than the "
                f"Content-Length of {sink.total}"
            )
        if attempt == 2:
            raise DownloadError(
                f"could not download {url}: short read, received {sink.done} of {sink.total} "
                "bytes, also after retrying"
            )
    raise AssertionError("unreachable")  # pragma: no cover


class _Sink:
    """The temporary file being written, its running hash and byte count, and progress calls.

    Kept outside the read loop so a transfer cut mid-chunk still knows exactly what it holds.
    """

    def __init__(self, out: IO[bytes], progress: Progress | None) -> None:
        self.out = out
        self.progress = progress
        self.hasher = hashlib.sha256()
        self.done = 0
        self.total: int | None = None

    def restart(self, *, total: int | None) -> None:
        if self.done:
            self.out.seek(0)
            self.out.truncate()
            self.hasher = hashlib.sha256()
            self.done = 0
        self.total = total
        if self.progress is not None:
            self.progress(0, total)

    def pump(self, read: Callable[[int], bytes]) -> None:
        while chunk := read(_CHUNK):
            self.out.write(chunk)
            self.hasher.update(chunk)
            self.done += len(chunk)
            if self.progress is not None:
                self.progress(self.done, self.total)

    def hexdigest(self) -> str:
        return self.hasher.hexdigest()


def _continuation(
    response: HTTPResponse, offset: int, known_total: int | None, length: int | None
) -> tuple[bool, int | None]:
    """Whether ``response`` continues the file at ``offset``, and the whole file's size if known.

    A reply whose announced size differs from the first reply's is another file: no
    continuation.
    """
    if offset == 0 or response.status != 206:
        return False, None
    match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range") or "")
    if match is None or int(match.group(1)) != offset:
        return False, None
    full = int(match.group(3)) if match.group(3) != "*" else None
    if full is None and length is not None:
        full = offset + length
    if known_total is not None and full is not None and full != known_total:
        return False, None
    return True, full if full is not None else known_total


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError) or str(reason) == "timed out":
        return f"timed out after {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__
