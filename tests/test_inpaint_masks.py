"""Inpainting masks: reading them, polarity and alpha, sizes, dilation, feathering, crop boxes,
and matching mask files to images."""

from __future__ import annotations

from pathlib import Path, PurePath

import numpy as np
import pytest
from inpaint_helpers import box, mask_png
from PIL import Image

import ganedit.masks
from ganedit.errors import GaneditError
from ganedit.masks import (
    MaskError,
    MaskSource,
    dilate,
    feather_weights,
    fit_mask,
    hole_from_array,
    mask_regions,
    read_mask,
)

ORIENTATION = 0x0112


def _distances(hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean and Chebyshev distance of every pixel to the nearest hole pixel (brute force)."""
    ys, xs = np.nonzero(hole)
    yy, xx = np.mgrid[: hole.shape[0], : hole.shape[1]]
    dy = np.abs(yy[:, :, None] - ys[None, None, :])
    dx = np.abs(xx[:, :, None] - xs[None, None, :])
    return np.hypot(dy, dx).min(axis=2), np.maximum(dy, dx).min(axis=2)


# --- hole_from_array: polarity and alpha --------------------------------------------------------


class TestHoleFromArray:
    def test_bool_is_taken_as_it_is(self):
        hole = box(8, 10, 2, 3, 5, 7)
        assert np.array_equal(hole_from_array(hole), hole)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
    def test_any_non_zero_value_is_a_hole(self, dtype):
        mask = np.zeros((6, 7), dtype=dtype)
        mask[1, 2] = 1 if dtype != np.float32 else 0.001
        mask[4, 5] = np.iinfo(dtype).max if dtype != np.float32 else 1.0
        hole = hole_from_array(mask)
        assert hole.dtype == bool
        assert np.array_equal(np.argwhere(hole), [[1, 2], [4, 5]])

    def test_invert_makes_black_the_hole(self):
        mask = np.where(box(8, 10, 2, 3, 5, 7), 255, 0).astype(np.uint8)
        assert np.array_equal(hole_from_array(mask, invert=True), ~box(8, 10, 2, 3, 5, 7))

    def test_invert_flips_a_bool_mask_too(self):
        hole = box(8, 10, 2, 3, 5, 7)
        assert np.array_equal(hole_from_array(hole, invert=True), ~hole)

    def test_a_colour_mask_is_a_hole_where_any_channel_is_non_zero(self):
        mask = np.zeros((5, 5, 3), dtype=np.uint8)
        mask[0, 0, 0] = 200
        mask[1, 1, 1] = 3
        mask[2, 2, 2] = 255
        assert np.array_equal(np.argwhere(hole_from_array(mask)), [[0, 0], [1, 1], [2, 2]])

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    def test_rgba_with_a_real_alpha_is_read_from_alpha(self, dtype):
        full = np.iinfo(dtype).max
        hole = box(8, 9, 1, 2, 6, 4)
        # White colour everywhere: read from colour, everything would be a hole.
        mask = np.full((8, 9, 4), full, dtype=dtype)
        mask[:, :, 3] = np.where(hole, full, 0)
        assert np.array_equal(hole_from_array(mask), hole)

    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
    def test_rgba_with_an_opaque_alpha_is_read_from_colour(self, dtype):
        full = np.iinfo(dtype).max
        hole = box(8, 9, 1, 2, 6, 4)
        mask = np.zeros((8, 9, 4), dtype=dtype)
        mask[:, :, 1] = np.where(hole, full, 0)
        mask[:, :, 3] = full
        assert np.array_equal(hole_from_array(mask), hole)

    def test_la_with_a_real_alpha_is_read_from_alpha(self):
        hole = box(7, 7, 0, 0, 3, 4)
        mask = np.dstack([np.full((7, 7), 255, np.uint8), np.where(hole, 255, 0).astype(np.uint8)])
        assert np.array_equal(hole_from_array(mask), hole)

    def test_la_with_an_opaque_alpha_is_read_from_grey(self):
        hole = box(7, 7, 0, 0, 3, 4)
        mask = np.dstack([np.where(hole, 255, 0).astype(np.uint8), np.full((7, 7), 255, np.uint8)])
        assert np.array_equal(hole_from_array(mask), hole)

    def test_threshold_is_in_the_arrays_own_units(self):
        mask = np.array([[0, 100, 127, 128, 255]], dtype=np.uint8)
        assert hole_from_array(mask, threshold=127).tolist() == [[False, False, False, True, True]]

    @pytest.mark.parametrize("shape", [(4,), (2, 3, 4, 5)])
    def test_other_shapes_raise_value_error(self, shape):
        with pytest.raises(ValueError, match="must be"):
            hole_from_array(np.zeros(shape, np.uint8))


# --- read_mask: files -------------------------------------------------------------------------


class TestReadMask:
    def test_png_white_is_the_hole(self, tmp_path):
        hole = box(12, 14, 3, 4, 8, 10)
        assert np.array_equal(read_mask(mask_png(tmp_path / "m.png", hole)), hole)

    def test_invert(self, tmp_path):
        hole = box(12, 14, 3, 4, 8, 10)
        assert np.array_equal(read_mask(mask_png(tmp_path / "m.png", hole), invert=True), ~hole)

    def test_a_png_mask_counts_any_non_zero_value(self, tmp_path):
        mask = np.zeros((6, 6), np.uint8)
        mask[2, 3] = 1
        Image.fromarray(mask).save(tmp_path / "m.png")
        assert np.array_equal(np.argwhere(read_mask(tmp_path / "m.png")), [[2, 3]])

    def test_sixteen_bit_grey_png(self, tmp_path):
        hole = box(10, 12, 2, 2, 5, 9)
        mask = np.where(hole, 65535, 0).astype(np.uint16)
        mask[0, 0] = 1  # the smallest 16-bit value is still a hole in a lossless file
        Image.fromarray(mask).save(tmp_path / "m.png")
        expected = hole.copy()
        expected[0, 0] = True
        assert np.array_equal(read_mask(tmp_path / "m.png"), expected)

    def test_jpeg_mask_is_thresholded_at_half(self, tmp_path):
        # A block-aligned white square on a background of near-black noise, as a JPEG.
        hole = box(32, 40, 8, 16, 24, 32)
        rng = np.random.default_rng(3)
        mask = rng.integers(0, 25, size=(32, 40)).astype(np.uint8)
        mask[hole] = 255
        Image.fromarray(mask).save(tmp_path / "m.jpg", quality=75)
        with Image.open(tmp_path / "m.jpg") as im:
            assert np.asarray(im)[~hole].max() > 0  # the noise survived: a > 0 cut would fail
        assert np.array_equal(read_mask(tmp_path / "m.jpg"), hole)

    def test_rgba_png_with_a_real_alpha_uses_alpha(self, tmp_path):
        hole = box(10, 10, 2, 2, 6, 8)
        rgba = np.zeros((10, 10, 4), np.uint8)
        rgba[:, :, :3] = 255  # a white brush colour everywhere
        rgba[:, :, 3] = np.where(hole, 255, 0)
        Image.fromarray(rgba, mode="RGBA").save(tmp_path / "m.png")
        assert np.array_equal(read_mask(tmp_path / "m.png"), hole)

    def test_rgba_png_with_opaque_alpha_uses_colour(self, tmp_path):
        hole = box(10, 10, 2, 2, 6, 8)
        rgba = np.zeros((10, 10, 4), np.uint8)
        rgba[:, :, 0] = np.where(hole, 255, 0)
        rgba[:, :, 3] = 255
        Image.fromarray(rgba, mode="RGBA").save(tmp_path / "m.png")
        assert np.array_equal(read_mask(tmp_path / "m.png"), hole)

    def test_la_png_with_a_real_alpha_uses_alpha(self, tmp_path):
        hole = box(10, 10, 2, 2, 6, 8)
        la = np.dstack([np.full((10, 10), 255, np.uint8), np.where(hole, 255, 0).astype(np.uint8)])
        Image.fromarray(la, mode="LA").save(tmp_path / "m.png")
        assert np.array_equal(read_mask(tmp_path / "m.png"), hole)

    def test_la_png_with_opaque_alpha_uses_grey(self, tmp_path):
        hole = box(10, 10, 2, 2, 6, 8)
        la = np.dstack([np.where(hole, 255, 0).astype(np.uint8), np.full((10, 10), 255, np.uint8)])
        Image.fromarray(la, mode="LA").save(tmp_path / "m.png")
        assert np.array_equal(read_mask(tmp_path / "m.png"), hole)

    def test_a_mask_with_exif_orientation_is_read_upright(self, tmp_path):
        upright = box(20, 12, 1, 2, 6, 5)  # 12 wide, 20 high; the hole near the top left
        stored = np.rot90(upright, k=1)  # what a camera rotated 90° clockwise would store
        exif = Image.Exif()
        exif[ORIENTATION] = 6
        Image.fromarray(np.where(stored, 255, 0).astype(np.uint8)).save(
            tmp_path / "m.png", exif=exif.tobytes()
        )
        assert np.array_equal(read_mask(tmp_path / "m.png"), upright)

    @pytest.mark.parametrize("mode", ["1", "P"])
    def test_bilevel_and_palette_pngs(self, tmp_path, mode):
        hole = box(12, 14, 3, 4, 8, 10)
        Image.fromarray(np.where(hole, 255, 0).astype(np.uint8)).convert(mode).save(
            tmp_path / "m.png"
        )
        assert np.array_equal(read_mask(tmp_path / "m.png"), hole)

    def test_an_unreadable_mask_is_a_mask_error_naming_the_file(self, tmp_path):
        bad = tmp_path / "bad_mask.png"
        bad.write_bytes(b"\x89PNG\r\n\x1a\n nothing more")
        with pytest.raises(MaskError, match=r"bad_mask\.png") as info:
            read_mask(bad)
        assert isinstance(info.value, GaneditError)


# --- fit_mask: sizes -------------------------------------------------------------------------


class TestFitMask:
    def test_a_mask_of_the_right_size_is_returned_as_it_is(self):
        hole = box(10, 12, 1, 1, 4, 4)
        assert fit_mask(hole, 10, 12) is hole

    def test_a_wrong_size_names_both_sizes_and_the_mask(self):
        hole = box(10, 12, 1, 1, 4, 4)
        with pytest.raises(MaskError, match=r"mask masks/photo\.png is 12×10") as info:
            fit_mask(hole, 20, 30, name="mask masks/photo.png")
        message = str(info.value)
        assert "12×10" in message and "30×20" in message
        assert "masks/photo.png" in message
        assert "--resize-mask" in message

    def test_resize_is_nearest_neighbour_and_stays_binary(self):
        rng = np.random.default_rng(0)
        small = rng.random((6, 8)) > 0.5
        big = fit_mask(small, 18, 24, resize=True)
        assert big.dtype == bool
        assert np.array_equal(big, np.kron(small, np.ones((3, 3), dtype=bool)))

    def test_resize_to_a_non_integer_factor_stays_binary(self):
        hole = box(7, 9, 2, 3, 5, 6)
        big = fit_mask(hole, 20, 13, resize=True)
        assert big.shape == (20, 13) and big.dtype == bool
        assert big.any() and not big.all()


# --- dilate -------------------------------------------------------------------------------------


class TestDilate:
    def test_zero_pixels_changes_nothing(self):
        hole = box(16, 16, 5, 5, 9, 9)
        assert np.array_equal(dilate(hole, 0), hole)

    def test_an_empty_hole_stays_empty(self):
        assert not dilate(np.zeros((10, 10), bool), 3).any()

    @pytest.mark.parametrize("pixels", [1, 2, 3, 5])
    def test_grows_by_a_disc_of_radius_n(self, pixels):
        hole = box(40, 44, 15, 17, 22, 20)
        hole[30, 35] = True  # a second, single-pixel hole
        grown = dilate(hole, pixels)
        euclid, chebyshev = _distances(hole)
        assert np.all(grown[euclid <= pixels])  # everything within N is in
        assert not np.any(grown[chebyshev > pixels])  # nothing farther than N in any direction
        assert np.all(grown[hole])


# --- feather_weights ---------------------------------------------------------------------------


class TestFeatherWeights:
    def test_no_feather_is_the_hole_itself(self):
        hole = box(12, 12, 3, 3, 9, 9)
        weights = feather_weights(hole, 0)
        assert weights.dtype == np.float32
        assert np.array_equal(weights, hole.astype(np.float32))

    @pytest.mark.parametrize("pixels", [2, 4])
    def test_zero_outside_ramping_inward_one_deep_inside(self, pixels):
        hole = box(40, 40, 8, 8, 32, 32)
        weights = feather_weights(hole, pixels)
        assert weights.dtype == np.float32 and weights.shape == hole.shape
        assert np.all(weights[~hole] == 0)
        assert np.all((weights >= 0) & (weights <= 1))
        # Along row 20 from the left border of the hole to its centre.
        row = weights[20, 8:21]
        assert np.all(np.diff(row) >= 0)
        assert np.all(np.diff(row[: pixels + 1]) > 0)  # a real ramp over the feather width
        assert 0 < row[0] < 1
        assert np.all(row[pixels + 1 :] == 1)
        assert np.all(weights[8 + pixels + 1 : 32 - pixels - 1, 8 + pixels + 1 : 32 - pixels - 1])

    def test_the_image_edge_is_not_a_border_of_the_hole(self):
        hole = box(20, 20, 0, 0, 20, 10)  # the whole left half
        weights = feather_weights(hole, 3)
        assert np.all(weights[:, :6] == 1)  # far from the kept half: full weight up to the edge
        assert 0 < weights[10, 9] < 1

    def test_a_hole_covering_everything_is_all_ones(self):
        assert np.all(feather_weights(np.ones((8, 8), bool), 3) == 1)

    def test_an_empty_hole_is_all_zeros(self):
        assert not feather_weights(np.zeros((8, 8), bool), 3).any()


# --- mask_regions ------------------------------------------------------------------------------


class TestMaskRegions:
    def test_no_hole_no_boxes(self):
        assert mask_regions(np.zeros((20, 20), bool), 5) == []

    def test_one_hole_gets_its_margin(self):
        hole = box(64, 64, 10, 20, 14, 25)
        assert mask_regions(hole, 5) == [(5, 15, 19, 30)]

    def test_zero_margin_is_the_bounding_box(self):
        hole = box(64, 64, 10, 20, 14, 25)
        hole[12, 27] = True  # a separate pixel, two columns to the right
        boxes = mask_regions(hole, 0)
        assert boxes == [(10, 20, 14, 25), (12, 27, 13, 28)]

    def test_boxes_are_clipped_to_the_image(self):
        hole = box(30, 40, 0, 35, 3, 40)
        assert mask_regions(hole, 8) == [(0, 27, 11, 40)]

    def test_overlapping_boxes_are_merged(self):
        hole = box(64, 64, 10, 10, 14, 14) | box(64, 64, 20, 20, 24, 24)
        # Margins 4: (6, 6, 18, 18) and (16, 16, 28, 28) overlap.
        assert mask_regions(hole, 4) == [(6, 6, 28, 28)]

    def test_a_chain_of_overlaps_is_merged_into_one(self):
        hole = box(64, 64, 5, 5, 7, 7) | box(64, 64, 5, 13, 7, 15) | box(64, 64, 5, 21, 7, 23)
        # (1, 1, 11, 11) overlaps (1, 9, 11, 19), which overlaps (1, 17, 11, 27).
        assert mask_regions(hole, 4) == [(1, 1, 11, 27)]

    def test_boxes_that_only_touch_are_kept_apart(self):
        hole = box(64, 64, 5, 5, 7, 7) | box(64, 64, 5, 15, 7, 17)
        assert mask_regions(hole, 4) == [(1, 1, 11, 11), (1, 11, 11, 21)]

    def test_far_apart_holes_get_their_own_boxes_sorted(self):
        hole = box(64, 64, 40, 40, 44, 44) | box(64, 64, 5, 5, 8, 8)
        assert mask_regions(hole, 3) == [(2, 2, 11, 11), (37, 37, 47, 47)]

    def test_every_hole_pixel_is_inside_a_box_with_its_margin(self):
        rng = np.random.default_rng(5)
        hole = rng.random((48, 56)) > 0.995
        margin = 3
        boxes = mask_regions(hole, margin)
        for y, x in np.argwhere(hole):
            assert any(
                max(y - margin, 0) >= t
                and max(x - margin, 0) >= left
                and min(y + margin + 1, 48) <= b
                and min(x + margin + 1, 56) <= r
                for t, left, b, r in boxes
            )

    def test_boxes_are_widened_to_the_multiple_within_the_image(self):
        hole = box(64, 64, 10, 10, 13, 13)
        ((top, left, bottom, right),) = mask_regions(hole, 0, multiple=8)
        assert (bottom - top, right - left) == (8, 8)
        assert top <= 10 and bottom >= 13 and left <= 10 and right >= 13

    @pytest.mark.parametrize(("top", "left"), [(0, 0), (61, 61), (0, 61), (30, 0)])
    def test_widening_at_the_image_edges_stays_inside(self, top, left):
        hole = box(64, 64, top, left, top + 3, left + 3)
        ((t, lft, b, r),) = mask_regions(hole, 0, multiple=8)
        assert (b - t, r - lft) == (8, 8)
        assert 0 <= t <= top and top + 3 <= b <= 64
        assert 0 <= lft <= left and left + 3 <= r <= 64

    def test_widening_stops_at_the_image_size(self):
        hole = box(10, 12, 4, 4, 6, 6)
        ((top, left, bottom, right),) = mask_regions(hole, 3, multiple=16)
        assert (top, left, bottom, right) == (0, 0, 10, 12)


# --- MaskSource: which mask belongs to which image ---------------------------------------------


class TestMaskSource:
    def test_a_missing_path_is_a_mask_error(self, tmp_path):
        with pytest.raises(MaskError, match="does not exist"):
            MaskSource(tmp_path / "nowhere")

    def test_one_file_is_the_mask_of_every_image(self, tmp_path):
        mask = mask_png(tmp_path / "m.png", box(4, 4, 1, 1, 2, 2))
        source = MaskSource(mask)
        assert not source.is_folder
        for rel in ("a.jpg", "sub/b.png", "m.png"):
            assert source.find(PurePath(rel)) == mask.resolve()

    def test_photo_jpg_finds_photo_png(self, tmp_path):
        mask = mask_png(tmp_path / "masks" / "photo.png", box(4, 4, 1, 1, 2, 2))
        assert MaskSource(tmp_path / "masks").find(PurePath("photo.jpg")) == mask.resolve()

    def test_photo_jpg_finds_photo_mask_png(self, tmp_path):
        mask = mask_png(tmp_path / "masks" / "photo_mask.png", box(4, 4, 1, 1, 2, 2))
        assert MaskSource(tmp_path / "masks").find(PurePath("photo.jpg")) == mask.resolve()

    def test_the_mask_name_is_preferred(self, tmp_path):
        mask_png(tmp_path / "masks" / "photo.png", box(4, 4, 1, 1, 2, 2))
        preferred = mask_png(tmp_path / "masks" / "photo_mask.png", box(4, 4, 1, 1, 2, 2))
        assert MaskSource(tmp_path / "masks").find(PurePath("photo.jpg")) == preferred.resolve()

    @pytest.mark.parametrize("suffix", [".jpg", ".tif", ".webp", ".bmp"])
    def test_any_image_suffix_is_a_mask(self, tmp_path, suffix):
        folder = tmp_path / "masks"
        folder.mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / f"photo_mask{suffix}")
        assert MaskSource(folder).find(PurePath("photo.png")).name == f"photo_mask{suffix}"

    def test_non_image_files_are_not_masks(self, tmp_path):
        folder = tmp_path / "masks"
        folder.mkdir()
        (folder / "photo_mask.txt").write_text("not a mask")
        (folder / "photo.json").write_text("{}")
        with pytest.raises(MaskError, match=r"no mask for photo\.jpg"):
            MaskSource(folder).find(PurePath("photo.jpg"))

    def test_nested_paths_follow_the_relative_path(self, tmp_path):
        mask = mask_png(tmp_path / "masks" / "a" / "b" / "photo.png", box(4, 4, 1, 1, 2, 2))
        mask_png(tmp_path / "masks" / "photo.png", box(4, 4, 1, 1, 2, 2))  # not this one
        found = MaskSource(tmp_path / "masks").find(PurePath("a/b/photo.jpg"))
        assert found == mask.resolve()

    def test_a_missing_mask_says_where_it_looked(self, tmp_path):
        folder = tmp_path / "masks"
        mask_png(folder / "other.png", box(4, 4, 1, 1, 2, 2))
        with pytest.raises(MaskError, match=r"no mask for sub/photo\.jpg") as info:
            MaskSource(folder).find(PurePath("sub/photo.jpg"))
        message = str(info.value)
        assert "no mask for sub/photo.jpg" in message
        looked = folder.resolve() / "sub" / "photo"
        assert f"{looked}_mask.*" in message and f"{looked}.*" in message

    def test_two_equally_good_masks_are_ambiguous(self, tmp_path):
        folder = tmp_path / "masks"
        mask_png(folder / "photo.png", box(4, 4, 1, 1, 2, 2))
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "photo.jpg")
        with pytest.raises(MaskError, match="more than one mask") as info:
            MaskSource(folder).find(PurePath("photo.tif"))
        assert "photo.jpg" in str(info.value) and "photo.png" in str(info.value)

    def test_an_image_is_never_its_own_mask(self, tmp_path):
        image = mask_png(tmp_path / "photo.png", box(4, 4, 1, 1, 2, 2))
        source = MaskSource(tmp_path)
        with pytest.raises(MaskError, match="no mask"):
            source.find(PurePath("photo.png"), source=image.resolve())

    def test_a_mask_beside_its_image_is_found(self, tmp_path):
        image = mask_png(tmp_path / "photo.png", box(4, 4, 1, 1, 2, 2))
        mask = mask_png(tmp_path / "photo_mask.png", box(4, 4, 1, 1, 2, 2))
        found = MaskSource(tmp_path).find(PurePath("photo.png"), source=image.resolve())
        assert found == mask.resolve()

    def test_invert_reads_black_as_the_hole(self, tmp_path):
        hole = box(6, 8, 1, 2, 4, 6)
        mask_png(tmp_path / "masks" / "photo.png", ~hole)
        source = MaskSource(tmp_path / "masks", invert=True)
        assert np.array_equal(source.read(source.find(PurePath("photo.jpg"))), hole)

    def test_without_invert_white_is_the_hole(self, tmp_path):
        hole = box(6, 8, 1, 2, 4, 6)
        mask = mask_png(tmp_path / "photo.png", hole)
        assert np.array_equal(MaskSource(mask).read(mask), hole)

    def test_each_folder_is_listed_once_however_many_images(self, tmp_path, monkeypatch):
        for rel in ("a.png", "b.png", "c.png", "sub/a.png", "sub/b.png"):
            mask_png(tmp_path / "masks" / rel, box(4, 4, 1, 1, 2, 2))
        listed = []
        images_in = ganedit.masks._images_in

        def spy(folder):
            listed.append(folder)
            return images_in(folder)

        monkeypatch.setattr(ganedit.masks, "_images_in", spy)
        source = MaskSource(tmp_path / "masks")
        for rel in ("a.jpg", "b.jpg", "sub/a.jpg", "c.jpg", "sub/b.jpg", "a.tif"):
            source.find(PurePath(rel))
        folder = (tmp_path / "masks").resolve()
        assert listed == [folder, folder / "sub"]


def test_mask_error_is_a_ganedit_error():
    assert issubclass(MaskError, GaneditError)


def test_masks_are_found_for_any_path_type(tmp_path: Path):
    mask = mask_png(tmp_path / "photo_mask.png", box(4, 4, 1, 1, 2, 2))
    assert MaskSource(str(tmp_path)).find(PurePath("photo.jpg")) == mask.resolve()
