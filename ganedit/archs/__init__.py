"""The reference generator networks in PyTorch (CycleGAN/pix2pix, ESRGAN/Real-ESRGAN, a
DeepFill-v2-style inpainting network), and the loader of their checkpoints.

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
from .discriminators import NLayerDiscriminator, PixelDiscriminator
from .generators import build_generator, default_registry
from .inpaint import GatedConv2d, InpaintGenerator, SNPatchDiscriminator, inpaint_spec
from .inpaint_spec import InpaintSpec
from .norm import ImageStatsBatchNorm2d, make_norm, use_image_statistics
from .registry import ArchEntry, ArchRegistry, BuiltArch, StateDict
from .resnet import ResnetBlock, ResnetGenerator
from .rrdb import RRDB, ResidualDenseBlock, RRDBNet, pixel_unshuffle
from .spec import ArchSpec, Family, ModelSpec, NormType, PaddingType
from .sr_detect import convert_rrdbnet_keys, rrdbnet_spec, srvgg_spec
from .sr_spec import ActType, RRDBNetSpec, SRVGGSpec
from .srvgg import SRVGGNetCompact
from .unet import UnetGenerator, UnetSkipConnectionBlock

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "RRDB",
    "ActType",
    "ArchEntry",
    "ArchRegistry",
    "ArchSpec",
    "BuiltArch",
    "Family",
    "GatedConv2d",
    "ImageStatsBatchNorm2d",
    "InpaintGenerator",
    "InpaintSpec",
    "LoadedGenerator",
    "ModelSpec",
    "NLayerDiscriminator",
    "NormType",
    "PaddingType",
    "PixelDiscriminator",
    "RRDBNet",
    "RRDBNetSpec",
    "ResidualDenseBlock",
    "ResnetBlock",
    "ResnetGenerator",
    "SNPatchDiscriminator",
    "SRVGGNetCompact",
    "SRVGGSpec",
    "StateDict",
    "UnetGenerator",
    "UnetSkipConnectionBlock",
    "blend_state_dicts",
    "build_generator",
    "convert_rrdbnet_keys",
    "default_registry",
    "detect_generator",
    "fit_norm_buffers",
    "inpaint_spec",
    "load_generator",
    "make_norm",
    "pixel_unshuffle",
    "read_state_dict",
    "rrdbnet_spec",
    "srvgg_spec",
    "use_image_statistics",
]
