"""``ganedit inpaint``: masks matched to a folder, every image kind, the options, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from inpaint_helpers import FILL_LEVEL_8, FILL_LEVEL_16, box, fill_onnx, mask_png, noise
from PIL import Image, ImageOps

from ganedit.cli import main
from ganedit.masks import dilate, feather_weights

ORIENTATION = 0x0112


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _inpaint(model: object, *args: object) -> Result:
    return _invoke("inpaint", model, *args)


@pytest.fixture(scope="session")
def fill_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    return fill_onnx(tmp_path_factory)


def _pixels(path: Path) -> np.ndarray:
    """Every channel of a file as stored (alpha included; 16 bits kept), upright."""
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is not None and data.dtype == np.uint16:
        if data.ndim == 3:
            order = [2, 1, 0, 3] if data.shape[2] == 4 else [2, 1, 0]
            data = data[:, :, order]
        return data
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im))


def _save(path: Path, array: np.ndarray, **params: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **params)
    return path


def _assert_filled(out: np.ndarray, given: np.ndarray, hole: np.ndarray, level: int) -> None:
    """Outside ``hole`` exactly ``given``; inside, the fill model's value (colour channels)."""
    assert out.shape == given.shape and out.dtype == given.dtype
    assert np.array_equal(out[~hole], given[~hole])
    inside = out[hole]
    if inside.ndim == 2 and inside.shape[1] in (2, 4):
        inside = inside[:, :-1]
    tolerance = 2 if out.dtype == np.uint16 else 1
    assert np.all(np.abs(inside.astype(np.int64) - level) <= tolerance)


# --- listing, help, usage errors ---------------------------------------------------------------


