"""End-to-end demo: train a small CycleGAN, export it, translate a folder of held-out images.

Run with ``make demo``. Everything happens offline on the CPU in a few minutes:

1. a two-domain dataset is generated: day scenes (domain A) and *other* night scenes (domain B);
   the night look is a fixed colour transform, so the right answer for any day scene is known;
2. ``ganedit train cyclegan`` trains a small CycleGAN on it (unpaired, as CycleGAN is meant to);
3. ``ganedit export`` turns the run into a self-describing ONNX file, verified against PyTorch;
4. ``ganedit translate`` runs it over held-out scenes at odd sizes, with the awkward cases a real
   folder has (alpha, 16-bit, EXIF rotation, a subfolder, broken files), and the demo scores the
   results against the known answer.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ganedit.imageio import decode_image
from ganedit.train.synthetic import day_scene, make_day_night, to_night

HELD_OUT_SEED = 900_000


def make_held_out(folder: Path) -> list[str]:
    """Held-out day scenes plus awkward files; returns the names of the plain scenes."""
    (folder / "more").mkdir(parents=True, exist_ok=True)
    plain = []
    for i, (h, w) in enumerate([(80, 96), (77, 123), (64, 64), (101, 70)]):
        name = f"scene{i}.png"
        Image.fromarray(day_scene(h, w, HELD_OUT_SEED + i)).save(folder / name)
        plain.append(name)
    scene = day_scene(90, 120, HELD_OUT_SEED + 10)
    # Taken with the camera on its side: stored sideways, EXIF says "rotate 90° clockwise".
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(scene).transpose(Image.Transpose.ROTATE_90).save(
        folder / "rotated.jpg", exif=exif, quality=95
    )
    h, w = 96, 96
    yy, xx = np.mgrid[:h, :w]
    alpha = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (h / 2.2) ** 2) * 255
    rgba = np.dstack([day_scene(h, w, HELD_OUT_SEED + 11), alpha.astype(np.uint8)])
    Image.fromarray(rgba).save(folder / "more" / "cutout.png")
    import cv2  # writes all 16 bits of a colour PNG (BGR order on disk)

    deep = day_scene(72, 88, HELD_OUT_SEED + 12).astype(np.uint16) * 257
    cv2.imwrite(str(folder / "more" / "deep_16bit.png"), np.ascontiguousarray(deep[:, :, ::-1]))
    (folder / "notes.jpg").write_text("this is not a picture")
    buffer = io.BytesIO()
    Image.fromarray(scene).save(buffer, format="JPEG")
    (folder / "more" / "truncated.jpg").write_bytes(buffer.getvalue()[: buffer.tell() // 2])
    return plain


def run(cmd: list[str]) -> int:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo"))
    parser.add_argument("--steps", type=int, default=600, help="training steps")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    ganedit = str(Path(sys.executable).with_name("ganedit"))

    data = make_day_night(out / "data", count=48, size=64)
    print(f"1. dataset: {data}/trainA (day) and {data}/trainB (other scenes, at night)")

    print(f"2. training a small CycleGAN for {args.steps} steps on the CPU")
    run_dir = out / "run"
    train = [ganedit, "train", "cyclegan", "--data", str(data), "--out", str(run_dir)]
    train += ["--ngf", "16", "--ndf", "16", "--n-blocks", "3", "--load-size", "64"]
    train += ["--crop-size", "64", "--no-flip", "--lr", "5e-4", "--epochs", "10"]
    train += ["--epochs-decay", "5", "--max-steps", str(args.steps), "--workers", "0"]
    train += ["--log-every", "100", "--sample-every", "200", "--save-every", "300"]
    if run(train):
        sys.exit("training failed")

    print("3. export the run's A->B generator")
    model = out / "day2night.onnx"
    if run([ganedit, "export", str(run_dir), "-o", str(model), "--name", "day2night-demo"]):
        sys.exit("export failed")

    inputs, results = out / "held_out", out / "results"
    plain = make_held_out(inputs)
    print("4. translate held-out images (two broken files are expected to fail)")
    code = run([ganedit, "translate", str(model), str(inputs), "-o", str(results), "-r"])
    print(f"   exit code {code} (1 = some files failed, as they should here)")

    errors, identity = [], []
    for name in plain:
        day = np.asarray(Image.open(inputs / name))
        target = to_night(day).astype(np.float32)
        errors.append(np.abs(np.asarray(Image.open(results / name)) - target).mean())
        identity.append(np.abs(day - target).mean())
    print(
        f"\nError against the known night look on {len(plain)} held-out scenes: "
        f"{np.mean(errors):.1f} grey levels (doing nothing: {np.mean(identity):.1f})"
    )
    print(f"Training samples: {run_dir}/samples/   TensorBoard logs: {run_dir}/logs/")
    print(f"Results are in {results}/:")
    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        image = decode_image(path)
        height, width, channels = image.color.shape
        kind = {1: "grey", 3: "RGB"}[channels] + (" + alpha" if image.alpha is not None else "")
        bits = 8 * image.color.dtype.itemsize
        print(f"  {path.relative_to(results)}  {width}x{height} {kind}, {bits}-bit")
    if code != 1:
        sys.exit(f"expected exit code 1 (two broken inputs), got {code}")
    if not np.mean(errors) < 0.5 * np.mean(identity):
        sys.exit("the trained model did not learn the night look")


if __name__ == "__main__":
    main()
