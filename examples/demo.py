"""End-to-end demo: teach a tiny CycleGAN-layout generator a look, export it, translate a folder.

Run with ``make demo``. Everything happens offline on the CPU in about a minute:

1. sample inputs are made from scikit-image's photographs, with the awkward cases a real folder
   has: odd sizes, alpha, 16-bit, grey, an EXIF-rotated JPEG, a subfolder and a broken file;
2. a small ResNet generator in the reference's exact layout is fitted for a few hundred steps
   to a sepia tone curve (a stand-in for real training, which ``ganedit train`` will do) and
   saved as a reference-style ``.pth``;
3. ``ganedit export`` turns it into a self-describing ONNX file, verified against PyTorch;
4. ``ganedit translate`` runs it over the folder, reports the broken file and carries on.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data

from ganedit.archs import ResnetGenerator
from ganedit.imageio import decode_image

SEPIA = torch.tensor([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]])


def sepia(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` in [-1, 1] -> the sepia-toned image, also in [-1, 1]."""
    unit = (x + 1) / 2
    toned = torch.einsum("oc,bchw->bohw", SEPIA, unit).clamp(0, 1)
    return toned * 2 - 1


def make_inputs(folder: Path) -> None:
    photos = {
        "astronaut": data.astronaut(),
        "coffee": data.coffee(),
        "chelsea": data.chelsea(),
        "rocket": data.rocket(),
    }
    (folder / "more").mkdir(parents=True, exist_ok=True)
    Image.fromarray(photos["astronaut"]).resize((301, 277)).save(
        folder / "astronaut.jpg", quality=92
    )
    Image.fromarray(photos["coffee"]).resize((250, 167)).save(folder / "coffee.png")
    Image.fromarray(photos["rocket"]).resize((171, 285)).save(folder / "more" / "rocket.webp")
    cat = Image.fromarray(photos["chelsea"]).resize((226, 150))
    # Taken with the camera on its side: stored sideways, EXIF says "rotate 90° clockwise".
    exif = Image.Exif()
    exif[0x0112] = 6
    cat.transpose(Image.Transpose.ROTATE_90).save(folder / "chelsea_rotated.jpg", exif=exif)
    # A cut-out with transparency around it.
    h, w = 180, 200
    yy, xx = np.mgrid[:h, :w]
    alpha = (((yy - h / 2) / (h / 2.2)) ** 2 + ((xx - w / 2) / (w / 2.2)) ** 2 < 1) * 255
    rgba = np.dstack([np.asarray(cat.resize((w, h))), alpha.astype(np.uint8)])
    Image.fromarray(rgba).save(folder / "more" / "cutout.png")
    Image.fromarray(data.camera()).resize((200, 200)).save(folder / "camera_grey.png")
    # 16 bits per channel: written with OpenCV, which stores all 16 bits (BGR order on disk).
    import cv2

    deep = (photos["coffee"][::3, ::3].astype(np.uint16) * 257)[:, :, ::-1]
    cv2.imwrite(str(folder / "coffee_16bit.png"), np.ascontiguousarray(deep))
    (folder / "notes.jpg").write_text("this is not a picture")
    buffer = io.BytesIO()
    Image.fromarray(photos["chelsea"]).save(buffer, format="JPEG")
    (folder / "more" / "truncated.jpg").write_bytes(buffer.getvalue()[: buffer.tell() // 2])


def fit_generator(steps: int, seed: int = 0) -> ResnetGenerator:
    torch.manual_seed(seed)
    net = ResnetGenerator(in_channels=3, out_channels=3, ngf=16, n_blocks=3, norm="instance")
    photos = [
        data.astronaut(),
        data.coffee(),
        data.chelsea(),
        data.rocket(),
        data.hubble_deep_field(),
    ]
    tensors = [torch.from_numpy(p).permute(2, 0, 1).float() / 127.5 - 1 for p in photos]
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.5, 0.999))
    generator = torch.Generator().manual_seed(seed)
    crop = 64
    for step in range(steps):
        batch = []
        for _ in range(8):
            img = tensors[int(torch.randint(len(tensors), (1,), generator=generator))]
            top = int(torch.randint(img.shape[1] - crop, (1,), generator=generator))
            left = int(torch.randint(img.shape[2] - crop, (1,), generator=generator))
            batch.append(img[:, top : top + crop, left : left + crop])
        x = torch.stack(batch)
        loss = torch.nn.functional.l1_loss(net(x), sepia(x))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step:4d}  L1 {loss.item():.4f}")
    return net.eval()


def run(cmd: list[str]) -> int:
    print("$", " ".join(cmd))
    return subprocess.run(cmd).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    inputs, results = out / "inputs", out / "results"
    make_inputs(inputs)
    print(f"1. sample inputs in {inputs}/ (odd sizes, alpha, 16-bit, grey, EXIF-rotated, broken)")

    print(f"2. fitting a small ResNet generator to a sepia look ({args.steps} steps)")
    start = time.perf_counter()
    net = fit_generator(args.steps)
    checkpoint = out / "sepia_net_G.pth"
    torch.save(net.state_dict(), checkpoint)
    print(f"   saved {checkpoint} in reference layout ({time.perf_counter() - start:.0f}s)")

    ganedit = str(Path(sys.executable).with_name("ganedit"))
    model = out / "sepia.onnx"
    print("3. export")
    if run([ganedit, "export", str(checkpoint), "-o", str(model), "--name", "sepia-demo"]):
        sys.exit("export failed")

    print("4. translate the folder (two broken files are expected to fail)")
    code = run([ganedit, "translate", str(model), str(inputs), "-o", str(results), "-r"])
    print(f"   exit code {code} (1 = some files failed, as they should here)")
    print("   rerun: existing outputs are skipped")
    run([ganedit, "translate", str(model), str(inputs), "-o", str(results), "-r", "--quiet"])

    print(f"\nResults are in {results}/:")
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        image = decode_image(path)
        height, width, channels = image.color.shape
        kind = {1: "grey", 3: "RGB"}[channels] + (" + alpha" if image.alpha is not None else "")
        bits = 8 * image.color.dtype.itemsize
        print(f"  {path.relative_to(results)}  {width}x{height} {kind}, {bits}-bit")
    if code != 1:
        sys.exit(f"expected exit code 1 (two broken inputs), got {code}")


if __name__ == "__main__":
    main()
