"""Tiled inference: the grid, the blending window, seam-free results, batching, OOM fallback."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from ganedit.tiling import (
    Tile,
    blend_weights,
    looks_like_oom,
    min_tile_size,
    run_tiled,
    run_tiled_adaptive,
    tile_grid,
)

GRAY_LEVEL = 1 / 255


def _upsample(batch: np.ndarray, scale: int) -> np.ndarray:
    return batch.repeat(scale, axis=2).repeat(scale, axis=3)


def _pointwise(scale: int):
    """Stand-in network without a receptive field: nearest upsample, squared."""
    return lambda batch: _upsample(batch, scale) ** 2


def _box_blur(batch: np.ndarray, size: int) -> np.ndarray:
    # Zero padding at the array border, as the convolutions of an SR network have.
    out = np.empty_like(batch)
    for b in range(batch.shape[0]):
        for c in range(batch.shape[1]):
            out[b, c] = cv2.blur(batch[b, c], (size, size), borderType=cv2.BORDER_CONSTANT)
    return out


def _local(scale: int, size: int = 5):
    """Stand-in network with a ``size`` x ``size`` receptive field: box blur, then upsample."""
    return lambda batch: _upsample(_box_blur(batch, size), scale)


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """``(3, H, W)`` float32 in [0, 1] with photo-like structure: smooth blobs, edges, texture."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((3, height // 32 + 2, width // 32 + 2)).astype(np.float32)
    smooth = np.stack(
        [cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse]
    )
    yy, xx = np.mgrid[:height, :width]
    edges = ((xx // 53 + yy // 41) % 2).astype(np.float32)
    noise = rng.random((3, height, width), dtype=np.float32)
    return np.clip(0.5 * smooth + 0.3 * edges + 0.2 * noise, 0, 1).astype(np.float32)


def _naive_paste(run, image: np.ndarray, scale: int, tile: int) -> np.ndarray:
    """The reference's approach without context: each tile pasted as it comes out."""
    c, h, w = image.shape
    out = np.zeros((c, h * scale, w * scale), np.float32)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            part = image[None, :, top : top + tile, left : left + tile]
            y = run(part)[0]
            out[
                :, top * scale : top * scale + y.shape[1], left * scale : left * scale + y.shape[2]
            ] = y
    return out


# --- the grid -------------------------------------------------------------------------------

GRIDS = [
    # (height, width, tile, overlap, multiple)
    (50, 60, 128, 16, 1),  # smaller than a tile
    (1, 1, 64, 8, 1),
    (128, 128, 128, 16, 1),  # exactly a tile
    (129, 129, 128, 16, 1),  # a tile plus one
    (129, 130, 128, 16, 4),
    (300, 100, 128, 16, 1),
    (800, 1000, 128, 16, 4),
    (10, 5000, 64, 8, 4),  # huge and thin
    (5000, 7, 96, 16, 8),
    (257, 33, 64, 16, 1),
    (127, 130, 48, 8, 16),
    (200, 200, 100, 0, 1),  # no overlap
    (1001, 999, 37, 10, 3),  # tile not a multiple
    (300, 300, 32, 5, 16),  # stride of exactly one multiple
]


def _random_grids(count: int, seed: int = 0) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    grids = []
    for _ in range(count):
        multiple = int(rng.choice([1, 2, 4, 8, 16]))
        overlap = int(rng.integers(0, 33))
        smallest = min_tile_size(overlap, multiple)
        tile = int(rng.integers(smallest, smallest + 4 * multiple + 64))
        grids.append((*map(int, rng.integers(1, 3 * tile, size=2)), tile, overlap, multiple))
    return grids


GRIDS += _random_grids(40)


@pytest.fixture(params=GRIDS, ids=lambda g: "x".join(map(str, g)))
def grid(request: pytest.FixtureRequest) -> tuple[tuple[int, ...], list[Tile]]:
    height, width, tile, overlap, multiple = request.param
    return request.param, tile_grid(height, width, tile=tile, overlap=overlap, multiple=multiple)


def test_grid_covers_every_pixel_inside_the_image(grid) -> None:
    (height, width, *_), tiles = grid
    covered = np.zeros((height, width), bool)
    for t in tiles:
        assert t.top >= 0 and t.top + t.height <= height
        assert t.left >= 0 and t.left + t.width <= width
        covered[t.top : t.top + t.height, t.left : t.left + t.width] = True
    assert covered.all()


def test_grid_tiles_share_one_run_shape_within_tile_and_multiple(grid) -> None:
    (height, width, tile, _, multiple), tiles = grid
    shapes = {t.run_shape for t in tiles}
    assert len(shapes) == 1
    (run_h, run_w) = shapes.pop()
    assert run_h % multiple == 0 and run_w % multiple == 0
    for side, run_side in ((height, run_h), (width, run_w)):
        padded = -(-side // multiple) * multiple
        # Larger than a tile: full-size tiles (shifted, not shrunk); else the whole axis.
        assert run_side == (tile // multiple * multiple if padded > tile else padded)


def test_grid_origins_are_multiples_and_padding_only_at_the_far_border(grid) -> None:
    (height, width, _, _, multiple), tiles = grid
    for t in tiles:
        assert t.top % multiple == 0 and t.left % multiple == 0
        assert t.pad_bottom < multiple and t.pad_right < multiple
        assert t.pad_bottom == 0 or t.top + t.height == height
        assert t.pad_right == 0 or t.left + t.width == width


def test_grid_neighbours_overlap_by_at_least_overlap(grid) -> None:
    (_, _, _, overlap, _), tiles = grid
    for spans in (
        sorted({(t.top, t.height) for t in tiles}),
        sorted({(t.left, t.width) for t in tiles}),
    ):
        for (start, size), (next_start, _) in itertools.pairwise(spans):
            assert start < next_start <= start + size - overlap


def test_grid_marks_the_image_border(grid) -> None:
    (height, width, *_), tiles = grid
    for t in tiles:
        assert t.at_top == (t.top == 0) and t.at_left == (t.left == 0)
        assert t.at_bottom == (t.top + t.height == height)
        assert t.at_right == (t.left + t.width == width)


def test_grid_is_one_tile_when_the_image_fits() -> None:
    (t,) = tile_grid(126, 127, tile=128, overlap=16, multiple=4)
    assert (t.height, t.width, t.run_shape) == (126, 127, (128, 128))


@pytest.mark.parametrize(
    ("tile", "overlap", "multiple"), [(31, 16, 1), (40, 24, 16), (8, 0, 16), (26, 5, 16)]
)
def test_grid_rejects_a_tile_too_small_for_overlap(tile: int, overlap: int, multiple: int) -> None:
    with pytest.raises(ValueError, match="too small"):
        tile_grid(500, 500, tile=tile, overlap=overlap, multiple=multiple)


@pytest.mark.parametrize(("overlap", "multiple"), [(0, 1), (16, 1), (5, 16), (24, 16), (10, 3)])
def test_min_tile_size_is_the_smallest_accepted(overlap: int, multiple: int) -> None:
    smallest = min_tile_size(overlap, multiple)
    assert smallest % multiple == 0
    assert tile_grid(99, 99, tile=smallest, overlap=overlap, multiple=multiple)
    with pytest.raises(ValueError, match=f"at least {smallest}"):
        tile_grid(99, 99, tile=smallest - 1, overlap=overlap, multiple=multiple)


# --- the blending window --------------------------------------------------------------------


def test_window_is_flat_on_image_borders() -> None:
    w = blend_weights(
        40, 30, overlap=8, at_top=True, at_left=True, at_bottom=True, at_right=True, scale=2
    )
    assert w.shape == (80, 60) and w.dtype == np.float32
    assert (w == 1).all()


def test_window_ramps_on_interior_edges_only() -> None:
    w = blend_weights(
        64, 64, overlap=16, at_top=False, at_left=True, at_bottom=True, at_right=False, scale=1
    )
    assert (w > 0).all() and (w <= 1).all()
    assert w[0, 0] < 0.01 and w[-1, 0] == 1 and w[-1, -1] < 0.01
    assert (w[16:, :48] == 1).all()
    assert np.all(np.diff(w[:16, 30]) >= 0)  # rises monotonically into the tile


@pytest.mark.parametrize(
    ("height", "width", "tile", "overlap", "scale"),
    [
        (180, 150, 64, 16, 4),
        (129, 129, 128, 16, 2),
        (200, 90, 40, 8, 1),
    ],
)
def test_normalised_weights_sum_to_one_and_change_smoothly(
    height: int, width: int, tile: int, overlap: int, scale: int
) -> None:
    tiles = tile_grid(height, width, tile=tile, overlap=overlap)
    windows = []
    total = np.zeros((height * scale, width * scale), np.float64)
    for t in tiles:
        w = blend_weights(
            t.height,
            t.width,
            overlap=overlap,
            at_top=t.at_top,
            at_left=t.at_left,
            at_bottom=t.at_bottom,
            at_right=t.at_right,
            scale=scale,
        )
        full = np.zeros_like(total)
        full[
            t.top * scale : (t.top + t.height) * scale, t.left * scale : (t.left + t.width) * scale
        ] = w
        windows.append(full)
        total += full
    assert total.min() >= 1.0 - 1e-6  # every pixel has a tile at full weight, or two halves
    normalised = [w / total for w in windows]
    np.testing.assert_allclose(sum(normalised), 1.0, atol=1e-6)
    # A raised cosine over half the band: steepest step pi / band; allow the normaliser 2x.
    bound = 2 * np.pi / (overlap * scale)
    for w in normalised:
        assert np.abs(np.diff(w, axis=0)).max() <= bound
        assert np.abs(np.diff(w, axis=1)).max() <= bound


# --- results ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tile", "overlap", "multiple", "scale", "batch_size"),
    [
        (32, 8, 1, 4, 4),
        (48, 4, 8, 2, 3),
        (64, 16, 4, 1, 1),
        (17, 0, 1, 3, 8),
        (40, 12, 16, 4, 2),
    ],
)
def test_pointwise_network_tiles_exactly(
    tile: int, overlap: int, multiple: int, scale: int, batch_size: int
) -> None:
    image = _photo(101, 77)
    run = _pointwise(scale)
    tiled = run_tiled(
        run,
        image,
        scale=scale,
        tile=tile,
        overlap=overlap,
        multiple=multiple,
        batch_size=batch_size,
    )
    assert tiled.shape == (3, 101 * scale, 77 * scale) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, run(image[None])[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("overlap", [8, 16])
def test_local_network_tiles_within_two_gray_levels_of_whole(overlap: int) -> None:
    # The criterion: a tiled x4 upscale of a 1000x800 image with tile 128 differs from
    # the untiled result by at most 2 gray levels anywhere.
    image = _photo(800, 1000)
    run = _local(4)
    tiled = run_tiled(run, image, scale=4, tile=128, overlap=overlap, multiple=4)
    whole = run(image[None])[0]
    assert np.abs(tiled - whole).max() <= 2 * GRAY_LEVEL


@pytest.mark.parametrize("axis", [1, 2], ids=["across-rows", "across-columns"])
def test_tiled_result_shows_no_seam_where_pasting_does(axis: int) -> None:
    image = _photo(256, 320, seed=3)
    run = _local(4, size=7)
    whole = run(image[None])[0]
    tiled = run_tiled(run, image, scale=4, tile=64, overlap=16)
    pasted = _naive_paste(run, image, scale=4, tile=64)
    # A seam is a jump between neighbouring pixels that the whole-image result lacks.
    assert np.abs(np.diff(tiled, axis=axis) - np.diff(whole, axis=axis)).max() < GRAY_LEVEL
    assert np.abs(np.diff(pasted, axis=axis) - np.diff(whole, axis=axis)).max() > 0.05


def test_small_image_runs_whole_padded_to_the_multiple() -> None:
    calls: list[tuple[int, ...]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return _upsample(batch, 2)

    image = _photo(30, 45)
    out = run_tiled(run, image, scale=2, tile=64, overlap=8, multiple=8)
    assert calls == [(1, 3, 32, 48)]
    np.testing.assert_array_equal(out, _upsample(image[None], 2)[0])


def test_tile_padding_is_mirror_and_cropped_away() -> None:
    seen: list[np.ndarray] = []

    def run(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.copy())
        return batch

    image = np.arange(2 * 13 * 10, dtype=np.float32).reshape(2, 13, 10)
    out = run_tiled(run, image, scale=1, tile=64, overlap=0, multiple=4)
    (batch,) = seen
    np.testing.assert_array_equal(batch[0, :, 13:, :10], image[:, 11:8:-1])  # reflected rows
    np.testing.assert_array_equal(out, image)


def test_tile_padding_repeats_the_edge_where_the_mirror_does_not_fit() -> None:
    seen: list[np.ndarray] = []

    def run(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.copy())
        return batch

    image = np.arange(2 * 3 * 10, dtype=np.float32).reshape(2, 3, 10)
    out = run_tiled(run, image, scale=1, tile=64, overlap=0, multiple=8)
    # 5 rows added to 3: the edge row repeats; 6 columns added to 10: mirrored.
    expected = np.pad(image, ((0, 0), (0, 5), (0, 0)), mode="edge")
    expected = np.pad(expected, ((0, 0), (0, 0), (0, 6)), mode="reflect")
    (batch,) = seen
    np.testing.assert_array_equal(batch[0], expected)
    np.testing.assert_array_equal(out, image)


def test_batches_hold_at_most_batch_size_equal_tiles() -> None:
    shapes: list[tuple[int, ...]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        shapes.append(batch.shape)
        return _upsample(batch, 2)

    image = _photo(150, 170)
    run_tiled(run, image, scale=2, tile=48, overlap=8, multiple=4, batch_size=3)
    grid = tile_grid(150, 170, tile=48, overlap=8, multiple=4)
    assert sum(s[0] for s in shapes) == len(grid)
    assert all(1 <= s[0] <= 3 for s in shapes)
    assert {s[1:] for s in shapes} == {(3, 48, 48)}


def test_output_channels_may_differ_from_input() -> None:
    def run(batch: np.ndarray) -> np.ndarray:
        return _upsample(batch[:, :1].repeat(3, axis=1), 2)

    out = run_tiled(run, _photo(90, 70)[:1], scale=2, tile=32, overlap=8)
    assert out.shape == (3, 180, 140)


def test_wrong_network_scale_is_reported() -> None:
    with pytest.raises(ValueError, match="scale=4"):
        run_tiled(_pointwise(2), _photo(90, 70), scale=4, tile=32, overlap=8)


# --- out of memory ------------------------------------------------------------------------


def _fails_above(limit: int, message: str = "CUDA error: out of memory"):
    calls: list[tuple[int, ...]] = []

    def run(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        if max(batch.shape[2:]) > limit:
            raise RuntimeError(message)
        return _upsample(batch, 2)

    return run, calls


def test_oom_halves_the_tile_until_it_fits() -> None:
    run, calls = _fails_above(100)
    image = _photo(300, 260)
    retries: list[int] = []
    out, tile = run_tiled_adaptive(
        run,
        image,
        scale=2,
        tile=512,
        overlap=8,
        batch_size=4,
        is_oom=looks_like_oom,
        on_retry=retries.append,
    )
    # 512 ran the image whole (300 rows), so the first retry halves 300, not 512.
    assert retries == [150, 75] and tile == 75
    assert all(shape[0] == 1 for shape in calls[1:])  # retries run one tile at a time
    np.testing.assert_allclose(out, _upsample(image[None], 2)[0], rtol=1e-6)


def test_oom_retries_keep_tiles_on_the_size_multiple() -> None:
    run, calls = _fails_above(60)
    retries: list[int] = []
    _, tile = run_tiled_adaptive(
        run, _photo(200, 200), scale=2, tile=200, overlap=8, multiple=12, on_retry=retries.append
    )
    assert retries == [96, 48] and tile == 48
    assert all(shape[2] % 12 == 0 and shape[3] % 12 == 0 for shape in calls)


def test_oom_gives_up_below_min_tile() -> None:
    run, _ = _fails_above(10)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_tiled_adaptive(
            run,
            _photo(200, 200),
            scale=2,
            tile=128,
            overlap=4,
            is_oom=looks_like_oom,
            min_tile=32,
        )


def test_other_errors_propagate_at_once() -> None:
    run, calls = _fails_above(10, message="Invalid input name")
    with pytest.raises(RuntimeError, match="Invalid input name"):
        run_tiled_adaptive(run, _photo(200, 200), scale=2, tile=128, is_oom=looks_like_oom)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "message",
    [
        "CUDA out of memory. Tried to allocate 2.00 GiB",
        "[ONNXRuntimeError] : 6 : Failed to allocate memory for requested buffer of size 4096",
        "CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED",
        "CUDA failure 2: out of memory ; GPU=0 ; expr=cudaMalloc",
        "cudaErrorMemoryAllocation",
    ],
)
def test_oom_messages_are_recognised(message: str) -> None:
    assert looks_like_oom(RuntimeError(message))


def test_memory_error_and_chained_oom_are_recognised() -> None:
    assert looks_like_oom(MemoryError())
    try:
        try:
            raise RuntimeError("cudaErrorMemoryAllocation")
        except RuntimeError as inner:
            raise ValueError("inference failed") from inner
    except ValueError as outer:
        assert looks_like_oom(outer)


def test_other_messages_are_not_oom() -> None:
    assert not looks_like_oom(ValueError("Got invalid dimensions for input"))
