"""Seam-free tiled inference: cut an image into overlapping tiles, run them, blend them back.

Large images do not fit on the accelerator at once. They are cut into equal tiles that overlap
by ``overlap`` input pixels; equal tiles share batches; each tile's output is weighted by a
window that ramps smoothly across the overlap band and is flat at the image border; the
weighted outputs are summed on the host and divided by the summed weights. Every output pixel
is thus a convex combination of tile outputs, and the pixels next to a tile's cut edge (where
the network saw padding instead of the neighbourhood) get almost no weight.

Example:
    >>> out = run_tiled(model.run_batch, chw, scale=4, tile=256, overlap=16, multiple=4)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np

from .codec import pad_bottom_right, round_up

__all__ = [
    "Tile",
    "blend_weights",
    "looks_like_oom",
    "min_tile_size",
    "run_tiled",
    "run_tiled_adaptive",
    "tile_grid",
]

RunFn = Callable[[np.ndarray], np.ndarray]

# The outer quarter of each overlap band (where a tile's output is spoilt by the padding its
# network saw at the cut) gets only this weight, not zero, so no weight sum can vanish.
_FLOOR = 1e-3
_MARGIN = 0.25

_OOM_MARKERS = (
    "out of memory",
    "failed to allocate memory",
    "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed",
    "cudaerrormemoryallocation",
    "cuda_error_out_of_memory",
    "bad_alloc",
)


@dataclasses.dataclass(frozen=True)
class Tile:
    """One input-space rectangle of a tile grid.

    Attributes:
        top: First row in the image.
        left: First column in the image.
        height: Rows inside the image.
        width: Columns inside the image.
        pad_bottom: Rows to add (the codec's padding rule) before running, so every tile has the
            grid's size.
        pad_right: Columns to add likewise.
        at_top: The tile touches the image's top border (no blending ramp there).
        at_left: Likewise for the left border.
        at_bottom: Likewise for the bottom border.
        at_right: Likewise for the right border.
    """

    top: int
    left: int
    height: int
    width: int
    pad_bottom: int = 0
    pad_right: int = 0
    at_top: bool = True
    at_left: bool = True
    at_bottom: bool = True
    at_right: bool = True

    @property
    def run_shape(self) -> tuple[int, int]:
        """``(h, w)`` the network sees: the tile plus its padding."""
        return self.height + self.pad_bottom, self.width + self.pad_right


def _axis(length: int, tile: int, overlap: int, multiple: int) -> list[tuple[int, int, int]]:
    """``(start, size, pad)`` per tile along one axis of ``length`` pixels."""
    padded = round_up(length, multiple)
    size = tile // multiple * multiple
    if padded <= size:
        return [(0, length, padded - length)]
    # The stride is rounded down to the multiple, so real overlaps are >= ``overlap`` and every
    # origin is a multiple (a strided network then sees the same phase as on the whole image).
    stride = (size - overlap) // multiple * multiple
    count = math.ceil((padded - size) / stride) + 1
    # The last tile is shifted inward to end at the padded length instead of being shrunk.
    starts = [i * stride for i in range(count - 1)] + [padded - size]
    return [(s, min(size, length - s), max(0, s + size - length)) for s in starts]


def min_tile_size(overlap: int, multiple: int = 1) -> int:
    """Smallest tile side for ``overlap`` and ``multiple``: neighbouring tiles must advance by
    at least ``max(overlap, 1)`` pixels in steps of ``multiple``, so that every pixel inside a
    blending band also lies in a tile at full weight or in the mirrored band of its neighbour.
    """
    steps = -(-max(overlap, 1) // multiple)
    return round_up(overlap + steps * multiple, multiple)


def tile_grid(height: int, width: int, *, tile: int, overlap: int, multiple: int = 1) -> list[Tile]:
    """Cover a ``height`` x ``width`` image with equal, overlapping tiles, row by row.

    Tile sizes are ``tile`` rounded down to ``multiple`` (or the whole axis padded up to
    ``multiple``, when it fits in one tile); origins are multiples of ``multiple``; neighbours
    overlap by at least ``overlap`` pixels. The last row and column are shifted inward, not
    shrunk, so every tile runs at the same size. Only where the image is not a multiple of
    ``multiple`` does the last tile reach past it, and it is then padded (``pad_bottom`` /
    ``pad_right`` < ``multiple``).

    Args:
        height: Image rows, >= 1.
        width: Image columns, >= 1.
        tile: Largest tile side in pixels, at least :func:`min_tile_size` (about
            ``2 * overlap + multiple``).
        overlap: Pixels shared by neighbouring tiles, >= 0.
        multiple: Tile sizes the network accepts are multiples of this (the card's
            ``size_multiple``).

    Returns:
        The tiles; a single tile when the image fits in one.

    Raises:
        ValueError: A size is out of range.

    Example:
        >>> [(t.top, t.height) for t in tile_grid(300, 100, tile=128, overlap=16)][:3]
        [(0, 128), (112, 128), (172, 128)]
    """
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1, got {height}x{width}")
    if multiple < 1 or overlap < 0:
        raise ValueError(f"need multiple >= 1 and overlap >= 0, got {multiple} and {overlap}")
    if tile < min_tile_size(overlap, multiple):
        raise ValueError(
            f"tile {tile} is too small for overlap {overlap} and multiple {multiple}: use a "
            f"tile of at least {min_tile_size(overlap, multiple)} or a smaller overlap"
        )
    rows = _axis(height, tile, overlap, multiple)
    cols = _axis(width, tile, overlap, multiple)
    return [
        Tile(
            top=top,
            left=left,
            height=h,
            width=w,
            pad_bottom=pad_h,
            pad_right=pad_w,
            at_top=top == 0,
            at_left=left == 0,
            at_bottom=top + h == height,
            at_right=left + w == width,
        )
        for top, h, pad_h in rows
        for left, w, pad_w in cols
    ]


def _ramp(length: int, band: int, rising: bool, falling: bool) -> np.ndarray:
    """1-D window of ``length`` samples with ramps ``band`` samples long at either end."""
    window = np.ones(length, dtype=np.float64)
    if band <= 0:
        return window.astype(np.float32)
    # Pixel-centred positions across the band, so the ramps of two neighbours whose bands
    # coincide are mirror images: ramp(t) + ramp(1 - t) == 1 + _FLOOR.
    t = (np.arange(length) + 0.5) / band
    for active, pos in ((rising, t), (falling, t[::-1])):
        if active:
            u = np.clip((pos - _MARGIN) / (1 - 2 * _MARGIN), 0.0, 1.0)
            window *= _FLOOR + (1 - _FLOOR) * (0.5 - 0.5 * np.cos(np.pi * u))
    return window.astype(np.float32)


def blend_weights(
    tile_h: int,
    tile_w: int,
    *,
    overlap: int,
    at_top: bool,
    at_left: bool,
    at_bottom: bool,
    at_right: bool,
    scale: int,
) -> np.ndarray:
    """Blending window of one tile's output.

    Along each edge that lies inside the image the weight rises across the ``overlap`` band:
    about 0 (``1e-3``) over its outer quarter, a raised cosine over its middle half, 1 over its
    inner quarter. Edges on the image border stay flat at 1. The window is the outer product
    of a row and a column profile.

    Args:
        tile_h: Tile rows (input space).
        tile_w: Tile columns (input space).
        overlap: Band width in input pixels (0: a flat window).
        at_top: The top edge is on the image border.
        at_left: Likewise the left edge.
        at_bottom: Likewise the bottom edge.
        at_right: Likewise the right edge.
        scale: Output pixels per input pixel.

    Returns:
        ``(tile_h * scale, tile_w * scale)`` float32 in ``(0, 1]``.
    """
    band = overlap * scale
    rows = _ramp(tile_h * scale, band, not at_top, not at_bottom)
    cols = _ramp(tile_w * scale, band, not at_left, not at_right)
    return np.outer(rows, cols)


def _batches(tiles: list[Tile], batch_size: int) -> Iterator[list[Tile]]:
    """Consecutive runs of at most ``batch_size`` tiles with equal run shapes."""
    groups: dict[tuple[int, int], list[Tile]] = {}
    for t in tiles:
        groups.setdefault(t.run_shape, []).append(t)
    for group in groups.values():
        for i in range(0, len(group), batch_size):
            yield group[i : i + batch_size]


def _check_output(out: np.ndarray, batch: np.ndarray, scale: int) -> None:
    b, _, h, w = batch.shape
    if out.ndim != 4 or out.shape[0] != b or out.shape[2:] != (h * scale, w * scale):
        raise ValueError(
            f"run returned shape {out.shape} for a batch of shape {batch.shape}; expected "
            f"({b}, C_out, {h * scale}, {w * scale}) — is scale={scale} the model's scale?"
        )


def run_tiled(
    run: RunFn,
    image: np.ndarray,
    *,
    scale: int,
    tile: int,
    overlap: int = 16,
    multiple: int = 1,
    batch_size: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run a network over an image tile by tile and blend the tiles without seams.

    Only the tiles in flight exist as arrays besides the float32 output and its weight sum.
    An image that fits in one tile runs whole (padded to ``multiple``, then cropped).

    Args:
        run: Network on ``(B, C, h, w)`` float32 returning ``(B, C_out, h*scale, w*scale)``;
            called with at most ``batch_size`` equal-shaped tiles.
        image: ``(C, H, W)`` float32 in the network's input range.
        scale: Output pixels per input pixel.
        tile: Largest tile side (input pixels), at least :func:`min_tile_size`.
        overlap: Input pixels shared by neighbouring tiles. Output within ``overlap / 4`` of
            a cut gets weight ~0, so results match the whole image when ``overlap`` is at least
            four times the network's effective receptive radius.
        multiple: The network's size multiple; tiles are sized and placed on it.
        batch_size: Most tiles per ``run`` call.
        on_progress: Called as ``on_progress(tiles_done, tiles)`` after each ``run`` call
            (a progress bar; what it raises stops the run, e.g. a cancelled request).

    Returns:
        ``(C_out, H*scale, W*scale)`` float32.

    Raises:
        ValueError: Bad shapes or sizes, or ``run`` returned an unexpected shape.
    """
    if image.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {image.shape}")
    if scale < 1 or batch_size < 1:
        raise ValueError(f"need scale >= 1 and batch_size >= 1, got {scale} and {batch_size}")
    _, height, width = image.shape
    tiles = tile_grid(height, width, tile=tile, overlap=overlap, multiple=multiple)
    if len(tiles) == 1:
        (t,) = tiles
        padded = pad_bottom_right(image, t.pad_bottom, t.pad_right)
        batch = padded[None].astype(np.float32, copy=False)
        out = run(batch)
        _check_output(out, batch, scale)
        if on_progress is not None:
            on_progress(1, 1)
        return np.ascontiguousarray(out[0, :, : height * scale, : width * scale], np.float32)

    result: np.ndarray | None = None
    weight_sum = np.zeros((height * scale, width * scale), dtype=np.float32)
    windows: dict[tuple[int, ...], np.ndarray] = {}
    done = 0
    for chunk in _batches(tiles, batch_size):
        crops = [image[:, t.top : t.top + t.height, t.left : t.left + t.width] for t in chunk]
        padded_crops = [
            pad_bottom_right(c, t.pad_bottom, t.pad_right)
            for c, t in zip(crops, chunk, strict=True)
        ]
        batch = np.stack(padded_crops).astype(np.float32, copy=False)
        out = run(batch)
        _check_output(out, batch, scale)
        if result is None:
            result = np.zeros((out.shape[1], height * scale, width * scale), dtype=np.float32)
        for t, y in zip(chunk, out, strict=True):
            key = (t.height, t.width, t.at_top, t.at_left, t.at_bottom, t.at_right)
            if key not in windows:  # most tiles share one of nine windows
                h, w_, top, left, bottom, right = key
                windows[key] = blend_weights(
                    h, w_, overlap=overlap, at_top=top, at_left=left, at_bottom=bottom,
                    at_right=right, scale=scale,
                )  # fmt: skip
            w = windows[key]
            rows = slice(t.top * scale, (t.top + t.height) * scale)
            cols = slice(t.left * scale, (t.left + t.width) * scale)
            result[:, rows, cols] += y[:, : w.shape[0], : w.shape[1]] * w
            weight_sum[rows, cols] += w
        done += len(chunk)
        if on_progress is not None:
            on_progress(done, len(tiles))
    assert result is not None  # the grid has at least two tiles here
    result /= weight_sum
    return result


def looks_like_oom(exc: BaseException) -> bool:
    """Whether an exception (or one it was raised from) reports running out of memory.

    Recognises :class:`MemoryError` and the messages of onnxruntime's CPU and CUDA providers
    (``"Failed to allocate memory"``, ``"CUDNN_STATUS_ALLOC_FAILED"``,
    ``"cudaErrorMemoryAllocation"``, ``"out of memory"``, ...).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError):
            return True
        message = str(current).lower()
        if any(marker in message for marker in _OOM_MARKERS):
            return True
        current = current.__cause__ or current.__context__
    return False


def run_tiled_adaptive(
    run: RunFn,
    image: np.ndarray,
    *,
    scale: int,
    tile: int,
    overlap: int = 16,
    multiple: int = 1,
    batch_size: int = 4,
    is_oom: Callable[[BaseException], bool] = looks_like_oom,
    min_tile: int = 32,
    on_retry: Callable[[int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """:func:`run_tiled`, retrying with half the tile (and batches of 1) when memory runs out.

    Args:
        run: As for :func:`run_tiled`.
        image: ``(C, H, W)`` float32 in the network's input range.
        scale: Output pixels per input pixel.
        tile: First tile side to try.
        overlap: Input pixels shared by neighbouring tiles.
        multiple: The network's size multiple.
        batch_size: Most tiles per call on the first try; retries use 1.
        is_oom: Tells an out-of-memory error from others; others propagate at once.
        min_tile: Smallest tile side to try; below it (or below :func:`min_tile_size`) the
            out-of-memory error is re-raised.
        on_retry: Called with the new tile side before each retry (e.g. to log it).
        on_progress: As for :func:`run_tiled` (a retry starts again from 0).

    Returns:
        ``(output, tile)``: the :func:`run_tiled` result and the tile side that worked.
    """
    smallest = max(min_tile, min_tile_size(overlap, multiple))
    _, height, width = image.shape
    while True:
        try:
            out = run_tiled(
                run, image, scale=scale, tile=tile, overlap=overlap, multiple=multiple,
                batch_size=batch_size, on_progress=on_progress,
            )  # fmt: skip
            return out, tile
        except Exception as exc:
            if not is_oom(exc):
                raise
            # Halve what actually ran: a tile larger than the image ran the image whole.
            ran = min(tile, round_up(max(height, width), multiple))
            half = ran // 2 // multiple * multiple
            if half < smallest:
                raise
            tile, batch_size = half, 1
            if on_retry is not None:
                on_retry(tile)
