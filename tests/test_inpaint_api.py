"""The Inpainter API: the OpenCV baselines and a known-answer ONNX model, on every image kind.

The invariant under test everywhere: pixels outside the (dilated) hole are the input's pixels,
bit for bit, whatever the dtype, channels, alpha, strategy or feathering.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from inpaint_helpers import FILL_LEVEL_8, FILL_LEVEL_16, box, fill_onnx, noise, stripes
from PIL import Image

import ganedit
from ganedit import (
    FolderSettings,
    GaneditError,
    Inpainter,
    InpaintOptions,
    OpenCVInpainter,
    process_folder,
)
from ganedit.masks import MaskError, MaskSource, dilate, feather_weights

BASELINES = ["cv2-telea", "cv2-ns"]


@pytest.fixture(scope="module", params=BASELINES)
def baseline(request: pytest.FixtureRequest) -> Inpainter:
    return ganedit.load(request.param)


@pytest.fixture(scope="module")
def telea() -> Inpainter:
    return ganedit.load("cv2-telea")


@pytest.fixture(scope="session")
def fill_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    return fill_onnx(tmp_path_factory)


@pytest.fixture(scope="session")
def fill(fill_path: Path) -> Inpainter:
    return ganedit.load(fill_path, device="cpu")


def _smooth_ramp(height: int, width: int, dtype: type) -> np.ndarray:
    """A horizontal ramp of ``(H, W, 3)``, channels offset, with values between 8-bit levels at
    16 bits (so the 16-bit path is really taken)."""
    full = np.iinfo(dtype).max
    xx = np.mgrid[:height, :width][1] / (width - 1)
    planes = [0.15 + 0.7 * xx, 0.85 - 0.7 * xx, 0.3 + 0.3 * xx]
    return np.rint(np.stack(planes, axis=2) * full + 0.37 * (dtype == np.uint16)).astype(dtype)


# --- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", BASELINES)
def test_load_gives_an_opencv_inpainter(name: str):
    model = ganedit.load(name)
    assert isinstance(model, OpenCVInpainter) and isinstance(model, Inpainter)
    assert (model.card.name, model.card.task) == (name, "inpaint")
    assert model.card.mask is not None


def test_load_onnx_inpainting_model_gives_an_inpainter(fill: Inpainter):
    assert type(fill) is Inpainter
    assert fill.card.task == "inpaint"


# --- kinds, dtypes, channels ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 2, 3, 4], ids=["grey", "grey-alpha", "rgb", "rgba"])
def test_array_keeps_dtype_shape_and_outside_pixels(
    baseline: Inpainter, dtype: type, channels: int
):
    if dtype == np.float32:
        image = np.random.default_rng(1).random((20, 24, channels), dtype=np.float32)
        image = image[:, :, 0] if channels == 1 else image
    else:
        image = noise(20, 24, channels, dtype)  # (H, W) for grey
    hole = box(20, 24, 5, 6, 11, 15)
    out = baseline(image, hole)
    assert out.dtype == image.dtype and out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])


@pytest.mark.parametrize("channels", [2, 4])
def test_alpha_is_the_inputs_alpha_even_in_the_hole(baseline: Inpainter, channels: int):
    image = noise(16, 18, channels, np.uint8, seed=4)
    hole = box(16, 18, 3, 3, 12, 12)
    out = baseline(image, hole)
    assert np.array_equal(out[:, :, -1], image[:, :, -1])


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_pil_image_comes_back_in_its_mode(baseline: Inpainter, mode: str):
    channels = len(mode)
    image = Image.fromarray(noise(18, 20, channels, np.uint8, seed=2).squeeze(), mode=mode)
    hole = box(18, 20, 4, 4, 10, 12)
    out = baseline(image, hole)
    assert isinstance(out, Image.Image)
    assert (out.mode, out.size) == (mode, image.size)
    got, given = np.asarray(out), np.asarray(image)
    assert np.array_equal(got[~hole], given[~hole])
    assert not np.array_equal(got[hole], given[hole])


def test_pil_sixteen_bit_grey_comes_back_sixteen_bit(telea: Inpainter):
    image = Image.fromarray(noise(18, 20, 1, np.uint16, seed=2))
    assert image.mode == "I;16"
    hole = box(18, 20, 4, 4, 10, 12)
    out = telea(image, hole)
    assert out.mode == "I;16"
    assert np.array_equal(np.asarray(out)[~hole], np.asarray(image)[~hole])


def test_sixteen_bit_rgb_array_keeps_all_sixteen_bits_outside(baseline: Inpainter):
    image = _smooth_ramp(24, 32, np.uint16)
    assert np.any(image % 257 != 0)
    hole = box(24, 32, 8, 10, 16, 22)
    out = baseline(image, hole)
    assert out.dtype == np.uint16
    assert np.array_equal(out[~hole], image[~hole])


# --- the hole is filled ---------------------------------------------------------------------------

_SMOOTH_CASES = [
    pytest.param("cv2-telea", "rgb8", id="telea-rgb8"),
    pytest.param("cv2-ns", "rgb8", id="ns-rgb8"),
    pytest.param("cv2-ns", "grey8", id="ns-grey8"),
    pytest.param("cv2-ns", "rgb16", id="ns-rgb16"),
    pytest.param("cv2-telea", "grey8", id="telea-grey8"),
    pytest.param("cv2-telea", "rgb16", id="telea-rgb16"),
]


@pytest.mark.parametrize(("name", "kind"), _SMOOTH_CASES)
def test_a_hole_over_sharp_stripes_is_filled_smoothly_from_the_surroundings(name: str, kind: str):
    """Stripes under the hole, a smooth ramp around it: the fill follows the ramp."""
    dtype = np.uint16 if kind == "rgb16" else np.uint8
    full = np.iinfo(dtype).max
    ramp = _smooth_ramp(32, 40, dtype)
    hole = box(32, 40, 10, 14, 22, 26)
    image = ramp.copy()
    image[hole] = stripes(32, 40, 3, dtype)[hole]
    if kind == "grey8":
        ramp, image = ramp[:, :, 0], image[:, :, 0]
    out = ganedit.load(name)(image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    error = np.abs(out.astype(np.float64) - ramp)[hole] / full
    assert error.max() < 0.2, f"the fill is {error.max() * 255:.0f} levels from the ramp"
    inside = out[10:22, 14:26].astype(np.float64) / full
    assert np.abs(np.diff(inside, axis=1)).mean() < 0.05  # no stripes left


def test_no_hole_returns_the_input(baseline: Inpainter):
    image = noise(12, 12)
    out = baseline(image, np.zeros((12, 12), bool))
    assert np.array_equal(out, image)


# --- masks: polarity, kinds, sizes ----------------------------------------------------------------


def test_white_is_the_hole_and_invert_mask_flips_it(telea: Inpainter):
    image = noise(20, 22, seed=7)
    hole = box(20, 22, 4, 5, 12, 14)
    white = np.where(hole, 255, 0).astype(np.uint8)
    by_white = telea(image, white)
    assert np.array_equal(by_white, telea(image, hole))
    assert np.array_equal(by_white[~hole], image[~hole])
    by_black = telea(image, 255 - white, invert_mask=True)
    assert np.array_equal(by_black, by_white)


def test_invert_mask_option_on_the_model(telea: Inpainter):
    image = noise(20, 22, seed=7)
    hole = box(20, 22, 4, 5, 12, 14)
    inverted = telea.with_options(invert_mask=True)
    assert np.array_equal(inverted(image, ~hole), telea(image, hole))


@pytest.mark.parametrize("kind", ["1", "L", "RGB", "RGBA-alpha", "RGBA-opaque", "LA-alpha"])
def test_pil_masks_of_any_mode(telea: Inpainter, kind: str):
    image = noise(16, 20, seed=3)
    hole = box(16, 20, 3, 4, 10, 12)
    white = np.where(hole, 255, 0).astype(np.uint8)
    if kind == "1":
        mask = Image.fromarray(white).convert("1")
    elif kind == "L":
        mask = Image.fromarray(white)
    elif kind == "RGB":
        mask = Image.fromarray(np.dstack([white, 0 * white, 0 * white]))
    elif kind == "RGBA-alpha":
        mask = Image.fromarray(np.dstack([np.full_like(white, 255)] * 3 + [white]), mode="RGBA")
    elif kind == "RGBA-opaque":
        mask = Image.fromarray(np.dstack([white] * 3 + [np.full_like(white, 255)]), mode="RGBA")
    else:
        mask = Image.fromarray(np.dstack([np.full_like(white, 255), white]), mode="LA")
    assert np.array_equal(telea(image, mask), telea(image, hole))


def test_a_mask_of_another_type_is_a_type_error(telea: Inpainter):
    with pytest.raises(TypeError, match="mask"):
        telea(noise(8, 8), [[0] * 8] * 8)


def test_a_wrong_size_mask_names_both_sizes(telea: Inpainter):
    with pytest.raises(MaskError, match=r"10×8.*24×20"):
        telea(noise(20, 24), box(8, 10, 1, 1, 4, 4))


def test_resize_mask_is_nearest_neighbour(fill: Inpainter):
    image = np.zeros((24, 32, 3), np.uint8)
    small = box(6, 8, 1, 2, 4, 5)
    out = fill(image, small, resize_mask=True)
    hole = np.kron(small, np.ones((4, 4), dtype=bool))
    assert np.array_equal(out.max(axis=2) > 0, hole)  # the hole is exactly the blown-up mask
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


# --- begin without a mask; options ----------------------------------------------------------------


def test_begin_without_a_mask_is_a_ganedit_error(baseline: Inpainter):
    with pytest.raises(GaneditError, match="needs a mask"):
        baseline.begin(noise(8, 8), None, np.dtype(np.uint8))


def test_calling_without_a_mask_is_a_type_error(telea: Inpainter):
    with pytest.raises(TypeError):
        telea(noise(8, 8))  # type: ignore[call-arg]


def test_map_runs_over_image_mask_pairs(telea: Inpainter):
    pairs = [(noise(12, 12, seed=s), box(12, 12, s, s, s + 4, s + 4)) for s in range(3)]
    outs = list(telea.map(pairs))
    assert len(outs) == 3
    for (image, hole), out in zip(pairs, outs, strict=True):
        assert np.array_equal(out, telea(image, hole))


def test_with_options_leaves_the_original_alone(telea: Inpainter):
    changed = telea.with_options(dilate=3, strategy="full")
    assert (changed.options.dilate, changed.options.strategy) == (3, "full")
    assert (telea.options.dilate, telea.options.strategy) == (0, "crop")


@pytest.mark.parametrize(
    "changes",
    [{"dilate": -1}, {"feather": -2}, {"crop_margin": -1}, {"resize_limit": 8}, {"strategy": "x"}],
)
def test_bad_options_raise_value_error(changes: dict):
    with pytest.raises(ValueError):
        InpaintOptions(**changes)


def test_unknown_opencv_method_is_a_ganedit_error():
    with pytest.raises(GaneditError, match="cv2-telea"):
        OpenCVInpainter("cv2-magic")


# --- dilate and feather ---------------------------------------------------------------------------


@pytest.mark.parametrize("pixels", [1, 3])
def test_dilate_changes_pixels_within_n_and_none_farther(telea: Inpainter, pixels: int):
    image = stripes(32, 32)
    hole = box(32, 32, 12, 12, 18, 20)
    out = telea(image, hole, dilate=pixels)
    grown = dilate(hole, pixels)
    assert np.array_equal(out[~grown], image[~grown])
    assert not np.array_equal(out[grown & ~hole], image[grown & ~hole])  # the ring changed
    # The same as drawing the dilated hole by hand.
    assert np.array_equal(out, telea(image, grown))
    # Nothing farther than N pixels (in any direction) from the drawn hole changed.
    near = np.zeros_like(hole)
    near[12 - pixels : 18 + pixels, 12 - pixels : 20 + pixels] = True
    assert np.array_equal(out[~near], image[~near])


@pytest.mark.parametrize("pixels", [0, 2, 4])
def test_dilate_with_the_fill_model_paints_exactly_the_dilated_hole(fill: Inpainter, pixels: int):
    image = np.zeros((32, 36, 3), np.uint8)
    hole = box(32, 36, 10, 12, 16, 20)
    out = fill(image, hole, dilate=pixels)
    changed = out.max(axis=2) > 0
    assert np.array_equal(changed, dilate(hole, pixels))


@pytest.mark.parametrize("pixels", [2, 5])
def test_feather_keeps_the_outside_and_ramps_inside(fill: Inpainter, pixels: int):
    image = np.zeros((40, 40, 3), np.uint8)
    hole = box(40, 40, 8, 8, 32, 32)
    out = fill(image, hole, feather=pixels)
    assert np.array_equal(out[~hole], image[~hole])
    weights = feather_weights(hole, pixels)
    expected = np.rint(weights * 0.75 * 255)
    assert np.abs(out[:, :, 0].astype(float) - expected).max() <= 1
    assert abs(int(out[20, 20, 0]) - FILL_LEVEL_8) <= 1  # deep inside: the model's value
    border = out[20, 8, 0]
    assert 0 < border < FILL_LEVEL_8 - 1  # at the edge: part input, part model
    assert np.all(np.diff(out[20, 8 : 8 + pixels + 2, 0].astype(int)) >= 0)


def test_feather_with_a_baseline_keeps_the_outside(baseline: Inpainter):
    image = noise(32, 32, seed=9)
    hole = box(32, 32, 8, 8, 24, 24)
    out = baseline(image, hole, feather=3)
    assert np.array_equal(out[~hole], image[~hole])


def test_dilate_and_feather_together_keep_outside_the_dilated_hole(baseline: Inpainter):
    image = noise(32, 32, seed=10)
    hole = box(32, 32, 10, 10, 20, 20)
    out = baseline(image, hole, dilate=2, feather=2)
    grown = dilate(hole, 2)
    assert np.array_equal(out[~grown], image[~grown])


# --- strategies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_strategy_keeps_the_outside(baseline: Inpainter, strategy: str, dtype: type):
    image = noise(40, 52, 3, dtype, seed=11)
    hole = box(40, 52, 5, 6, 12, 14) | box(40, 52, 28, 36, 34, 47)
    # resize_limit 16 makes "resize" really shrink; crop_margin 4 makes "crop" really crop.
    out = baseline(image, hole, strategy=strategy, resize_limit=16, crop_margin=4)
    assert out.dtype == image.dtype
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])


@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
def test_every_strategy_with_the_fill_model(fill: Inpainter, strategy: str):
    image = noise(40, 52, seed=12)
    hole = box(40, 52, 4, 4, 36, 30) | box(40, 52, 28, 36, 34, 47)
    out = fill(image, hole, strategy=strategy, resize_limit=16, crop_margin=4)
    assert np.array_equal(out[~hole], image[~hole])
    if strategy == "resize":
        # Shrunk to 16 px and blown up again, the noise around bleeds into the hole's edge
        # and the resampling kernel rings a little; well inside, the fill's value holds.
        assert np.all(np.abs(out[14:26, 10:24].astype(int) - FILL_LEVEL_8) <= 3)
    else:
        assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


def test_full_and_crop_covering_the_image_agree_for_the_fill_model(fill: Inpainter):
    image = noise(37, 45, seed=13)
    hole = box(37, 45, 3, 4, 9, 12) | box(37, 45, 25, 30, 33, 41)
    full = fill(image, hole, strategy="full")
    crop = fill(image, hole, strategy="crop", crop_margin=64)
    assert np.array_equal(full, crop)


def test_full_and_crop_covering_the_image_agree_for_telea(telea: Inpainter):
    image = noise(37, 45, seed=13)
    hole = box(37, 45, 3, 4, 9, 12) | box(37, 45, 25, 30, 33, 41)
    full = telea(image, hole, strategy="full")
    crop = telea(image, hole, strategy="crop", crop_margin=64)
    assert np.array_equal(full, crop)


def test_resize_on_an_image_within_the_limit_is_full(telea: Inpainter):
    image = noise(30, 30, seed=14)
    hole = box(30, 30, 10, 10, 20, 20)
    resized = telea(image, hole, strategy="resize", resize_limit=64)
    assert np.array_equal(resized, telea(image, hole, strategy="full"))


# --- the ONNX model -------------------------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), [(16, 16), (17, 23), (5, 7), (33, 16), (20, 61)])
def test_fill_model_on_any_size_paints_the_known_value(fill: Inpainter, height: int, width: int):
    image = noise(height, width, seed=height * width)
    hole = box(height, width, 1, 2, height - 1, width - 2)
    out = fill(image, hole)
    assert out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


def test_fill_model_hole_on_the_padding_edge(fill: Inpainter):
    """A hole touching the bottom-right corner of an odd-size image: the padding is cut off."""
    image = noise(19, 21, seed=15)
    hole = box(19, 21, 12, 14, 19, 21)
    out = fill(image, hole, strategy="full")
    assert np.array_equal(out[~hole], image[~hole])
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


@pytest.mark.parametrize("as_pil", [False, True])
def test_fill_model_on_grey_through_a_three_channel_model(fill: Inpainter, as_pil: bool):
    grey = noise(18, 22, 1, seed=16)
    hole = box(18, 22, 4, 4, 12, 14)
    out = fill(Image.fromarray(grey) if as_pil else grey, hole)
    got = np.asarray(out)
    assert got.shape == (18, 22)
    assert np.array_equal(got[~hole], grey[~hole])
    assert np.all(np.abs(got[hole].astype(int) - FILL_LEVEL_8) <= 1)


def test_fill_model_sixteen_bit(fill: Inpainter):
    image = noise(18, 22, 3, np.uint16, seed=17)
    hole = box(18, 22, 4, 4, 12, 14)
    out = fill(image, hole)
    assert out.dtype == np.uint16
    assert np.array_equal(out[~hole], image[~hole])
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_16) <= 2)


def test_fill_model_rgba_keeps_alpha(fill: Inpainter):
    image = noise(18, 22, 4, seed=18)
    hole = box(18, 22, 4, 4, 12, 14)
    out = fill(image, hole)
    assert np.array_equal(out[:, :, 3], image[:, :, 3])
    assert np.array_equal(out[~hole], image[~hole])
    assert np.all(np.abs(out[hole][:, :3].astype(int) - FILL_LEVEL_8) <= 1)


def test_fill_model_float_image(fill: Inpainter):
    image = np.random.default_rng(19).random((18, 22, 3), dtype=np.float32)
    hole = box(18, 22, 4, 4, 12, 14)
    out = fill(image, hole)
    assert out.dtype == np.float32
    assert np.array_equal(out[~hole], image[~hole])
    assert np.allclose(out[hole], 0.75, atol=1e-5)


# --- process_folder -------------------------------------------------------------------------------


def test_process_folder_with_masks_for_a_translator_is_an_error(resnet_translator, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(noise(16, 16)).save(folder / "a.png")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(GaneditError, match="not an inpainting model"):
        process_folder(resnet_translator, [folder], tmp_path / "out", masks=tmp_path / "m.png")


def test_process_folder_without_masks_for_an_inpainter_is_an_error(
    telea: Inpainter, tmp_path: Path
):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(noise(16, 16)).save(folder / "a.png")
    with pytest.raises(GaneditError, match="needs masks"):
        process_folder(telea, [folder], tmp_path / "out")


def test_process_folder_with_a_missing_mask_path_is_an_error(telea: Inpainter, tmp_path: Path):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(noise(16, 16)).save(folder / "a.png")
    with pytest.raises(GaneditError, match="does not exist"):
        process_folder(telea, [folder], tmp_path / "out", masks=tmp_path / "nowhere")


@pytest.mark.parametrize("as_source", [False, True])
def test_process_folder_with_a_mask_folder(fill: Inpainter, tmp_path: Path, as_source: bool):
    folder, masks = tmp_path / "in", tmp_path / "masks"
    folder.mkdir()
    masks.mkdir()
    holes = {"a": box(16, 20, 2, 2, 6, 6), "b": box(16, 20, 8, 10, 14, 18)}
    for name, hole in holes.items():
        Image.fromarray(noise(16, 20, seed=len(name))).save(folder / f"{name}.png")
        Image.fromarray(np.where(hole, 255, 0).astype(np.uint8)).save(masks / f"{name}.png")
    given = MaskSource(masks) if as_source else masks
    report = process_folder(
        fill, [folder], tmp_path / "out", masks=given, settings=FolderSettings(workers=1)
    )
    assert (report.done, report.exit_code) == (2, 0)
    for name, hole in holes.items():
        with (
            Image.open(folder / f"{name}.png") as src,
            Image.open(tmp_path / "out" / f"{name}.png") as im,
        ):
            got, given_px = np.asarray(im), np.asarray(src)
        assert np.array_equal(got[~hole], given_px[~hole])
        assert np.all(np.abs(got[hole].astype(int) - FILL_LEVEL_8) <= 1)
