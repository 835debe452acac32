"""Folder-job throughput of two checkouts of ganedit, side by side: did a change cost speed?

Both checkouts run the same ``process_folder`` jobs on the same photos (48 crops of
scikit-image's photographs, 180-300 px, JPEG and RGBA PNG) with the same ``.onnx`` models (tiny
seeded ResNet, SRVGG ×4 and RRDBNet ×2 made here with the current checkout's exporter, so the
host stages weigh as much as the network). Each job runs in a fresh process per checkout,
alternating old and new, ``--rounds`` times; a process does one warm-up pass and ``--repeats``
timed ones. Printed: the fastest pass per checkout and job, and new / old.

    python benchmarks/ab_checkouts.py --old /tmp/oldtree      # git worktree add /tmp/oldtree REV

The old checkout is put first on PYTHONPATH; it must run ``.onnx`` files without ganedit.export
(every ganedit version does).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

JOBS = {
    "translate resnet": ("resnet.onnx", {}),
    "upscale srvgg x4": ("srvgg_x4.onnx", {}),
    "upscale rrdb x2, tile 128": ("rrdb_x2.onnx", {"tile": 128}),
}


def _photos(folder: Path) -> None:
    from PIL import Image
    from skimage import data

    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for i in range(48):
        image = sources[i % 4]
        h, w = (int(v) for v in rng.integers(180, 300, 2))
        y, x = int(rng.integers(0, image.shape[0] - h)), int(rng.integers(0, image.shape[1] - w))
        crop = image[y : y + h, x : x + w]
        if i % 6 == 0:
            alpha = np.full(crop.shape[:2], 255, np.uint8)
            alpha[:20] = 0
            Image.fromarray(np.dstack([crop, alpha])).save(folder / f"{i:03d}.png")
        else:
            Image.fromarray(crop).save(folder / f"{i:03d}.jpg", quality=92)


def _models(folder: Path) -> None:
    import torch

    from ganedit.archs import ResnetGenerator, RRDBNet, SRVGGNetCompact
    from ganedit.export import checkpoint_to_onnx

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    nets = {
        "resnet": ResnetGenerator(
            in_channels=3, out_channels=3, ngf=4, n_blocks=1, norm="instance",
            use_dropout=False, padding_type="reflect",
        ),
        "srvgg_x4": SRVGGNetCompact(scale=4, num_feat=8, num_conv=2),
        "rrdb_x2": RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4),
    }  # fmt: skip
    for name, net in nets.items():
        with torch.no_grad():
            for param in net.parameters():
                param.mul_(0.5)
        torch.save(net.state_dict(), folder / f"{name}.pth")
        checkpoint_to_onnx(folder / f"{name}.pth", folder / f"{name}.onnx", name=name)


def _child(model: str, options: str, photos: str, out: str, repeats: int) -> None:
    """One process, one checkout: warm-up, then ``repeats`` timed passes (printed as JSON)."""
    import ganedit

    loaded = ganedit.load(model, device="cpu")
    if json.loads(options):
        loaded = loaded.with_options(**json.loads(options))
    settings = ganedit.FolderSettings(fsync=False, overwrite=True)
    ganedit.process_folder(loaded, [photos], out, settings=settings)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = ganedit.process_folder(loaded, [photos], out, settings=settings)
        times.append(time.perf_counter() - start)
        assert report.exit_code == 0, report.summary()
    new_api = "variant" in inspect.signature(ganedit.load).parameters
    print(json.dumps({"times": times, "new_api": new_api, "file": ganedit.__file__}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the other checkout's root")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _photos(work / "photos")
        _models(work / "models")
        best: dict[tuple[str, str], float] = {}
        for _ in range(args.rounds):
            for job, (model, options) in JOBS.items():
                for side in ("old", "new"):
                    env = dict(os.environ)
                    env.pop("PYTHONPATH", None)
                    if side == "old":
                        env["PYTHONPATH"] = str(args.old.resolve())
                    command = [
                        sys.executable, __file__, "--child", str(work / "models" / model),
                        json.dumps(options), str(work / "photos"), str(work / f"out_{side}"),
                        str(args.repeats),
                    ]  # fmt: skip
                    done = subprocess.run(command, env=env, capture_output=True, text=True)
                    if done.returncode:
                        sys.exit(f"{side} {job} failed:\n{done.stderr}")
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    key = (job, side)
                    best[key] = min(best.get(key, float("inf")), *result["times"])
        print(f"{'job':<28} {'old s':>7} {'new s':>7} {'new/old':>8}")
        for job in JOBS:
            old, new = best[(job, "old")], best[(job, "new")]
            print(f"{job:<28} {old:7.3f} {new:7.3f} {new / old:8.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6], int(sys.argv[6]))
    else:
        main()