def test_models_list_task_inpaint_lists_the_baselines():
    result = _invoke("models", "list", "--task", "inpaint")
    assert result.exit_code == 0, result.output
    names = [line.lstrip("* ").split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert "cv2-telea" in names and "cv2-ns" in names


def test_models_list_json_marks_the_baselines_as_built_in():
    result = _invoke("models", "list", "--task", "inpaint", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name in ("cv2-telea", "cv2-ns"):
        assert (rows[name]["task"], rows[name]["builtin"]) == ("inpaint", True)
        assert rows[name]["cached"] is False  # nothing was downloaded


def test_models_list_for_another_task_has_no_baselines():
    result = _invoke("models", "list", "--task", "upscale")
    assert result.exit_code == 0
    assert "cv2-telea" not in result.stdout


def test_inpaint_help_lists_its_options():
    result = _invoke("inpaint", "--help")
    assert result.exit_code == 0
    for option in (
        "--mask",
        "--invert-mask",
        "--resize-mask",
        "--dilate",
        "--feather",
        "--strategy",
        "--crop-margin",
        "--resize-limit",
        "--ext",
    ):
        assert option in result.output


def test_missing_mask_option_is_a_usage_error(tmp_path: Path):
    _save(tmp_path / "in" / "a.png", noise(16, 16))
    result = _inpaint("cv2-telea", tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "--mask" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_mask_path_that_does_not_exist_exits_two(tmp_path: Path):
    _save(tmp_path / "in" / "a.png", noise(16, 16))
    result = _inpaint(
        "cv2-telea", tmp_path / "in", "-o", tmp_path / "out", "--mask", tmp_path / "nowhere"
    )
    assert result.exit_code == 2
    assert "nowhere" in result.stderr


@pytest.mark.parametrize(
    "option", [["--strategy", "tiles"], ["--dilate", "-1"], ["--resize-limit", "8"]]
)
def test_bad_option_values_exit_two(tmp_path: Path, option: list[str]):
    _save(tmp_path / "in" / "a.png", noise(16, 16))
    mask = mask_png(tmp_path / "m.png", box(16, 16, 2, 2, 5, 5))
    result = _inpaint("cv2-telea", tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, *option)
    assert result.exit_code == 2
    assert option[0] in result.stderr
    assert not (tmp_path / "out").exists()


# --- mask matching ------------------------------------------------------------------------------


def test_masks_folder_matches_photo_png_and_photo_mask_png(fill_path: Path, tmp_path: Path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    photo, other = noise(20, 24, seed=1), noise(20, 24, seed=2)
    _save(src / "photo.jpg", photo, quality=95)
    _save(src / "other.png", other)
    photo_hole, other_hole = box(20, 24, 2, 2, 8, 9), box(20, 24, 10, 12, 18, 22)
    mask_png(masks / "photo.png", photo_hole)
    mask_png(masks / "other_mask.png", other_hole)
    mask_png(masks / "other.png", box(20, 24, 0, 0, 20, 24))  # the _mask name wins over this
    result = _inpaint(fill_path, src, "-o", out, "--mask", masks, "--ext", "png")
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(out / "other.png"), other, other_hole, FILL_LEVEL_8)
    _assert_filled(_pixels(out / "photo.png"), _pixels(src / "photo.jpg"), photo_hole, FILL_LEVEL_8)


def test_nested_folders_with_recursive(fill_path: Path, tmp_path: Path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    images = {"a/b/photo.png": noise(16, 20, seed=3), "top.png": noise(16, 20, seed=4)}
    holes = {"a/b/photo.png": box(16, 20, 1, 1, 5, 5), "top.png": box(16, 20, 9, 9, 14, 18)}
    for rel, image in images.items():
        _save(src / rel, image)
        mask_png(masks / Path(rel).parent / f"{Path(rel).stem}_mask.png", holes[rel])
    mask_png(masks / "photo.png", box(16, 20, 0, 0, 16, 20))  # not a/b/photo.png's mask
    result = _inpaint(fill_path, src, "-r", "-o", out, "--mask", masks)
    assert result.exit_code == 0, result.output
    for rel, image in images.items():
        _assert_filled(_pixels(out / rel), image, holes[rel], FILL_LEVEL_8)


def test_a_missing_mask_fails_that_file_only(fill_path: Path, tmp_path: Path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    _save(src / "has.png", noise(16, 16, seed=5))
    _save(src / "lacks.png", noise(16, 16, seed=6))
    mask_png(masks / "has.png", box(16, 16, 2, 2, 6, 6))
    result = _inpaint(fill_path, src, "-o", out, "--mask", masks)
    assert result.exit_code == 1
    assert (out / "has.png").is_file() and not (out / "lacks.png").exists()
    assert f"failed: {(src / 'lacks.png').resolve()}: no mask for lacks.png" in result.stderr
    looked = masks.resolve() / "lacks"
    assert f"{looked}_mask.*" in result.stderr and f"{looked}.*" in result.stderr
    assert "1 done, 0 skipped (output exists), 1 failed" in result.stderr


def test_ambiguous_masks_fail_with_a_clear_message(fill_path: Path, tmp_path: Path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    _save(src / "photo.png", noise(16, 16, seed=7))
    _save(src / "fine.png", noise(16, 16, seed=8))
    mask_png(masks / "photo.png", box(16, 16, 2, 2, 6, 6))
    _save(masks / "photo.jpg", np.zeros((16, 16), np.uint8))
    mask_png(masks / "fine_mask.png", box(16, 16, 2, 2, 6, 6))
    result = _inpaint(fill_path, src, "-o", out, "--mask", masks, "--json", "-q")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["done"] == 1
    (failure,) = data["failures"]
    assert failure["file"].endswith("photo.png")
    assert "more than one mask for photo.png" in failure["reason"]
    assert "photo.jpg" in failure["reason"] and "photo.png" in failure["reason"]


@pytest.mark.parametrize("recursive", [False, True])
def test_masks_beside_their_images_are_matched_and_not_processed(
    fill_path: Path, tmp_path: Path, recursive: bool
):
    src, out = tmp_path / "in", tmp_path / "out"
    images = {"photo.png": noise(16, 18, seed=9), "sub/pic.png": noise(16, 18, seed=10)}
    holes = {"photo.png": box(16, 18, 3, 3, 8, 8), "sub/pic.png": box(16, 18, 8, 8, 14, 16)}
    for rel, image in images.items():
        _save(src / rel, image)
        mask_png(src / Path(rel).parent / f"{Path(rel).stem}_mask.png", holes[rel])
    args = ["-r"] if recursive else []
    result = _inpaint(fill_path, src, *args, "-o", out, "--mask", src, "--json", "-q")
    assert result.exit_code == 0, result.output
    done = sorted(
        str(Path(p).relative_to(out.resolve())) for p in json.loads(result.stdout)["outputs"]
    )
    expected = sorted(images) if recursive else ["photo.png"]
    assert done == expected
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == expected
    for rel in expected:
        _assert_filled(_pixels(out / rel), images[rel], holes[rel], FILL_LEVEL_8)


def test_a_masks_folder_inside_the_input_folder_is_not_processed(fill_path: Path, tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    image = noise(16, 18, seed=34)
    _save(src / "photo.png", image)
    hole = box(16, 18, 3, 3, 8, 8)
    mask_png(src / "masks" / "photo.png", hole)
    result = _inpaint(fill_path, src, "-r", "-o", out, "--mask", src / "masks")
    assert result.exit_code == 0, result.output
    assert [str(p.relative_to(out)) for p in out.rglob("*.png")] == ["photo.png"]
    _assert_filled(_pixels(out / "photo.png"), image, hole, FILL_LEVEL_8)


def test_beside_the_photos_only_mask_names_match_so_same_stem_images_fail_loudly(
    fill_path: Path, tmp_path: Path
):
    """photo.jpg and photo.png side by side are two photos: neither is the other's mask, so
    both fail with a reason instead of vanishing from the run."""
    src = tmp_path / "in"
    _save(src / "photo.jpg", noise(16, 16, seed=35), quality=95)
    mask_png(src / "photo.png", box(16, 16, 4, 4, 10, 10))
    result = _inpaint(fill_path, src, "-o", tmp_path / "out", "--mask", src, "--json", "-q")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["done"], data["failed"]) == (0, 2)
    assert "photo_mask.*" in result.output


def test_one_mask_file_for_every_image(fill_path: Path, tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    images = {f"{name}.png": noise(16, 16, seed=i) for i, name in enumerate("abc")}
    for rel, image in images.items():
        _save(src / rel, image)
    hole = box(16, 16, 4, 5, 11, 12)
    mask = mask_png(tmp_path / "the_mask.png", hole)
    result = _inpaint(fill_path, src, "-o", out, "--mask", mask)
    assert result.exit_code == 0, result.output
    for rel, image in images.items():
        _assert_filled(_pixels(out / rel), image, hole, FILL_LEVEL_8)


def test_a_single_image_input_with_a_mask_folder(fill_path: Path, tmp_path: Path):
    image = noise(16, 16, seed=11)
    _save(tmp_path / "photo.png", image)
    hole = box(16, 16, 4, 5, 11, 12)
    mask_png(tmp_path / "masks" / "photo_mask.png", hole)
    result = _inpaint(
        fill_path, tmp_path / "photo.png", "-o", tmp_path / "out", "--mask", tmp_path / "masks"
    )
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(tmp_path / "out" / "photo.png"), image, hole, FILL_LEVEL_8)


# --- polarity, alpha masks, JPEG masks, sizes -----------------------------------------------------


def test_invert_mask_makes_black_the_hole(fill_path: Path, tmp_path: Path):
    image = noise(16, 20, seed=12)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(16, 20, 3, 3, 9, 12)
    mask = mask_png(tmp_path / "m.png", ~hole)
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "--invert-mask"
    )
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(tmp_path / "out" / "a.png"), image, hole, FILL_LEVEL_8)


@pytest.mark.parametrize("kind", ["RGBA-alpha", "RGBA-opaque", "LA-alpha", "LA-opaque"])
def test_alpha_masks_from_files(fill_path: Path, tmp_path: Path, kind: str):
    image = noise(16, 20, seed=13)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(16, 20, 3, 3, 9, 12)
    white = np.where(hole, 255, 0).astype(np.uint8)
    full = np.full_like(white, 255)
    layers = {
        "RGBA-alpha": [full, full, full, white],  # a white brush on a transparent layer
        "RGBA-opaque": [white, white, white, full],
        "LA-alpha": [full, white],
        "LA-opaque": [white, full],
    }[kind]
    _save(tmp_path / "m.png", np.dstack(layers), format="PNG")
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", tmp_path / "m.png"
    )
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(tmp_path / "out" / "a.png"), image, hole, FILL_LEVEL_8)


def test_jpeg_mask_noise_near_black_is_not_a_hole(fill_path: Path, tmp_path: Path):
    image = noise(32, 40, seed=14)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(32, 40, 8, 16, 24, 32)  # on JPEG's 8-pixel blocks
    mask = np.random.default_rng(15).integers(0, 25, size=(32, 40)).astype(np.uint8)
    mask[hole] = 255
    _save(tmp_path / "m.jpg", mask, quality=80)
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", tmp_path / "m.jpg"
    )
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(tmp_path / "out" / "a.png"), image, hole, FILL_LEVEL_8)


