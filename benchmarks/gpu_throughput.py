"""GPU throughput: ganedit end to end vs the model alone vs the reference-style loop.

For issue 6. Three variants, measured in one run and interleaved over ``--rounds`` rounds:

- (a) ``e2e``: ``ganedit.process_folder`` over a folder of JPEGs (decode pool, batcher, the
  session, encode pool, atomic writes), ``--batch-size`` images per call;
- (b) ``model``: ``Model.run_batch`` on pre-decoded, pre-prepared batches (the same session);
- (c) ``reference``: what the reference implementations do -- PIL decode, eager torch fp32 at
  batch 1, conversion back on the CPU, PIL save -- serially.

Networks (random seeded weights: speed does not depend on them):

- ``resnet9``: the CycleGAN ResNet-9 generator, ngf 64; 99.1 GFLOP per 256² image, scaling with
  the pixel count (1585.6 GFLOP at 1024²);
- ``rrdb``: RRDBNet ×4, 23 blocks, 64 features; 35.9 MFLOP per input pixel (9.41 TFLOP at 512²).

The achieved fraction of the FLOP ceiling uses ``--peak-tflops`` (default: the dense tensor-core
peak of the detected GPU for the precision used; pass it explicitly for other machines).

Usage (on the GPU machine)::

    python benchmarks/gpu_throughput.py --net resnet9 --size 256 --images 512 --batch-size 32
    python benchmarks/gpu_throughput.py --net resnet9 --size 256 --backend torch --half
    python benchmarks/gpu_throughput.py --net rrdb --size 512 --images 16 --batch-size 1 --half

On a CPU (a smoke test of the script): ``--device cpu --size 64 --images 4 --rounds 1``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

import ganedit
from ganedit.archs import ResnetGenerator, RRDBNet

# Dense peak TFLOP/s (SXM parts): fp16/bf16 tensor cores, and fp32 through TF32 tensor cores.
PEAKS = {"H100": {"fp16": 989.4, "fp32": 494.7}, "H200": {"fp16": 989.4, "fp32": 494.7}}


def gflop_per_image(net: str, side: int) -> float:
    if net == "resnet9":
        return 99.1 * (side / 256) ** 2
    return 35.9e-3 * side * side


def build(net: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    if net == "resnet9":
        return ResnetGenerator(in_channels=3, out_channels=3, ngf=64, n_blocks=9).eval()
    module = RRDBNet(
        in_channels=3, out_channels=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32
    )
    return module.eval()


def make_images(folder: Path, count: int, side: int) -> list[Path]:
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        y = int(rng.integers(0, photo.shape[0] // 4))
        x = int(rng.integers(0, photo.shape[1] // 4))
        crop = Image.fromarray(photo[y:, x:]).resize((side, side), Image.Resampling.BICUBIC)
        path = folder / f"{i:05d}.jpg"
        crop.save(path, quality=92)
        paths.append(path)
    return paths


def reference_loop(net: torch.nn.Module, files: list[Path], out: Path, device: str) -> None:
    """PIL in, eager fp32 batch 1, CPU-side conversion, PIL out (the reference's test loop)."""
    translate = isinstance(net, ResnetGenerator)
    with torch.no_grad():
        for path in files:
            img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
            x = torch.from_numpy(img).permute(2, 0, 1)[None]
            if translate:
                x = x * 2 - 1
            y = net(x.to(device))[0].float().cpu()
            y = (y + 1) / 2 if translate else y
            arr = (y.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(arr).save(out / path.name, quality=95)
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=["resnet9", "rrdb"], default="resnet9")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--backend", choices=["onnxruntime", "torch"], default="onnxruntime")
    parser.add_argument("--half", action="store_true")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference-images", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    device = "cuda" if args.device.startswith("cuda") else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        (work / "ref").mkdir()
        files = make_images(work / "in", args.images, args.size)
        net = build(args.net)
        ckpt = work / f"{args.net}.pth"
        torch.save(net.state_dict(), ckpt)
        model = ganedit.load(
            ckpt,
            device=device,
            variant=ganedit.Variant(half=args.half),
            runtime=ganedit.Runtime(backend=args.backend),
        )
        if args.net == "rrdb":
            model = model.with_options(tile=0)
        settings = ganedit.FolderSettings(
            batch_size=args.batch_size, overwrite=True, workers=args.workers
        )
        channels = model.card.in_channels
        batch = (
            np.random.default_rng(0)
            .uniform(
                -1 if args.net == "resnet9" else 0,
                1,
                size=(args.batch_size, channels, args.size, args.size),
            )
            .astype(np.float32)
        )
        batches = max(args.images // args.batch_size, 1)
        ref_files = files[: args.reference_images or len(files)]
        ref_net = net.to(args.device)

        variants: dict[str, tuple[Callable[[], None], int]] = {
            "e2e": (
                lambda: ganedit.process_folder(
                    model, [work / "in"], work / "out", settings=settings
                ),
                len(files),
            ),
            "model": (
                lambda: [model.run_batch(batch) for _ in range(batches)],
                batches * args.batch_size,
            ),
            "reference": (
                lambda: reference_loop(ref_net, ref_files, work / "ref", args.device),
                len(ref_files),
            ),
        }
        for fn, _ in variants.values():  # warm-up: algorithm search, arenas, caches
            fn()
        rates: dict[str, list[float]] = {name: [] for name in variants}
        for r in range(args.rounds):
            order = list(variants)[r % 3 :] + list(variants)[: r % 3]
            for name in order:
                fn, count = variants[name]
                rates[name].append(count / timed(fn))
    result = {name: statistics.median(values) for name, values in rates.items()}
    precision = "fp16" if args.half else "fp32"
    peak = args.peak_tflops
    if peak is None and device == "cuda":
        gpu = torch.cuda.get_device_name()
        peak = next((p[precision] for k, p in PEAKS.items() if k in gpu), None)
    gflop = gflop_per_image(args.net, args.size)
    summary = {
        "net": args.net,
        "size": args.size,
        "batch_size": args.batch_size,
        "backend": args.backend,
        "precision": precision,
        "providers": model.providers,
        "images_per_s": result,
        "a/c": result["e2e"] / result["reference"],
        "a/b": result["e2e"] / result["model"],
        "gflop_per_image": gflop,
        "peak_tflops": peak,
        "fraction_of_peak": None if peak is None else result["e2e"] * gflop / (peak * 1000),
        "model_fraction_of_peak": None if peak is None else result["model"] * gflop / (peak * 1000),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(
        f"{args.net} at {args.size}², batch {args.batch_size}, {args.backend} {precision} on "
        f"{', '.join(model.providers)}"
    )
    for name, rate in result.items():
        print(f"  {name:<10} {rate:10.2f} images/s  ({rate * gflop / 1000:.2f} TFLOP/s)")
    print(f"  (a)/(c) = {summary['a/c']:.2f}   (a)/(b) = {summary['a/b']:.3f}")
    if peak is not None:
        print(f"  e2e reaches {summary['fraction_of_peak']:.1%} of {peak} TFLOP/s")


if __name__ == "__main__":
    main()
