"""Float resizing and the upscaler's alpha path: no quantisation, no halos, no hidden colour
leaking. The alpha path runs through a real Upscaler with stand-in networks (bicubic and
nearest ×4) behind the Session protocol."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ganedit import ImageIn, ModelCard, Upscaler
from ganedit.resize import (
    bleed_colors,
    outscale_size,
    premultiply,
    resize_float,
    unpremultiply,
)

# --- resize_float -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3), (20, 30, 4), (20, 30, 6)])
@pytest.mark.parametrize("size", [(80, 120), (7, 11), (20, 30), (45, 13)])
def test_resize_keeps_dimensions_and_float32(shape: tuple[int, ...], size: tuple[int, int]) -> None:
    image = np.random.default_rng(0).random(shape)  # float64 in
    out = resize_float(image, *size)
    assert out.shape == (*size, *shape[2:]) and out.dtype == np.float32


@pytest.mark.parametrize("method", ["auto", "lanczos", "bicubic", "bilinear"])
def test_upscaled_gradient_stays_smooth(method: str) -> None:
    ramp = np.linspace(0.0, 1.0, 32, dtype=np.float32)[None, :].repeat(8, axis=0)
    big = resize_float(ramp, 32, 128, method=method)
    inner = big[:, 8:-8]  # away from the borders, where the ramp meets its mirror
    steps = np.diff(inner, axis=1)
    assert (steps > 0).all()
    assert np.abs(np.diff(steps, axis=1)).max() < 0.01  # no ringing, no staircase
    np.testing.assert_allclose(big[:, 64], 0.5, atol=0.02)


def test_resize_does_not_quantise() -> None:
    image = np.full((8, 8), 0.1234567, np.float32)
    np.testing.assert_allclose(resize_float(image, 32, 32), 0.1234567, rtol=1e-5)


@pytest.mark.parametrize(
    ("size", "method"), [((13, 17), "area"), ((97, 83), "lanczos")], ids=["shrink", "enlarge"]
)
def test_auto_shrinks_by_area_and_enlarges_by_lanczos(size: tuple[int, int], method: str) -> None:
    image = np.random.default_rng(1).random((40, 40, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        resize_float(image, *size), resize_float(image, *size, method=method)
    )


def test_area_shrink_averages_fine_detail() -> None:
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    np.testing.assert_allclose(resize_float(checker, 32, 32), 0.5, atol=1e-6)


def test_mixed_resize_shrinks_one_axis_and_enlarges_the_other() -> None:
    checker = (np.indices((64, 10)).sum(axis=0) % 2).astype(np.float32)
    out = resize_float(checker, 32, 40)
    assert out.shape == (32, 40)
    np.testing.assert_allclose(out, 0.5, atol=1e-5)  # rows averaged by area, no aliasing


def test_resize_rejects_integer_images() -> None:
    with pytest.raises(TypeError, match="resize_float needs a float image, got uint8"):
        resize_float(np.zeros((4, 4), np.uint8), 8, 8)


def test_resize_rejects_an_empty_size() -> None:
    with pytest.raises(ValueError, match="target size must be at least 1x1, got 0x8"):
        resize_float(np.zeros((4, 4), np.float32), 0, 8)


def test_resize_rejects_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="method must be 'auto' or one of"):
        resize_float(np.zeros((4, 4), np.float32), 8, 8, method="nearest")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "outscale", "expected"),
    [((100, 60), 3.5, (350, 210)), ((3, 5), 0.1, (1, 1)), ((480, 640), 4, (1920, 2560))],
)
def test_outscale_size(size: tuple[int, int], outscale: float, expected: tuple[int, int]) -> None:
    assert outscale_size(*size, outscale) == expected


# --- premultiplied alpha ------------------------------------------------------------------


def test_premultiply_round_trips_where_visible() -> None:
    rng = np.random.default_rng(2)
    color = rng.random((10, 12, 3)).astype(np.float32)
    alpha = rng.random((10, 12)).astype(np.float32)
    alpha[0, :] = 0
    pm = premultiply(color, alpha)
    assert (pm[0] == 0).all()
    back = unpremultiply(pm, alpha)
    np.testing.assert_allclose(back[1:], color[1:], rtol=1e-4, atol=1e-5)
    assert (back[0] == 0).all()


def test_bleed_fills_transparent_pixels_from_visible_neighbours() -> None:
    color = np.zeros((16, 16, 3), np.float32)
    color[:, :8] = (1.0, 0.5, 0.0)  # visible orange
    color[:, 8:] = (0.0, 0.0, 1.0)  # hidden blue
    alpha = np.zeros((16, 16), np.float32)
    alpha[:, :8] = 1.0
    bled = bleed_colors(color, alpha)
    np.testing.assert_array_equal(bled[:, :8], color[:, :8])
    np.testing.assert_allclose(bled[:, 8:], np.broadcast_to((1.0, 0.5, 0.0), (16, 8, 3)))


def test_bleed_reaches_the_far_end_of_a_thin_image() -> None:
    color = np.zeros((1, 300, 3), np.float32)
    color[:, :3] = 0.7
    alpha = np.zeros((1, 300), np.float32)
    alpha[:, :3] = 1.0
    np.testing.assert_allclose(bleed_colors(color, alpha), 0.7, rtol=1e-5)


def test_bleed_of_a_fully_transparent_image_is_black() -> None:
    out = bleed_colors(np.ones((5, 7, 3), np.float32), np.zeros((5, 7), np.float32))
    assert (out == 0).all()


# --- the alpha path -----------------------------------------------------------------------

SCALE = 4


def _bicubic(image: np.ndarray) -> np.ndarray:
    """Stand-in network: bicubic x4."""
    h, w = image.shape[:2]
    return resize_float(image, h * SCALE, w * SCALE, method="bicubic")


def _nearest(image: np.ndarray) -> np.ndarray:
    """Stand-in network with edges sharper than any resized alpha: nearest x4."""
    return image.repeat(SCALE, axis=0).repeat(SCALE, axis=1)


def _disk(size: int = 48, radius: float = 14.0) -> tuple[np.ndarray, np.ndarray]:
    """Opaque white disk with an anti-aliased edge on a fully transparent black background."""
    fine = 8
    yy, xx = (np.indices((size * fine, size * fine)) + 0.5) / fine - size / 2
    inside = (yy**2 + xx**2 <= radius**2).astype(np.float32)
    alpha = inside.reshape(size, fine, size, fine).mean(axis=(1, 3))
    color = np.where(alpha[:, :, None] > 0, 1.0, 0.0).astype(np.float32).repeat(3, axis=2)
    return color, alpha


Net = Callable[[np.ndarray], np.ndarray]


class _StandInSession:
    """``net`` (on ``(H, W, C)`` floats) behind the Session protocol; records every batch."""

    is_network = True
    on_gpu = False

    def __init__(self, net: Net):
        self.providers = ["stand-in"]
        self.net = net
        self.batches: list[np.ndarray] = []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.copy())
        return np.stack([self.net(x.transpose(1, 2, 0)).transpose(2, 0, 1) for x in batch])


def _upscaler(net: Net, *, scale: int = SCALE, alpha_mode: str = "resize") -> Upscaler:
    card = ModelCard(
        name="stand-in",
        task="upscale",
        arch="stand_in",
        scale=scale,
        input_range=(0.0, 1.0),
        output_range=(0.0, 1.0),
    )
    model = Upscaler(_StandInSession(net), card, Path("stand-in"))
    return model.with_options(tile=0, alpha_mode=alpha_mode)  # type: ignore[arg-type]


def _upscale(model: Upscaler, color: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, ...]:
    out = model(np.concatenate([color, alpha[:, :, None]], axis=2).astype(np.float32))
    return out[:, :, :-1], out[:, :, -1]


@pytest.mark.parametrize(
    ("network", "alpha_mode"),
    [(_bicubic, "resize"), (_nearest, "resize"), (_nearest, "network"), (_bicubic, "network")],
    ids=["bicubic-resize", "nearest-resize", "nearest-network", "bicubic-network"],
)
def test_transparent_edges_get_no_dark_halo(network: Net, alpha_mode: str) -> None:
    color, alpha = _disk()
    color_up, alpha_up = _upscale(_upscaler(network, alpha_mode=alpha_mode), color, alpha)
    edge = alpha_up > 0.1
    assert edge.sum() > 1000
    assert color_up[edge].min() > 0.95


def test_naive_upscale_darkens_the_same_edges() -> None:
    # Sensitivity check of the test above: straight colour over black, upscaled as it is.
    color, alpha = _disk()
    color_up = np.clip(_bicubic(color), 0, 1)
    alpha_up = resize_float(alpha, *color_up.shape[:2])
    assert color_up[alpha_up > 0.1].min() < 0.7


@pytest.mark.parametrize("alpha_mode", ["resize", "network"])
def test_hidden_colour_never_reaches_visible_pixels(alpha_mode: str) -> None:
    color = np.zeros((32, 32, 3), np.float32)
    color[...] = (1.0, 0.0, 0.0)  # bright red hidden under transparency
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 1.0
    color[8:24, 8:24] = 0.5  # visible grey square
    color_up, alpha_up = _upscale(_upscaler(_bicubic, alpha_mode=alpha_mode), color, alpha)
    visible = color_up[alpha_up > 0.01]
    np.testing.assert_allclose(visible, 0.5, atol=0.01)  # grey, no red fringe


def test_alpha_is_resized_by_default_and_clipped() -> None:
    color, alpha = _disk(24, 7.0)
    model = _upscaler(_bicubic)
    color_up, alpha_up = _upscale(model, color, alpha)
    assert [b.shape for b in model.session.batches] == [(1, 3, 24, 24)]  # colour only
    assert color_up.shape == (96, 96, 3) and alpha_up.shape == (96, 96)
    assert color_up.dtype == alpha_up.dtype == np.float32
    assert alpha_up.min() >= 0 and alpha_up.max() <= 1  # Lanczos overshoot clipped
    expected = np.clip(resize_float(alpha, 96, 96), 0, 1)
    np.testing.assert_array_equal(alpha_up, expected)


def test_network_alpha_mode_runs_alpha_through_the_network() -> None:
    color, alpha = _disk(24, 7.0)
    model = _upscaler(_nearest, alpha_mode="network")
    _, alpha_up = _upscale(model, color, alpha)
    fed = [b[0].transpose(1, 2, 0) for b in model.session.batches]
    assert len(fed) == 2  # the colour, then the alpha as grey repeated to three channels
    np.testing.assert_array_equal(fed[1], alpha[:, :, None].repeat(3, axis=2))
    np.testing.assert_array_equal(alpha_up, _nearest(alpha))


def test_a_network_of_another_scale_than_its_card_is_reported() -> None:
    color, alpha = _disk(16, 5.0)
    with pytest.raises(ValueError, match=r"is scale=2 the model's scale\?"):
        _upscale(_upscaler(_bicubic, scale=2), color, alpha)  # the network scales by 4


def test_alpha_of_another_size_is_reported() -> None:
    color, alpha = _disk(16, 5.0)
    with pytest.raises(ValueError, match=r"alpha must be \(16, 16\) like the colour"):
        ImageIn(color, alpha[:-1], np.float32)
