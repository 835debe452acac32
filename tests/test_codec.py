"""ganedit.codec: pixels <-> what a network's card asks for, one class per function.

Reference values are computed independently of the code under test: Python integer arithmetic,
``np.rint`` and hand-written half-even tables for rounding, Pillow's ``convert("L")`` for the
8-bit luma, ``np.pad`` modes and written-out arrays for padding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganedit import ModelCard
from ganedit.codec import (
    LUMA,
    from_network_range,
    match_channels,
    pad_bottom_right,
    padded_size,
    postprocess,
    prepare,
    quantise,
    requantise,
    round_up,
    to_network_range,
    to_unit,
)


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


# --- to_unit ----------------------------------------------------------------------------------


class TestToUnit:
    def test_smoke(self) -> None:
        assert to_unit(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]

    @pytest.mark.parametrize(
        ("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)], ids=["uint8", "uint16"]
    )
    def test_full_scale_maps_to_one(self, dtype: Any, top: int) -> None:
        assert to_unit(np.array([0, top], dtype)).tolist() == [0.0, 1.0]

    @pytest.mark.parametrize(
        ("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)], ids=["uint8", "uint16"]
    )
    def test_every_integer_value_is_value_over_full_scale(self, dtype: Any, top: int) -> None:
        values = np.arange(top + 1, dtype=dtype)
        expected = np.arange(top + 1, dtype=np.float64) / top
        np.testing.assert_allclose(to_unit(values), expected, rtol=1e-7, atol=0)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float32, np.float64])
    @pytest.mark.parametrize("shape", [(3,), (4, 5), (4, 5, 1), (2, 4, 5, 3)])
    def test_output_is_float32_of_the_same_shape(self, dtype: Any, shape: tuple[int, ...]) -> None:
        out = to_unit(np.zeros(shape, dtype))
        assert (out.dtype, out.shape) == (np.float32, shape)

    @pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
    def test_floats_are_taken_as_they_are_even_out_of_range(self, dtype: Any) -> None:
        out = to_unit(np.array([-0.5, 0.25, 2.0], dtype))
        assert out.tolist() == [-0.5, 0.25, 2.0]

    @pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint32, np.bool_])
    def test_other_dtypes_raise_naming_the_dtype(self, dtype: Any) -> None:
        name = np.dtype(dtype).name
        with pytest.raises(TypeError, match=f"must be uint8, uint16 or float, got {name}"):
            to_unit(np.array([1], dtype))


# --- quantise ---------------------------------------------------------------------------------

# Exact ties (k + 0.5 levels, exact in float32 too) and where round-half-to-even puts them;
# round-half-up would give k + 1 for every row.
HALF_EVEN_UINT8 = [(0.5, 0), (1.5, 2), (2.5, 2), (3.5, 4), (126.5, 126), (127.5, 128),
                   (253.5, 254), (254.5, 254)]  # fmt: skip
HALF_EVEN_UINT16 = [(0.5, 0), (1.5, 2), (2.5, 2), (32766.5, 32766), (32767.5, 32768),
                    (65533.5, 65534), (65534.5, 65534)]  # fmt: skip


class TestQuantise:
    def test_smoke(self) -> None:
        assert quantise(np.array([-1.0, 0.5, 2.0, np.nan]), np.uint8).tolist() == [0, 128, 255, 0]

    def test_clips_and_maps_nan_to_zero(self) -> None:
        out = quantise(np.array([-1.0, 0.0, 1.0, 7.0, np.nan]), np.uint8)
        assert out.dtype == np.uint8 and out.tolist() == [0, 0, 255, 255, 0]

    @pytest.mark.parametrize(("level", "expected"), HALF_EVEN_UINT8)
    def test_uint8_ties_round_half_to_even(self, level: float, expected: int) -> None:
        assert quantise(np.array([level / 255]), np.uint8).tolist() == [expected]

    @pytest.mark.parametrize(("level", "expected"), HALF_EVEN_UINT16)
    def test_uint16_ties_round_half_to_even(self, level: float, expected: int) -> None:
        assert quantise(np.array([level / 65535]), np.uint16).tolist() == [expected]

    @pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
    def test_rounds_to_nearest_just_off_half_steps(self, dtype: type, top: int) -> None:
        eps = 1e-6
        x = np.array([(0.5 - eps) / top, (0.5 + eps) / top, (1.5 - eps) / top, (1.5 + eps) / top])
        assert quantise(x, dtype).tolist() == [0, 1, 1, 2]

    @pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
    def test_matches_rint_of_float32_levels(self, dtype: type, top: int) -> None:
        unit = np.random.default_rng(0).uniform(-0.1, 1.1, 10_000).astype(np.float32)
        expected = np.rint(np.clip(unit, 0, 1) * np.float32(top))
        np.testing.assert_array_equal(quantise(unit, dtype), expected.astype(dtype))

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    def test_round_trip_through_to_unit_is_exact(self, dtype: type) -> None:
        a = np.arange(0, np.iinfo(dtype).max + 1, dtype=dtype)
        np.testing.assert_array_equal(quantise(to_unit(a), dtype), a)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_float_dtype_gets_the_clipped_values(self, dtype: type) -> None:
        out = quantise(np.array([-3.0, 0.0, 0.3, 1.0, 4.0, np.nan]), dtype)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_allclose(out, [0.0, 0.0, 0.3, 1.0, 1.0, 0.0], rtol=1e-6)

    @pytest.mark.parametrize("shape", [(1,), (3, 4), (3, 4, 1), (3, 4, 3)])
    def test_keeps_the_shape(self, shape: tuple[int, ...]) -> None:
        assert quantise(np.full(shape, 0.5, np.float32), np.uint8).shape == shape

    def test_leaves_its_input_unchanged(self) -> None:
        unit = np.array([-1.0, 0.5, np.nan, 2.0])
        quantise(unit, np.uint8)
        np.testing.assert_array_equal(unit, [-1.0, 0.5, np.nan, 2.0])

    @pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint32])
    def test_other_integer_dtypes_raise(self, dtype: type) -> None:
        name = np.dtype(dtype).name
        with pytest.raises(TypeError, match=f"must be uint8, uint16 or float, got {name}"):
            quantise(np.zeros(2), dtype)


# --- requantise -------------------------------------------------------------------------------


class TestRequantise:
    def test_smoke(self) -> None:
        assert requantise(np.array([0, 65535], np.uint16), np.uint8).tolist() == [0, 255]

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_same_dtype_comes_back_as_it_is(self, dtype: type) -> None:
        pixels = np.zeros((2, 3), dtype)
        assert requantise(pixels, dtype) is pixels

    def test_16_to_8_bits_is_the_nearest_level_for_every_value(self) -> None:
        v = np.arange(65536, dtype=np.uint16)
        # v * 255 / 65535 = v / 257 is never a tie, so half-up in integers is the reference.
        expected = [(int(x) * 255 + 32767) // 65535 for x in v]
        np.testing.assert_array_equal(requantise(v, np.uint8), expected)

    def test_16_to_8_bits_matches_floor_of_value_plus_a_half(self) -> None:
        v = np.arange(65536, dtype=np.uint16)
        expect = np.floor(v.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(requantise(v, np.uint8), expect)

    def test_8_to_16_bits_is_times_257(self) -> None:
        v = np.arange(256, dtype=np.uint8)
        np.testing.assert_array_equal(requantise(v, np.uint16), v.astype(np.uint32) * 257)

    def test_integers_to_float_are_unit_floats(self) -> None:
        out = requantise(np.array([0, 51, 255], np.uint8), np.float32)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, [0.0, 0.2, 1.0], rtol=1e-7)

    def test_floats_to_integers_are_clipped_and_rounded(self) -> None:
        out = requantise(np.array([-0.5, 0.2, 3.0], np.float32), np.uint8)
        assert out.tolist() == [0, 51, 255]

    def test_other_input_dtype_raises(self) -> None:
        with pytest.raises(TypeError, match="must be uint8, uint16 or float, got int64"):
            requantise(np.array([1], np.int64), np.uint8)


# --- match_channels ---------------------------------------------------------------------------


class TestMatchChannels:
    def test_smoke(self) -> None:
        assert match_channels(np.full((1, 1, 1), 0.5, np.float32), 3).shape == (1, 1, 3)

    def test_luma_weights_are_bt601(self) -> None:
        assert LUMA == (0.299, 0.587, 0.114)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    @pytest.mark.parametrize("channels", [1, 3])
    def test_equal_channels_come_back_as_they_are(self, dtype: type, channels: int) -> None:
        pixels = np.zeros((2, 3, channels), dtype)
        assert match_channels(pixels, channels) is pixels

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    @pytest.mark.parametrize(("height", "width"), [(1, 1), (4, 7), (9, 2)])
    def test_grey_is_repeated_to_rgb(self, dtype: type, height: int, width: int) -> None:
        grey = _ramp(height, width, 1, dtype)
        out = match_channels(grey, 3)
        assert (out.shape, out.dtype) == ((height, width, 3), np.dtype(dtype))
        for channel in range(3):
            np.testing.assert_array_equal(out[:, :, channel], grey[:, :, 0])

    @pytest.mark.parametrize(("height", "width"), [(1, 1), (12, 20), (33, 7)])
    def test_uint8_rgb_to_grey_is_pillows_luma_exactly(self, height: int, width: int) -> None:
        rgb = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
        out = match_channels(rgb, 1)
        assert (out.shape, out.dtype) == ((height, width, 1), np.uint8)
        np.testing.assert_array_equal(out[:, :, 0], np.asarray(Image.fromarray(rgb).convert("L")))

    def test_uint8_luma_of_every_grey_is_that_grey(self) -> None:
        grey = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
        np.testing.assert_array_equal(match_channels(grey, 1)[:, :, 0], grey[:, :, 0])

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_float_rgb_to_grey_uses_the_luma_weights(self, dtype: type) -> None:
        rgb = np.zeros((1, 4, 3), dtype)
        rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 1.0  # pure red, green, blue
        rgb[0, 3] = 1.0  # white
        out = match_channels(rgb, 1)
        assert (out.shape, out.dtype) == ((1, 4, 1), np.float32)
        np.testing.assert_allclose(out[0, :, 0], [0.299, 0.587, 0.114, 1.0], atol=1e-6)

    @pytest.mark.parametrize(("have", "want"), [(2, 3), (3, 2), (4, 1), (1, 4), (2, 1)])
    def test_channel_counts_that_do_not_convert_raise(self, have: int, want: int) -> None:
        message = f"cannot turn a {have}-channel image into {want} channels"
        with pytest.raises(ValueError, match=message):
            match_channels(np.zeros((2, 2, have), np.uint8), want)


# --- to_network_range / from_network_range ----------------------------------------------------

RANGES = [(-1.0, 1.0), (0.0, 1.0), (-0.5, 2.0), (0.0, 255.0)]


class TestNetworkRange:
    def test_smoke(self) -> None:
        unit = np.array([0.0, 0.5, 1.0], np.float32)
        network = np.array([-1.0, 0.0, 1.0], np.float32)
        assert to_network_range(unit, (-1.0, 1.0)).tolist() == network.tolist()
        assert from_network_range(network, (-1.0, 1.0)).tolist() == unit.tolist()

    @pytest.mark.parametrize("value_range", RANGES)
    def test_to_network_range_is_linear_onto_the_range(
        self, value_range: tuple[float, float]
    ) -> None:
        lo, hi = value_range
        unit = np.linspace(0, 1, 11, dtype=np.float32)
        expected = unit.astype(np.float64) * (hi - lo) + lo
        out = to_network_range(unit, value_range)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)

    @pytest.mark.parametrize("value_range", RANGES)
    def test_from_network_range_is_linear_onto_unit(self, value_range: tuple[float, float]) -> None:
        lo, hi = value_range
        output = np.array([lo, (lo + hi) / 2, hi], np.float32)
        out = from_network_range(output, value_range)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, [0.0, 0.5, 1.0], atol=1e-6)

    def test_from_network_range_does_not_clip(self) -> None:
        out = from_network_range(np.array([-3.0, 3.0], np.float32), (-1.0, 1.0))
        np.testing.assert_allclose(out, [-1.0, 2.0])

    @pytest.mark.parametrize("value_range", RANGES)
    @pytest.mark.parametrize("shape", [(5,), (3, 4, 5), (2, 3, 4, 5)])
    def test_round_trip_keeps_values_and_shape(
        self, value_range: tuple[float, float], shape: tuple[int, ...]
    ) -> None:
        unit = np.random.default_rng(0).random(shape).astype(np.float32)
        back = from_network_range(to_network_range(unit, value_range), value_range)
        assert back.shape == shape
        np.testing.assert_allclose(back, unit, atol=1e-6)


# --- round_up / padded_size -------------------------------------------------------------------


class TestRoundUp:
    @pytest.mark.parametrize(
        ("size", "multiple", "expected"),
        [(37, 4, 40), (40, 4, 40), (1, 1, 1), (0, 4, 0), (33, 32, 64), (1, 8, 8)],
    )
    def test_smallest_multiple_at_least_size(self, size: int, multiple: int, expected: int) -> None:
        assert round_up(size, multiple) == expected


class TestPaddedSize:
    def test_smoke(self) -> None:
        assert padded_size(37, _card(size_multiple=4, min_size=16)) == 40

    @pytest.mark.parametrize(
        ("size", "multiple", "min_size", "expected"),
        [
            ((16, 16), 4, 16, (16, 16)),
            ((37, 53), 4, 16, (40, 56)),
            ((5, 40), 4, 16, (16, 40)),
            ((33, 64), 32, 32, (64, 64)),
            ((1, 1), 1, 1, (1, 1)),
            ((7, 9), 1, 8, (8, 9)),
        ],
    )
    def test_reaches_size_multiple_and_min_size(
        self, size: tuple[int, int], multiple: int, min_size: int, expected: tuple[int, int]
    ) -> None:
        card = _card(size_multiple=multiple, min_size=min_size)
        assert (padded_size(size[0], card), padded_size(size[1], card)) == expected

    @pytest.mark.parametrize(
        ("size", "multiple", "bucket", "expected"),
        [
            ((250, 256), 4, 64, (256, 256)),  # both sides land on 256
            ((257, 100), 4, 64, (320, 128)),
            ((100, 100), 3, 64, (192, 192)),  # a multiple of 3 and of 64
            ((10, 10), 4, 0, (16, 16)),  # bucket 0: only the size multiple and min_size
            ((10, 10), 4, 8, (16, 16)),  # min_size 16 is already a multiple of 8
        ],
    )
    def test_bucket_pads_to_a_common_multiple(
        self, size: tuple[int, int], multiple: int, bucket: int, expected: tuple[int, int]
    ) -> None:
        card = _card(size_multiple=multiple, min_size=16)
        got = (padded_size(size[0], card, bucket=bucket), padded_size(size[1], card, bucket=bucket))
        assert got == expected

    @pytest.mark.parametrize("size", [1, 5, 16, 17, 37, 95, 96, 1000])
    @pytest.mark.parametrize("multiple", [1, 3, 4, 32])
    def test_is_the_smallest_multiple_not_below_size_or_min_size(
        self, size: int, multiple: int
    ) -> None:
        padded = padded_size(size, _card(size_multiple=multiple, min_size=16))
        assert padded % multiple == 0
        assert padded >= max(size, 16)
        assert padded - max(size, 16) < multiple


# --- pad_bottom_right -------------------------------------------------------------------------


class TestPadBottomRight:
    def test_smoke(self) -> None:
        row = np.arange(3.0)[None, None]
        assert pad_bottom_right(row, 0, 2)[0, 0].tolist() == [0.0, 1.0, 2.0, 1.0, 0.0]

    def test_no_padding_returns_the_input(self) -> None:
        chw = np.zeros((3, 4, 5), np.float32)
        assert pad_bottom_right(chw, 0, 0) is chw

    @pytest.mark.parametrize(
        ("pad", "expected"),
        [
            (1, [0, 1, 2, 3, 2]),
            (3, [0, 1, 2, 3, 2, 1, 0]),  # mirror fits: 3 < 4 columns
            (4, [0, 1, 2, 3, 3, 3, 3, 3]),  # does not fit: the edge is repeated
            (6, [0, 1, 2, 3, 3, 3, 3, 3, 3, 3]),
        ],
    )
    def test_columns_mirror_where_it_fits_else_repeat_the_edge(
        self, pad: int, expected: list[int]
    ) -> None:
        row = np.arange(4, dtype=np.float32)[None, None]
        assert pad_bottom_right(row, 0, pad)[0, 0].tolist() == expected

    @pytest.mark.parametrize(
        ("pad", "expected"),
        [(1, [5, 6, 7, 6]), (2, [5, 6, 7, 6, 5]), (3, [5, 6, 7, 7, 7, 7])],
    )
    def test_rows_mirror_where_it_fits_else_repeat_the_edge(
        self, pad: int, expected: list[int]
    ) -> None:
        column = np.array([5.0, 6.0, 7.0])[None, :, None]
        assert pad_bottom_right(column, pad, 0)[0, :, 0].tolist() == expected

    def test_each_axis_picks_its_own_mode(self) -> None:
        chw = np.array([[[1, 2, 3, 4], [5, 6, 7, 8]]], np.float32)  # 2 rows, 4 columns
        out = pad_bottom_right(chw, 3, 2)  # rows: 3 >= 2, edge; columns: 2 < 4, mirror
        expected = [
            [1, 2, 3, 4, 3, 2],
            [5, 6, 7, 8, 7, 6],
            [5, 6, 7, 8, 7, 6],
            [5, 6, 7, 8, 7, 6],
            [5, 6, 7, 8, 7, 6],
        ]
        assert out[0].tolist() == expected

    @pytest.mark.parametrize(("pad_h", "pad_w"), [(0, 1), (2, 0), (3, 5), (8, 2), (1, 9)])
    def test_matches_numpy_pad_per_axis(self, pad_h: int, pad_w: int) -> None:
        chw = np.random.default_rng(0).random((3, 4, 6)).astype(np.float32)
        rows = np.pad(chw, ((0, 0), (0, pad_h), (0, 0)), mode="reflect" if pad_h < 4 else "edge")
        both = np.pad(rows, ((0, 0), (0, 0), (0, pad_w)), mode="reflect" if pad_w < 6 else "edge")
        np.testing.assert_array_equal(pad_bottom_right(chw, pad_h, pad_w), both)

    def test_channels_are_padded_alike_and_keep_their_origin(self) -> None:
        chw = np.stack([np.arange(6.0).reshape(2, 3) + 10 * c for c in range(3)])
        out = pad_bottom_right(chw, 1, 2)
        assert out.shape == (3, 3, 5)
        np.testing.assert_array_equal(out[:, :2, :3], chw)
        for c in range(3):
            np.testing.assert_array_equal(out[c], out[0] + 10 * c)


# --- prepare ----------------------------------------------------------------------------------


class TestPrepare:
    def test_smoke(self) -> None:
        prepared = prepare(_ramp(5, 7, 3), _card())
        assert prepared.tensor.shape == (3, 5, 7)

    @pytest.mark.parametrize("input_range", [(-1.0, 1.0), (0.0, 1.0), (-0.5, 2.0)])
    def test_uint8_maps_to_input_range(self, input_range: tuple[float, float]) -> None:
        pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
        lo, hi = input_range
        x = prepare(pixels, _card(input_range=input_range)).tensor
        expected = (pixels.astype(np.float64) / 255 * (hi - lo) + lo).transpose(2, 0, 1)
        np.testing.assert_allclose(x, expected, atol=1e-6)

    def test_uint16_maps_full_scale_to_input_range(self) -> None:
        pixels = np.array([[[0, 32768, 65535]]], dtype=np.uint16)
        x = prepare(pixels, _card()).tensor
        np.testing.assert_allclose(x[:, 0, 0], [-1.0, 32768 / 65535 * 2 - 1, 1.0], atol=1e-6)

    def test_float_pixels_are_taken_as_unit_range(self) -> None:
        pixels = np.array([[[0.0, 0.25, 1.0]]], dtype=np.float32)
        x = prepare(pixels, _card(input_range=(0.0, 2.0))).tensor
        np.testing.assert_allclose(x[:, 0, 0], [0.0, 0.5, 2.0], atol=1e-7)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
    @pytest.mark.parametrize(("height", "width"), [(5, 7), (1, 1), (16, 3)])
    def test_tensor_is_contiguous_float32_chw(self, dtype: Any, height: int, width: int) -> None:
        prepared = prepare(_ramp(height, width, 3, dtype), _card())
        assert prepared.tensor.dtype == np.float32
        assert prepared.tensor.shape == (3, height, width)
        assert prepared.tensor.flags.c_contiguous
        assert (prepared.height, prepared.width) == (height, width)

    @pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1)], ids=["2d", "one_channel"])
    def test_grey_is_repeated_to_rgb(self, shape: tuple[int, ...]) -> None:
        grey = _ramp(6, 5, 1).reshape(shape)
        x = prepare(grey, _card(in_channels=3)).tensor
        assert x.shape == (3, 6, 5)
        np.testing.assert_array_equal(x[0], x[1])
        np.testing.assert_array_equal(x[0], x[2])

    def test_float_rgb_is_reduced_to_luma_for_grey_models(self) -> None:
        rgb = np.zeros((1, 3, 3), np.float32)
        rgb[0, 0, 0] = rgb[0, 1, 1] = rgb[0, 2, 2] = 1.0  # pure red, green, blue
        x = prepare(rgb, _card(in_channels=1, input_range=(0.0, 1.0))).tensor
        np.testing.assert_allclose(x[0, 0], [0.299, 0.587, 0.114], atol=1e-6)

    def test_uint8_rgb_to_grey_model_uses_pillows_luma_exactly(self) -> None:
        rgb = np.random.default_rng(7).integers(0, 256, (12, 20, 3), dtype=np.uint8)
        card = _card(in_channels=1, input_range=(0.0, 1.0))
        got = prepare(rgb, card).tensor[0]
        expected = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float32) / 255
        np.testing.assert_allclose(got, expected, atol=1e-6)  # a grey level is 0.0039

    def test_nearby_sizes_share_a_shape_key_with_a_bucket(self) -> None:
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
    def test_padded_shape_is_a_multiple_of_size_multiple(self, height: int, width: int) -> None:
        x = prepare(_ramp(height, width, 3), _card(size_multiple=4, min_size=16)).tensor
        assert x.shape[1] % 4 == 0 and x.shape[2] % 4 == 0
        assert x.shape[1] >= max(height, 16) and x.shape[2] >= max(width, 16)
        assert x.shape[1] - max(height, 16) < 4 and x.shape[2] - max(width, 16) < 4

    def test_padding_mirrors_when_pad_is_smaller_than_the_image(self) -> None:
        pixels = _ramp(5, 6, 3)  # pad to 8x8: 3 rows (< 5), 2 columns (< 6)
        card = _card(size_multiple=4, input_range=(0.0, 1.0))
        x = prepare(pixels, card).tensor
        unpadded = pixels.astype(np.float32).transpose(2, 0, 1) / 255
        expected = np.pad(unpadded, ((0, 0), (0, 3), (0, 2)), mode="reflect")
        np.testing.assert_allclose(x, expected, atol=1e-6)

    def test_padding_repeats_the_edge_when_pad_is_not_smaller_than_the_image(self) -> None:
        pixels = _ramp(3, 20, 1)  # min size 16: 13 rows of padding on 3 rows
        card = _card(size_multiple=4, min_size=16, input_range=(0.0, 1.0), in_channels=1)
        x = prepare(pixels, card).tensor
        assert x.shape == (1, 16, 20)
        np.testing.assert_array_equal(x[0, 3:], np.repeat(x[0, 2:3], 13, axis=0))

    def test_padding_picks_mode_per_axis(self) -> None:
        pixels = _ramp(20, 2, 1)  # 20 rows need none; 2 columns get 14 columns of edge
        card = _card(min_size=16, input_range=(0.0, 1.0), in_channels=1)
        x = prepare(pixels, card).tensor
        assert x.shape == (1, 20, 16)
        np.testing.assert_array_equal(x[0, :, 2:], np.repeat(x[0, :, 1:2], 14, axis=1))

    def test_padding_goes_at_the_bottom_and_right(self) -> None:
        pixels = _ramp(37, 53, 3)
        card = _card(size_multiple=4, input_range=(0.0, 1.0))
        x = prepare(pixels, card).tensor
        np.testing.assert_allclose(x[:, :37, :53], pixels.transpose(2, 0, 1) / 255, atol=1e-6)

    @pytest.mark.parametrize(
        "shape", [(4, 4, 4), (4, 4, 2), (4,), (2, 4, 4, 3)], ids=["rgba", "la", "1d", "4d"]
    )
    def test_unsupported_shapes_raise(self, shape: tuple[int, ...]) -> None:
        with pytest.raises(ValueError, match=r"expected an \(H, W\), \(H, W, 1\) or \(H, W, 3\)"):
            prepare(np.zeros(shape, np.uint8), _card())

    @pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0), (0, 0, 1)])
    def test_empty_images_raise(self, shape: tuple[int, ...]) -> None:
        with pytest.raises(ValueError, match="image is empty"):
            prepare(np.zeros(shape, np.uint8), _card())

    @pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
    def test_other_dtypes_raise(self, dtype: Any) -> None:
        with pytest.raises(TypeError, match="uint8, uint16 or float"):
            prepare(np.zeros((4, 4, 3), dtype), _card())


# --- postprocess ------------------------------------------------------------------------------


class TestPostprocess:
    def test_smoke(self) -> None:
        got = postprocess(np.zeros((3, 4, 4), np.float32), _card(), 4, 4, np.uint8)
        assert (got.shape, got.dtype) == ((4, 4, 3), np.uint8)

    @pytest.mark.parametrize("output_range", [(-1.0, 1.0), (0.0, 1.0), (-2.0, 3.0)])
    def test_output_is_rounded_clipped_and_scaled_to_uint8(
        self, output_range: tuple[float, float]
    ) -> None:
        lo, hi = output_range
        # Values beyond both ends, both ends, and points in between that are not halfway cases.
        unit = np.array([-0.5, 0.0, 0.11, 0.33, 0.502, 0.9, 1.0, 1.7])
        y = (unit * (hi - lo) + lo).astype(np.float32).reshape(1, 1, -1)
        got = postprocess(y, _card(output_range=output_range), 1, unit.size, np.uint8)
        expected = np.round(np.clip(unit, 0, 1) * 255).astype(np.uint8)
        assert got.shape == (1, unit.size, 1)
        np.testing.assert_array_equal(got[0, :, 0], expected)

    def test_output_to_uint16_uses_full_range(self) -> None:
        y = np.array([-1.0, 0.0, 1.0], np.float32).reshape(1, 1, 3)
        got = postprocess(y, _card(), 1, 3, np.uint16)
        assert got.dtype == np.uint16
        np.testing.assert_array_equal(got[0, :, 0], [0, 32768, 65535])

    def test_output_to_float_is_clipped_unit_range(self) -> None:
        y = np.array([-3.0, 0.0, 0.5, 4.0], np.float32).reshape(1, 1, 4)
        got = postprocess(y, _card(), 1, 4, np.float32)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got[0, :, 0], [0.0, 0.5, 0.75, 1.0], atol=1e-7)

    def test_crops_the_padding_back(self) -> None:
        card = _card(size_multiple=4, min_size=16)
        prepared = prepare(_ramp(37, 53, 3), card)
        assert prepared.tensor.shape == (3, 40, 56)
        got = postprocess(prepared.tensor, card, prepared.height, prepared.width, np.uint8)
        assert got.shape == (37, 53, 3)

    @pytest.mark.parametrize("scale", [2, 4])
    def test_crops_scaled_output(self, scale: int) -> None:
        card = _card(task="upscale", scale=scale, size_multiple=4)
        output = np.zeros((3, scale * 40, scale * 56), np.float32)
        assert postprocess(output, card, 37, 53, np.uint8).shape == (37 * scale, 53 * scale, 3)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    @pytest.mark.parametrize("channels", [1, 3])
    def test_prepare_then_postprocess_is_lossless(self, dtype: Any, channels: int) -> None:
        card = _card(in_channels=channels, out_channels=channels, size_multiple=4, min_size=16)
        pixels = _ramp(13, 21, channels, dtype)
        prepared = prepare(pixels, card)
        back = postprocess(prepared.tensor, card, prepared.height, prepared.width, dtype)
        assert back.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(back, pixels)

    @pytest.mark.parametrize("dtype", [np.int32, np.int8])
    def test_other_integer_types_raise(self, dtype: Any) -> None:
        with pytest.raises(TypeError, match="output dtype must be uint8, uint16 or float"):
            postprocess(np.zeros((3, 4, 4), np.float32), _card(), 4, 4, dtype)
