"""Folder jobs on Ray: images/s with 1 and 2 actors against the local pipeline, and the
driver's peak memory on a 20,000-file listing.

Throughput: a CycleGAN-layout ResNet (random weights; ``--ngf``, ``--blocks``) is exported
once; N crops of scikit-image's photographs (three sizes, PNG) are written to a folder; then,
in this process, alternating rounds of ``process_folder`` run locally (threads, the default
runner) and with ``RayRunner(actors=1)`` and ``RayRunner(actors=2)`` on one local Ray instance
with 2 CPUs started beforehand (its start is timed apart). Each Ray job includes starting its
actors and loading the model in them, as a real job does; each case runs N and N/4 files, and
since a job of n files takes ``start + n / rate``, the two give the rate once the actors run
and the start. Every output of every round is compared with the local round's bytes.

Driver memory: a fresh process per case runs ``process_folder`` over ``--files`` tiny crops
(32×24 PNG, a tiny ResNet) and reports its own peak resident memory (``VmHWM`` of that
process: with Ray, the driver alone — Ray's own processes and the actors are others).

    .venv/bin/python benchmarks/ray_folder.py                     # both parts
    .venv/bin/python benchmarks/ray_folder.py --skip-memory --images 60 --rounds 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field")
SIZES = ((128, 128), (96, 160), (144, 112))


def _model(folder: Path, name: str, ngf: int, blocks: int) -> Path:
    import torch

    from ganedit.archs import ResnetGenerator
    from ganedit.export import checkpoint_to_onnx

    torch.manual_seed(0)
    net = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=ngf, n_blocks=blocks, norm="instance", use_dropout=False
    )
    torch.save(net.state_dict(), folder / f"{name}.pth")
    return checkpoint_to_onnx(folder / f"{name}.pth", folder / f"{name}.onnx", name=name).path


def _photo(i: int) -> np.ndarray:
    image = getattr(skdata, PHOTOS[i % len(PHOTOS)])()
    return image[..., :3] if image.ndim == 3 else np.stack([image] * 3, axis=-1)


def _images(folder: Path, count: int, sizes: tuple[tuple[int, int], ...]) -> None:
    folder.mkdir(parents=True)
    photos = [_photo(i) for i in range(len(PHOTOS))]
    for i in range(count):
        height, width = sizes[i % len(sizes)]
        photo = photos[i % len(photos)]
        top = (i * 7) % (photo.shape[0] - height)
        left = (i * 13) % (photo.shape[1] - width)
        crop = np.ascontiguousarray(photo[top : top + height, left : left + width])
        Image.fromarray(crop).save(folder / f"img{i:06d}.png", compress_level=1)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def throughput(work: Path, args: argparse.Namespace) -> None:
    import ray

    import ganedit
    from ganedit.ray import RayRunner

    model_path = _model(work, "resnet", args.ngf, args.blocks)
    full, part = work / "photos", work / "photos-quarter"
    _images(full, args.images, SIZES)
    _images(part, args.images // 4, SIZES)
    sizes = {full: args.images, part: args.images // 4}
    model = ganedit.load(model_path, device="cpu")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    print(f"local Ray instance (2 CPUs) started in {time.perf_counter() - start:.1f} s")
    cases = {
        "local pipeline": None,
        "Ray, 1 actor": RayRunner(actors=1),
        "Ray, 2 actors": RayRunner(actors=2),
    }
    # case -> folder -> the seconds of each round's job
    seconds: dict[str, dict[Path, list[float]]] = {n: {full: [], part: []} for n in cases}
    reference: dict[Path, dict[str, str]] = {}
    settings = ganedit.FolderSettings(overwrite=True, fsync=False)
    for round_ in range(args.rounds):
        for name, runner in cases.items():
            for folder, count in sizes.items():
                out = work / f"out-{round_}-{folder.name}-{name.replace(' ', '')}"
                report = ganedit.process_folder(
                    model, [folder], out, settings=settings, runner=runner
                )
                assert report.done == count and report.ok, report.summary()
                seconds[name][folder].append(report.elapsed)
                outputs = _hashes(out)
                reference.setdefault(folder, outputs)
                assert outputs == reference[folder], f"{name}: outputs differ from local's"
                print(f"  round {round_ + 1}: {name}: {count} images in {report.elapsed:.1f} s",
                      flush=True)  # fmt: skip
    ray.shutdown()
    # A job of n files takes start + n / rate: two sizes give the rate once the actors run
    # and the start (actors up, model loaded in them).
    rows = {}
    for name in cases:
        whole = statistics.median(seconds[name][full])
        quarter = statistics.median(seconds[name][part])
        rate = (sizes[full] - sizes[part]) / (whole - quarter)
        rows[name] = (sizes[full] / whole, rate, quarter - sizes[part] / rate)
    sizes_text = ", ".join(f"{h}x{w}" for h, w in SIZES)
    print(f"\n{args.images} images ({sizes_text}), ResNet ngf {args.ngf}, {args.blocks} blocks; "
          f"median of {args.rounds} alternating rounds")  # fmt: skip
    print("| runner | images/s, whole job | vs local | images/s once running | vs local | "
          "start s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    local_whole, local_rate, _ = rows["local pipeline"]
    for name, (whole_rate, rate, start_s) in rows.items():
        print(f"| {name} | {whole_rate:.2f} | {whole_rate / local_whole:.2f} | {rate:.2f} | "
              f"{rate / local_rate:.2f} | {start_s:.1f} |")  # fmt: skip
    print("every round's outputs byte-identical to the first local round's")


def _driver(mode: str, model: str, folder: str, out: str) -> None:
    """One driver process: a folder job, then this process's own peak RSS."""
    import ganedit
    from ganedit.ray import RayRunner

    runner = RayRunner(actors=2) if mode == "ray" else None
    settings = ganedit.FolderSettings(fsync=False)
    report = ganedit.process_folder(
        ganedit.load(model, device="cpu"), [folder], out, settings=settings, runner=runner
    )
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (this script's
    # first process, with PyTorch loaded), while VmHWM is this process image's own peak.
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"done": report.done, "elapsed": report.elapsed, "peak_mib": peak}))


def memory(work: Path, args: argparse.Namespace) -> None:
    model = _model(work, "tiny", 4, 1)
    print("\n| files | runner | driver peak RSS MiB | images/s |")
    print("|---:|---|---:|---:|")
    for count in (200, args.files):
        folder = work / f"tiny{count}"
        _images(folder, count, ((24, 32),))
        for mode in ("local", "ray"):
            out = work / f"tiny-out-{count}-{mode}"
            env = {**os.environ, "RAY_BACKEND_LOG_LEVEL": "fatal"}
            done = subprocess.run(
                [sys.executable, __file__, "--driver", mode, str(model), str(folder), str(out)],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"{mode} driver failed: {done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["done"] == count, result
            rate = result["done"] / result["elapsed"]
            name = "local pipeline" if mode == "local" else "Ray, 2 actors"
            print(f"| {count} | {name} | {result['peak_mib']:.0f} | {rate:.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=240)
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--driver", nargs=4, metavar=("MODE", "MODEL", "FOLDER", "OUT"))
    args = parser.parse_args()
    if args.driver:
        _driver(*args.driver)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["GANEDIT_HOME"] = str(work / "home")
        if not args.skip_throughput:
            throughput(work, args)
        if not args.skip_memory:
            memory(work, args)


if __name__ == "__main__":
    main()