def test_a_wrong_size_mask_fails_that_image_naming_both_sizes(fill_path: Path, tmp_path: Path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    _save(src / "big.png", noise(20, 30, seed=16))
    _save(src / "good.png", noise(20, 30, seed=17))
    mask_png(masks / "big.png", box(10, 15, 2, 2, 5, 5))
    mask_png(masks / "good.png", box(20, 30, 2, 2, 5, 5))
    result = _inpaint(fill_path, src, "-o", out, "--mask", masks)
    assert result.exit_code == 1
    line = next(x for x in result.stderr.splitlines() if "failed: " in x)
    assert str((src / "big.png").resolve()) in line
    assert "15×10" in line and "30×20" in line
    assert str((masks / "big.png").resolve()) in line
    assert "--resize-mask" in line
    assert (out / "good.png").is_file() and not (out / "big.png").exists()


def test_resize_mask_resizes_nearest_neighbour(fill_path: Path, tmp_path: Path):
    image = np.zeros((24, 36, 3), np.uint8)
    _save(tmp_path / "in" / "a.png", image)
    small = box(8, 12, 2, 3, 5, 8)
    mask = mask_png(tmp_path / "m.png", small)
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "--resize-mask"
    )
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "a.png")
    hole = np.kron(small, np.ones((3, 3), dtype=bool))
    assert np.array_equal(out.max(axis=2) > 0, hole)  # binary: exactly the blown-up mask
    _assert_filled(out, image, hole, FILL_LEVEL_8)


