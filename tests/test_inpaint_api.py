"""The Inpainter API: the OpenCV baselines and a known-answer ONNX model, on every image kind.

The invariant under test everywhere: pixels outside the (dilated) hole are the input's pixels,
bit for bit, whatever the dtype, channels, alpha, strategy or feathering.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from inpaint_helpers import FILL_LEVEL_8, FILL_LEVEL_16, box, fill_onnx, mask_png, noise, stripes
from PIL import Image

import ganedit
import ganedit.masks
from ganedit import FolderSettings, GaneditError, ImageIn, Inpainter, InpaintOptions, process_folder
from ganedit.baselines import OpenCVInpaint
from ganedit.inpaint import NetworkFiller
from ganedit.masks import MaskError, MaskSource, dilate, feather_weights, hole_from_array

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
def test_load_gives_an_inpainter_run_by_opencv(name: str):
    model = ganedit.load(name)
    assert type(model) is Inpainter
    assert model.providers == ["opencv"]
    assert model.session.is_network is False
    assert model.filler is model.session  # cv2.inpaint fills the holes itself
    assert (model.card.name, model.card.task) == (name, "inpaint")
    assert model.card.mask is not None


def test_a_baseline_session_refuses_to_run_as_a_network(telea: Inpainter):
    with pytest.raises(GaneditError, match="cv2-telea is not a network"):
        telea.session.run(np.zeros((1, 4, 8, 8), np.float32))


def test_load_onnx_inpainting_model_gives_an_inpainter(fill: Inpainter):
    assert type(fill) is Inpainter
    assert fill.card.task == "inpaint"
    assert fill.session.is_network is True
    assert isinstance(fill.filler, NetworkFiller)


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


def test_white_is_the_hole(telea: Inpainter):
    image = noise(20, 22, seed=7)
    hole = box(20, 22, 4, 5, 12, 14)
    white = np.where(hole, 255, 0).astype(np.uint8)
    by_white = telea(image, white)
    assert np.array_equal(by_white, telea(image, hole))
    assert np.array_equal(by_white[~hole], image[~hole])


def test_a_black_hole_inverted_by_the_caller_fills_the_same(telea: Inpainter):
    image = noise(20, 22, seed=7)
    hole = box(20, 22, 4, 5, 12, 14)
    black = np.where(hole, 0, 255).astype(np.uint8)
    by_black = telea(image, hole_from_array(black, invert=True))
    assert np.array_equal(by_black, telea(image, hole))


def test_a_black_hole_mask_file_read_inverted_fills_the_same(telea: Inpainter, tmp_path: Path):
    image = noise(20, 22, seed=7)
    hole = box(20, 22, 4, 5, 12, 14)
    black = mask_png(tmp_path / "black.png", ~hole)
    by_black = telea(image, MaskSource(black, invert=True).read(black))
    assert np.array_equal(by_black, telea(image, hole))


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
    out = fill.with_options(resize_mask=True)(image, small)
    hole = np.kron(small, np.ones((4, 4), dtype=bool))
    assert np.array_equal(out.max(axis=2) > 0, hole)  # the hole is exactly the blown-up mask
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


# --- begin without a mask; options ----------------------------------------------------------------


def test_begin_without_a_mask_is_a_ganedit_error(baseline: Inpainter):
    with pytest.raises(GaneditError, match="inpaint model: it needs a mask"):
        baseline.begin(ImageIn(noise(8, 8), None, np.uint8))


def test_calling_without_a_mask_is_a_ganedit_error(telea: Inpainter):
    with pytest.raises(GaneditError, match="inpaint model: it needs a mask"):
        telea(noise(8, 8))


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    """Four images with one hole each: 20x24, 18x22 (padded to 20x24 by the fill model), 28x24,
    and 20x24 again."""
    sizes = [(20, 24), (18, 22), (28, 24), (20, 24)]
    return [(noise(h, w, seed=i), box(h, w, 2 + i, 3, 9 + i, 12)) for i, (h, w) in enumerate(sizes)]


@pytest.mark.parametrize("model", ["fill", "telea"])
def test_map_over_pairs_in_batches_equals_one_at_a_time(request: pytest.FixtureRequest, model: str):
    inp: Inpainter = request.getfixturevalue(model)
    pairs = _pairs()
    outs = list(inp.map(pairs, batch_size=4))
    assert len(outs) == len(pairs)
    for (image, hole), out in zip(pairs, outs, strict=True):
        assert np.array_equal(out, inp(image, hole))


def test_map_with_masks_equals_map_over_pairs(fill: Inpainter):
    pairs = _pairs()
    images, holes = zip(*pairs, strict=True)
    by_masks = list(fill.map(images, masks=holes, batch_size=4))
    for got, expected in zip(by_masks, fill.map(pairs, batch_size=4), strict=True):
        assert np.array_equal(got, expected)


def test_map_runs_one_region_of_equal_padded_shape_in_one_network_call(
    fill: Inpainter, monkeypatch: pytest.MonkeyPatch
):
    model = fill.with_options()
    shapes: list[tuple[int, ...]] = []

    def counting(batch: np.ndarray) -> np.ndarray:
        shapes.append(batch.shape)
        return fill.run_batch(batch)

    monkeypatch.setattr(model, "run_batch", counting)
    list(model.map(_pairs(), batch_size=4))
    assert shapes == [(3, 4, 20, 24), (1, 4, 28, 24)]


def test_with_options_leaves_the_original_alone(telea: Inpainter):
    changed = telea.with_options(dilate=3, strategy="full")
    assert (changed.options.dilate, changed.options.strategy) == (3, "full")
    assert (telea.options.dilate, telea.options.strategy) == (0, "crop")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dilate": -1}, r"dilate, feather and crop_margin must be >= 0, got -1, 0, None"),
        ({"feather": -2}, r"dilate, feather and crop_margin must be >= 0, got 0, -2, None"),
        ({"crop_margin": -1}, r"dilate, feather and crop_margin must be >= 0, got 0, 0, -1"),
        ({"crop_trigger": -1}, r"crop_trigger must be >= 0, got -1"),
        ({"resize_limit": 8}, r"resize_limit must be >= 16, got 8"),
        ({"strategy": "x"}, r"strategy must be 'crop', 'resize' or 'full', got 'x'"),
    ],
    ids=["dilate", "feather", "crop_margin", "crop_trigger", "resize_limit", "strategy"],
)
def test_bad_options_raise_value_error(changes: dict, message: str):
    with pytest.raises(ValueError, match=message):
        InpaintOptions(**changes)


def test_unknown_opencv_method_is_a_ganedit_error():
    with pytest.raises(
        GaneditError, match=r"unknown OpenCV inpainting method 'cv2-magic'.*cv2-telea"
    ):
        OpenCVInpaint("cv2-magic")


@pytest.mark.parametrize(("model", "margin"), [("telea", 16), ("fill", 128)])
def test_crop_margin_none_is_the_fillers_own_margin(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, model: str, margin: int
):
    inp: Inpainter = request.getfixturevalue(model)
    assert inp.options.crop_margin is None
    seen: list[tuple[int, ...]] = []
    prepare = inp.filler.prepare

    def spy(unit: np.ndarray, hole: np.ndarray):
        seen.append(unit.shape)
        return prepare(unit, hole)

    monkeypatch.setattr(inp.filler, "prepare", spy)
    inp.with_options(crop_trigger=0)(noise(300, 300, seed=5), box(300, 300, 140, 140, 152, 152))
    # A 12-pixel hole with the margin on every side (a multiple of 4: no widening).
    assert seen == [(12 + 2 * margin, 12 + 2 * margin, 3)]
    assert inp.filler.default_margin == margin


@pytest.mark.parametrize(("model", "trigger"), [("telea", 0), ("fill", 800)])
def test_crop_runs_images_up_to_the_fillers_trigger_whole(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, model: str, trigger: int
):
    inp: Inpainter = request.getfixturevalue(model)
    assert inp.options.crop_trigger is None and inp.filler.default_trigger == trigger
    seen: list[tuple[int, ...]] = []
    prepare = inp.filler.prepare

    def spy(unit: np.ndarray, hole: np.ndarray):
        seen.append(unit.shape)
        return prepare(unit, hole)

    monkeypatch.setattr(inp.filler, "prepare", spy)
    for width in (800, 801):  # at the networks' trigger, then one pixel longer
        inp(noise(20, width, seed=6), box(20, width, 8, 150, 12, 158))
    # Cropped: the hole's 8 columns and the margin on each side, all 20 rows (the image's).
    cropped = (20, 8 + 2 * inp.filler.default_margin, 3)
    assert seen == ([cropped, cropped] if trigger == 0 else [(20, 800, 3), cropped])


def test_an_explicit_crop_trigger_overrides_the_fillers(
    fill: Inpainter, monkeypatch: pytest.MonkeyPatch
):
    seen: list[tuple[int, ...]] = []
    prepare = fill.filler.prepare
    monkeypatch.setattr(
        fill.filler, "prepare", lambda unit, hole: seen.append(unit.shape) or prepare(unit, hole)
    )
    image, hole = noise(40, 60, seed=7), box(40, 60, 10, 10, 14, 14)
    fill.with_options(crop_trigger=59, crop_margin=4)(image, hole)
    fill.with_options(crop_trigger=60, crop_margin=4)(image, hole)
    assert seen == [(12, 12, 3), (40, 60, 3)]


# --- dilate and feather ---------------------------------------------------------------------------


@pytest.mark.parametrize("pixels", [1, 3])
def test_dilate_changes_pixels_within_n_and_none_farther(telea: Inpainter, pixels: int):
    image = stripes(32, 32)
    hole = box(32, 32, 12, 12, 18, 20)
    out = telea.with_options(dilate=pixels)(image, hole)
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
    out = fill.with_options(dilate=pixels)(image, hole)
    changed = out.max(axis=2) > 0
    assert np.array_equal(changed, dilate(hole, pixels))


@pytest.mark.parametrize("pixels", [2, 5])
def test_feather_keeps_the_outside_and_ramps_inside(fill: Inpainter, pixels: int):
    image = np.zeros((40, 40, 3), np.uint8)
    hole = box(40, 40, 8, 8, 32, 32)
    out = fill.with_options(feather=pixels)(image, hole)
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
    out = baseline.with_options(feather=3)(image, hole)
    assert np.array_equal(out[~hole], image[~hole])


def test_dilate_and_feather_together_keep_outside_the_dilated_hole(baseline: Inpainter):
    image = noise(32, 32, seed=10)
    hole = box(32, 32, 10, 10, 20, 20)
    out = baseline.with_options(dilate=2, feather=2)(image, hole)
    grown = dilate(hole, 2)
    assert np.array_equal(out[~grown], image[~grown])


# --- strategies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_strategy_keeps_the_outside(baseline: Inpainter, strategy: str, dtype: type):
    image = noise(40, 52, 3, dtype, seed=11)
    hole = box(40, 52, 5, 6, 12, 14) | box(40, 52, 28, 36, 34, 47)
    # resize_limit 16 makes "resize" really shrink; crop_margin 4 (and no trigger) makes
    # "crop" really crop.
    options = {"resize_limit": 16, "crop_margin": 4, "crop_trigger": 0}
    out = baseline.with_options(strategy=strategy, **options)(image, hole)
    assert out.dtype == image.dtype
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])


@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
def test_every_strategy_with_the_fill_model(fill: Inpainter, strategy: str):
    image = noise(40, 52, seed=12)
    hole = box(40, 52, 4, 4, 36, 30) | box(40, 52, 28, 36, 34, 47)
    options = {"resize_limit": 16, "crop_margin": 4, "crop_trigger": 0}
    out = fill.with_options(strategy=strategy, **options)(image, hole)
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
    full = fill.with_options(strategy="full")(image, hole)
    crop = fill.with_options(strategy="crop", crop_margin=64)(image, hole)
    assert np.array_equal(full, crop)


def test_full_and_crop_covering_the_image_agree_for_telea(telea: Inpainter):
    image = noise(37, 45, seed=13)
    hole = box(37, 45, 3, 4, 9, 12) | box(37, 45, 25, 30, 33, 41)
    full = telea.with_options(strategy="full")(image, hole)
    crop = telea.with_options(strategy="crop", crop_margin=64)(image, hole)
    assert np.array_equal(full, crop)


def test_resize_on_an_image_within_the_limit_is_full(telea: Inpainter):
    image = noise(30, 30, seed=14)
    hole = box(30, 30, 10, 10, 20, 20)
    resized = telea.with_options(strategy="resize", resize_limit=64)(image, hole)
    assert np.array_equal(resized, telea.with_options(strategy="full")(image, hole))


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
    out = fill.with_options(strategy="full")(image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert np.all(np.abs(out[hole].astype(int) - FILL_LEVEL_8) <= 1)


@pytest.mark.parametrize(
    ("height", "width", "row_mode", "col_mode"),
    [
        (6, 18, "edge", "reflect"),  # 10 rows added to 6: edge; 2 columns added to 18: mirror
        (18, 6, "reflect", "edge"),
        (5, 7, "edge", "edge"),
        (17, 23, "reflect", "reflect"),
    ],
)
def test_network_input_pads_each_axis_by_the_codec_rule_and_the_mask_by_its_edge(
    fill: Inpainter,
    monkeypatch: pytest.MonkeyPatch,
    height: int,
    width: int,
    row_mode: str,
    col_mode: str,
):
    """The fill model pads to a multiple of 4, at least 16: each image axis is mirrored where
    fewer pixels are added than it has, else its edge repeats; the mask plane always repeats its
    edge, so a hole touching the border stays a hole in the padding."""
    model = fill.with_options()
    fed: list[np.ndarray] = []

    def spy(batch: np.ndarray) -> np.ndarray:
        fed.append(batch.copy())
        return fill.run_batch(batch)

    monkeypatch.setattr(model, "run_batch", spy)
    image = noise(height, width, seed=height + width)
    hole = box(height, width, height // 2, width // 2, height, width)  # the bottom-right corner
    model(image, hole)

    padded_h, padded_w = max(-(-height // 4) * 4, 16), max(-(-width // 4) * 4, 16)
    rows, cols = ((0, 0), (0, padded_h - height), (0, 0)), ((0, 0), (0, 0), (0, padded_w - width))
    pixels = (image.astype(np.float32) / 255 * 2 - 1) * ~hole[:, :, None]  # [-1, 1], hole zeroed
    pixels = np.pad(np.pad(pixels.transpose(2, 0, 1), rows, mode=row_mode), cols, mode=col_mode)
    mask = np.pad(hole[None].astype(np.float32), rows, mode="edge")
    mask = np.pad(mask, cols, mode="edge")
    (batch,) = fed
    assert batch.shape == (1, 4, padded_h, padded_w)
    np.testing.assert_allclose(batch[0, :3], pixels, atol=1e-6)
    np.testing.assert_array_equal(batch[0, 3], mask[0])


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


def test_process_folder_with_an_inverted_mask_folder(fill: Inpainter, tmp_path: Path):
    folder, masks = tmp_path / "in", tmp_path / "masks"
    image, hole = noise(16, 20, seed=3), box(16, 20, 4, 5, 11, 14)
    folder.mkdir()
    Image.fromarray(image).save(folder / "a.png")
    mask_png(masks / "a.png", ~hole)  # black is the hole
    report = process_folder(fill, [folder], tmp_path / "out", masks=MaskSource(masks, invert=True))
    assert (report.done, report.exit_code) == (1, 0)
    with Image.open(tmp_path / "out" / "a.png") as im:
        got = np.asarray(im)
    assert np.array_equal(got[~hole], image[~hole])
    assert np.all(np.abs(got[hole].astype(int) - FILL_LEVEL_8) <= 1)


def test_process_folder_lists_each_mask_folder_once(
    telea: Inpainter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder, masks = tmp_path / "in", tmp_path / "masks"
    for rel in ("a.png", "b.png", "c.png", "sub/d.png", "sub/e.png"):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(noise(8, 8)).save(folder / rel)
        mask_png(masks / rel, box(8, 8, 2, 2, 5, 5))
    listed: list[Path] = []
    images_in = ganedit.masks._images_in

    def spy(where: Path):
        listed.append(where)
        return images_in(where)

    monkeypatch.setattr(ganedit.masks, "_images_in", spy)
    settings = FolderSettings(recursive=True)
    report = process_folder(telea, [folder], tmp_path / "out", masks=masks, settings=settings)
    assert report.done == 5
    assert sorted(listed) == [masks.resolve(), masks.resolve() / "sub"]


@pytest.mark.parametrize(
    ("mask", "reason"),
    [("missing", r"no mask for b\.png"), ("unreadable", r"mask .*b\.png")],
)
def test_process_folder_fails_only_the_image_whose_mask_is_bad(
    fill: Inpainter, tmp_path: Path, mask: str, reason: str
):
    folder, masks = tmp_path / "in", tmp_path / "masks"
    folder.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(noise(16, 16, seed=len(name))).save(folder / f"{name}.png")
        if name != "b":
            mask_png(masks / f"{name}.png", box(16, 16, 2, 2, 6, 6))
    if mask == "unreadable":
        (masks / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")
    report = process_folder(fill, [folder], tmp_path / "out", masks=masks)
    assert (report.done, report.exit_code) == (2, 1)
    (failure,) = report.failed
    assert failure.source.name == "b.png"
    assert re.search(reason, failure.reason)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
