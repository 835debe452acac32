"""How far float16 inference lands from float32, per generator family, in 8-bit grey levels.

Decides which ops ``ganedit.export.half.to_half`` keeps in float32. Runs on a CPU:

- onnxruntime's CPU provider has no float16 Conv on x86: it runs a float16 graph in float32
  behind inserted Casts, so running the converted graph as it is ("fp16 weights") only shows
  the cost of rounding the weights and the input/output;
- ``fp16_emulation.emulate_fp16`` (beside this script) turns the converted graph into a
  float32 one that rounds every float16 activation to float16 as soon as it is made ("fp16
  storage"): what a GPU computes with float16 tensors and float32 accumulation; run with and
  without InstanceNormalization kept in float32;
- with ``--torch``, PyTorch's own float16 CPU kernels (``module.half()``, ~400× slower than
  float32 here, hence a small crop) on the ResNet, all-fp16 and with InstanceNorm in float32,
  next to the emulation on the same crop, to check the emulation.

Networks (seeded random weights at the real layer shapes): CycleGAN ResNet-9 (ngf 64, instance
norm, reference init N(0, 0.02)), pix2pix U-Net-256 (ngf 64, batch norm with per-image
statistics, which exports as InstanceNormalization, and with running statistics), Real-ESRGAN
RRDBNet ×4 (64 features, 23 blocks; BasicSR init, kaiming × 0.1) and SRVGGNetCompact ×4 (64
features, 32 convs, PReLU). The SR nets' last layer is scaled so that their output spans a few
dozen grey levels rather than sitting flat. Images: scikit-image's astronaut, coffee and chelsea,
centre crops (256² for translation, 64² for ×4 upscaling).

With ``--cuda`` (on a GPU machine) it measures what users get instead: ``ganedit.load(ckpt,
device="cuda", variant=Variant(half=True), runtime=Runtime(backend=B))`` against the same model
without ``half``, through the public API on the uint8 photos, for every family above and the
inpainting generator (its output compared inside the hole).

Usage::

    .venv/bin/python benchmarks/fp16_accuracy.py            # ~2 minutes on 2 cores
    .venv/bin/python benchmarks/fp16_accuracy.py --torch    # + torch fp16 check (~1 more minute)
    python benchmarks/fp16_accuracy.py --cuda --backend torch   # on a GPU: the real fp16 path
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from fp16_emulation import emulate_fp16
from skimage import data as skdata

from ganedit.archs import (
    ResnetGenerator,
    RRDBNet,
    SRVGGNetCompact,
    UnetGenerator,
    load_generator,
)
from ganedit.export import checkpoint_to_onnx
from ganedit.export.half import to_half
from ganedit.train.init import init_weights

PHOTOS = ("astronaut", "coffee", "chelsea")


def crop(name: str, size: int) -> np.ndarray:
    """A centre crop of a scikit-image photo, scaled down first so it shows a whole scene."""
    from PIL import Image

    img = Image.fromarray(getattr(skdata, name)()).convert("RGB")
    side = min(img.size)
    left, top = (img.size[0] - side) // 2, (img.size[1] - side) // 2
    img = img.crop((left, top, left + side, top + side))
    return np.asarray(img.resize((size, size), Image.Resampling.LANCZOS))


def resnet9() -> torch.nn.Module:
    net = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=64, n_blocks=9, norm="instance",
        use_dropout=False, padding_type="reflect",
    )  # fmt: skip
    init_weights(net, generator=torch.Generator().manual_seed(0))
    return net


def unet256() -> torch.nn.Module:
    net = UnetGenerator(
        in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch", use_dropout=False
    )
    init_weights(net, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # running statistics that differ from an image's own
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_var.fill_(0.5)
    return net


def _sr_init(net: torch.nn.Module, seed: int, last: torch.nn.Conv2d, spread: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, generator=gen)
                m.weight.mul_(0.1)
                m.bias.zero_()
        # Calibrate the last conv: output std ≈ spread around the image (or mid-grey).
        x = torch.from_numpy(crop("astronaut", 64)).permute(2, 0, 1)[None].float() / 255
        y = net(x)
        last.weight.mul_(spread / float(y.std()))
        if isinstance(net, RRDBNet):
            last.bias.fill_(0.5)


def rrdbnet() -> torch.nn.Module:
    net = RRDBNet(scale=4, num_feat=64, num_block=23, num_grow_ch=32).eval()
    _sr_init(net, 2, net.conv_last, 0.15)
    return net


def srvgg() -> torch.nn.Module:
    net = SRVGGNetCompact(scale=4, num_feat=64, num_conv=32, act_type="prelu").eval()
    last = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    _sr_init(net, 3, last, 0.1)
    return net


# name -> (build, checkpoint wraps params_ema, input side, norm_stats)
FAMILIES: dict[str, tuple[Callable[[], torch.nn.Module], bool, int, str]] = {
    "resnet_9blocks (CycleGAN)": (resnet9, False, 256, "image"),
    "unet_256, per-image BN (pix2pix)": (unet256, False, 256, "image"),
    "unet_256, running BN": (unet256, False, 256, "running"),
    "RRDBNet x4, 23 blocks": (rrdbnet, True, 64, "image"),
    "SRVGGNetCompact x4, 32 convs": (srvgg, True, 64, "image"),
}


def export(name: str, work: Path) -> tuple[Path, tuple[float, float], tuple[float, float]]:
    build, params_ema, _, norm_stats = FAMILIES[name]
    net = build()
    ckpt = work / f"{abs(hash(name))}.pth"
    torch.save({"params_ema": net.state_dict()} if params_ema else net.state_dict(), ckpt)
    result = checkpoint_to_onnx(
        ckpt, ckpt.with_suffix(f".{norm_stats}.onnx"), norm_stats=norm_stats
    )
    return result.path, result.card.input_range, result.card.output_range


def to_input(image: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    lo, hi = lo_hi
    x = image.astype(np.float32) / 255 * (hi - lo) + lo
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def to_levels(y: np.ndarray, lo_hi: tuple[float, float]) -> np.ndarray:
    lo, hi = lo_hi
    return np.rint(np.clip((y[0] - lo) / (hi - lo), 0, 1) * 255).astype(np.int32)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])
    return session.run(None, {"image": x})[0]


def compare(ref: np.ndarray, got: np.ndarray) -> dict[str, float]:
    diff = np.abs(ref - got)
    return {"max": int(diff.max()), "p999": float(np.percentile(diff, 99.9)),
            "mean": float(diff.mean())}  # fmt: skip


def onnx_rows(work: Path) -> list[tuple[str, str, str, dict[str, float], float]]:
    rows = []
    for family, (_, _, side, _) in FAMILIES.items():
        path, in_range, out_range = export(family, work)
        fp32 = onnx.load(str(path))
        variants = {
            "fp16 weights (onnxruntime CPU)": to_half(fp32),
            "fp16 storage, IN in fp32": emulate_fp16(to_half(fp32)),
            "fp16 storage, IN in fp16": emulate_fp16(to_half(fp32, keep_fp32_ops=())),
        }
        if not any(n.op_type == "InstanceNormalization" for n in fp32.graph.node):
            del variants["fp16 storage, IN in fp16"]  # same graph as the one above
        for photo in PHOTOS:
            x = to_input(crop(photo, side), in_range)
            ref = to_levels(run(fp32, x), out_range)
            spread = float(ref.std())
            for variant, model in variants.items():
                stats = compare(ref, to_levels(run(model, x), out_range))
                rows.append((family, photo, variant, stats, spread))
    return rows


class _Fp32Norm(torch.nn.Module):
    def __init__(self, norm: torch.nn.Module):
        super().__init__()
        self.norm = norm.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.float()).to(x.dtype)


def _keep_norm_fp32(net: torch.nn.Module) -> torch.nn.Module:
    for name, child in net.named_children():
        if isinstance(child, torch.nn.InstanceNorm2d | torch.nn.BatchNorm2d):
            setattr(net, name, _Fp32Norm(child))
        else:
            _keep_norm_fp32(child)
    return net


def torch_rows(work: Path, side: int) -> list[tuple[str, str, str, dict[str, float], float]]:
    family = "resnet_9blocks (CycleGAN)"
    path, in_range, out_range = export(family, work)
    ckpt = next(work.glob(f"{abs(hash(family))}.pth"))
    fp32 = onnx.load(str(path))
    emulated = {
        "emulated fp16 storage, IN in fp32": emulate_fp16(to_half(fp32)),
        "emulated fp16 storage, IN in fp16": emulate_fp16(to_half(fp32, keep_fp32_ops=())),
    }
    rows = []
    for photo in PHOTOS:
        x = to_input(crop(photo, side), in_range)
        ref = to_levels(run(fp32, x), out_range)
        for variant, keep in (("torch fp16, IN in fp32", True), ("torch fp16, all", False)):
            net = load_generator(ckpt).module.eval()
            net = _keep_norm_fp32(net.half()) if keep else net.half()
            with torch.no_grad():
                y = net(torch.from_numpy(x).half()).float().numpy()
            rows.append((family, photo, variant, compare(ref, to_levels(y, out_range)), 0.0))
        for variant, model in emulated.items():
            got = to_levels(run(model, x), out_range)
            rows.append((family, photo, variant, compare(ref, got), 0.0))
    return rows


def cuda_rows(work: Path, backend: str) -> list[tuple[str, str, str, dict[str, float], float]]:
    import ganedit
    from ganedit.archs import InpaintGenerator

    variant = f"{backend} fp16 on CUDA"
    rows = []
    for family, (_, _, side, _) in FAMILIES.items():
        export(family, work)
        ckpt = next(work.glob(f"{abs(hash(family))}.pth"))
        runtime = ganedit.Runtime(backend=backend)
        fp32 = ganedit.load(ckpt, device="cuda", runtime=runtime)
        fp16 = ganedit.load(
            ckpt, device="cuda", variant=ganedit.Variant(half=True), runtime=runtime
        )
        size = side
        if isinstance(fp32, ganedit.Upscaler):  # whole images, 4x the CPU crops
            fp32, fp16, size = fp32.with_options(tile=0), fp16.with_options(tile=0), side * 4
        for photo in PHOTOS:
            image = crop(photo, size)
            ref = fp32(image).astype(np.int32)
            rows.append((family, photo, variant, compare(ref, fp16(image).astype(np.int32)),
                         float(ref.std())))  # fmt: skip
    torch.manual_seed(0)
    ckpt = work / "inpaint.pth"
    torch.save(InpaintGenerator(ngf=48).state_dict(), ckpt)
    runtime = ganedit.Runtime(backend=backend)
    fp32 = ganedit.load(ckpt, device="cuda", runtime=runtime)
    fp16 = ganedit.load(ckpt, device="cuda", variant=ganedit.Variant(half=True), runtime=runtime)
    hole = np.zeros((256, 256), bool)
    hole[64:160, 80:200] = True
    for photo in PHOTOS:
        image = crop(photo, 256)
        ref = fp32(image, hole).astype(np.int32)[hole]
        got = fp16(image, hole).astype(np.int32)[hole]
        rows.append(("gated inpaint, ngf 48 (in the hole)", photo, variant, compare(ref, got),
                     float(ref.std())))  # fmt: skip
    return rows


def table(rows: list[tuple[str, str, str, dict[str, float], float]]) -> str:
    lines = [
        "| network | photo | variant | max | 99.9 % | mean | output std |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for family, photo, variant, s, spread in rows:
        spread_text = f"{spread:.1f}" if spread else "—"
        lines.append(
            f"| {family} | {photo} | {variant} | {s['max']} | {s['p999']:.0f} | "
            f"{s['mean']:.3f} | {spread_text} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch", action="store_true", help="Also run torch's fp16 CPU kernels.")
    parser.add_argument("--torch-size", type=int, default=64, help="Crop side for --torch.")
    parser.add_argument("--cuda", action="store_true", help="Measure ganedit's fp16 on CUDA.")
    parser.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.cuda:
            print(f"ganedit fp16 vs fp32 on CUDA ({args.backend}), 8-bit grey levels:\n")
            print(table(cuda_rows(work, args.backend)))
            print(f"\nwall time {time.perf_counter() - start:.0f} s")
            return
        torch.set_num_threads(2)
        print("Differences from float32 in 8-bit grey levels (max, 99.9th percentile, mean):\n")
        print(table(onnx_rows(work)))
        if args.torch:
            print(f"\nPyTorch fp16 CPU kernels vs emulation, {args.torch_size}² crops:\n")
            print(table(torch_rows(work, args.torch_size)))
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
