"""The local model cache: downloaded weights, their checksums and the converted ONNX files.

Layout under the cache home (``$GANEDIT_HOME``, default ``~/.cache/ganedit``)::

    weights/<family>/<filename>     downloaded weights, e.g. weights/cyclegan/horse2zebra.pth
    onnx/<name><variant>.onnx       converted models, e.g. onnx/horse2zebra.onnx
    checksums.json                  sha256 of every downloaded file

Checksums: where an entry has a published ``sha256`` the file must match it. Where upstream
publishes none, the first download's sha256 is recorded (trust on first use) and every later use
or download of that file must match the record. Hashing a large file on every use is slow, so
the record also keeps the file's size and ``mtime_ns`` when it was last verified; the file is
hashed again only when either has changed.

Several processes may fetch at once: files and the record are replaced atomically, so neither is
ever seen half-written; at worst one process's record update is lost, and the file is then
hashed and recorded again on its next use.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DownloadError, GaneditError
from .download import ChecksumMismatchError, Progress, download, sha256_file
from .registry import ZooEntry

__all__ = ["CHECKSUMS_FILE", "ModelCache", "ganedit_home"]

CHECKSUMS_FILE = "checksums.json"
_RECORDS_FORMAT = 1


def ganedit_home() -> Path:
    """The cache home: ``$GANEDIT_HOME`` if set, else ``~/.cache/ganedit``; created if missing.

    Raises:
        GaneditError: The folder does not exist and cannot be created.
    """
    value = os.environ.get("GANEDIT_HOME")
    home = Path(value).expanduser() if value else Path.home() / ".cache" / "ganedit"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GaneditError(
            f"cannot create ganedit's cache folder {home} ({exc.strerror or exc}); set "
            "GANEDIT_HOME to a folder you can write"
        ) from exc
    return home


@dataclasses.dataclass(frozen=True)
class _Record:
    """What checksums.json keeps per file: its origin, sha256 and the stat it was verified at."""

    url: str
    sha256: str
    size: int
    mtime_ns: int


class ModelCache:
    """Downloaded weights and converted ONNX files of zoo entries, kept under one folder.

    Args:
        home: The cache folder; by default :func:`ganedit_home`. Nothing is created until a file
            is written.

    Example:
        >>> cache = ModelCache("/tmp/ganedit-cache")
        >>> entry = default_registry().get("horse2zebra")  # doctest: +SKIP
        >>> weights = cache.fetch(entry)  # doctest: +SKIP
    """

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else ganedit_home()

    def __repr__(self) -> str:
        return f"ModelCache({str(self.home)!r})"

    @property
    def checksums_path(self) -> Path:
        """The JSON file recording the sha256 of every downloaded file."""
        return self.home / CHECKSUMS_FILE

    def weights_path(self, entry: ZooEntry) -> Path:
        """Where ``entry``'s weights are cached: ``HOME/weights/<family>/<filename>``."""
        return self.home / "weights" / entry.family / entry.filename

    def onnx_path(self, entry: ZooEntry, variant: str = "") -> Path:
        """Where ``entry``'s converted model goes: ``HOME/onnx/<name><variant>.onnx``.

        Args:
            entry: The model.
            variant: ``""`` for the plain model, or a suffix starting with ``"."`` or ``"-"``,
                such as ``".fp16"`` (giving ``horse2zebra.fp16.onnx``). Prefer ``"."``: entry
                names never contain one, so :meth:`remove` finds those variants on its own.

        Raises:
            ValueError: ``variant`` is not empty and does not start with ``"."`` or ``"-"``, or
                holds a path separator.
        """
        if variant and (variant[0] not in ".-" or "/" in variant or "\\" in variant):
            raise ValueError(
                f"variant must be '' or a suffix like '.fp16' without path separators, "
                f"got {variant!r}"
            )
        return self.home / "onnx" / f"{entry.name}{variant}.onnx"

    def is_cached(self, entry: ZooEntry) -> bool:
        """Whether ``entry``'s weights are in the cache (not checked against their sha256)."""
        return self.weights_path(entry).is_file()

    def recorded_sha256(self, entry: ZooEntry) -> str | None:
        """The sha256 recorded when ``entry``'s file was first downloaded, or ``None``."""
        record = self._read_records().get(self._key(entry))
        return record.sha256 if record is not None else None

    def fetch(
        self,
        entry: ZooEntry,
        *,
        progress: Progress | None = None,
        force: bool = False,
        timeout: float = 60,
    ) -> Path:
        """The path of ``entry``'s weights, downloaded first if they are not cached.

        A cached file is verified (see the module docstring) before it is returned. A new
        download must match ``entry.sha256`` if set, else the recorded sha256 of an earlier
        download of the same URL; the first download of a URL is recorded.

        Args:
            entry: The model.
            progress: Passed to :func:`~ganedit.zoo.download.download`.
            force: Download again even if the file is cached (the cached copy is replaced only
                once the new one has arrived and been checked).
            timeout: Seconds to wait for the connection or for each read.

        Returns:
            ``weights_path(entry)``.

        Raises:
            DownloadError: The download failed; the downloaded or cached file does not match
                its checksum; or ``checksums.json`` is unreadable.
        """
        path = self.weights_path(entry)
        if not force and path.is_file():
            self.verify(entry)
            return path
        key = self._key(entry)
        record = self._read_records().get(key)
        recorded = record.sha256 if record is not None and record.url == entry.url else None
        expected = entry.sha256 or recorded
        try:
            digest = download(
                entry.url, path, expected_sha256=expected, progress=progress, timeout=timeout
            )
        except ChecksumMismatchError as exc:
            if entry.sha256 is not None:
                raise DownloadError(
                    f"{exc}. The file does not match the sha256 published for model "
                    f"{entry.name!r}; the download may be damaged or tampered with, or the "
                    "upstream file has changed. Try again later or report it."
                ) from exc
            raise DownloadError(
                f"{exc}. {entry.url} now serves a different file than when model "
                f"{entry.name!r} was first downloaded on this machine (recorded in "
                f"{self.checksums_path}). If the upstream file changed on purpose, delete the "
                f"{key!r} record there (or the whole file) and pull again."
            ) from exc
        self._record(key, entry.url, digest, path)
        return path

    def verify(self, entry: ZooEntry) -> str:
        """Check ``entry``'s cached file against its checksum and return its sha256.

        The file is hashed only if its size or modification time changed since it was last
        verified. A file with no record yet (copied in by hand, or ``checksums.json`` deleted)
        is trusted and recorded, unless ``entry.sha256`` says otherwise.

        Raises:
            DownloadError: The file is missing, or corrupt (its sha256 differs from
                ``entry.sha256`` or from the recorded one), or ``checksums.json`` is unreadable.
        """
        path = self.weights_path(entry)
        key = self._key(entry)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise DownloadError(
                f"model {entry.name!r} is not cached at {path}; "
                f"run `ganedit models pull {entry.name}`"
            ) from exc
        record = self._read_records().get(key)
        if (
            record is not None
            and (record.size, record.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
            and entry.sha256 in (None, record.sha256)
        ):
            return record.sha256
        digest = sha256_file(path)
        expected = entry.sha256 or (record.sha256 if record is not None else None)
        if expected is not None and digest != expected:
            raise DownloadError(
                f"cached file {path} of model {entry.name!r} is corrupt: expected sha256 "
                f"{expected}, got {digest}. Run `ganedit models pull {entry.name} --force` to "
                "download it again."
            )
        self._record(key, record.url if record is not None else entry.url, digest, path)
        return digest

    def remove(self, entry: ZooEntry, *, variants: Iterable[str] = ()) -> list[Path]:
        """Delete ``entry``'s weights, their checksum record and its converted ONNX files.

        Args:
            entry: The model.
            variants: ONNX variants to delete besides the plain one and every ``"."`` variant
                (``<name>.*.onnx``), which are always deleted; e.g. ``("-running",)``.

        Returns:
            The files deleted (the record is not listed).
        """
        candidates = [self.weights_path(entry), self.onnx_path(entry)]
        candidates += [self.onnx_path(entry, variant) for variant in variants]
        onnx_dir = self.onnx_path(entry).parent
        if onnx_dir.is_dir():
            candidates += sorted(onnx_dir.glob(f"{entry.name}.*.onnx"))
        removed = []
        for path in dict.fromkeys(candidates):
            if path.is_file():
                path.unlink()
                removed.append(path)
        records = self._read_records()
        if records.pop(self._key(entry), None) is not None:
            self._write_records(records)
        return removed

    @staticmethod
    def _key(entry: ZooEntry) -> str:
        # The file's place under weights/, so two entries sharing a file share its record.
        return f"{entry.family}/{entry.filename}"

    def _record(self, key: str, url: str, digest: str, path: Path) -> None:
        stat = path.stat()
        records = self._read_records()
        records[key] = _Record(url, digest, stat.st_size, stat.st_mtime_ns)
        self._write_records(records)

    def _read_records(self) -> dict[str, _Record]:
        path = self.checksums_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise DownloadError(f"cannot read the checksum record {path}: {exc}") from exc
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
                raise ValueError('expected an object with a "files" object')
            if data.get("format", _RECORDS_FORMAT) != _RECORDS_FORMAT:
                raise ValueError(
                    f"format {data.get('format')!r} is not {_RECORDS_FORMAT} (another version "
                    "of ganedit wrote it?)"
                )
            return {key: _parse_record(value) for key, value in data["files"].items()}
        except ValueError as exc:  # json.JSONDecodeError is a ValueError.
            raise DownloadError(
                f"the checksum record {path} is corrupt ({exc}). It holds the sha256 of each "
                "downloaded model; delete it to start over (cached files are then trusted as "
                "they are and recorded again)."
            ) from exc

    def _write_records(self, records: dict[str, _Record]) -> None:
        data: dict[str, Any] = {
            "format": _RECORDS_FORMAT,
            "files": {key: dataclasses.asdict(records[key]) for key in sorted(records)},
        }
        self.home.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{CHECKSUMS_FILE}.", suffix=".tmp", dir=self.home)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_name, self.checksums_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise


def _parse_record(value: object) -> _Record:
    if not isinstance(value, dict):
        raise ValueError(f"a record must be an object, got {value!r}")
    try:
        record = _Record(
            url=str(value["url"]),
            sha256=str(value["sha256"]),
            size=int(value["size"]),
            mtime_ns=int(value["mtime_ns"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"a record lacks or has a bad {exc}: {value!r}") from exc
    if len(record.sha256) != 64:
        raise ValueError(f"a record's sha256 is not 64 hex digits: {record.sha256!r}")
    return record
