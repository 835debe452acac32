"""Shared pieces of the trainer tests: tiny configurations, datasets and checkpoint comparison.

Tiny means ngf/ndf 4, one ResNet block (CycleGAN) or a 5-down U-Net (pix2pix), 32-px crops.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SIZE = 32

# CLI options that make a run tiny and quick (append --data/--out and the stopping point).
TINY_CYCLEGAN_ARGS = [
    "--ngf", "4", "--ndf", "4", "--n-blocks", "1",
    "--load-size", str(SIZE), "--crop-size", str(SIZE),
    "--device", "cpu", "--workers", "0", "--log-every", "1",
]  # fmt: skip
TINY_PIX2PIX_ARGS = [
    "--ngf", "4", "--ndf", "4", "--net-g", "unet_32",
    "--load-size", str(SIZE), "--crop-size", str(SIZE),
    "--device", "cpu", "--workers", "0", "--log-every", "1",
]  # fmt: skip


def write_images(folder: Path, count: int, *, seed: int, size: int = SIZE) -> Path:
    """``count`` random RGB PNGs of ``size`` x ``size`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return folder


def unaligned_data(root: Path, count: int = 3) -> Path:
    """A CycleGAN dataset: ``trainA`` and ``trainB`` with ``count`` random images each."""
    write_images(root / "trainA", count, seed=1)
    write_images(root / "trainB", count, seed=2)
    return root


def paired_data(root: Path, count: int = 3) -> Path:
    """A pix2pix dataset: ``train/A`` and ``train/B`` with ``count`` random pairs."""
    write_images(root / "train" / "A", count, seed=3)
    write_images(root / "train" / "B", count, seed=4)
    return root


def tiny_config(
    recipe: str,
    data: Path,
    out: Path,
    *,
    run: dict[str, Any] | None = None,
    net: dict[str, Any] | None = None,
    optim: dict[str, Any] | None = None,
    loss: dict[str, Any] | None = None,
    data_options: dict[str, Any] | None = None,
) -> Any:
    """A :class:`TrainConfig` for a tiny CPU run; the dicts override single options."""
    from ganedit.train.config import (
        CycleGANLoss,
        DataOptions,
        NetworkOptions,
        OptimOptions,
        Pix2PixLoss,
        RunOptions,
        TrainConfig,
    )

    cyclegan = recipe == "cyclegan"
    data_defaults = {"root": str(data), "load_size": SIZE, "crop_size": SIZE, "workers": 0}
    net_defaults = {
        "ngf": 4,
        "ndf": 4,
        "net_g": "resnet_1blocks" if cyclegan else "unet_32",
        "norm": "instance" if cyclegan else "batch",
        "dropout": not cyclegan,
    }
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
        recipe=recipe,  # type: ignore[arg-type]
        data=DataOptions(**{**data_defaults, **(data_options or {})}),
        net=NetworkOptions(**{**net_defaults, **(net or {})}),
        optim=OptimOptions(**(optim or {})),
        loss=(CycleGANLoss if cyclegan else Pix2PixLoss)(**(loss or {})),
        run=RunOptions(**{**run_defaults, **(run or {})}),
    )


def with_run(config: Any, **changes: Any) -> Any:
    """``config`` with some :class:`RunOptions` changed."""
    return dataclasses.replace(config, run=dataclasses.replace(config.run, **changes))


def checkpoint_contents(path: Path) -> dict[str, Any]:
    """Everything a checkpoint folder holds: each network's tensors and the whole ``state.pt``."""
    import torch
    from safetensors.torch import load_file

    contents: dict[str, Any] = {
        f.stem: load_file(str(f)) for f in sorted(path.glob("*.safetensors"))
    }
    contents["state"] = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    return contents


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two nested structures of tensors, dicts, lists and scalars differ (exactly)."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.equal(a, b)
        )
        return [] if same else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{where}: length {len(a)} != {len(b)}"]
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


class Crash(Exception):
    """Stands for the process dying mid-run."""


def crash_at(step: int):
    """A train() callback that raises :class:`Crash` once ``step`` is done (no final save)."""

    def callback(progress, _losses: dict[str, float]) -> None:
        if progress.step == step:
            raise Crash(f"killed at step {progress.step}")

    return callback
