"""Named pretrained models: the :class:`ZooEntry` record and the :class:`ModelRegistry` of them.

A registry maps names to entries. Every entry answers to three kinds of name, compared without
regard to case:

- its ``name`` (``"horse2zebra"``),
- its family-qualified name ``<family>/<upstream name>`` (``"cyclegan/horse2zebra"``), which is
  unambiguous even where two families publish a model under the same name,
- each of its ``aliases``.

:func:`default_registry` holds the built-in entries plus those that installed packages add through
the entry-point group ``ganedit.models``. A plugin's entry point loads to either a :class:`ZooEntry`
or a callable returning an iterable of them::

    # pyproject.toml of a plugin package
    [project.entry-points."ganedit.models"]
    my_models = "my_package.zoo:entries"
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol
from urllib.parse import unquote, urlsplit

from ..card import TASKS, Task
from ..errors import UnknownModelError

__all__ = [
    "BUILTIN_SCHEME",
    "ENTRY_POINT_GROUP",
    "ModelRegistry",
    "ZooEntry",
    "add_plugin_entries",
    "default_registry",
]

ENTRY_POINT_GROUP = "ganedit.models"
#: URL scheme of entries that ganedit computes itself, with nothing to download
#: (``builtin:cv2-telea``: the OpenCV inpainting baselines).
BUILTIN_SCHEME = "builtin:"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One named pretrained model: where its weights live and what it does.

    Attributes:
        name: The registry name, unique in a registry, e.g. ``"horse2zebra"``. Letters, digits,
            ``_`` and ``-``.
        task: ``"translate"``, ``"upscale"`` or ``"inpaint"``.
        family: The model family, e.g. ``"cyclegan"``, ``"pix2pix"``, ``"realesrgan"``. Cached
            weights are kept per family, and ``<family>/<upstream_name>`` is always a valid name.
        url: Where the weights are downloaded from (``http(s)://``, ``file://`` or a local path),
            or ``builtin:<name>`` for a model ganedit computes itself (nothing to download).
        filename: The cached file's name; by default the last component of ``url``'s path.
        sha256: The published sha256 of the file (lower-case hex), or ``None`` when upstream
            publishes none; the cache then trusts the first download and checks later ones
            against it.
        description: One line saying what the model does.
        source: Where the weights come from, for people, e.g.
            ``"junyanz/pytorch-CycleGAN-and-pix2pix pretrained CycleGAN"``.
        license: The weights' licence, as far as known.
        aliases: Further names the entry answers to.
        upstream_name: The name the upstream project gives the model, when it differs from
            ``name`` (e.g. ``"sat2map"`` for the entry ``"cyclegan_sat2map"``); defaults to
            ``name``. The family-qualified name is built from it.
        blend_with: The name of another entry whose weights ``--denoise`` mixes with these
            (realesr-general-x4v3 with its ``-wdn`` twin), or ``None``.
        arch: The network architecture, for people (``"RRDBNet"``, ``"SwinIR-M"``, ``"LaMa"``).
        noncommercial: The weights' licence forbids commercial use (CC BY-NC, ...): ganedit
            downloads and runs them only when the user opts in (``--allow-noncommercial``,
            ``GANEDIT_ALLOW_NONCOMMERCIAL=1``).

    Raises:
        ValueError: A field is malformed (unknown task, bad name, URL without a file name,
            sha256 that is not 64 hex digits).

    Example:
        >>> entry = ZooEntry(name="horse2zebra", task="translate", family="cyclegan",
        ...                  url="http://example.org/horse2zebra.pth")
        >>> entry.filename, entry.qualified_name
        ('horse2zebra.pth', 'cyclegan/horse2zebra')
    """

    name: str
    task: Task
    family: str
    url: str
    filename: str = ""
    sha256: str | None = None
    description: str = ""
    source: str = ""
    license: str = ""
    aliases: tuple[str, ...] = ()
    upstream_name: str = ""
    blend_with: str | None = None
    arch: str = ""
    noncommercial: bool = False

    def __post_init__(self) -> None:
        problems: list[str] = []
        for field in ("name", "family"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME_RE.match(value):
                problems.append(
                    f"{field} must be letters, digits, '_' or '-' (not starting with '_' or '-'), "
                    f"got {value!r}"
                )
        if self.task not in TASKS:
            problems.append(f"task must be one of {TASKS}, got {self.task!r}")
        if not isinstance(self.url, str) or not self.url:
            problems.append(f"url must be a non-empty string, got {self.url!r}")
        object.__setattr__(self, "aliases", tuple(self.aliases))
        bad_aliases = [a for a in self.aliases if not isinstance(a, str) or not _ALIAS_RE.match(a)]
        if bad_aliases:
            problems.append(
                f"aliases must be letters, digits, '_', '-', '.' or '/', got {bad_aliases}"
            )
        if self.sha256 is not None:
            digest = str(self.sha256).strip().lower()
            if not _SHA256_RE.match(digest):
                problems.append(f"sha256 must be 64 hex digits or None, got {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)
        if not self.upstream_name:
            object.__setattr__(self, "upstream_name", self.name)
        elif not _NAME_RE.match(self.upstream_name):
            problems.append(f"upstream_name must be like a name, got {self.upstream_name!r}")
        if not self.filename and isinstance(self.url, str):
            object.__setattr__(self, "filename", _filename_from_url(self.url))
        if not self.filename or "/" in self.filename or "\\" in self.filename:
            problems.append(
                f"filename must be a plain file name; got {self.filename!r} "
                f"(derived from url {self.url!r} when not given)"
            )
        elif self.filename in (".", ".."):
            problems.append(f"filename must be a plain file name, got {self.filename!r}")
        if problems:
            raise ValueError(f"invalid ZooEntry {self.name!r}: " + "; ".join(problems))

    @property
    def builtin(self) -> bool:
        """Whether ganedit computes this model itself (``builtin:`` URL; nothing to download)."""
        return self.url.startswith(BUILTIN_SCHEME)

    @property
    def qualified_name(self) -> str:
        """``<family>/<upstream_name>``, e.g. ``"pix2pix/sat2map"``."""
        return f"{self.family}/{self.upstream_name}"

    @property
    def lookup_names(self) -> tuple[str, ...]:
        """Every name the entry answers to: its name, its qualified name, then its aliases."""
        return (self.name, self.qualified_name, *self.aliases)


def _filename_from_url(url: str) -> str:
    path = urlsplit(url).path if "://" in url else url
    return unquote(path.replace("\\", "/").rstrip("/").rpartition("/")[2])


class ModelRegistry:
    """A set of :class:`ZooEntry`, looked up by name, qualified name or alias (case-insensitive).

    Args:
        entries: Entries to add at once, in order (see :meth:`add`).

    Example:
        >>> registry = ModelRegistry()
        >>> registry.add(ZooEntry(name="horse2zebra", task="translate", family="cyclegan",
        ...                       url="http://example.org/horse2zebra.pth"))
        >>> registry.get("cyclegan/horse2zebra").name
        'horse2zebra'
    """

    def __init__(self, entries: Iterable[ZooEntry] = ()) -> None:
        self._entries: dict[str, ZooEntry] = {}
        self._keys: dict[str, ZooEntry] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: ZooEntry) -> None:
        """Add one entry.

        Raises:
            TypeError: ``entry`` is not a :class:`ZooEntry`.
            ValueError: One of its names (name, qualified name, alias) is already taken; nothing
                is added then.
        """
        if not isinstance(entry, ZooEntry):
            raise TypeError(f"expected a ZooEntry, got {type(entry).__name__}: {entry!r}")
        keys = list(dict.fromkeys(name.lower() for name in entry.lookup_names))
        clashes = [f"{k!r} (taken by {self._keys[k].name!r})" for k in keys if k in self._keys]
        if clashes:
            raise ValueError(
                f"cannot add model {entry.name!r}: name already registered: {', '.join(clashes)}"
            )
        self._entries[entry.name] = entry
        for key in keys:
            self._keys[key] = entry

    def get(self, name: str) -> ZooEntry:
        """The entry answering to ``name``.

        Raises:
            UnknownModelError: No entry answers to ``name``; the message lists the closest names.
        """
        entry = self._keys.get(name.strip().lower())
        if entry is not None:
            return entry
        close = difflib.get_close_matches(name.strip().lower(), list(self._keys), n=4, cutoff=0.6)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `ganedit models list` to see all models."
        )

    def names(self) -> list[str]:
        """The entries' names (not aliases), in the order they were added."""
        return list(self._entries)

    def entries(self, task: Task | None = None) -> list[ZooEntry]:
        """The entries in the order they were added, optionally only those of one ``task``."""
        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {TASKS} or None, got {task!r}")
        return [e for e in self._entries.values() if task is None or e.task == task]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._keys

    def __iter__(self) -> Iterator[ZooEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ModelRegistry({len(self)} models)"


class EntryPointLike(Protocol):
    """What :func:`add_plugin_entries` needs of an ``importlib.metadata.EntryPoint``."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> object: ...


def _plugin_entry_points() -> list[EntryPointLike]:
    from importlib.metadata import entry_points  # Only when plugins are read: keeps import fast.

    return list(entry_points(group=ENTRY_POINT_GROUP))


def add_plugin_entries(
    registry: ModelRegistry, entry_points: Iterable[EntryPointLike] | None = None
) -> None:
    """Add the entries that installed packages declare in the ``ganedit.models`` group.

    Each entry point loads to a :class:`ZooEntry` or to a callable returning one or an iterable
    of them. A plugin that fails to load, returns something else, or reuses a taken name is
    skipped with a :class:`RuntimeWarning` naming it; the other plugins and entries still load.

    Args:
        registry: Where to add the entries.
        entry_points: The entry points to read; by default those installed in the group.
    """
    points = _plugin_entry_points() if entry_points is None else entry_points
    for point in points:
        label = f"{point.name!r} ({point.value})"
        try:
            entries = _plugin_entries(point.load())
        except Exception as exc:  # A broken plugin must not break ganedit; say which one.
            warnings.warn(
                f"ganedit: skipped model plugin {label}: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        for entry in entries:
            try:
                registry.add(entry)
            except ValueError as exc:
                warnings.warn(
                    f"ganedit: skipped model {entry.name!r} from plugin {label}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )


def _plugin_entries(loaded: object) -> list[ZooEntry]:
    produced = loaded() if callable(loaded) and not isinstance(loaded, ZooEntry) else loaded
    if isinstance(produced, ZooEntry):
        return [produced]
    if not isinstance(produced, Iterable) or isinstance(produced, (str, bytes)):
        raise TypeError(
            f"expected a ZooEntry or an iterable of them, got {type(produced).__name__}"
        )
    entries = list(produced)
    wrong = [type(e).__name__ for e in entries if not isinstance(e, ZooEntry)]
    if wrong:
        raise TypeError(f"expected only ZooEntry items, got {', '.join(sorted(set(wrong)))}")
    return entries


def _builtin_entries() -> list[ZooEntry]:
    # Each task's module owns its entries; imported here so a registry can be built empty.
    from .inpaint_models import inpaint_entries
    from .translate_models import translate_entries
    from .upscale_models import upscale_entries

    providers: list[Callable[[], Iterable[ZooEntry]]] = [
        translate_entries,
        upscale_entries,
        inpaint_entries,
    ]
    return [entry for provider in providers for entry in provider()]


@functools.cache
def default_registry() -> ModelRegistry:
    """The built-in models plus those from installed plugins, built once per process.

    Plugins are read on the first call, not at import. ``default_registry.cache_clear()``
    rebuilds it (after installing a plugin, or in tests).
    """
    registry = ModelRegistry(_builtin_entries())
    add_plugin_entries(registry)
    return registry
