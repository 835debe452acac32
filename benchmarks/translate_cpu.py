"""CPU throughput of ``ganedit translate`` against a naive loop and the model alone.

A folder of 256x256 JPEGs cut from scikit-image's sample photos goes through the CycleGAN
ResNet-9 generator (ngf 64, instance norm, seeded random weights) in four ways, measured in one
run with the variants interleaved:

- ``e2e``: ``ganedit.process_folder`` with ``FolderSettings(overwrite=True)`` -- what the CLI runs
  (decode pool, batcher, onnxruntime, encode pool, atomic writes).
- ``naive``: the reference's test loop -- PIL decode, eager torch at batch 1 under
  ``torch.no_grad()``, ``tensor2im``, PIL save -- serially, with torch's default threads.
- ``model``: ``Model.run_batch`` on pre-decoded, pre-prepared arrays (the same onnxruntime
  session as ``e2e``, the same batch size).
- ``torch``: the eager torch module on pre-decoded tensors (for context).

Each variant gets one warm-up pass, then the variants alternate (in a rotating order) for
``--repeat`` rounds; the median of each is reported, and the ratios come from those medians.
Achieved GFLOP/s use 99.1 GFLOP per 256x256 image (49.55 G multiply-adds) and are compared with
the best of a 2048x2048 float32 matrix multiply in numpy and in torch.

Usage::

    .venv/bin/python benchmarks/translate_cpu.py                  # 24 images, 3 rounds
    .venv/bin/python benchmarks/translate_cpu.py --images 48 --repeat 3 --batch-size 4 --json
    .venv/bin/python benchmarks/translate_cpu.py --cli           # also time `ganedit translate`
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image

import ganedit
from ganedit.archs import ResnetGenerator, load_generator
from ganedit.codec import prepare
from ganedit.export import checkpoint_to_onnx

SIDE = 256
GFLOP_PER_IMAGE = 99.1  # 2 x 49.55 G multiply-adds of ResNet-9 ngf 64 at 256x256
MATMUL_N = 2048
# RGB photos shipped with scikit-image (no download needed).
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "stereo_motorcycle",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)


# --------------------------------------------------------------------------- inputs


def _photos() -> list[np.ndarray]:
    from skimage import data

    photos = []
    for name in PHOTOS:
        loaded = getattr(data, name)()
        if name == "stereo_motorcycle":
            photos += [loaded[0], loaded[1]]  # left and right views
        else:
            photos.append(loaded)
    return [p[:, :, :3] for p in photos if p.ndim == 3]


def make_images(folder: Path, count: int, *, seed: int = 0) -> list[Path]:
    """Write ``count`` 256x256 JPEGs (quality 95), random square crops of the sample photos."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = _photos()
    paths = []
    for i in range(count):
        photo = photos[i % len(photos)]
        height, width = photo.shape[:2]
        # The first crop of each photo is its centre square; later ones are random squares.
        side = (
            min(height, width)
            if i < len(photos)
            else int(rng.integers(SIDE, min(height, width) + 1))
        )
        top = (height - side) // 2 if i < len(photos) else int(rng.integers(0, height - side + 1))
        left = (width - side) // 2 if i < len(photos) else int(rng.integers(0, width - side + 1))
        crop = Image.fromarray(photo[top : top + side, left : left + side])
        path = folder / f"img_{i:03d}.jpg"
        crop.resize((SIDE, SIDE), Image.Resampling.LANCZOS).save(path, quality=95)
        paths.append(path)
    return paths


