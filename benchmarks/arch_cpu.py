"""Imported architectures on this CPU: ganedit's ONNX path against spandrel's eager torch.

For each architecture, a network of its released size (SwinIR-M, HAT, DAT, SPAN-48, ...; the
hyperparameters of the official ×4 models) with seeded random weights is saved as a checkpoint,
loaded by ``ganedit.load`` (exported to ONNX, verified, cached) and by spandrel (the path
ComfyUI and chaiNNer users run), and both upscale the same photo crops, alternately, in one
run: ``model(image)`` for ganedit (uint8 in, uint8 out: the library call a pipeline makes) and
``descriptor(tensor)`` under ``torch.inference_mode`` for spandrel (float tensors only, so it
is spared the conversions ganedit's figure includes). Both use all cores. The table gives
images/s (median of the rounds) and the ratio ganedit/spandrel; it also checks the two outputs
agree (max difference in grey levels).

LaMa is timed the same way at 512² with a hole, and against OpenCV's Telea (``cv2-telea``).

    .venv/bin/python benchmarks/arch_cpu.py                # every architecture below
    .venv/bin/python benchmarks/arch_cpu.py --only SPAN OmniSR --size 96 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skimage import data as skdata

import ganedit

warnings.filterwarnings("ignore")


def _spandrel_class(arch: str) -> Any:
    import importlib

    for package in ("spandrel", "spandrel_extra_arches"):
        try:
            module = importlib.import_module(f"{package}.architectures.{arch}")
        except ImportError:
            continue
        return module
    raise LookupError(f"spandrel has no architecture {arch}")


def _transformer(window: int = 8, upsampler: str = "pixelshuffle") -> dict[str, Any]:
    return {
        "upscale": 4,
        "img_size": 64,
        "window_size": window,
        "depths": [6] * 6,
        "embed_dim": 180,
        "num_heads": [6] * 6,
        "mlp_ratio": 2.0,
        "upsampler": upsampler,
        "resi_connection": "1conv",
    }


#: Architecture -> (class name, keyword arguments): the official ×4 models' hyperparameters.
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "ESRGAN": ("ESRGAN", {"scale": 4}),  # RRDBNet 23 blocks: ganedit's own RRDB export
    "SwinIR": ("SwinIR", _transformer(8, "nearest+conv")),  # SwinIR-M real-world ×4
    "Swin2SR": ("Swin2SR", _transformer(8, "nearest+conv")),
    "HAT": (
        "HAT",
        {
            **_transformer(16),
            "compress_ratio": 3,
            "squeeze_factor": 30,
            "conv_scale": 0.01,
            "overlap_ratio": 0.5,
        },
    ),
    "DAT": (
        "DAT",
        {
            "upscale": 4,
            "img_size": 64,
            "split_size": [8, 32],
            "depth": [6] * 6,
            "embed_dim": 180,
            "num_heads": [6] * 6,
            "expansion_factor": 4.0,
            "resi_connection": "1conv",
        },
    ),
    "SPAN": ("SPAN", {"num_in_ch": 3, "num_out_ch": 3, "feature_channels": 48, "upscale": 4}),
    "OmniSR": ("OmniSR", {"up_scale": 4}),
    "RealPLKSR": ("RealPLKSR", {"upscaling_factor": 4}),
    "SAFMN": ("SAFMN", {"dim": 36, "n_blocks": 8, "ffn_scale": 2.0, "upscaling_factor": 4}),
    "RealCUGAN": ("UpCunet4x", {"in_channels": 3, "out_channels": 3}),
}


#: Architectures whose spandrel module is named otherwise.
_MODULES = {"RealPLKSR": "PLKSR"}


def _network(arch: str) -> torch.nn.Module:
    class_name, kwargs = MODELS[arch]
    torch.manual_seed(0)
    net = getattr(_spandrel_class(_MODULES.get(arch, arch)), class_name)(**kwargs)
    with torch.no_grad():
        for param in net.parameters():
            if not param.abs().max() > 0:
                param.normal_(0, 0.02)
    return net.eval()


def _photos(count: int, size: int) -> list[np.ndarray]:
    sources = [skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]
    crops = []
    for i in range(count):
        image = sources[i % len(sources)]
        top = (image.shape[0] - size) // 2
        left = (image.shape[1] - size) // 2 + 7 * i
        crops.append(np.ascontiguousarray(image[top : top + size, left : left + size, :3]))
    return crops


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 255).permute(2, 0, 1)[None]


def _rounds(runners: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Each runner once as a warm-up, then ``rounds`` alternating timed passes."""
    for run in runners.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for r in range(rounds):
        for name in order[r % 2 :] + order[: r % 2]:
            start = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - start)
    return times


