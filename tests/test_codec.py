"""prepare/postprocess: value ranges, padding to what the network needs, cropping back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ganedit import ModelCard
from ganedit.processing import pad_amounts, postprocess, prepare, scale_alpha


def _card(**changes: Any) -> ModelCard:
    fields: dict[str, Any] = {"name": "t", "task": "translate", "arch": "test"}
    fields.update(changes)
    return ModelCard(**fields)


def _ramp(height: int, width: int, channels: int, dtype: Any = np.uint8) -> np.ndarray:
    top = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
    values = np.linspace(0, top, height * width * channels)
    if np.issubdtype(dtype, np.integer):
        values = np.rint(values)
    return values.reshape(height, width, channels).astype(dtype)


# --- value ranges on the way in ---------------------------------------------------------------


@pytest.mark.parametrize("input_range", [(-1.0, 1.0), (0.0, 1.0), (-0.5, 2.0)])
def test_uint8_maps_to_input_range(input_range: tuple[float, float]) -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    lo, hi = input_range
    x = prepare(pixels, _card(input_range=input_range)).tensor
    expected = (pixels.astype(np.float64) / 255 * (hi - lo) + lo).transpose(2, 0, 1)
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_uint16_maps_full_scale_to_input_range() -> None:
    pixels = np.array([[[0, 32768, 65535]]], dtype=np.uint16)
    x = prepare(pixels, _card()).tensor
    np.testing.assert_allclose(x[:, 0, 0], [-1.0, 32768 / 65535 * 2 - 1, 1.0], atol=1e-6)


def test_float_pixels_are_taken_as_unit_range() -> None:
    pixels = np.array([[[0.0, 0.25, 1.0]]], dtype=np.float32)
    x = prepare(pixels, _card(input_range=(0.0, 2.0))).tensor
    np.testing.assert_allclose(x[:, 0, 0], [0.0, 0.5, 2.0], atol=1e-7)


def test_prepared_tensor_is_contiguous_float32_chw() -> None:
    prepared = prepare(_ramp(5, 7, 3), _card())
    assert prepared.tensor.dtype == np.float32
    assert prepared.tensor.shape == (3, 5, 7)
    assert prepared.tensor.flags.c_contiguous
    assert (prepared.height, prepared.width) == (5, 7)


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1)], ids=["2d", "one_channel"])
def test_grey_is_repeated_to_rgb(shape: tuple[int, ...]) -> None:
    grey = _ramp(6, 5, 1).reshape(shape)
    x = prepare(grey, _card(in_channels=3)).tensor
    assert x.shape == (3, 6, 5)
    np.testing.assert_array_equal(x[0], x[1])
    np.testing.assert_array_equal(x[0], x[2])


def test_float_rgb_is_reduced_to_luma_for_grey_models() -> None:
    rgb = np.zeros((1, 3, 3), np.float32)
    rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 1.0  # pure red, green, blue
    x = prepare(rgb, _card(in_channels=1, input_range=(0.0, 1.0))).tensor
    np.testing.assert_allclose(x[0, 0], [0.299, 0.587, 0.114], atol=1e-6)


# --- padding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "multiple", "min_size", "expected"),
    [
        ((16, 16), 4, 16, (0, 0)),
        ((37, 53), 4, 16, (3, 3)),
        ((5, 40), 4, 16, (11, 0)),
        ((33, 64), 32, 32, (31, 0)),
        ((1, 1), 1, 1, (0, 0)),
        ((7, 9), 1, 8, (1, 0)),
    ],
)
def test_pad_amounts_reach_size_multiple_and_min_size(
    size: tuple[int, int], multiple: int, min_size: int, expected: tuple[int, int]
) -> None:
    card = _card(size_multiple=multiple, min_size=min_size)
    assert pad_amounts(*size, card) == expected


@pytest.mark.parametrize(
    ("size", "multiple", "bucket", "expected"),
    [
        ((250, 256), 4, 64, (6, 0)),  # both sides land on 256
        ((257, 100), 4, 64, (63, 28)),
        ((100, 100), 3, 64, (92, 92)),  # a multiple of 3 and of 64: 192
        ((10, 10), 4, 0, (6, 6)),  # bucket 0: only the size multiple and min_size
        ((10, 10), 4, 8, (6, 6)),  # min_size 16 is already a multiple of 8
    ],
)
def test_bucket_pads_to_a_common_multiple(
    size: tuple[int, int], multiple: int, bucket: int, expected: tuple[int, int]
) -> None:
    card = _card(size_multiple=multiple, min_size=16)
    assert pad_amounts(*size, card, bucket) == expected


def test_nearby_sizes_share_a_shape_key_with_a_bucket() -> None:
    card = _card(size_multiple=4, min_size=16)
    a, b = _ramp(250, 241, 3), _ramp(256, 200, 3)
    assert prepare(a, card).shape_key != prepare(b, card).shape_key
    bucketed_a, bucketed_b = prepare(a, card, bucket=64), prepare(b, card, bucket=64)
    assert bucketed_a.shape_key == bucketed_b.shape_key == (3, 256, 256)
    # The image itself is untouched at the top left; only padding is added.
    np.testing.assert_array_equal(
        bucketed_a.tensor[:, :250, :241], prepare(a, card).tensor[:, :250, :241]
    )


@pytest.mark.parametrize(("height", "width"), [(37, 53), (5, 6), (17, 31), (96, 95)])
def test_padded_shape_is_a_multiple_of_size_multiple(height: int, width: int) -> None:
    x = prepare(_ramp(height, width, 3), _card(size_multiple=4, min_size=16)).tensor
    assert x.shape[1] % 4 == 0 and x.shape[2] % 4 == 0
    assert x.shape[1] >= max(height, 16) and x.shape[2] >= max(width, 16)
    assert x.shape[1] - max(height, 16) < 4 and x.shape[2] - max(width, 16) < 4


def test_padding_mirrors_when_pad_is_smaller_than_the_image() -> None:
    pixels = _ramp(5, 6, 3)  # pad to 8x8: 3 rows (< 5), 2 columns (< 6)
    card = _card(size_multiple=4, input_range=(0.0, 1.0))
    x = prepare(pixels, card).tensor
    unpadded = pixels.astype(np.float32).transpose(2, 0, 1) / 255
    expected = np.pad(unpadded, ((0, 0), (0, 3), (0, 2)), mode="reflect")
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_padding_repeats_the_edge_when_pad_is_not_smaller_than_the_image() -> None:
    pixels = _ramp(3, 20, 1)  # min size 16: 13 rows of padding on 3 rows
    card = _card(size_multiple=4, min_size=16, input_range=(0.0, 1.0), in_channels=1)
    x = prepare(pixels, card).tensor
    assert x.shape == (1, 16, 20)
    for row in range(3, 16):
        np.testing.assert_array_equal(x[0, row], x[0, 2])


def test_padding_picks_mode_per_axis() -> None:
    pixels = _ramp(20, 2, 1)  # 20 rows need none; 2 columns get 14 columns of edge
    card = _card(min_size=16, input_range=(0.0, 1.0), in_channels=1)
    x = prepare(pixels, card).tensor
    assert x.shape == (1, 20, 16)
    np.testing.assert_array_equal(x[0, :, 2:], np.repeat(x[0, :, 1:2], 14, axis=1))


def test_padding_goes_at_the_bottom_and_right() -> None:
    pixels = _ramp(37, 53, 3)
    card = _card(size_multiple=4, input_range=(0.0, 1.0))
    x = prepare(pixels, card).tensor
    np.testing.assert_allclose(x[:, :37, :53], pixels.transpose(2, 0, 1) / 255, atol=1e-6)


# --- postprocess ------------------------------------------------------------------------------


@pytest.mark.parametrize("output_range", [(-1.0, 1.0), (0.0, 1.0), (-2.0, 3.0)])
def test_output_is_rounded_clipped_and_scaled_to_uint8(output_range: tuple[float, float]) -> None:
    lo, hi = output_range
    # Values beyond both ends, both ends, and points in between that are not halfway cases.
    unit = np.array([-0.5, 0.0, 0.11, 0.33, 0.502, 0.9, 1.0, 1.7])
    y = (unit * (hi - lo) + lo).astype(np.float32).reshape(1, 1, -1)
    got = postprocess(y, _card(output_range=output_range), 1, unit.size, np.uint8)
    expected = np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)
    assert got.shape == (1, unit.size, 1)
    np.testing.assert_array_equal(got[0, :, 0], expected)


def test_output_to_uint16_uses_full_range() -> None:
    y = np.array([-1.0, 0.0, 1.0], np.float32).reshape(1, 1, 3)
    got = postprocess(y, _card(), 1, 3, np.uint16)
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got[0, :, 0], [0, 32768, 65535])


def test_output_to_float_is_clipped_unit_range() -> None:
    y = np.array([-3.0, 0.0, 0.5, 4.0], np.float32).reshape(1, 1, 4)
    got = postprocess(y, _card(), 1, 4, np.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got[0, :, 0], [0.0, 0.5, 0.75, 1.0], atol=1e-7)


def test_postprocess_crops_the_padding_back() -> None:
    card = _card(size_multiple=4, min_size=16)
    prepared = prepare(_ramp(37, 53, 3), card)
    assert prepared.tensor.shape == (3, 40, 56)
    got = postprocess(prepared.tensor, card, prepared.height, prepared.width, np.uint8)
    assert got.shape == (37, 53, 3)


def test_postprocess_crops_scaled_output() -> None:
    card = _card(task="upscale", scale=2, size_multiple=4)
    output = np.zeros((3, 2 * 40, 2 * 56), np.float32)
    assert postprocess(output, card, 37, 53, np.uint8).shape == (74, 106, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_prepare_then_postprocess_is_lossless(dtype: Any, channels: int) -> None:
    card = _card(in_channels=channels, out_channels=channels, size_multiple=4, min_size=16)
    pixels = _ramp(13, 21, channels, dtype)
    prepared = prepare(pixels, card)
    back = postprocess(prepared.tensor, card, prepared.height, prepared.width, dtype)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, pixels)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", [(4, 4, 4), (4, 4, 2), (4,), (2, 4, 4, 3)], ids=["rgba", "la", "1d", "4d"]
)
def test_prepare_rejects_unsupported_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected an"):
        prepare(np.zeros(shape, np.uint8), _card())


def test_prepare_rejects_empty_images() -> None:
    with pytest.raises(ValueError, match="empty"):
        prepare(np.zeros((0, 5, 3), np.uint8), _card())


def test_prepare_rejects_other_integer_types() -> None:
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        prepare(np.zeros((4, 4, 3), np.int32), _card())


def test_postprocess_rejects_other_integer_types() -> None:
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        postprocess(np.zeros((3, 4, 4), np.float32), _card(), 4, 4, np.int32)


# --- alpha ------------------------------------------------------------------------------------


def test_scale_alpha_at_scale_one_returns_it_unchanged() -> None:
    alpha = _ramp(5, 7, 1)[:, :, 0]
    assert scale_alpha(alpha, 1) is alpha


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_scale_alpha_resizes_and_keeps_dtype(dtype: Any) -> None:
    alpha = np.full((5, 7), np.iinfo(dtype).max, dtype)
    got = scale_alpha(alpha, 4)
    assert got.shape == (20, 28)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.iinfo(dtype).max)


def test_rgb_to_grey_model_uses_pillows_luma_exactly() -> None:
    from PIL import Image

    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    card = ModelCard(name="g", task="translate", arch="a", in_channels=1, input_range=(0.0, 1.0))
    got = prepare(rgb, card).tensor[0]
    expected = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float32) / 255
    np.testing.assert_allclose(got, expected, atol=1e-6)  # a grey level is 0.0039
