"""Download the reference CycleGAN and pix2pix datasets by name, and unpack them safely.

The names and URLs are those of the reference download scripts
(junyanz/pytorch-CycleGAN-and-pix2pix: ``download_cyclegan_dataset.sh``, zip files, and
``download_pix2pix_dataset.sh``, tar.gz files). No checksums are published for them.

Unpacking trusts nothing in the archive: a member with an absolute path, a ``..`` component, a
link leading outside the folder, or a device/FIFO entry makes the whole archive refused. The
archive is downloaded and unpacked inside a hidden temporary folder beside the target, and the
finished dataset folder is renamed into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ganedit._files import fsync_dir
from ganedit.errors import GaneditError
from ganedit.zoo.download import Progress, download

__all__ = [
    "ArchiveError",
    "DatasetEntry",
    "DatasetExistsError",
    "UnknownDatasetError",
    "download_dataset",
    "extract_archive",
    "list_datasets",
    "resolve_dataset",
]

Source = Literal["cyclegan", "pix2pix"]

#: Where the reference scripts download from, per source.
BASE_URLS: dict[Source, str] = {
    "cyclegan": "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets",
    "pix2pix": "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets",
}
_SUFFIXES: dict[Source, str] = {"cyclegan": ".zip", "pix2pix": ".tar.gz"}
_IGNORED_TOP_LEVEL = frozenset({"__MACOSX"})  # resource forks of archives made on macOS


class UnknownDatasetError(GaneditError, KeyError):
    """A dataset name is not in the registry, or matches more than one entry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DatasetExistsError(GaneditError, FileExistsError):
    """The dataset's target folder already exists; nothing was downloaded."""


class ArchiveError(GaneditError, ValueError):
    """An archive is corrupt, of an unknown format, or holds members that are unsafe to unpack."""


@dataclass(frozen=True)
class DatasetEntry:
    """One downloadable dataset.

    Attributes:
        name: Its name, also the folder it unpacks to (``"horse2zebra"``).
        source: ``"cyclegan"`` (zip, ``trainA``/``trainB`` …) or ``"pix2pix"`` (tar.gz,
            ``train``/``val``/``test`` with side-by-side AB images).
        layout: What ``ganedit.train.data.detect_layout`` should find in it.
        description: One line for ``ganedit data list``.
    """

    name: str
    source: Source
    layout: Literal["unaligned", "aligned"]
    description: str

    @property
    def id(self) -> str:
        """``"source/name"``, unique across sources (``"pix2pix/facades"``)."""
        return f"{self.source}/{self.name}"

    def url(self, base_url: str | None = None) -> str:
        """The archive's URL, under ``base_url`` instead of the official one when given."""
        base = (base_url or BASE_URLS[self.source]).rstrip("/")
        return f"{base}/{self.name}{_SUFFIXES[self.source]}"


def _cyclegan(name: str, description: str) -> DatasetEntry:
    return DatasetEntry(name, "cyclegan", "unaligned", description)


def _pix2pix(name: str, description: str) -> DatasetEntry:
    return DatasetEntry(name, "pix2pix", "aligned", description)


def _build_registry(entries: tuple[DatasetEntry, ...]) -> dict[str, DatasetEntry]:
    registry: dict[str, DatasetEntry] = {}
    for entry in entries:
        if entry.id in registry:
            raise ValueError(f"duplicate dataset id {entry.id!r}")
        registry[entry.id] = entry
    return registry


