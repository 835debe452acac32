"""A mixed folder of awkward inputs (odd sizes, alpha, 16-bit, EXIF rotation, ICC, broken
files, hidden files, nested folders) and what each should give; shared by the folder-job tests
that run it locally and on Ray."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112
MAKE = 0x010F
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def deep(height: int, width: int, channels: int, seed: int = 0) -> np.ndarray:
    shape = (height, width, channels) if channels > 1 else (height, width)
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


@dataclasses.dataclass(frozen=True)
class Mixed:
    """A folder of awkward inputs and what each should give."""

    root: Path
    # Relative path -> upright (width, height) of the images that must translate.
    good_top: dict[str, tuple[int, int]]
    good_nested: dict[str, tuple[int, int]]
    # Relative path -> words the failure reason must contain.
    bad: dict[str, str]

    @property
    def good_all(self) -> dict[str, tuple[int, int]]:
        return self.good_top | self.good_nested


def make_mixed_folder(root: Path) -> Mixed:
    root.mkdir(parents=True)
    Image.fromarray(noise(37, 53)).save(root / "odd.png")
    Image.fromarray(noise(33, 41, 4, seed=1)).save(root / "rgba.png")
    cv2.imwrite(str(root / "deep.png"), deep(29, 35, 3, seed=2))  # 16-bit RGB
    cv2.imwrite(str(root / "deepgrey.png"), deep(27, 31, 1, seed=3))  # 16-bit grey
    Image.fromarray(noise(40, 24, 1, seed=4), mode="L").save(root / "grey.jpg")
    rotated = Image.fromarray(noise(30, 50, seed=5))  # stored 50 wide, 30 high
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # rotate 90° clockwise to display: upright 30 wide, 50 high
    rotated.save(root / "rotated.jpg", exif=exif.tobytes())
    tagged = Image.Exif()
    tagged[MAKE] = "ganedit-test-camera"
    Image.fromarray(noise(21, 45, seed=6)).save(
        root / "photo.jpg", exif=tagged.tobytes(), icc_profile=SRGB_ICC
    )
    whole = root / "whole.jpg"
    Image.fromarray(noise(64, 64, seed=7)).save(whole, quality=95)
    data = whole.read_bytes()
    whole.unlink()
    (root / "truncated.jpg").write_bytes(data[: len(data) * 6 // 10])
    (root / "notes.jpg").write_text("this is not a picture\n")
    (root / "readme.txt").write_text("not an image suffix: never picked up\n")
    Image.fromarray(noise(20, 20, seed=8)).save(root / ".hidden.png")
    (root / "sub" / "deeper").mkdir(parents=True)
    Image.fromarray(noise(19, 23, seed=9)).save(root / "sub" / "nested.png")
    Image.fromarray(noise(25, 17, seed=10)).save(root / "sub" / "deeper" / "leaf.jpg")
    return Mixed(
        root=root,
        good_top={
            "odd.png": (53, 37),
            "rgba.png": (41, 33),
            "deep.png": (35, 29),
            "deepgrey.png": (31, 27),
            "grey.jpg": (24, 40),
            "rotated.jpg": (30, 50),
            "photo.jpg": (45, 21),
        },
        good_nested={"sub/nested.png": (23, 19), "sub/deeper/leaf.jpg": (17, 25)},
        bad={"truncated.jpg": "truncated or corrupt", "notes.jpg": "not an image file"},
    )


def hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
