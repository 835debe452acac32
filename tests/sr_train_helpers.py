"""Shared pieces of the super-resolution trainer tests: tiny networks, photos and configurations.

Tiny means SRVGGNetCompact with 4 features and 2 convolutions (or RRDBNet with 8 features, one
block, growth 4), a U-Net discriminator with 4 features, a VGG19 of width 4 and 32-px crops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

CROP = 32

# CLI options that make an sr run tiny and quick (append --data/--out and the stopping point).
TINY_SR_ARGS = [
    "--arch", "srvgg", "--num-feat", "4", "--num-conv", "2", "--d-num-feat", "4",
    "--scale", "2", "--crop-size", str(CROP), "--batch-size", "2",
    "--device", "cpu", "--workers", "0", "--log-every", "1", "--deterministic",
]  # fmt: skip


def write_photos(folder: Path, sizes: list[tuple[int, int]], *, seed: int) -> Path:
    """One PNG per ``(width, height)`` in ``folder``: smooth gradients plus noise, so that the
    unsharp mask and the degradations have edges and flat parts to work on."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (width, height) in enumerate(sizes):
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], axis=-1)
        pixels = 0.7 * base + 0.3 * rng.random((height, width, 3))
        Image.fromarray((pixels * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def tiny_sr_config(
    data: Path,
    out: Path,
    *,
    run: dict[str, Any] | None = None,
    net: dict[str, Any] | None = None,
    loss: dict[str, Any] | None = None,
    optim: dict[str, Any] | None = None,
) -> Any:
    """A :class:`TrainConfig` for a tiny, deterministic CPU sr run; the dicts override options.

    The optimiser is the CLI's for sr (Adam, betas (0.9, 0.99), constant rate).
    """
    from ganedit.train.config import (
        DataOptions,
        OptimOptions,
        RunOptions,
        SRLoss,
        SRNetworkOptions,
        TrainConfig,
    )

    net_defaults = {"arch": "srvgg", "scale": 2, "num_feat": 4, "num_conv": 2, "d_num_feat": 4}
    optim_defaults = {"lr": 2e-4, "beta1": 0.9, "beta2": 0.99, "epochs": 1000, "epochs_decay": 0}
    run_defaults = {
        "out": str(out),
        "device": "cpu",
        "log_every": 1000,
        "sample_every": 1000,
        "save_every": 1000,
        "keep": 0,
        "deterministic": True,
    }
    return TrainConfig(
        recipe="sr",
        data=DataOptions(root=str(data), crop_size=CROP, load_size=CROP, batch_size=2, workers=0),
        net=SRNetworkOptions(**{**net_defaults, **(net or {})}),
        optim=OptimOptions(**{**optim_defaults, **(optim or {})}),
        loss=SRLoss(**(loss or {})),
        run=RunOptions(**{**run_defaults, **(run or {})}),
    )
