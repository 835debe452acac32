"""Do the folder pipeline's host stages scale with threads, or does the GIL hold them back?

The GPU path needs decoding and encoding to keep up with the network (thousands of 256² images
per second on an H100), so the question is whether more worker *threads* give more images per
second, or whether worker *processes* are needed. This times the two host stages of
:mod:`ganedit.pipeline` exactly as a folder job runs them (the same ``_decode`` and ``_encode``
functions: JPEG decode, EXIF/ICC handling, the model's ``begin`` and ``finish``, JPEG encode
and the atomic write), with no network in between (the "output" handed to ``finish`` is the
prepared input itself), in a pool of 1 thread, N threads and N processes.

Usage::

    .venv/bin/python benchmarks/host_workers.py --size 256 --images 256 --workers 2
    .venv/bin/python benchmarks/host_workers.py --size 1024 --images 32 --workers 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

import ganedit
from ganedit.archs import ResnetGenerator
from ganedit.pipeline import Job, _decode, _encode

_STATE: dict[str, object] = {}


def make_images(folder: Path, count: int, side: int) -> list[Path]:
    photos = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    paths = []
    for i in range(count):
        photo = Image.fromarray(photos[i % len(photos)])
        path = folder / f"{i:05d}.jpg"
        photo.resize((side, side), Image.Resampling.BICUBIC).save(path, quality=92)
        paths.append(path)
    return paths


def _init(checkpoint: str, fsync: bool = True) -> None:
    """Worker set-up: each process loads the model once (threads share the parent's)."""
    if "model" not in _STATE:
        _STATE["model"] = ganedit.load(
            checkpoint, device="cpu", runtime=ganedit.Runtime(backend="torch")
        )
        _STATE["settings"] = ganedit.FolderSettings(fsync=fsync)


def _one(job: Job) -> None:
    model, settings = _STATE["model"], _STATE["settings"]
    decoded = _decode(job, model, None)
    _encode(decoded, decoded.item.payload.tensor, model, settings)


def _timed(make_pool: Callable[[], Executor], jobs: list[Job]) -> float:
    with make_pool() as pool:
        list(pool.map(_one, jobs[: max(2, len(jobs) // 8)]))  # warm-up: imports, first loads
        start = time.perf_counter()
        list(pool.map(_one, jobs, chunksize=1))
        return len(jobs) / (time.perf_counter() - start)


def stage_times(jobs: list[Job], rounds: int, fsync: bool = True) -> dict[str, float]:
    """Milliseconds per image of each host stage, one thread, best of ``rounds`` passes."""
    from ganedit import imageio
    from ganedit._files import atomic_write
    from ganedit.imageio.encode import _encode_bytes

    model = _STATE["model"]
    best: dict[str, float] = {}
    for _ in range(rounds):
        spent = dict.fromkeys(["decode", "begin", "finish", "encode", "atomic write"], 0.0)
        for job in jobs:
            t0 = time.perf_counter()
            image = imageio.decode_image(job.source)
            t1 = time.perf_counter()
            item = model.begin(ganedit.ImageIn(image.color, image.alpha, np.dtype(np.uint8)))
            t2 = time.perf_counter()
            color, alpha = model.finish(item, item.payload.tensor)
            t3 = time.perf_counter()
            data = _encode_bytes("JPEG", color, alpha, image.exif, image.icc_profile, 95, None)
            t4 = time.perf_counter()
            atomic_write(job.output, lambda f, data=data: f.write(data), fsync=fsync)
            t5 = time.perf_counter()
            times = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
            for name, seconds in zip(spent, times, strict=True):
                spent[name] += seconds
        for name, seconds in spent.items():
            best[name] = min(best.get(name, float("inf")), seconds / len(jobs) * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many passes")
    parser.add_argument("--no-fsync", action="store_true", help="write as --no-fsync does")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        files = make_images(work / "in", args.images, args.size)
        checkpoint = work / "resnet.pth"
        torch.manual_seed(0)
        torch.save(
            ResnetGenerator(in_channels=3, out_channels=3, ngf=4, n_blocks=1).state_dict(),
            checkpoint,
        )
        jobs = [Job(f, work / "out" / f.name) for f in files]
        (work / "out").mkdir()
        fsync = not args.no_fsync
        _init(str(checkpoint), fsync)
        pools: dict[str, Callable[[], Executor]] = {
            "1 thread": lambda: ThreadPoolExecutor(1),
            f"{args.workers} threads": lambda: ThreadPoolExecutor(args.workers),
            f"{args.workers} processes": lambda: ProcessPoolExecutor(
                args.workers, initializer=_init, initargs=(str(checkpoint), fsync)
            ),
        }
        rates = {
            name: max(_timed(make, jobs) for _ in range(args.rounds))
            for name, make in pools.items()
        }
        stages = stage_times(jobs, args.rounds, fsync)
    base = rates["1 thread"]
    print(
        f"{args.images} JPEGs of {args.size}², decode + prepare + finish + encode + write, "
        f"{os.cpu_count()} CPUs, best of {args.rounds}{', no fsync' if args.no_fsync else ''}"
    )
    print(f"{'pool':<14} {'images/s':>9} {'vs 1 thread':>12}")
    for name, rate in rates.items():
        print(f"{name:<14} {rate:>9.1f} {rate / base:>11.2f}×")
    print("one thread, ms per image: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
