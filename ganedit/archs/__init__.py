"""The reference generator networks in PyTorch (CycleGAN/pix2pix, ESRGAN/Real-ESRGAN, a
DeepFill-v2-style inpainting network), and the loader of their checkpoints.

One folder per model family (:mod:`.cyclegan`, :mod:`.esrgan`, :mod:`.inpaint`), each with its
networks, its spec and its detector; :mod:`.registry` lists them all
(:func:`default_arch_registry`), :mod:`.checkpoint` reads and loads checkpoints. Helpers that
are not re-exported here (``make_norm``, ``pixel_unshuffle``, ``convert_rrdbnet_keys``, the
detectors, the building blocks) are imported from their modules.

Importing this package imports torch; ``import ganedit`` does not import it. Used by training,
export and the ``.pth``/``.safetensors`` import path.

Example:
    >>> from ganedit.archs import load_generator
    >>> gen = load_generator("latest_net_G_A.pth")  # doctest: +SKIP
    >>> gen.spec.arch  # doctest: +SKIP
    'resnet_9blocks'
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'ganedit.archs needs PyTorch; install it with: pip install "ganedit[train]"'
    ) from exc

from .blend import blend_state_dicts
from .checkpoint import (
    CHECKPOINT_SUFFIXES,
    LoadedGenerator,
    detect_generator,
    fit_norm_buffers,
    load_generator,
    read_state_dict,
)
from .cyclegan.detect import build_generator
from .cyclegan.discriminators import NLayerDiscriminator, PixelDiscriminator
from .cyclegan.resnet import ResnetGenerator
from .cyclegan.spec import ArchSpec
from .cyclegan.unet import UnetGenerator
from .esrgan.rrdb import RRDBNet
from .esrgan.spec import RRDBNetSpec, SRVGGSpec
from .esrgan.srvgg import SRVGGNetCompact
from .inpaint.network import GatedConv2d, InpaintGenerator, SNPatchDiscriminator
from .inpaint.spec import InpaintSpec
from .norm import ImageStatsBatchNorm2d, use_image_statistics, use_running_statistics
from .registry import (
    ArchEntry,
    ArchRegistry,
    BuiltArch,
    ModelSpec,
    StateDict,
    default_arch_registry,
)

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "ArchEntry",
    "ArchRegistry",
    "ArchSpec",
    "BuiltArch",
    "GatedConv2d",
    "ImageStatsBatchNorm2d",
    "InpaintGenerator",
    "InpaintSpec",
    "LoadedGenerator",
    "ModelSpec",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "RRDBNet",
    "RRDBNetSpec",
    "ResnetGenerator",
    "SNPatchDiscriminator",
    "SRVGGNetCompact",
    "SRVGGSpec",
    "StateDict",
    "UnetGenerator",
    "blend_state_dicts",
    "build_generator",
    "default_arch_registry",
    "detect_generator",
    "fit_norm_buffers",
    "load_generator",
    "read_state_dict",
    "use_image_statistics",
    "use_running_statistics",
]
