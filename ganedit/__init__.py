"""ganedit: GAN-based image editing with self-describing ONNX models.

Example:
    >>> import ganedit
    >>> zebra = ganedit.load("horse2zebra")(Image.open("horse.jpg"))
    >>> ganedit.process_folder(ganedit.load("horse2zebra"), ["photos"], "out")
    >>> up = ganedit.load("realesr-general-x4v3", variant=ganedit.Variant(denoise=0.5))
    >>> big = up.with_options(outscale=3)(Image.open("photo.jpg"))

``import ganedit`` stays light: PyTorch is imported only to train, export or convert a checkpoint.
"""

from __future__ import annotations

from . import zoo
from .card import MaskSpec, ModelCard
from .errors import (
    CheckpointError,
    DownloadError,
    GaneditError,
    ImageError,
    ModelCardError,
    UnknownModelError,
)
from .images import ImageIn
from .inpaint import Inpainter, InpaintOptions
from .loading import Runtime, load
from .masks import MaskSource
from .model import Model, WorkItem
from .pipeline import FolderSettings, process_folder
from .remote import RemoteModel, connect
from .report import FileResult, Report
from .resolve import Variant
from .translate import TranslateOptions, Translator
from .upscale import UpscaleOptions, Upscaler

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DownloadError",
    "FileResult",
    "FolderSettings",
    "GaneditError",
    "ImageError",
    "ImageIn",
    "InpaintOptions",
    "Inpainter",
    "MaskSource",
    "MaskSpec",
    "Model",
    "ModelCard",
    "ModelCardError",
    "RemoteModel",
    "Report",
    "Runtime",
    "TranslateOptions",
    "Translator",
    "UnknownModelError",
    "UpscaleOptions",
    "Upscaler",
    "Variant",
    "WorkItem",
    "__version__",
    "connect",
    "load",
    "process_folder",
    "zoo",
]