# --- every image kind: outside pixels exactly the input's -----------------------------------------


@pytest.mark.parametrize("model", ["cv2-telea", "cv2-ns", "fill"])
def test_sixteen_bit_png_in_sixteen_bit_png_out(fill_path: Path, tmp_path: Path, model: str):
    image = noise(20, 26, 3, np.uint16, seed=18)
    (tmp_path / "in").mkdir()
    cv2.imwrite(str(tmp_path / "in" / "deep.png"), image[:, :, ::-1])
    hole = box(20, 26, 4, 5, 12, 15)
    mask = mask_png(tmp_path / "m.png", hole)
    name = fill_path if model == "fill" else model
    result = _inpaint(name, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask)
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "deep.png")
    assert out.dtype == np.uint16 and out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])
    if model == "fill":
        _assert_filled(out, image, hole, FILL_LEVEL_16)


def test_sixteen_bit_grey_png_stays_sixteen_bit(fill_path: Path, tmp_path: Path):
    image = noise(20, 26, 1, np.uint16, seed=19)
    _save(tmp_path / "in" / "grey16.png", image)
    hole = box(20, 26, 4, 5, 12, 15)
    mask = mask_png(tmp_path / "m.png", hole)
    result = _inpaint(fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask)
    assert result.exit_code == 0, result.output
    _assert_filled(_pixels(tmp_path / "out" / "grey16.png"), image, hole, FILL_LEVEL_16)