def make_model(workdir: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """A seeded random ResNet-9 (ngf 64) checkpoint in the reference layout, and its ONNX export."""
    torch.manual_seed(seed)
    net = ResnetGenerator(in_channels=3, out_channels=3, ngf=64, n_blocks=9, norm="instance")
    checkpoint = workdir / "resnet9_ngf64.pth"
    torch.save(net.state_dict(), checkpoint)
    onnx_path = workdir / "resnet9_ngf64.onnx"
    checkpoint_to_onnx(checkpoint, onnx_path, name="bench_resnet9", source="random init")
    return checkpoint, onnx_path


# --------------------------------------------------------------------------- variants


def naive_loop(net: torch.nn.Module, files: list[Path], out_dir: Path, quality: int) -> None:
    """The reference test loop: PIL -> eager torch at batch 1 -> tensor2im -> PIL, serially."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        image = Image.open(path).convert("RGB")
        # transforms.ToTensor() + Normalize((0.5,) * 3, (0.5,) * 3)
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255)
        x = x.sub(0.5).div(0.5).unsqueeze(0)
        with torch.no_grad():
            y = net(x)
        # util.tensor2im
        array = (np.transpose(y[0].cpu().float().numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0
        Image.fromarray(array.astype(np.uint8)).save(out_dir / path.name, quality=quality)


def onnx_alone(model: ganedit.Translator, batches: list[np.ndarray]) -> None:
    for batch in batches:
        model.run_batch(batch)


def torch_alone(net: torch.nn.Module, batches: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for batch in batches:
            net(batch)


def run_cli(onnx_path: Path, in_dir: Path, out_dir: Path, batch_size: int, threads: int | None):
    """``ganedit translate`` as a subprocess: start-up, imports and model load included."""
    command = [
        str(Path(sys.executable).with_name("ganedit")),
        "translate",
        str(onnx_path),
        str(in_dir),
        "-o",
        str(out_dir),
        "--overwrite",
        "--quiet",
        "--device",
        "cpu",
        "--batch-size",
        str(batch_size),
    ]
    if threads is not None:
        command += ["--threads", str(threads)]
    subprocess.run(command, check=True)


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (all processes), from /proc/stat."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _measured(fn: Callable[[], None]) -> tuple[float, float | None]:
    """Wall seconds of ``fn()``, and the share of all cores other processes used meanwhile.

    The machine is shared: a pass during which something else ran is slower for reasons that
    have nothing to do with the variant, and the second figure says so.
    """
    busy, own = _busy_cpu_seconds(), _own_cpu_seconds()
    wall = _timed(fn)
    busy_after = _busy_cpu_seconds()
    if busy is None or busy_after is None:
        return wall, None
    others = (busy_after - busy) - (_own_cpu_seconds() - own)
    return wall, max(0.0, others) / (wall * (os.cpu_count() or 1))


# --------------------------------------------------------------------------- machine


def matmul_gflops(n: int = MATMUL_N, reps: int = 5) -> dict[str, float]:
    """Best GFLOP/s (2 n^3 per product) of an n x n float32 matmul in numpy and in torch."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    flops = 2.0 * n**3
    best = {}
    for name, fn in (("numpy", lambda: a @ b), ("torch", lambda: ta @ tb)):
        fn()  # warm-up
        best[name] = flops / min(_timed(fn) for _ in range(reps)) / 1e9
    return best


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": ort.__version__,
        "ganedit": getattr(ganedit, "__version__", "dev"),
    }


# --------------------------------------------------------------------------- main


@dataclasses.dataclass
class Variant:
    key: str
    label: str
    run: Callable[[], None]
    warmup: Callable[[], None]
    times: list[float] = dataclasses.field(default_factory=list)
    others: list[float | None] = dataclasses.field(default_factory=list)


def _batches(arrays: list[np.ndarray], size: int) -> list[np.ndarray]:
    return [np.stack(arrays[i : i + size]) for i in range(0, len(arrays), size)]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24, help="JPEGs in the folder (>= 1).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed rounds after the warm-up.")
    parser.add_argument("--batch-size", type=int, default=1, help="For e2e, model and torch.")
    parser.add_argument(
        "--threads", type=int, default=None, help="onnxruntime intra-op threads (default: its own)."
    )
    parser.add_argument("--workers", type=int, default=2, help="e2e decode/encode threads (each).")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep inputs/outputs here.")
    parser.add_argument("--cli", action="store_true", help="Also time `ganedit translate`.")
    parser.add_argument("--json", action="store_true", help="Print a JSON object at the end.")
    args = parser.parse_args(argv)
    if args.images < 1 or args.repeat < 1 or args.batch_size < 1 or args.workers < 1:
        parser.error("--images, --repeat, --batch-size and --workers must be >= 1")
    return args