_REGISTRY = _build_registry(
    (
        _cyclegan("apple2orange", "apples <-> oranges (ImageNet)"),
        _cyclegan("summer2winter_yosemite", "Yosemite in summer <-> winter (Flickr)"),
        _cyclegan("horse2zebra", "horses <-> zebras (ImageNet)"),
        _cyclegan("monet2photo", "Monet paintings <-> landscape photos"),
        _cyclegan("cezanne2photo", "Cezanne paintings <-> landscape photos"),
        _cyclegan("ukiyoe2photo", "Ukiyo-e prints <-> landscape photos"),
        _cyclegan("vangogh2photo", "Van Gogh paintings <-> landscape photos"),
        _cyclegan("maps", "Google Maps <-> aerial photos, unpaired"),
        _cyclegan("facades", "facade label maps <-> photos, unpaired"),
        _cyclegan("iphone2dslr_flower", "iPhone <-> DSLR flower photos (Flickr)"),
        _cyclegan("ae_photos", "test photos for the pretrained style models"),
        _pix2pix("facades", "facade label maps -> photos (CMP Facades), 400 pairs"),
        _pix2pix("maps", "aerial photos <-> Google Maps, 1096 pairs"),
        _pix2pix("edges2shoes", "edge maps -> shoe photos, 50k pairs"),
        _pix2pix("edges2handbags", "edge maps -> handbag photos, 137k pairs"),
        _pix2pix("night2day", "night -> day photos of the same scenes, 17k pairs"),
    )
)

_CITYSCAPES = (
    "cityscapes cannot be downloaded by ganedit: its license forbids redistribution. Download "
    "gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip from https://cityscapes-dataset.com "
    "and combine them into side-by-side AB images (the reference's "
    "datasets/prepare_cityscapes_dataset.py does this)"
)


def list_datasets() -> list[DatasetEntry]:
    """Every downloadable dataset, sorted by source then name."""
    return sorted(_REGISTRY.values(), key=lambda e: (e.source, e.name))


