"""ganedit.train: the CycleGAN, pix2pix, super-resolution and inpainting training recipes
(installed from the ``train/`` folder).

Needs the ``train`` extra: ``pip install 'ganedit[train]'``.

Example:
    >>> from ganedit.train import TrainConfig, train
    >>> run_dir = train(config)  # doctest: +SKIP

From the command line: ``ganedit train cyclegan --data DATA --out runs/NAME``; with several
processes: ``torchrun --nproc_per_node=2 -m ganedit.train cyclegan --data DATA --out runs/NAME``.
"""

from __future__ import annotations

from .config import (
    CycleGANLoss,
    DataOptions,
    InpaintLoss,
    InpaintNetworkOptions,
    MaskOptions,
    NetworkOptions,
    OptimOptions,
    Pix2PixLoss,
    RunOptions,
    TrainConfig,
)
from .loop import RECIPES, train
from .run_state import Progress, latest_checkpoint

__all__ = [
    "RECIPES",
    "CycleGANLoss",
    "DataOptions",
    "InpaintLoss",
    "InpaintNetworkOptions",
    "MaskOptions",
    "NetworkOptions",
    "OptimOptions",
    "Pix2PixLoss",
    "Progress",
    "RunOptions",
    "TrainConfig",
    "latest_checkpoint",
    "train",
]