@pytest.mark.parametrize("model", ["cv2-telea", "fill"])
def test_grey_png_stays_grey(fill_path: Path, tmp_path: Path, model: str):
    image = noise(18, 22, 1, seed=20)
    _save(tmp_path / "in" / "grey.png", image)
    hole = box(18, 22, 4, 5, 12, 15)
    mask = mask_png(tmp_path / "m.png", hole)
    name = fill_path if model == "fill" else model
    result = _inpaint(name, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "grey.png") as im:
        assert im.mode == "L"
    out = _pixels(tmp_path / "out" / "grey.png")
    assert np.array_equal(out[~hole], image[~hole])
    if model == "fill":
        _assert_filled(out, image, hole, FILL_LEVEL_8)


@pytest.mark.parametrize("model", ["cv2-telea", "fill"])
def test_rgba_png_keeps_its_alpha(fill_path: Path, tmp_path: Path, model: str):
    image = noise(18, 22, 4, seed=21)
    _save(tmp_path / "in" / "logo.png", image)
    hole = box(18, 22, 4, 5, 12, 15)
    mask = mask_png(tmp_path / "m.png", hole)
    name = fill_path if model == "fill" else model
    result = _inpaint(name, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask)
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "logo.png")
    assert out.shape == image.shape
    assert np.array_equal(out[:, :, 3], image[:, :, 3])
    assert np.array_equal(out[~hole], image[~hole])
    if model == "fill":
        _assert_filled(out, image, hole, FILL_LEVEL_8)


def _rotated(path: Path, upright: np.ndarray, orientation: int, **params: object) -> Path:
    """Save ``upright`` as a camera would: pixels stored turned, EXIF saying how to turn back."""
    # Orientation 6: turn the stored pixels 90° clockwise to view; 8: counter-clockwise.
    stored = np.rot90(upright, k=1 if orientation == 6 else -1)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return _save(path, np.ascontiguousarray(stored), exif=exif.tobytes(), **params)


@pytest.mark.parametrize(
    ("name", "orientation", "params"),
    [
        ("rotated.jpg", 6, {"quality": 95}),
        ("rotated.jpg", 8, {"quality": 95}),
        ("rotated.png", 6, {}),
        ("rotated.png", 8, {}),
        ("rotated.tif", 6, {}),
    ],
)
def test_exif_rotated_input_is_inpainted_upright(
    fill_path: Path, tmp_path: Path, name: str, orientation: int, params: dict
):
    upright = noise(40, 24, seed=22)  # 24 wide, 40 high as viewed
    source = _rotated(tmp_path / "in" / name, upright, orientation, **params)
    with Image.open(source) as im:
        if not name.endswith(".tif"):  # Pillow's TIFF loader turns the pixels itself on open
            assert im.size == (40, 24)  # stored sideways
        viewed = np.asarray(ImageOps.exif_transpose(im))
    assert viewed.shape == (40, 24, 3)
    if not name.endswith(".jpg"):
        assert np.array_equal(viewed, upright)  # the helper wrote what it meant to
    hole = box(40, 24, 2, 3, 9, 20)  # near the top of the upright picture
    mask = mask_png(tmp_path / "m.png", hole)
    out_dir = tmp_path / "out"
    result = _inpaint(fill_path, tmp_path / "in", "-o", out_dir, "--mask", mask, "--ext", "png")
    assert result.exit_code == 0, result.output
    with Image.open(out_dir / f"{Path(name).stem}.png") as im:
        assert im.size == (24, 40)
        assert im.getexif().get(ORIENTATION, 1) == 1
        out = np.asarray(im)
    _assert_filled(out, viewed, hole, FILL_LEVEL_8)


