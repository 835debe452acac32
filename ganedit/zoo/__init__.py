"""Named pretrained models: which exist, where their weights come from, and the local cache.

Example:
    >>> from ganedit import zoo
    >>> entry = zoo.default_registry().get("horse2zebra")
    >>> entry.family, entry.task
    ('cyclegan', 'translate')
    >>> weights = zoo.ModelCache().fetch(entry)  # doctest: +SKIP

Importing this package reads no plugin and touches no network: plugins are read by the first
:func:`default_registry` call, downloads happen in :meth:`ModelCache.fetch`.
"""

from __future__ import annotations

from .cache import ModelCache, ganedit_home
from .download import ChecksumMismatchError, download, sha256_file
from .registry import (
    ENTRY_POINT_GROUP,
    ModelRegistry,
    ZooEntry,
    add_plugin_entries,
    default_registry,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ChecksumMismatchError",
    "ModelCache",
    "ModelRegistry",
    "ZooEntry",
    "add_plugin_entries",
    "default_registry",
    "download",
    "ganedit_home",
    "sha256_file",
]
