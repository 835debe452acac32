"""Does a folder job's memory stay flat however many files it has? 200 vs 20,000 images.

A tiny CycleGAN-layout ResNet (ngf 4, one block, random weights) is exported once; N small
photo crops (32×24 PNG, cut from scikit-image's photographs) are written to a folder; then a
fresh process runs ``ganedit translate MODEL FOLDER -o OUT`` over them and reports its peak
resident memory (``ru_maxrss`` of the child) and its rate. Queues between the folder job's
stages are bounded, so the peak should not grow with N beyond the per-file bookkeeping (one
small result record per file).

    .venv/bin/python benchmarks/load_folder.py                 # 200 and 20000
    .venv/bin/python benchmarks/load_folder.py --counts 200 2000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata


def _model(folder: Path) -> Path:
    import torch

    from ganedit.archs import ResnetGenerator
    from ganedit.export import checkpoint_to_onnx

    torch.manual_seed(0)
    net = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=4, n_blocks=1, norm="instance", use_dropout=False
    )
    torch.save(net.state_dict(), folder / "tiny.pth")
    return checkpoint_to_onnx(folder / "tiny.pth", folder / "tiny.onnx", name="tiny").path


def _images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    photo = skdata.astronaut()
    for i in range(count):
        top, left = (i * 7) % 480, (i * 13) % 470
        crop = np.ascontiguousarray(photo[top : top + 24, left : left + 32])
        Image.fromarray(crop).save(folder / f"img{i:06d}.png", compress_level=1)


_MEASURE = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps([done.returncode, done.stdout, done.stderr[-2000:], peak]))\n"
)


def _run(model: Path, folder: Path, out: Path) -> tuple[dict[str, object], float, float]:
    """The job's report, its peak RSS in MiB (measured by a wrapper process whose only child
    it is) and its wall time."""
    command = [sys.executable, "-m", "ganedit.cli", "translate", str(model), str(folder)]
    command += ["-o", str(out), "--json", "--quiet", "--no-fsync"]
    start = time.perf_counter()
    wrapper = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    code, stdout, stderr, peak_kib = json.loads(wrapper.stdout)
    if code != 0:
        raise SystemExit(f"the job failed ({code}): {stderr}")
    return json.loads(stdout), peak_kib / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[200, 20_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["GANEDIT_HOME"] = str(work / "home")
        model = _model(work)
        print("| images | peak RSS MiB | images/s | wall s |")
        print("|---:|---:|---:|---:|")
        for count in sorted(args.counts):
            folder = work / f"in{count}"
            _images(folder, count)
            report, peak_mib, seconds = _run(model, folder, work / f"out{count}")
            assert report["done"] == count, report
            print(f"| {count} | {peak_mib:.0f} | {count / seconds:.0f} | {seconds:.1f} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
