"""CPU throughput of ``ganedit upscale``: end to end vs the model alone, and tiled vs untiled.

Models (random weights, seeded): a realesr-general-x4v3-shaped SRVGGNetCompact (64 features, 32
convs, PReLU, ×4) and, with ``--rrdb``, a realesrgan-x4plus-shaped RRDBNet (64 features, 23
blocks, ×4; 35.9 MFLOP per input pixel).

- (a) end to end: ``ganedit.process_folder`` over a folder of JPEGs (what the CLI runs);
- (b) the model alone: ``Model.run_batch`` on pre-decoded, pre-converted arrays, one image at a
  time, whole images (no tiling);
- (c) tiled vs untiled on one larger image: the same Upscaler with ``tile`` small enough to cut
  the image into overlapping tiles, against ``tile=0`` (whole image), and the pixel difference.

Ratios come from medians of interleaved rounds in one run.

Usage::

    .venv/bin/python benchmarks/upscale_cpu.py
    .venv/bin/python benchmarks/upscale_cpu.py --images 16 --size 128 --rounds 3 --rrdb
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

import ganedit
from ganedit.archs import RRDBNet, SRVGGNetCompact
from ganedit.codec import requantise
from ganedit.export import checkpoint_to_onnx
from ganedit.tiling import tile_grid


def photos(count: int, size: int) -> list[np.ndarray]:
    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina"]
    out = []
    for i in range(count):
        img = Image.fromarray(getattr(skdata, names[i % len(names)])()).convert("RGB")
        w, h = img.size
        side = min(w, h) - 8 * (i // len(names))
        box = ((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2)
        out.append(np.asarray(img.crop(box).resize((size, size), Image.Resampling.LANCZOS)))
    return out


def export(net: torch.nn.Module, work: Path, name: str) -> Path:
    ckpt = work / f"{name}.pth"
    torch.save({"params_ema": net.state_dict()}, ckpt)
    return checkpoint_to_onnx(ckpt, work / f"{name}.onnx", name=name).path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", type=int, default=128, help="input side (output is ×4)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--big", type=int, default=384, help="side of the tiled-vs-untiled image")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--rrdb", action="store_true", help="also time the RRDBNet ×4 model")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = {"srvgg_x4_32c_64f": SRVGGNetCompact(scale=4, num_feat=64, num_conv=32)}
        if args.rrdb:
            models["rrdbnet_x4_23b_64f"] = RRDBNet(scale=4, num_feat=64, num_block=23)
        folder = work / "in"
        folder.mkdir()
        images = photos(args.images, args.size)
        for i, img in enumerate(images):
            Image.fromarray(img).save(folder / f"{i:03d}.jpg", quality=95)
        big = photos(1, args.big)[0]
        print(f"{args.images} JPEGs of {args.size}² -> ×4; tiled test {args.big}² tile {args.tile}")
        for name, net in models.items():
            up = ganedit.load(export(net.eval(), work, name), device="cpu")
            measure(name, up, images, big, folder, work, args)


def measure(name, up, images, big, folder: Path, work: Path, args) -> None:
    """Time (a), (b) and (c) for one model, interleaved over ``args.rounds`` rounds."""
    prepared = [
        np.ascontiguousarray(requantise(im, np.float32).transpose(2, 0, 1))[None] for im in images
    ]
    settings = ganedit.FolderSettings(overwrite=True)
    whole, tiled = up.with_options(tile=0), up.with_options(tile=args.tile)

    def e2e() -> None:
        ganedit.process_folder(whole, [folder], work / "out", settings=settings)

    def alone() -> None:
        for batch in prepared:
            up.run_batch(batch)

    e2e()  # warm-up
    times: dict[str, list[float]] = {"e2e": [], "alone": [], "whole": [], "tiled": []}
    for _ in range(args.rounds):
        times["e2e"].append(timed(e2e))
        times["alone"].append(timed(alone))
        times["whole"].append(timed(lambda: whole(big)))
        times["tiled"].append(timed(lambda: tiled(big)))
    med = {k: statistics.median(v) for k, v in times.items()}
    n_tiles = len(tile_grid(args.big, args.big, tile=args.tile, overlap=16))
    diff = np.abs(whole(big).astype(int) - tiled(big).astype(int)).max()
    rate_e2e, rate_alone = args.images / med["e2e"], args.images / med["alone"]
    print(f"\n{name}")
    print(f"  (a) end to end      {rate_e2e:8.3f} images/s")
    print(f"  (b) model alone     {rate_alone:8.3f} images/s   a/b = {rate_e2e / rate_alone:.3f}")
    print(f"  untiled {args.big}²     {med['whole']:8.3f} s")
    print(
        f"  tiled ({n_tiles} tiles)   {med['tiled']:8.3f} s   tiled/untiled time = "
        f"{med['tiled'] / med['whole']:.3f}; max difference {diff} grey levels"
    )


if __name__ == "__main__":
    main()
