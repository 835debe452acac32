"""Exceptions raised by ganedit.

Every error says what was expected, what was found and, where there is one, what to do.
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "DownloadError",
    "GaneditError",
    "ImageError",
    "ModelCardError",
    "UnknownModelError",
]


class GaneditError(Exception):
    """Base class of every error ganedit raises on purpose."""


class ModelCardError(GaneditError, ValueError):
    """An ONNX file has no ganedit model card, or the card is malformed."""


class CheckpointError(GaneditError, ValueError):
    """A checkpoint file cannot be read, or matches no known architecture."""


class ImageError(GaneditError, ValueError):
    """An image file cannot be decoded or encoded."""


class UnknownModelError(GaneditError, KeyError):
    """A model name is not in the zoo and is not a path to an existing file."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class DownloadError(GaneditError, OSError):
    """A model file could not be downloaded, or its checksum did not match."""
