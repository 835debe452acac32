"""Shared fixtures: tiny reference-layout checkpoints, their ONNX exports, an isolated home.

Everything is made here, offline, on the CPU: a 1-block ResNet with ngf 4 (CycleGAN layout) and
a 5-down U-Net with ngf 4 and batch norm (pix2pix layout), exported once per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from torch import nn

    from ganedit import Translator
    from ganedit.export import ExportResult

RESNET_NAME = "tiny_resnet"
UNET_NAME = "tiny_unet"


@pytest.fixture(autouse=True)
def ganedit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty ``$GANEDIT_HOME``; none touches the real cache."""
    home = tmp_path_factory.mktemp("ganedit_home")
    monkeypatch.setenv("GANEDIT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def resnet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference-layout ResNet generator state dict (ngf 4, 1 block, instance norm)."""
    import torch

    from ganedit.archs import ResnetGenerator

    torch.manual_seed(0)
    net = ResnetGenerator(
        in_channels=3,
        out_channels=3,
        ngf=4,
        n_blocks=1,
        norm="instance",
        use_dropout=False,
        padding_type="reflect",
    )
    path = tmp_path_factory.mktemp("checkpoints") / f"{RESNET_NAME}.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def unet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference-layout U-Net state dict (5 downs, ngf 4, batch norm, non-trivial stats).

    The batch-norm affine parameters and running statistics are randomised so that per-image
    and running statistics give clearly different outputs.
    """
    import torch

    from ganedit.archs import UnetGenerator

    torch.manual_seed(1)
    net = UnetGenerator(
        in_channels=3, out_channels=3, num_downs=5, ngf=4, norm="batch", use_dropout=False
    )
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("checkpoints") / f"{UNET_NAME}.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def resnet_export(
    tmp_path_factory: pytest.TempPathFactory, resnet_checkpoint: Path
) -> ExportResult:
    """``resnet_checkpoint`` exported with its card (an ``ExportResult``, verified on export)."""
    from ganedit.export import checkpoint_to_onnx

    out = tmp_path_factory.mktemp("onnx") / f"{RESNET_NAME}.onnx"
    return checkpoint_to_onnx(
        resnet_checkpoint, out, name=RESNET_NAME, source="tests", license="test-only"
    )


@pytest.fixture(scope="session")
def unet_export(tmp_path_factory: pytest.TempPathFactory, unet_checkpoint: Path) -> ExportResult:
    """``unet_checkpoint`` exported with per-image batch-norm statistics (the default)."""
    from ganedit.export import checkpoint_to_onnx

    out = tmp_path_factory.mktemp("onnx") / f"{UNET_NAME}.onnx"
    return checkpoint_to_onnx(unet_checkpoint, out, name=UNET_NAME, norm_stats="image")


@pytest.fixture(scope="session")
def unet_running_export(
    tmp_path_factory: pytest.TempPathFactory, unet_checkpoint: Path
) -> ExportResult:
    """``unet_checkpoint`` exported with the stored running batch-norm statistics."""
    from ganedit.export import checkpoint_to_onnx

    out = tmp_path_factory.mktemp("onnx") / f"{UNET_NAME}_running.onnx"
    return checkpoint_to_onnx(unet_checkpoint, out, name=UNET_NAME, norm_stats="running")


@pytest.fixture(scope="session")
def resnet_onnx(resnet_export: ExportResult) -> Path:
    return resnet_export.path


@pytest.fixture(scope="session")
def unet_onnx(unet_export: ExportResult) -> Path:
    return unet_export.path


@pytest.fixture(scope="session")
def unet_running_onnx(unet_running_export: ExportResult) -> Path:
    return unet_running_export.path


@pytest.fixture(scope="session")
def resnet_module(resnet_checkpoint: Path) -> nn.Module:
    """The torch module that ``resnet_onnx`` was exported from, in eval mode."""
    from ganedit.archs import load_generator

    return load_generator(resnet_checkpoint).module.eval()


@pytest.fixture(scope="session")
def unet_module(unet_checkpoint: Path) -> nn.Module:
    """The torch module that ``unet_onnx`` was exported from (per-image batch norm)."""
    from ganedit.archs import load_generator

    return load_generator(unet_checkpoint).module.eval()


@pytest.fixture(scope="session")
def resnet_translator(resnet_onnx: Path) -> Translator:
    """The exported ResNet loaded once for the session, on the CPU."""
    import ganedit

    return ganedit.load(resnet_onnx, device="cpu")