def _upscaler_row(arch: str, work: Path, images: list[np.ndarray], rounds: int) -> dict[str, Any]:
    from spandrel import ModelLoader

    path = work / f"{arch}.pth"
    torch.save(_network(arch).state_dict(), path)
    start = time.perf_counter()
    ours = ganedit.load(path, device="cpu")
    load_s = time.perf_counter() - start
    theirs = ModelLoader().load_from_file(path).eval()
    tensors = [_tensor(image) for image in images]

    def run_ours() -> list[np.ndarray]:
        return [ours(image) for image in images]

    def run_theirs() -> list[torch.Tensor]:
        with torch.inference_mode():
            return [theirs(x) for x in tensors]

    times = _rounds({"ganedit": run_ours, "spandrel": run_theirs}, rounds)
    got = run_ours()[0].astype(np.int32)
    with torch.inference_mode():
        ref = theirs(tensors[0])[0].permute(1, 2, 0).clamp(0, 1).numpy()
    diff = int(np.abs(got - np.rint(ref * 255)).max())
    n = len(images)
    return {
        "arch": arch,
        "backend": ours.providers[0],
        "load_s": load_s,
        "ganedit": n / statistics.median(times["ganedit"]),
        "spandrel": n / statistics.median(times["spandrel"]),
        "diff": diff,
    }


def _lama_rows(work: Path, rounds: int, size: int) -> list[dict[str, Any]]:
    from spandrel import ModelLoader
    from spandrel.architectures.LaMa import LaMa

    torch.manual_seed(0)
    path = work / "LaMa.pth"
    torch.save(LaMa(in_nc=4, out_nc=3).eval().state_dict(), path)
    start = time.perf_counter()
    ours = ganedit.load(path, device="cpu").with_options(strategy="full")
    load_s = time.perf_counter() - start
    telea = ganedit.load("cv2-telea").with_options(strategy="full")
    theirs = ModelLoader().load_from_file(path).eval()
    image = np.ascontiguousarray(skdata.astronaut()[:size, :size])
    hole = np.zeros((size, size), dtype=bool)
    hole[size // 3 : size // 2, size // 4 : size // 2] = True
    x, m = _tensor(image), torch.from_numpy(hole.astype(np.float32))[None, None]

    def run_theirs() -> torch.Tensor:
        with torch.inference_mode():
            return theirs(x, m)

    times = _rounds(
        {
            "ganedit": lambda: ours(image, hole),
            "spandrel": run_theirs,
            "telea": lambda: telea(image, hole),
        },
        rounds,
    )
    got = ours(image, hole).astype(np.int32)
    ref = run_theirs()[0].permute(1, 2, 0).numpy()
    diff = int(np.abs(got - np.rint(ref * 255)).max())
    lama = {
        "arch": f"LaMa {size}²",
        "backend": ours.providers[0],
        "load_s": load_s,
        "ganedit": 1 / statistics.median(times["ganedit"]),
        "spandrel": 1 / statistics.median(times["spandrel"]),
        "diff": diff,
    }
    cv = 1 / statistics.median(times["telea"])
    return [lama, {"arch": f"cv2-telea {size}²", "ganedit": cv}]


def _row(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"| {row['arch']} | failed: {row['error']} | | | | | |"
    if "spandrel" not in row:
        return f"| {row['arch']} | OpenCV | {row['ganedit']:.3f} | | | | |"
    ratio = row["ganedit"] / row["spandrel"]
    return (
        f"| {row['arch']} | {row['backend']} | {row['ganedit']:.3f} | {row['spandrel']:.3f} "
        f"| **{ratio:.2f}** | {row['diff']} | {row['load_s']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="architectures (and/or LaMa)")
    parser.add_argument("--size", type=int, default=128, help="side of the upscalers' input")
    parser.add_argument("--images", type=int, default=2, help="photo crops per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lama-size", type=int, default=512)
    args = parser.parse_args()
    wanted = args.only or [*MODELS, "LaMa"]
    images = _photos(args.images, args.size)
    print(
        f"{args.images} crops of {args.size}² per round (×4 upscalers), {args.rounds} rounds, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads\n"
    )
    print(
        "| architecture | ganedit runs on | ganedit images/s | spandrel images/s | "
        "ganedit / spandrel | max diff (levels) | first load + export s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ["GANEDIT_HOME"] = str(Path(tmp) / "home")  # conversions made fresh here
        work = Path(tmp)
        for arch in wanted:
            start = time.perf_counter()
            try:
                if arch == "LaMa":
                    rows = _lama_rows(work, args.rounds, args.lama_size)
                else:
                    rows = [_upscaler_row(arch, work, images, args.rounds)]
            except Exception as exc:  # one architecture's failure is a row, not the end
                rows = [{"arch": arch, "error": f"{type(exc).__name__}: {exc}"[:200]}]
            for row in rows:
                print(_row(row), flush=True)
            print(f"{arch}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
