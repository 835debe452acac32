"""Float resizing and the alpha path: no quantisation, no halos, no hidden colour leaking."""

from __future__ import annotations

import numpy as np
import pytest

from ganedit.resize import (
    bleed_colors,
    outscale_size,
    premultiply,
    resize_float,
    unpremultiply,
    upscale_with_alpha,
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


# Premultiplied colour must be divided by an alpha upscaled the same way: the network's.
@pytest.mark.parametrize(
    ("matte", "network", "alpha_mode"),
    [
        ("bleed", _bicubic, "resize"),
        ("bleed", _nearest, "resize"),
        ("bleed", _nearest, "network"),
        ("premultiply", _bicubic, "network"),
        ("premultiply", _nearest, "network"),
    ],
)
def test_transparent_edges_get_no_dark_halo(matte, network, alpha_mode) -> None:
    color, alpha = _disk()
    color_up, alpha_up = upscale_with_alpha(
        color, alpha, scale=SCALE, upscale_color=network, matte=matte, alpha_mode=alpha_mode
    )
    edge = alpha_up > 0.1
    assert edge.sum() > 1000
    assert color_up[edge].min() > 0.95


def test_naive_upscale_darkens_the_same_edges() -> None:
    # Sensitivity check of the test above: straight colour over black, upscaled as it is.
    color, alpha = _disk()
    color_up = np.clip(_bicubic(color), 0, 1)
    alpha_up = resize_float(alpha, *color_up.shape[:2])
    assert color_up[alpha_up > 0.1].min() < 0.7


@pytest.mark.parametrize(("matte", "alpha_mode"), [("bleed", "resize"), ("premultiply", "network")])
def test_hidden_colour_never_reaches_visible_pixels(matte, alpha_mode) -> None:
    color = np.zeros((32, 32, 3), np.float32)
    color[...] = (1.0, 0.0, 0.0)  # bright red hidden under transparency
    alpha = np.zeros((32, 32), np.float32)
    alpha[8:24, 8:24] = 1.0
    color[8:24, 8:24] = 0.5  # visible grey square
    color_up, alpha_up = upscale_with_alpha(
        color, alpha, scale=SCALE, upscale_color=_bicubic, matte=matte, alpha_mode=alpha_mode
    )
    visible = color_up[alpha_up > 0.01]
    np.testing.assert_allclose(visible, 0.5, atol=0.01)  # grey, no red fringe


def test_alpha_is_resized_by_default_and_clipped() -> None:
    color, alpha = _disk(24, 7.0)
    calls: list[tuple[int, ...]] = []

    def network(image: np.ndarray) -> np.ndarray:
        calls.append(image.shape)
        return _bicubic(image)

    color_up, alpha_up = upscale_with_alpha(color, alpha, scale=SCALE, upscale_color=network)
    assert calls == [(24, 24, 3)]  # colour only
    assert color_up.shape == (96, 96, 3) and alpha_up.shape == (96, 96)
    assert color_up.dtype == alpha_up.dtype == np.float32
    assert alpha_up.min() >= 0 and alpha_up.max() <= 1  # Lanczos overshoot clipped
    expected = np.clip(resize_float(alpha, 96, 96), 0, 1)
    np.testing.assert_array_equal(alpha_up, expected)


def test_network_alpha_mode_runs_alpha_through_the_network() -> None:
    color, alpha = _disk(24, 7.0)
    calls: list[np.ndarray] = []

    def network(image: np.ndarray) -> np.ndarray:
        calls.append(image)
        return _nearest(image)

    _, alpha_up = upscale_with_alpha(
        color, alpha, scale=SCALE, upscale_color=network, alpha_mode="network"
    )
    assert len(calls) == 2
    np.testing.assert_array_equal(calls[0], alpha[:, :, None].repeat(3, axis=2))
    np.testing.assert_array_equal(alpha_up, _nearest(alpha))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale": 2}, r"upscale_color returned .* expected .* at scale 2"),  # it scales by 4
        ({"alpha_mode": "x"}, "alpha_mode must be 'resize' or 'network', got 'x'"),
        ({"matte": "x"}, "matte must be 'bleed' or 'premultiply', got 'x'"),
    ],
    ids=["wrong-network-size", "alpha-mode", "matte"],
)
def test_wrong_network_size_and_unknown_options_are_reported(
    changes: dict[str, object], message: str
) -> None:
    color, alpha = _disk(16, 5.0)
    arguments: dict[str, object] = {"scale": SCALE, "upscale_color": _bicubic, **changes}
    with pytest.raises(ValueError, match=message):
        upscale_with_alpha(color, alpha, **arguments)  # type: ignore[arg-type]


def test_alpha_of_another_size_is_reported() -> None:
    color, alpha = _disk(16, 5.0)
    with pytest.raises(ValueError, match=r"need \(H, W, C\) colour and \(H, W\) alpha"):
        upscale_with_alpha(color, alpha[:-1], scale=SCALE, upscale_color=_bicubic)