def test_exif_rotated_jpeg_with_telea_keeps_the_upright_outside(tmp_path: Path):
    upright = noise(40, 24, seed=23)
    _rotated(tmp_path / "in" / "rotated.jpg", upright, 6, quality=95)
    with Image.open(tmp_path / "in" / "rotated.jpg") as im:
        viewed = np.asarray(ImageOps.exif_transpose(im))
    hole = box(40, 24, 2, 3, 9, 20)
    mask = mask_png(tmp_path / "m.png", hole)
    result = _inpaint(
        "cv2-telea", tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "--ext", "png"
    )
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "rotated.png")
    assert out.shape == viewed.shape
    assert np.array_equal(out[~hole], viewed[~hole])
    assert not np.array_equal(out[hole], viewed[hole])


# --- output format --------------------------------------------------------------------------------


def test_output_format_follows_the_input_unless_ext(fill_path: Path, tmp_path: Path):
    src = tmp_path / "in"
    _save(src / "a.jpg", noise(16, 16, seed=24), quality=95)
    _save(src / "b.png", noise(16, 16, seed=25))
    _save(src / "c.tif", noise(16, 16, seed=26))
    mask = mask_png(tmp_path / "m.png", box(16, 16, 4, 4, 8, 8))
    result = _inpaint(fill_path, src, "-o", tmp_path / "same", "--mask", mask)
    assert result.exit_code == 0, result.output
    formats = {}
    for path in sorted((tmp_path / "same").iterdir()):
        with Image.open(path) as im:
            formats[path.name] = im.format
    assert formats == {"a.jpg": "JPEG", "b.png": "PNG", "c.tif": "TIFF"}
    result = _inpaint(fill_path, src, "-o", tmp_path / "png", "--mask", mask, "--ext", "png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["a.png", "b.png", "c.png"]
    with Image.open(tmp_path / "png" / "a.png") as im:
        assert im.format == "PNG"


def test_jpeg_input_keeps_its_format_and_the_fill(fill_path: Path, tmp_path: Path):
    image = np.full((32, 32, 3), 40, np.uint8)
    _save(tmp_path / "in" / "a.jpg", image, quality=95)
    hole = box(32, 32, 8, 8, 24, 24)
    mask = mask_png(tmp_path / "m.png", hole)
    result = _inpaint(fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask)
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "a.jpg").astype(int)
    assert np.abs(out[12:20, 12:20] - FILL_LEVEL_8).max() <= 4  # JPEG-level agreement
    assert np.abs(out[0:4, 0:4] - 40).max() <= 4


# --- dilate, feather, strategies through the CLI --------------------------------------------------


@pytest.mark.parametrize("pixels", [1, 3])
def test_dilate_paints_exactly_the_dilated_hole(fill_path: Path, tmp_path: Path, pixels: int):
    image = np.zeros((28, 32, 3), np.uint8)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(28, 32, 10, 10, 16, 20)
    mask = mask_png(tmp_path / "m.png", hole)
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "--dilate", pixels
    )
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "a.png")
    grown = dilate(hole, pixels)
    assert np.array_equal(out.max(axis=2) > 0, grown)
    near = np.zeros_like(hole)
    near[10 - pixels : 16 + pixels, 10 - pixels : 20 + pixels] = True
    assert not np.any(out[~near])  # nothing farther than N pixels from the drawn hole changed


def test_feather_keeps_the_outside_and_ramps_inside(fill_path: Path, tmp_path: Path):
    image = np.zeros((32, 32, 3), np.uint8)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(32, 32, 6, 6, 26, 26)
    mask = mask_png(tmp_path / "m.png", hole)
    result = _inpaint(
        fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "--feather", 3
    )
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "a.png")
    assert not np.any(out[~hole])
    expected = np.rint(feather_weights(hole, 3) * 0.75 * 255)
    assert np.abs(out[:, :, 0] - expected).max() <= 1
    row = out[16, 6:12, 0].astype(int)
    assert np.all(np.diff(row) >= 0) and 0 < row[0] < row[-1]
    assert abs(int(out[16, 16, 0]) - FILL_LEVEL_8) <= 1


