"""Hole masks for inpainting training: generated strokes and boxes, and masks from a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch")
from ganedit.train import random_masks
from ganedit.train.data_layout import DatasetError
from ganedit.train.random_masks import MaskFolder, box_mask, generate_mask, stroke_mask

SIZES = [(32, 32), (48, 80), (256, 256)]
KINDS = ["strokes", "boxes", "mixed"]


def _is_one_rectangle(mask: np.ndarray) -> bool:
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return False
    box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return bool(box.all())


class TestGenerateMask:
    @pytest.mark.parametrize("kind", KINDS)
    def test_same_seed_gives_the_same_mask(self, kind):
        a = generate_mask(48, 80, np.random.default_rng(7), kind=kind)
        b = generate_mask(48, 80, np.random.default_rng(7), kind=kind)
        np.testing.assert_array_equal(a, b)

    @pytest.mark.parametrize("kind", KINDS)
    def test_other_seeds_give_other_masks(self, kind):
        masks = [generate_mask(48, 80, np.random.default_rng(s), kind=kind) for s in range(5)]
        assert len({m.tobytes() for m in masks}) == 5

    @pytest.mark.parametrize("size", SIZES, ids=str)
    @pytest.mark.parametrize("kind", KINDS)
    def test_binary_uint8_of_the_requested_size(self, kind, size):
        mask = generate_mask(*size, np.random.default_rng(0), kind=kind)
        assert mask.shape == size and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 1}

    @pytest.mark.parametrize("bounds", [(0.05, 0.5), (0.2, 0.3), (0.0, 0.1), (0.6, 0.9)])
    @pytest.mark.parametrize("kind", KINDS)
    def test_coverage_stays_within_the_bounds(self, kind, bounds):
        low, high = bounds
        for seed in range(40):
            rng = np.random.default_rng(seed)
            mask = generate_mask(48, 64, rng, kind=kind, min_coverage=low, max_coverage=high)
            coverage = mask.mean()
            assert low <= coverage <= high, (seed, coverage)

    def test_coverage_spreads_over_the_range(self):
        coverages = [generate_mask(64, 64, np.random.default_rng(s)).mean() for s in range(60)]
        assert min(coverages) < 0.2 and max(coverages) > 0.35

    @pytest.mark.parametrize("seed", range(5))
    def test_a_box_is_one_rectangle_of_10_to_50_percent_a_side(self, seed):
        mask = box_mask(40, 80, np.random.default_rng(seed))
        assert _is_one_rectangle(mask)
        rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
        assert 4 <= len(rows) <= 20 and 8 <= len(cols) <= 40

    def test_strokes_are_not_rectangles(self):
        strokes = [stroke_mask(64, 64, np.random.default_rng(s)) for s in range(20)]
        assert not any(_is_one_rectangle(m) for m in strokes)

    def test_stroke_widths_scale_with_the_image(self):
        small = np.mean([stroke_mask(32, 32, np.random.default_rng(s)).mean() for s in range(20)])
        large = np.mean([stroke_mask(256, 256, np.random.default_rng(s)).mean() for s in range(20)])
        assert small == pytest.approx(large, rel=0.5)

    @pytest.mark.parametrize(
        ("kind", "expected"),
        [("strokes", {"stroke"}), ("boxes", {"box"}), ("mixed", {"stroke", "box"})],
    )
    def test_every_mask_draws_the_shapes_of_its_kind(self, kind, expected, monkeypatch):
        drawn: list[str] = []

        def record(name, draw):
            def wrapper(*args, **kwargs):
                drawn.append(name)
                return draw(*args, **kwargs)

            return wrapper

        monkeypatch.setattr(random_masks, "stroke_mask", record("stroke", stroke_mask))
        monkeypatch.setattr(random_masks, "box_mask", record("box", box_mask))
        for seed in range(10):
            drawn.clear()
            generate_mask(64, 64, np.random.default_rng(seed), kind=kind)
            assert set(drawn) == expected

    def test_tight_bounds_still_give_a_mask_within_them(self):
        mask = generate_mask(40, 40, np.random.default_rng(0), min_coverage=0.3, max_coverage=0.31)
        assert 0.3 <= mask.mean() <= 0.31

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"min_coverage": 0.6, "max_coverage": 0.5},
            {"min_coverage": -0.1},
            {"max_coverage": 1.5},
            {"min_coverage": 0.0, "max_coverage": 0.0},
        ],
    )
    def test_invalid_bounds_are_refused(self, kwargs):
        with pytest.raises(ValueError, match="coverage bounds"):
            generate_mask(32, 32, np.random.default_rng(0), **kwargs)

    def test_unknown_kind_is_refused(self):
        with pytest.raises(ValueError, match="kind must be one of"):
            generate_mask(32, 32, np.random.default_rng(0), kind="circles")  # type: ignore[arg-type]


class TestMaskFolder:
    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        masks = tmp_path / "masks"
        masks.mkdir()
        left = np.zeros((20, 30), np.uint8)
        left[:, :10] = 255  # the left third is a hole
        Image.fromarray(left).save(masks / "left.png")
        return masks

    def test_non_zero_pixels_are_holes_resized_with_nearest(self, folder: Path):
        mask = MaskFolder(folder).sample(40, 60, np.random.default_rng(0))
        assert mask.shape == (40, 60) and mask.dtype == np.uint8
        assert set(np.unique(mask)) == {0, 1}
        assert mask.mean() == pytest.approx(1 / 3)
        columns = mask.mean(axis=0)
        assert set(np.unique(columns)) == {0.0, 1.0}  # whole columns: the hole is a side band

    def test_flips_put_the_band_on_either_side(self, folder: Path):
        sides = {
            int(MaskFolder(folder).sample(40, 60, np.random.default_rng(s))[0, 0])
            for s in range(20)
        }
        assert sides == {0, 1}

    def test_same_seed_gives_the_same_mask(self, folder: Path):
        masks = MaskFolder(folder)
        a = masks.sample(32, 32, np.random.default_rng(4))
        b = masks.sample(32, 32, np.random.default_rng(4))
        np.testing.assert_array_equal(a, b)

    def test_colour_masks_are_read_as_grey(self, tmp_path: Path):
        (tmp_path / "m").mkdir()
        pixels = np.zeros((8, 8, 3), np.uint8)
        pixels[:4, :, 0] = 200  # red top half
        Image.fromarray(pixels).save(tmp_path / "m" / "red.png")
        assert MaskFolder(tmp_path / "m").sample(8, 8, np.random.default_rng(0)).mean() == 0.5

    def test_missing_folder_is_a_dataset_error(self, tmp_path: Path):
        with pytest.raises(DatasetError, match="no such folder of mask images"):
            MaskFolder(tmp_path / "nothing")

    def test_empty_folder_is_a_dataset_error(self, tmp_path: Path):
        (tmp_path / "empty").mkdir()
        with pytest.raises(DatasetError, match="no images"):
            MaskFolder(tmp_path / "empty")
