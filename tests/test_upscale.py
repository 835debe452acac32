"""The Upscaler on tiny real ESRGAN-family models: kinds, sizes, depths, alpha, tiling, OOM."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")

from upscale_helpers import exported_models, levels, photo, to_uint8  # noqa: E402

import ganedit  # noqa: E402
from ganedit import UpscaleOptions, Upscaler  # noqa: E402
from ganedit.resize import outscale_size, resize_float  # noqa: E402
from ganedit.tiling import tile_grid  # noqa: E402

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@pytest.fixture(scope="session")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return exported_models(tmp_path_factory)


@pytest.fixture(scope="session")
def rrdb_x4(sr_models: dict[str, Path]) -> Upscaler:
    model = ganedit.load(sr_models["rrdb_x4"], device="cpu")
    assert isinstance(model, Upscaler)
    return model


@pytest.fixture(scope="session")
def rrdb_x2(sr_models: dict[str, Path]) -> Upscaler:
    return ganedit.load(sr_models["rrdb_x2"], device="cpu")


@pytest.fixture(scope="session")
def srvgg_x4(sr_models: dict[str, Path]) -> Upscaler:
    return ganedit.load(sr_models["srvgg_x4"], device="cpu")


@pytest.fixture(scope="session")
def models(rrdb_x4: Upscaler, rrdb_x2: Upscaler, srvgg_x4: Upscaler) -> dict[str, Upscaler]:
    return {"rrdb_x4": rrdb_x4, "rrdb_x2": rrdb_x2, "srvgg_x4": srvgg_x4}


def _torch_reference(checkpoint_model: Upscaler, image: np.ndarray) -> np.ndarray:
    """The torch network behind ``checkpoint_model`` on ``(H, W, 3)`` floats, clipped."""
    from ganedit.archs import load_generator

    net = load_generator(checkpoint_model.card.source).module.eval()
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))[None]))
    return np.clip(out[0].numpy().transpose(1, 2, 0), 0.0, 1.0)


# --- kinds, sizes and dtypes ------------------------------------------------------------------


def test_loads_as_upscaler_with_the_checkpoint_scale(models: dict[str, Upscaler]) -> None:
    assert {name: (m.card.task, m.card.scale) for name, m in models.items()} == {
        "rrdb_x4": ("upscale", 4),
        "rrdb_x2": ("upscale", 2),
        "srvgg_x4": ("upscale", 4),
    }


@pytest.mark.parametrize("name", ["rrdb_x4", "rrdb_x2", "srvgg_x4"])
def test_pil_rgb_in_gives_pil_rgb_scale_times_larger(
    models: dict[str, Upscaler], name: str
) -> None:
    model = models[name]
    out = model(Image.fromarray(to_uint8(photo(24, 30))))
    assert isinstance(out, Image.Image)
    assert out.mode == "RGB"
    assert out.size == (30 * model.card.scale, 24 * model.card.scale)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_array_in_gives_array_of_the_same_dtype(rrdb_x4: Upscaler, dtype: type) -> None:
    unit = photo(20, 26)
    if np.issubdtype(dtype, np.integer):
        image = np.rint(unit * np.iinfo(dtype).max).astype(dtype)
    else:
        image = unit.astype(dtype)
    out = rrdb_x4(image)
    assert isinstance(out, np.ndarray)
    assert out.dtype == dtype
    assert out.shape == (80, 104, 3)
    if np.issubdtype(dtype, np.floating):
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_array_result_matches_the_torch_network(rrdb_x4: Upscaler) -> None:
    image = photo(32, 40)
    out = rrdb_x4.with_options(tile=0)(image)
    assert np.abs(out - _torch_reference(rrdb_x4, image)).max() < 1e-4


def test_uint16_keeps_all_sixteen_bits_and_agrees_with_uint8(rrdb_x4: Upscaler) -> None:
    unit = photo(20, 26)
    deep = rrdb_x4(np.rint(unit * 65535).astype(np.uint16))
    shallow = rrdb_x4(to_uint8(unit))
    assert np.any(deep % 257 != 0)  # not 8-bit values stretched to 16 bits
    assert len(np.unique(deep)) > len(np.unique(shallow))
    assert levels(to_uint8(deep / 65535.0), shallow) <= 1


@pytest.mark.parametrize("outscale", [2.5, 1.5, 0.75, 3.3])
def test_outscale_gives_the_rounded_size(rrdb_x4: Upscaler, outscale: float) -> None:
    out = rrdb_x4.with_options(outscale=outscale)(to_uint8(photo(21, 30)))
    assert out.shape == (round(21 * outscale), round(30 * outscale), 3)


def test_outscale_resizes_the_network_result_in_float(rrdb_x4: Upscaler) -> None:
    image = photo(21, 30)
    out = rrdb_x4.with_options(outscale=2.5)(image)
    expected = np.clip(resize_float(rrdb_x4(image), *outscale_size(21, 30, 2.5)), 0, 1)
    assert out.shape == expected.shape == (52, 75, 3)
    assert np.abs(out - expected).max() < 1e-5


def test_outscale_equal_to_the_scale_changes_nothing(rrdb_x4: Upscaler) -> None:
    image = to_uint8(photo(21, 30))
    assert np.array_equal(rrdb_x4.with_options(outscale=4)(image), rrdb_x4(image))


@pytest.mark.parametrize("size", [(17, 23), (33, 16), (16, 31), (2, 3)])
def test_x2_rrdb_runs_odd_sizes_padded_to_the_multiple_and_cropped(
    rrdb_x2: Upscaler, size: tuple[int, int]
) -> None:
    assert rrdb_x2.card.size_multiple == 2
    height, width = size
    image = photo(height, width)
    out = rrdb_x2.with_options(tile=0)(image)
    assert out.shape == (2 * height, 2 * width, 3)
    # The runtime mirrors the bottom/right edge up to the multiple and crops the result.
    padded = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="reflect")
    expected = _torch_reference(rrdb_x2, padded)[: 2 * height, : 2 * width]
    assert np.abs(out - expected).max() < 1e-4


# --- grey -------------------------------------------------------------------------------------


def test_grey_pil_stays_grey(rrdb_x4: Upscaler) -> None:
    grey = Image.fromarray(to_uint8(photo(20, 24) @ LUMA))
    out = rrdb_x4(grey)
    assert out.mode == "L"
    assert out.size == (96, 80)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_2d_array_stays_2d(rrdb_x4: Upscaler, dtype: type) -> None:
    image = np.rint(photo(20, 24) @ LUMA * np.iinfo(dtype).max).astype(dtype)
    out = rrdb_x4(image)
    assert out.shape == (80, 96)
    assert out.dtype == dtype


def test_grey_with_one_channel_axis_keeps_it(rrdb_x4: Upscaler) -> None:
    out = rrdb_x4(to_uint8(photo(20, 24) @ LUMA)[:, :, None])
    assert out.shape == (80, 96, 1)


def test_sixteen_bit_grey_pil_stays_sixteen_bit(rrdb_x4: Upscaler) -> None:
    deep = np.rint(photo(20, 24) @ LUMA * 65535).astype(np.uint16)
    out = rrdb_x4(Image.fromarray(deep))
    assert out.mode == "I;16"
    assert out.size == (96, 80)
    values = np.asarray(out)
    assert np.any(values % 257 != 0)


def test_grey_is_the_luma_of_the_colour_result_of_grey_rgb(rrdb_x4: Upscaler) -> None:
    grey = photo(20, 24) @ LUMA
    out = rrdb_x4(grey)
    as_rgb = rrdb_x4(np.repeat(grey[:, :, None], 3, axis=2))
    assert np.abs(out - as_rgb @ LUMA).max() < 1e-5


# --- alpha ------------------------------------------------------------------------------------


def _rgba(height: int, width: int) -> np.ndarray:
    """A photo with a soft-edged disc of alpha (0 outside, 255 inside, ramps between)."""
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot(yy - height / 2, xx - width / 2)
    alpha = np.clip((min(height, width) / 2.5 - distance) / 3, 0, 1)
    return np.dstack([to_uint8(photo(height, width)), to_uint8(alpha)])


def test_rgba_array_keeps_alpha_resized_not_networked(rrdb_x4: Upscaler) -> None:
    image = _rgba(24, 28)
    out = rrdb_x4(image)
    assert out.shape == (96, 112, 4)
    expected = to_uint8(resize_float(image[:, :, 3] / np.float32(255), 96, 112))
    assert levels(out[:, :, 3], expected) <= 1


def test_rgba_pil_stays_rgba(rrdb_x4: Upscaler) -> None:
    out = rrdb_x4(Image.fromarray(_rgba(24, 28)))
    assert out.mode == "RGBA"
    assert out.size == (112, 96)


def test_grey_alpha_stays_grey_alpha(rrdb_x4: Upscaler) -> None:
    image = _rgba(24, 28)
    la = Image.fromarray(image[:, :, [0, 3]], mode="LA")
    out = rrdb_x4(la)
    assert out.mode == "LA"
    expected = to_uint8(resize_float(image[:, :, 3] / np.float32(255), 96, 112))
    assert levels(np.asarray(out)[:, :, 1], expected) <= 1


def test_alpha_mode_network_runs_alpha_through_the_model(rrdb_x4: Upscaler) -> None:
    image = _rgba(24, 28)
    out = rrdb_x4.with_options(alpha_mode="network")(image)
    unit = image[:, :, 3] / np.float32(255)
    expected = rrdb_x4(np.repeat(unit[:, :, None], 3, axis=2)).mean(axis=2)
    assert levels(out[:, :, 3], to_uint8(expected)) <= 1
    assert levels(out[:, :, 3], rrdb_x4(image)[:, :, 3]) > 5  # not the resized alpha


def test_alpha_keeps_its_dtype(rrdb_x4: Upscaler) -> None:
    image = _rgba(24, 28).astype(np.uint16) * 257
    out = rrdb_x4(image)
    assert out.dtype == np.uint16 and out.shape == (96, 112, 4)
    expected = np.rint(resize_float(image[:, :, 3] / np.float32(65535), 96, 112).clip(0, 1) * 65535)
    assert np.abs(out[:, :, 3].astype(np.int64) - expected).max() <= 257


# --- options ----------------------------------------------------------------------------------


def test_with_options_returns_a_copy_and_leaves_the_original_alone(rrdb_x4: Upscaler) -> None:
    before = rrdb_x4.options
    clone = rrdb_x4.with_options(tile=64, tile_overlap=8, outscale=2.0, alpha_mode="network")
    assert clone is not rrdb_x4 and isinstance(clone, Upscaler)
    assert rrdb_x4.options is before and before == UpscaleOptions()
    assert clone.options == dataclasses.replace(
        UpscaleOptions(), tile=64, tile_overlap=8, outscale=2.0, alpha_mode="network"
    )
    assert clone.card is rrdb_x4.card and clone.path == rrdb_x4.path
    assert clone(to_uint8(photo(10, 12))).shape == (20, 24, 3)
    assert rrdb_x4(to_uint8(photo(10, 12))).shape == (40, 48, 3)


def test_with_options_takes_a_whole_options_object(rrdb_x4: Upscaler) -> None:
    options = UpscaleOptions(outscale=2.0, tile=0)
    assert rrdb_x4.with_options(options).options is options
    assert rrdb_x4.with_options(options, tile=64).options == UpscaleOptions(outscale=2.0, tile=64)


def test_with_options_of_another_task_is_a_type_error(rrdb_x4: Upscaler) -> None:
    with pytest.raises(TypeError, match="Upscaler takes UpscaleOptions, got InpaintOptions"):
        rrdb_x4.with_options(ganedit.InpaintOptions())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outscale": 0}, "outscale"),
        ({"outscale": -2.0}, "outscale"),
        ({"tile": -1}, "tile"),
        ({"tile_overlap": -1}, "tile"),
        ({"tile_batch": 0}, "tile_batch"),
        ({"tile": 20, "tile_overlap": 16}, "too small for overlap"),
        ({"alpha_mode": "magic"}, "alpha_mode"),
    ],
    ids=lambda v: "-".join(map(str, v.items())) if isinstance(v, dict) else None,
)
def test_invalid_options_raise_value_error(
    rrdb_x4: Upscaler, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        UpscaleOptions(**changes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        rrdb_x4.with_options(**changes)
    assert rrdb_x4.options == UpscaleOptions()


@pytest.mark.parametrize("overlap", [1, 8, 16, 33])
def test_tile_too_small_for_overlap_names_the_least_tile_that_works(overlap: int) -> None:
    with pytest.raises(ValueError, match=r"use at least (\d+)") as info:
        UpscaleOptions(tile=2 * overlap - 1, tile_overlap=overlap)
    least = int(re.search(r"use at least (\d+)", str(info.value)).group(1))
    assert UpscaleOptions(tile=least, tile_overlap=overlap).tile == least
    with pytest.raises(ValueError, match="too small for overlap"):
        UpscaleOptions(tile=least - 1, tile_overlap=overlap)


def test_a_mask_is_refused(rrdb_x4: Upscaler) -> None:
    image = to_uint8(photo(10, 12))
    with pytest.raises(ganedit.GaneditError, match="upscale model; it takes no mask"):
        rrdb_x4(image, np.ones((10, 12), bool))


@pytest.mark.parametrize("shape", [(10, 12, 5), (10, 12, 3, 1), (10,)])
def test_bad_array_shape_raises_value_error(rrdb_x4: Upscaler, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected an"):
        rrdb_x4(np.zeros(shape, dtype=np.uint8))


def test_non_image_raises_type_error(rrdb_x4: Upscaler) -> None:
    with pytest.raises(TypeError, match="PIL image or a numpy array"):
        rrdb_x4([[0, 1], [2, 3]])  # type: ignore[call-overload]


# --- tiling through the real network ----------------------------------------------------------

# (model, tile, overlap): several tiles each; overlap >= 4x the network's effective radius
# (the x2 RRDB works on a 2x-unshuffled input, so its receptive field spans twice the pixels).
TILINGS = [("rrdb_x4", 48, 16), ("rrdb_x4", 33, 16), ("rrdb_x2", 64, 24), ("srvgg_x4", 40, 16)]


@pytest.fixture(scope="module")
def tiling_image() -> np.ndarray:
    return to_uint8(photo(200, 160))


@pytest.fixture(scope="module")
def untiled(models: dict[str, Upscaler], tiling_image: np.ndarray) -> dict[str, np.ndarray]:
    return {name: model.with_options(tile=0)(tiling_image) for name, model in models.items()}


@pytest.fixture(scope="module")
def untiled_float(models: dict[str, Upscaler], tiling_image: np.ndarray) -> dict[str, np.ndarray]:
    unit = tiling_image / np.float32(255)
    return {name: model.with_options(tile=0)(unit) for name, model in models.items()}


def _border_rows(tiles: list, scale: int, overlap: int) -> list[int]:
    """Output rows at every tile cut and across every blending band inside the image."""
    rows: set[int] = set()
    for t in tiles:
        if not t.at_top:
            rows.update(range(t.top * scale, (t.top + overlap) * scale + 1))
        if not t.at_bottom:
            end = t.top + t.height
            rows.update(range((end - overlap) * scale, end * scale))
    return sorted(r for r in rows if r > 0)


def _border_cols(tiles: list, scale: int, overlap: int) -> list[int]:
    cols: set[int] = set()
    for t in tiles:
        if not t.at_left:
            cols.update(range(t.left * scale, (t.left + overlap) * scale + 1))
        if not t.at_right:
            end = t.left + t.width
            cols.update(range((end - overlap) * scale, end * scale))
    return sorted(c for c in cols if c > 0)


def _seam_excess(tiled: np.ndarray, whole: np.ndarray, tiles: list, scale: int, overlap: int):
    """How much steeper the tiled result is than the untiled across tile borders, in grey
    levels, measured on float results (rounding alone makes neighbours differ by a level)."""
    t, w = tiled * 255.0, whole * 255.0
    rows = np.array(_border_rows(tiles, scale, overlap))
    cols = np.array(_border_cols(tiles, scale, overlap))
    across_rows = np.abs(t[rows] - t[rows - 1]) - np.abs(w[rows] - w[rows - 1])
    across_cols = np.abs(t[:, cols] - t[:, cols - 1]) - np.abs(w[:, cols] - w[:, cols - 1])
    return max(across_rows.max(), across_cols.max())


@pytest.mark.parametrize(("name", "tile", "overlap"), TILINGS)
def test_tiled_upscale_is_within_two_levels_of_untiled(
    models: dict[str, Upscaler],
    untiled: dict[str, np.ndarray],
    tiling_image: np.ndarray,
    name: str,
    tile: int,
    overlap: int,
) -> None:
    model = models[name]
    card = model.card
    assert len(tile_grid(200, 160, tile=tile, overlap=overlap, multiple=card.size_multiple)) >= 9
    tiled = model.with_options(tile=tile, tile_overlap=overlap)(tiling_image)
    whole = untiled[name]
    assert tiled.shape == whole.shape == (200 * card.scale, 160 * card.scale, 3)
    assert whole.std() > 10  # a picture, not a flat plane the comparison would pass trivially
    assert levels(tiled, whole) <= 2


@pytest.mark.parametrize(("name", "tile", "overlap"), TILINGS)
def test_tiled_upscale_shows_no_seam(
    models: dict[str, Upscaler],
    untiled_float: dict[str, np.ndarray],
    tiling_image: np.ndarray,
    name: str,
    tile: int,
    overlap: int,
) -> None:
    model = models[name]
    s, multiple = model.card.scale, model.card.size_multiple
    tiles = tile_grid(200, 160, tile=tile, overlap=overlap, multiple=multiple)
    tiled = model.with_options(tile=tile, tile_overlap=overlap)(tiling_image / np.float32(255))
    assert _seam_excess(tiled, untiled_float[name], tiles, s, overlap) <= 1


def test_seam_check_catches_tiles_without_overlap(
    rrdb_x4: Upscaler, untiled_float: dict[str, np.ndarray], tiling_image: np.ndarray
) -> None:
    # Without an overlap the tiles abut, and each network saw padding at the cut: a seam.
    tiles = tile_grid(200, 160, tile=48, overlap=0)
    pasted = rrdb_x4.with_options(tile=48, tile_overlap=0)(tiling_image / np.float32(255))
    assert _seam_excess(pasted, untiled_float["rrdb_x4"], tiles, 4, 1) > 3


def test_tile_batch_does_not_change_the_result(rrdb_x4: Upscaler, tiling_image: np.ndarray) -> None:
    one = rrdb_x4.with_options(tile=48, tile_overlap=16, tile_batch=1)(tiling_image)
    many = rrdb_x4.with_options(tile=48, tile_overlap=16, tile_batch=7)(tiling_image)
    assert levels(one, many) == 0


# --- map: batches of whole images ------------------------------------------------------------


def _four_images() -> list[np.ndarray]:
    """Three different 20x24 pictures and one 18x24 between them."""
    image = to_uint8(photo(20, 24))
    return [image, image[:18], image[::-1], image[:, ::-1]]


class _CountingRun:
    """A stand-in ``run_batch`` that records the shape of every batch it is given."""

    def __init__(self, run):
        self.run = run
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        return self.run(batch)


def test_map_in_batches_equals_one_at_a_time(rrdb_x4: Upscaler) -> None:
    images = _four_images()
    batched = list(rrdb_x4.map(images, batch_size=4))
    assert len(batched) == len(images)
    for got, image in zip(batched, images, strict=True):
        np.testing.assert_array_equal(got, rrdb_x4(image))


def test_map_runs_whole_images_of_one_shape_in_one_network_call(
    rrdb_x4: Upscaler, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = rrdb_x4.with_options()
    counting = _CountingRun(rrdb_x4.run_batch)
    monkeypatch.setattr(model, "run_batch", counting)
    list(model.map(_four_images(), batch_size=4))
    assert counting.shapes == [(3, 3, 20, 24), (1, 3, 18, 24)]


# --- the automatic tile ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("height", "width", "tiling", "expected"),
    [
        (16, 16, "ok", [(1, 3, 16, 16)]),  # 256 pixels: at the limit, whole
        (16, 17, "ok", [(2, 3, 16, 16)]),  # one pixel more: two tiles of 16, in one batch
        (16, 17, "discouraged", [(1, 3, 16, 17)]),  # the card says whole, whatever the size
    ],
    ids=["at-the-limit", "over-the-limit", "discouraged"],
)
def test_the_default_tile_runs_small_images_whole_and_tiles_big_ones(
    rrdb_x4: Upscaler,
    monkeypatch: pytest.MonkeyPatch,
    height: int,
    width: int,
    tiling: str,
    expected: list[tuple[int, ...]],
) -> None:
    import ganedit.upscale

    monkeypatch.setattr(ganedit.upscale, "WHOLE_PIXELS", 16 * 16)
    monkeypatch.setattr(ganedit.upscale, "AUTO_TILE", 16)
    model = rrdb_x4.with_options(tile_overlap=4)
    assert model.options.tile is None
    model.card = dataclasses.replace(rrdb_x4.card, tiling=tiling)
    counting = _CountingRun(rrdb_x4.run_batch)
    monkeypatch.setattr(model, "run_batch", counting)
    model(to_uint8(photo(height, width)))
    assert counting.shapes == expected


# --- out of memory ----------------------------------------------------------------------------


class _SmallMemory:
    """A stand-in ``run_batch`` that runs out of memory on batches larger than ``limit``."""

    def __init__(self, run, limit: int, message: str):
        self.run, self.limit, self.message = run, limit, message
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.sizes.append(batch.shape[2:])
        if max(batch.shape[2:]) > self.limit:
            raise RuntimeError(self.message)
        return self.run(batch)


@pytest.mark.parametrize(
    "message",
    [
        "CUDA out of memory. Tried to allocate 2.00 GiB",
        "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested "
        "buffer of size 123456789",
    ],
    ids=["cuda", "onnxruntime"],
)
def test_out_of_memory_halves_the_tile_and_still_delivers(
    rrdb_x4: Upscaler,
    untiled: dict[str, np.ndarray],
    tiling_image: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    message: str,
) -> None:
    model = rrdb_x4.with_options(tile=0)
    small = _SmallMemory(rrdb_x4.run_batch, limit=64, message=message)
    monkeypatch.setattr(model, "run_batch", small)
    with caplog.at_level(logging.WARNING, logger="ganedit"):
        out = model(tiling_image)
    assert out.shape == (800, 640, 3)
    assert levels(out, untiled["rrdb_x4"]) <= 2
    assert small.sizes[0] == (200, 160)  # tried whole first
    assert max(max(s) for s in small.sizes[-3:]) <= 64  # finished on tiles that fit
    retries = [r.getMessage() for r in caplog.records if "out of memory" in r.getMessage()]
    assert retries == [
        "out of memory: retrying with tile 100",
        "out of memory: retrying with tile 50",
    ]
    assert "run_batch" not in vars(rrdb_x4)  # the shared model was not touched


def test_out_of_memory_on_a_batch_of_images_runs_them_one_at_a_time(
    rrdb_x4: Upscaler, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = rrdb_x4.with_options()
    images = _four_images()
    sizes: list[int] = []

    def one_image_at_most(batch: np.ndarray) -> np.ndarray:
        sizes.append(batch.shape[0])
        if batch.shape[0] > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return rrdb_x4.run_batch(batch)

    monkeypatch.setattr(model, "run_batch", one_image_at_most)
    with caplog.at_level(logging.WARNING, logger="ganedit"):
        batched = list(model.map(images, batch_size=4))
    for got, image in zip(batched, images, strict=True):
        np.testing.assert_array_equal(got, rrdb_x4(image))
    assert sizes == [3, 1, 1, 1, 1]  # the batch of three failed; each image ran alone
    assert "out of memory on a batch of 3 images: one at a time" in caplog.messages


def test_error_other_than_out_of_memory_propagates_at_once(
    rrdb_x4: Upscaler, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = rrdb_x4.with_options(tile=0)
    broken = _SmallMemory(rrdb_x4.run_batch, limit=0, message="Got invalid dimensions for input")
    monkeypatch.setattr(model, "run_batch", broken)
    with pytest.raises(RuntimeError, match="invalid dimensions"):
        model(to_uint8(photo(40, 40)))
    assert len(broken.sizes) == 1


def test_out_of_memory_below_the_smallest_tile_is_raised(
    rrdb_x4: Upscaler, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = rrdb_x4.with_options(tile=0, min_tile=32)
    hopeless = _SmallMemory(rrdb_x4.run_batch, limit=0, message="CUDA out of memory")
    monkeypatch.setattr(model, "run_batch", hopeless)
    with pytest.raises(RuntimeError, match="out of memory"):
        model(to_uint8(photo(200, 160)))
    assert [max(s) for s in hopeless.sizes] == [200, 100, 50]
