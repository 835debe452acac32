"""ganedit: GAN-based image editing with self-describing ONNX models.

Example:
    >>> import ganedit
    >>> zebra = ganedit.load("horse2zebra")(Image.open("horse.jpg"))
    >>> ganedit.process_folder(ganedit.load("horse2zebra"), ["photos"], "out")

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
from .inpaint import Inpainter, InpaintOptions, OpenCVInpainter
from .loading import load
from .model import Model, TranslateOptions, Translator
from .pipeline import FolderSettings, process_folder
from .report import FileResult, Report
from .upscale import UpscaleOptions, Upscaler

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "DownloadError",
    "FileResult",
    "FolderSettings",
    "GaneditError",
    "ImageError",
    "InpaintOptions",
    "Inpainter",
    "MaskSpec",
    "Model",
    "ModelCard",
    "ModelCardError",
    "OpenCVInpainter",
    "Report",
    "TranslateOptions",
    "Translator",
    "UnknownModelError",
    "UpscaleOptions",
    "Upscaler",
    "__version__",
    "load",
    "process_folder",
    "zoo",
]