def resolve_dataset(name: str) -> DatasetEntry:
    """The entry for ``"source/name"``, or for a bare name that only one source has.

    Raises:
        UnknownDatasetError: Unknown or ambiguous name; the message lists the choices.
    """
    if name in _REGISTRY:
        return _REGISTRY[name]
    matches = [entry for entry in _REGISTRY.values() if entry.name == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        choices = " or ".join(f"{e.id} ({e.layout})" for e in matches)
        raise UnknownDatasetError(f"dataset name {name!r} is ambiguous: use {choices}")
    if name.rpartition("/")[2] == "cityscapes":
        raise UnknownDatasetError(_CITYSCAPES)
    known = ", ".join(sorted({e.name for e in _REGISTRY.values()}))
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {known}")


def download_dataset(
    name: str,
    dest_dir: Path,
    *,
    progress: Progress | None = None,
    base_url: str | None = None,
) -> Path:
    """Download a reference dataset and unpack it to ``dest_dir / entry.name``.

    Args:
        name: A dataset name (``"horse2zebra"``) or id (``"pix2pix/facades"``); see
            :func:`list_datasets`.
        dest_dir: The folder to put the dataset folder in; created if needed.
        progress: Called as ``progress(bytes_done, total_or_None)`` during the download.
        base_url: Download from here instead of the official server (a mirror, or a test
            server); the archive's file name is appended.

    Returns:
        The dataset folder, e.g. ``dest_dir / "horse2zebra"`` holding ``trainA``, ``trainB`` …

    Raises:
        UnknownDatasetError: ``name`` is unknown or ambiguous.
        DatasetExistsError: The dataset folder already exists.
        ganedit.errors.DownloadError: The download failed.
        ArchiveError: The archive is corrupt or unsafe; nothing was unpacked.

    Example:
        >>> download_dataset("horse2zebra", Path("datasets"))  # doctest: +SKIP
        PosixPath('datasets/horse2zebra')
    """
    entry = resolve_dataset(name)
    dest_dir = Path(dest_dir)
    target = dest_dir / entry.name
    if target.exists() or target.is_symlink():
        raise DatasetExistsError(
            f"{target} already exists; remove it or choose another output folder to download "
            f"{entry.id} again"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.ganedit-", suffix=".tmp", dir=dest_dir))
    try:
        archive = work / f"{entry.name}{_SUFFIXES[entry.source]}"
        download(entry.url(base_url), archive, progress=progress)
        unpacked = work / "unpacked"
        extract_archive(archive, unpacked)
        os.rename(_dataset_folder(unpacked, archive), target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    fsync_dir(dest_dir)
    return target


def _dataset_folder(unpacked: Path, archive: Path) -> Path:
    """The archive's single top-level folder (the usual ``horse2zebra/``), else all of it."""
    entries = [p for p in unpacked.iterdir() if p.name not in _IGNORED_TOP_LEVEL]
    if not entries:
        raise ArchiveError(f"{archive.name} holds no files")
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return unpacked


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar (gz, bz2, xz) archive into the new folder ``dest``, refusing escapes.

    Every member is checked before anything is written: absolute paths, drive letters, ``..``
    components, links whose target leaves ``dest`` (all links, in zip files), and device or
    FIFO entries make the archive refused. Tar files are then unpacked with the standard
    library's ``"data"`` filter as a second line of defence.

    An archive refused by the pre-check leaves ``dest`` uncreated; one refused later (by the
    filter) or corrupt halfway may leave part of it in ``dest``, which is why
    :func:`download_dataset` unpacks into a temporary folder.

    Raises:
        ArchiveError: Unknown format, corrupt data, or an unsafe member (named in the message).
        FileExistsError: ``dest`` exists.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                _extract_zip(zf, archive, dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                _extract_tar(tf, archive, dest)
        else:
            raise ArchiveError(f"{archive.name} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ArchiveError(f"{archive.name} is corrupt: {exc}") from exc


def _unsafe(archive: Path, member: str, why: str) -> ArchiveError:
    return ArchiveError(f"refusing to unpack {archive.name}: member {member!r} {why}")


_DRIVE = re.compile(r"^[A-Za-z]:")


def _safe_parts(archive: Path, name: str) -> list[str]:
    """A member name's path components, or an error if it is absolute or climbs out."""
    if not name or "\0" in name:
        raise _unsafe(archive, name, "has an empty or invalid name")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise _unsafe(archive, name, "has an absolute path")
    parts = [p for p in re.split(r"[/\\]", name) if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(archive, name, "climbs out of the target folder with '..'")
    return parts


def _extract_zip(zf: zipfile.ZipFile, archive: Path, dest: Path) -> None:
    plan: list[tuple[zipfile.ZipInfo, list[str]]] = []
    for info in zf.infolist():
        parts = _safe_parts(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise _unsafe(archive, info.filename, "is a symbolic link (not allowed in zip files)")
        if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise _unsafe(archive, info.filename, "is a device, FIFO or socket")
        plan.append((info, parts))
    dest.mkdir()
    for info, parts in plan:
        if not parts:
            continue
        out = dest.joinpath(*parts)
        if info.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def _extract_tar(tf: tarfile.TarFile, archive: Path, dest: Path) -> None:
    members = tf.getmembers()
    for member in members:
        parts = _safe_parts(archive, member.name)
        if member.issym() or member.islnk():
            link = member.linkname
            if link.startswith(("/", "\\")) or _DRIVE.match(link):
                raise _unsafe(archive, member.name, f"links to the absolute path {link!r}")
            # Symlinks resolve from the member's folder, hard links from the archive root.
            base = posixpath.join(*parts[:-1]) if member.issym() and len(parts) > 1 else ""
            resolved = posixpath.normpath(posixpath.join(base, link.replace("\\", "/")))
            if resolved == ".." or resolved.startswith("../"):
                raise _unsafe(archive, member.name, f"links outside the target folder ({link!r})")
        elif not (member.isfile() or member.isdir()):
            raise _unsafe(archive, member.name, "is a device, FIFO or other special file")
    if not hasattr(tarfile, "data_filter") and any(m.issym() or m.islnk() for m in members):
        # Without the "data" filter, links chained through links could escape undetected.
        raise _unsafe(
            archive,
            next(m.name for m in members if m.issym() or m.islnk()),
            "is a link, refused on this Python (upgrade for tarfile filters)",
        )
    dest.mkdir()
    if hasattr(tarfile, "data_filter"):
        try:
            tf.extractall(dest, members=members, filter="data")
        except tarfile.FilterError as exc:
            raise ArchiveError(f"refusing to unpack {archive.name}: {exc}") from exc
    else:  # Python before 3.10.12/3.11.4: no filters; no links either (refused above).
        tf.extractall(dest, members=members)