def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    quality = ganedit.FolderSettings().jpeg_quality
    in_dir = workdir / "in"
    warm_dir = workdir / "warm"
    files = make_images(in_dir, args.images)
    warm_files = make_images(warm_dir, min(args.images, max(2 * args.batch_size, 2)), seed=1)
    checkpoint, onnx_path = make_model(workdir)

    model = ganedit.load(onnx_path, device="cpu", runtime=ganedit.Runtime(threads=args.threads))
    assert isinstance(model, ganedit.Translator)
    net = load_generator(checkpoint).module.eval()
    settings = ganedit.FolderSettings(
        overwrite=True, batch_size=args.batch_size, workers=args.workers, jpeg_quality=quality
    )

    def e2e(source: Path, out: Path) -> Callable[[], None]:
        def go() -> None:
            report = ganedit.process_folder(model, [source], out, settings=settings)
            if report.exit_code != 0:
                raise RuntimeError(report.summary())

        return go

    def prepared(paths: list[Path]) -> list[np.ndarray]:
        return [prepare(np.asarray(Image.open(p).convert("RGB")), model.card).tensor for p in paths]

    arrays, warm_arrays = prepared(files), prepared(warm_files)
    batches = _batches(arrays, args.batch_size)
    warm_batches = _batches(warm_arrays, args.batch_size)
    t_batches = [torch.from_numpy(b) for b in batches]
    t_warm = [torch.from_numpy(b) for b in warm_batches]

    variants = [
        Variant(
            "e2e",
            "(a) ganedit process_folder",
            e2e(in_dir, workdir / "out_e2e"),
            e2e(warm_dir, workdir / "warm_e2e"),
        ),
        Variant(
            "naive",
            "(b) naive loop, torch, batch 1",
            lambda: naive_loop(net, files, workdir / "out_naive", quality),
            lambda: naive_loop(net, warm_files, workdir / "warm_naive", quality),
        ),
        Variant(
            "model",
            "(c) model alone, onnxruntime",
            lambda: onnx_alone(model, batches),
            lambda: onnx_alone(model, warm_batches),
        ),
        Variant(
            "torch",
            "    model alone, torch eager",
            lambda: torch_alone(net, t_batches),
            lambda: torch_alone(net, t_warm),
        ),
    ]
    if args.cli:
        variants.append(
            Variant(
                "cli",
                "    ganedit translate (process)",
                lambda: run_cli(
                    onnx_path, in_dir, workdir / "out_cli", args.batch_size, args.threads
                ),
                lambda: run_cli(
                    onnx_path, warm_dir, workdir / "warm_cli", args.batch_size, args.threads
                ),
            )
        )

    peak = matmul_gflops()
    for v in variants:
        v.warmup()
    for round_ in range(args.repeat):
        shift = round_ % len(variants)
        for v in variants[shift:] + variants[:shift]:
            wall, others = _measured(v.run)
            v.times.append(wall)
            v.others.append(others)
            load = "" if others is None else f"  (other processes: {others:.0%} of the CPUs)"
            print(f"  round {round_ + 1}: {v.key:<6} {wall:7.2f} s{load}", file=sys.stderr)
    peak_after = matmul_gflops(reps=3)
    peak_best = max(*peak.values(), *peak_after.values())

    n = len(files)
    results = {}
    for v in variants:
        median = statistics.median(v.times)
        rate = n / median
        results[v.key] = {
            "label": v.label.strip(),
            "seconds": v.times,
            "other_load": v.others,
            "best_images_per_s": n / min(v.times),
            "median_s": median,
            "images_per_s": rate,
            "gflops": rate * GFLOP_PER_IMAGE,
            "fraction_of_peak": rate * GFLOP_PER_IMAGE / peak_best,
        }
    rate = {k: r["images_per_s"] for k, r in results.items()}
    best = {k: r["best_images_per_s"] for k, r in results.items()}
    return {
        "machine": machine(),
        "settings": {
            "images": n,
            "size": [SIDE, SIDE],
            "repeat": args.repeat,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "ort_threads": args.threads,
            "ort_providers": model.providers,
            "jpeg_quality": quality,
        },
        "matmul_gflops": {"before": peak, "after": peak_after, "best": peak_best, "n": MATMUL_N},
        "variants": results,
        "ratios": {
            "e2e_over_naive": rate["e2e"] / rate["naive"],
            "e2e_over_model": rate["e2e"] / rate["model"],
            "best_e2e_over_naive": best["e2e"] / best["naive"],
            "best_e2e_over_model": best["e2e"] / best["model"],
        },
        "labels": {v.key: v.label for v in variants},
    }


def print_table(result: dict[str, object]) -> None:
    m, s = result["machine"], result["settings"]
    print(
        f"{m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB; Python {m['python']}, "
        f"torch {m['torch']} ({m['torch_threads']} threads), onnxruntime {m['onnxruntime']}"
    )
    print(
        f"{s['images']} JPEGs {s['size'][0]}x{s['size'][1]}, ResNet-9 ngf 64, "
        f"batch {s['batch_size']}, "
        f"workers {s['workers']}, ort threads {s['ort_threads'] or 'default'}, "
        f"median of {s['repeat']} rounds"
    )
    mm = result["matmul_gflops"]
    print(
        f"machine: {MATMUL_N}^3 float32 matmul best {mm['best']:.1f} GFLOP/s "
        f"(numpy {mm['before']['numpy']:.1f}, torch {mm['before']['torch']:.1f})"
    )
    print()
    print(
        f"{'variant':<34} {'median s':>9} {'images/s':>9} {'GFLOP/s':>8} {'of peak':>8} "
        f"{'best img/s':>10} {'other load':>10}"
    )
    for key, r in result["variants"].items():
        label = result["labels"][key]
        loads = [x for x in r["other_load"] if x is not None]
        load = f"{max(loads):.0%}" if loads else "n/a"
        print(
            f"{label:<34} {r['median_s']:9.2f} {r['images_per_s']:9.3f} "
            f"{r['gflops']:8.1f} {r['fraction_of_peak']:8.1%} {r['best_images_per_s']:10.3f} "
            f"{load:>10}"
        )
    ratios = result["ratios"]
    print()
    print("ratios            median   best")
    print(f"a/b e2e / naive   {ratios['e2e_over_naive']:6.3f} {ratios['best_e2e_over_naive']:6.3f}")
    print(f"a/c e2e / model   {ratios['e2e_over_model']:6.3f} {ratios['best_e2e_over_model']:6.3f}")
    print("(other load: the most CPU other processes used during one of the variant's rounds)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        result = run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="ganedit-bench-") as tmp:
            result = run(args, Path(tmp))
    print_table(result)
    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