@pytest.mark.parametrize("model", ["cv2-telea", "fill"])
@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
def test_every_strategy_keeps_the_outside(
    fill_path: Path, tmp_path: Path, model: str, strategy: str
):
    image = noise(40, 48, seed=27)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(40, 48, 4, 4, 10, 12) | box(40, 48, 26, 30, 34, 44)
    mask = mask_png(tmp_path / "m.png", hole)
    name = fill_path if model == "fill" else model
    result = _inpaint(
        name,
        tmp_path / "in",
        "-o",
        tmp_path / "out",
        "--mask",
        mask,
        "--strategy",
        strategy,
        "--crop-margin",
        4,
        "--crop-trigger",
        0,
        "--resize-limit",
        16,
    )
    assert result.exit_code == 0, result.output
    out = _pixels(tmp_path / "out" / "a.png")
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])


@pytest.mark.parametrize("model", ["cv2-telea", "fill"])
def test_full_equals_crop_with_a_margin_covering_the_image(
    fill_path: Path, tmp_path: Path, model: str
):
    image = noise(37, 43, seed=28)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(37, 43, 3, 4, 9, 12) | box(37, 43, 25, 30, 33, 41)
    mask = mask_png(tmp_path / "m.png", hole)
    name = fill_path if model == "fill" else model
    common = [tmp_path / "in", "--mask", mask]
    full = _inpaint(name, *common, "-o", tmp_path / "full", "--strategy", "full")
    crop = _inpaint(
        name, *common, "-o", tmp_path / "crop", "--strategy", "crop", "--crop-margin", 64
    )
    assert (full.exit_code, crop.exit_code) == (0, 0), full.output + crop.output
    assert np.array_equal(
        _pixels(tmp_path / "full" / "a.png"), _pixels(tmp_path / "crop" / "a.png")
    )


def test_the_fill_model_on_odd_sizes_and_grey_through_the_cli(fill_path: Path, tmp_path: Path):
    src = tmp_path / "in"
    images = {
        "odd.png": noise(17, 23, seed=29),
        "tiny.png": noise(7, 9, seed=30),
        "grey.png": noise(19, 21, 1, seed=31),
    }
    holes = {
        "odd.png": box(17, 23, 10, 15, 17, 23),
        "tiny.png": box(7, 9, 2, 2, 5, 6),
        "grey.png": box(19, 21, 3, 3, 15, 10),
    }
    for name, image in images.items():
        _save(src / name, image)
        mask_png(tmp_path / "masks" / name, holes[name])
    result = _invoke(
        "inpaint", fill_path, src, "-o", tmp_path / "out", "--mask", tmp_path / "masks"
    )
    assert result.exit_code == 0, result.output
    for name, image in images.items():
        _assert_filled(_pixels(tmp_path / "out" / name), image, holes[name], FILL_LEVEL_8)


def test_the_installed_console_script_runs_inpaint(fill_path: Path, tmp_path: Path):
    import subprocess
    import sys

    script = Path(sys.executable).parent / "ganedit"
    if not script.is_file():
        pytest.skip("the ganedit console script is not installed in this environment")
    image = noise(16, 16, seed=32)
    _save(tmp_path / "in" / "a.png", image)
    hole = box(16, 16, 4, 4, 10, 10)
    mask = mask_png(tmp_path / "m.png", hole)
    args = ["inpaint", fill_path, tmp_path / "in", "-o", tmp_path / "out", "--mask", mask, "-q"]
    done = subprocess.run(
        [str(script), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    _assert_filled(_pixels(tmp_path / "out" / "a.png"), image, hole, FILL_LEVEL_8)


def test_rerun_skips_existing_outputs(tmp_path: Path):
    _save(tmp_path / "in" / "a.png", noise(16, 16, seed=33))
    mask = mask_png(tmp_path / "m.png", box(16, 16, 4, 4, 10, 10))
    args = [tmp_path / "in", "-o", tmp_path / "out", "--mask", mask]
    assert _inpaint("cv2-ns", *args).exit_code == 0
    again = _inpaint("cv2-ns", *args)
    assert again.exit_code == 0
    assert "0 done, 1 skipped (output exists), 0 failed" in again.stderr
