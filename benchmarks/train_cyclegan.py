"""Training throughput of the CycleGAN recipe: iterations/s at 256² with batch 1 (the reference
setting: ResNet-9 generators with ngf 64, 70×70 PatchGANs with ndf 64, LSGAN, pool 50).

Each variant trains for ``--warmup`` steps that are not timed, then ``--steps`` timed steps, via
``ganedit.train.train`` on generated scenes loaded at 286 px and cropped to 256 (the reference's
``resize_and_crop``). Variants: fp32, and ``--amp`` (float16 autocast) where CUDA is available.

Usage::

    .venv/bin/python benchmarks/train_cyclegan.py                 # CPU here, CUDA when present
    .venv/bin/python benchmarks/train_cyclegan.py --steps 20 --json
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganedit.train import (
    CycleGANLoss,
    DataOptions,
    NetworkOptions,
    OptimOptions,
    RunOptions,
    TrainConfig,
    train,
)
from ganedit.train.synthetic import make_day_night


def measure(data: Path, work: Path, *, device: str, amp: bool, warmup: int, steps: int) -> dict:
    stamps: list[float] = []
    config = TrainConfig(
        recipe="cyclegan",
        data=DataOptions(root=str(data), load_size=286, crop_size=256, workers=2),
        net=NetworkOptions(),
        optim=OptimOptions(),
        loss=CycleGANLoss(),
        run=RunOptions(
            out=str(work / f"run-{device}-{'amp' if amp else 'fp32'}"),
            max_steps=warmup + steps,
            save_every=10**9,
            sample_every=10**9,
            log_every=10**9,
            device=device,
            amp=amp,
        ),
    )

    def stamp(progress, losses) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    train(config, callbacks=(stamp,), stream=io.StringIO())
    per_step = [b - a for a, b in zip(stamps[warmup - 1 : -1], stamps[warmup:], strict=True)]
    return {
        "device": device,
        "amp": amp,
        "steps": steps,
        "median_s_per_step": statistics.median(per_step),
        "iterations_per_s": 1 / statistics.median(per_step),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = (
        ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    )
    variants = [False, True] if device.startswith("cuda") else [False]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = make_day_night(work / "data", count=16, size=286)
        results = [
            measure(data, work, device=device, amp=amp, warmup=args.warmup, steps=args.steps)
            for amp in variants
        ]
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
    }
    print(f"CycleGAN 256², batch 1, ResNet-9 ngf 64 + PatchGAN ndf 64; {machine}")
    print(f"{'device':<8} {'amp':<5} {'s/step':>8} {'it/s':>8}")
    for r in results:
        print(
            f"{r['device']:<8} {r['amp']!s:<5} {r['median_s_per_step']:>8.3f} "
            f"{r['iterations_per_s']:>8.3f}"
        )
    if not device.startswith("cuda"):
        print("--amp: not measured (float16 mixed precision needs CUDA; no GPU on this machine)")
    if args.json:
        print(json.dumps({"machine": machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
