"""Tiny super-resolution models and images for test_upscale.py and test_upscale_cli.py.

The models are real ESRGAN-family networks, saved as Real-ESRGAN releases save them
(``{"params_ema": state_dict}`` in a ``.pth``) and exported once per session with
``checkpoint_to_onnx``. Their weights are random but scaled so that the outputs are neither flat
nor clipped, so that every comparison below compares pictures rather than saturated planes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pytest
    from torch import nn

# name -> (architecture, scale, seed, weight spread)
TINY_MODELS: dict[str, tuple[str, int, int, float]] = {
    "rrdb_x4": ("rrdbnet", 4, 0, 0.1),
    "rrdb_x2": ("rrdbnet", 2, 1, 0.1),
    "srvgg_x4": ("srvgg", 4, 2, 0.05),
}

_EXPORTED: dict[str, Path] = {}


def randomised(net: nn.Module, *, seed: int, spread: float) -> nn.Module:
    """Every parameter drawn from N(0, spread²); an RRDBNet's last bias set to mid-grey.

    RRDBNet has no skip from its input to its output, so with PyTorch's default init its
    output sits far outside [0, 1]; centred on 0.5 with small weights it spans ~25 grey levels
    and follows the input.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * spread)
        last = getattr(net, "conv_last", None)
        if last is not None:
            last.bias.fill_(0.5)
    return net.eval()


def tiny_network(arch: str, *, scale: int, seed: int, spread: float) -> nn.Module:
    """An RRDBNet (num_feat 8, 1 block, growth 4) or SRVGGNetCompact (num_feat 8, 2 convs)."""
    from ganedit.archs import RRDBNet, SRVGGNetCompact

    if arch == "rrdbnet":
        net = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4)
    else:
        net = SRVGGNetCompact(scale=scale, num_feat=8, num_conv=2)
    return randomised(net, seed=seed, spread=spread)


def save_realesrgan(net: nn.Module, path: Path) -> Path:
    """Save ``net`` as Real-ESRGAN's releases do: ``{"params_ema": state_dict}``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": net.state_dict()}, path)
    return path


def tiny_checkpoint(name: str, folder: Path) -> Path:
    """``folder/<name>.pth`` holding the tiny model ``name`` of :data:`TINY_MODELS`."""
    arch, scale, seed, spread = TINY_MODELS[name]
    net = tiny_network(arch, scale=scale, seed=seed, spread=spread)
    return save_realesrgan(net, folder / f"{name}.pth")


def exported_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every model of :data:`TINY_MODELS` as ``.onnx``, exported once per test session."""
    from ganedit.export import checkpoint_to_onnx

    if not _EXPORTED or not all(p.is_file() for p in _EXPORTED.values()):
        folder = tmp_path_factory.mktemp("sr_models")
        for name in TINY_MODELS:
            checkpoint = tiny_checkpoint(name, folder)
            result = checkpoint_to_onnx(checkpoint, folder / f"{name}.onnx", name=name)
            _EXPORTED[name] = result.path
    return dict(_EXPORTED)


def photo(height: int, width: int) -> np.ndarray:
    """A photograph (skimage's astronaut) resized to ``(height, width, 3)`` float32 in [0, 1]."""
    from skimage import data

    from ganedit.resize import resize_float

    image = data.astronaut().astype(np.float32) / 255
    return np.clip(resize_float(image, height, width), 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8, rounded to nearest."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def levels(a: np.ndarray, b: np.ndarray) -> int:
    """Largest absolute difference between two uint8 images, in grey levels."""
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())
