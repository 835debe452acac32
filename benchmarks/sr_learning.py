"""Does a short CPU training run of a small SRVGG-style model beat bicubic interpolation?

Trains ``ganedit train sr`` (PSNR stage, bicubic degradation, no target sharpening) on crops of
scikit-image's photographs, exports the run, and compares PSNR on *other* photographs: each
held-out image is downscaled (antialiased bicubic, as in training), then brought back up by the
model and by bicubic interpolation, and both are scored against the original.

Usage::

    .venv/bin/python benchmarks/sr_learning.py                    # x2, 1500 steps
    .venv/bin/python benchmarks/sr_learning.py --scale 4 --steps 3000
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skdata

import ganedit
from ganedit.export import export_run
from ganedit.train import DataOptions, OptimOptions, RunOptions, TrainConfig, train
from ganedit.train.config import SRLoss, SRNetworkOptions
from ganedit.train.degradations import bicubic_degrade

TRAIN = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "retina",
    "brick",
    "gravel",
]


def held_out() -> dict[str, np.ndarray]:
    rgb = lambda a: np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a[:, :, :3]  # noqa: E731
    return {
        "motorcycle": rgb(skdata.stereo_motorcycle()[0]),
        "camera": rgb(skdata.camera()),
        "clock": rgb(skdata.clock()),
    }


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--num-feat", type=int, default=32)
    parser.add_argument("--num-conv", type=int, default=8)
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    # A short run: Real-ESRGAN's 0.999 would still carry ~20% of the untrained start after
    # 1500 steps, and the exported generator is the EMA.
    parser.add_argument("--ema-decay", type=float, default=0.99)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "hr").mkdir()
        for name in TRAIN:
            image = getattr(skdata, name)()
            image = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image
            Image.fromarray(image[:, :, :3]).save(work / "hr" / f"{name}.png")
        config = TrainConfig(
            recipe="sr",
            data=DataOptions(
                root=str(work / "hr"),
                crop_size=args.crop_size,
                load_size=args.crop_size,
                batch_size=args.batch_size,
                workers=0,
            ),
            net=SRNetworkOptions(
                arch="srvgg", scale=args.scale, num_feat=args.num_feat, num_conv=args.num_conv
            ),
            optim=OptimOptions(lr=args.lr, beta1=0.9, beta2=0.99, epochs=10**6, epochs_decay=0),
            loss=SRLoss(
                stage="psnr", degradation="bicubic", usm_gt=False, ema_decay=args.ema_decay
            ),
            run=RunOptions(
                out=str(work / "run"),
                max_steps=args.steps,
                save_every=10**9,
                sample_every=10**9,
                log_every=max(args.steps // 5, 1),
                device="cpu",
            ),
        )
        start = time.perf_counter()
        train(config, stream=io.StringIO())
        seconds = time.perf_counter() - start
        model = ganedit.load(export_run(work / "run", work / "sr.onnx").path, device="cpu")
        rows = []
        for name, hr in held_out().items():
            h, w = (np.array(hr.shape[:2]) // args.scale) * args.scale
            hr = hr[:h, :w]
            hr_t = torch.from_numpy(np.ascontiguousarray(hr)).permute(2, 0, 1)[None].float() / 255
            lr_t = bicubic_degrade(hr_t, scale=args.scale)
            lr = np.rint(lr_t[0].permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
            bicubic = (
                F.interpolate(
                    torch.from_numpy(lr).permute(2, 0, 1)[None].float(),
                    scale_factor=args.scale,
                    mode="bicubic",
                    align_corners=False,
                )[0]
                .permute(1, 2, 0)
                .clamp(0, 255)
                .round()
                .numpy()
                .astype(np.uint8)
            )
            ours = model.with_options(tile=0)(lr)
            rows.append((name, hr.shape[1], hr.shape[0], psnr(bicubic, hr), psnr(ours, hr)))
    print(
        f"SRVGG x{args.scale} ({args.num_feat} features, {args.num_conv} convs), "
        f"{args.steps} steps of batch {args.batch_size} x {args.crop_size}² crops "
        f"on {len(TRAIN)} photos: {seconds:.0f} s of CPU training"
    )
    print(f"{'held-out image':<14} {'size':>10} {'bicubic dB':>11} {'model dB':>9} {'gain':>6}")
    for name, w, h, pb, pm in rows:
        print(f"{name:<14} {w:>4}x{h:<5} {pb:>11.2f} {pm:>9.2f} {pm - pb:>+6.2f}")
    mean_b = np.mean([r[3] for r in rows])
    mean_m = np.mean([r[4] for r in rows])
    print(f"{'mean':<14} {'':>10} {mean_b:>11.2f} {mean_m:>9.2f} {mean_m - mean_b:>+6.2f}")


if __name__ == "__main__":
    main()
