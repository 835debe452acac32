"""Property-based fuzzing (hypothesis) of what reads untrusted data: image decoding, card
parsing, mask reading, and the codec that carries pixels to the network and back.

Each property says what must hold for *any* input: a decoder either returns an image or raises
ganedit's own error (never another exception, never a hang), a card parser either returns a
valid card or raises ``ModelCardError``, and the codec's round trips are exact.

The default suite runs a bounded number of examples (profile ``default``). A long run:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz.py -p no:cacheprovider

(profile ``long``: 20,000 examples per property, or ``FUZZ_EXAMPLES``; see
benchmarks/RESULTS.md for the last run).
"""

from __future__ import annotations

import io
import json
import os
import string
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402
from PIL import Image  # noqa: E402

from ganedit.card import MaskSpec, ModelCard  # noqa: E402
from ganedit.codec import pad_bottom_right, quantise, round_up, to_unit  # noqa: E402
from ganedit.errors import ImageError, ModelCardError  # noqa: E402
from ganedit.imageio import decode_image  # noqa: E402
from ganedit.masks import hole_from_array  # noqa: E402

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20000")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# --- image decoding -----------------------------------------------------------------------------


def _encoded(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


SEEDS = {fmt: _encoded(fmt) for fmt in ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")}


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    """A valid small image with bytes flipped, replaced, cut or appended."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "set", "cut", "append"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if action == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[at:]
        else:
            data += draw(st.binary(max_size=64))
    return bytes(data)


def _decode_bytes(data: bytes, folder: Path, suffix: str) -> None:
    path = folder / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        image = decode_image(path)
    except ImageError as exc:
        assert str(exc).startswith(f"{path}: ")
        return
    assert image.color.ndim == 3 and image.color.shape[2] in (1, 3)
    assert image.color.dtype in (np.uint8, np.uint16)
    assert image.alpha is None or image.alpha.shape == image.color.shape[:2]


@given(data=mutated_images(), suffix=st.sampled_from([".png", ".jpg", ".webp", ".tif"]))
def test_a_damaged_image_decodes_or_raises_image_error(
    data: bytes, suffix: str, tmp_path: Path
) -> None:
    _decode_bytes(data, tmp_path, suffix)


@given(data=st.binary(max_size=512))
def test_random_bytes_decode_or_raise_image_error(data: bytes, tmp_path: Path) -> None:
    _decode_bytes(data, tmp_path, ".png")


# --- card parsing -------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
CARD_KEYS = [
    "name", "task", "arch", "scale", "in_channels", "out_channels", "input_range",
    "output_range", "size_multiple", "min_size", "tiling", "mask", "max_batch", "norm_stats",
    "format",
]  # fmt: skip


@st.composite
def card_like(draw: st.DrawFn) -> dict[str, object]:
    """A valid card's dict with some fields replaced by arbitrary JSON values."""
    data = ModelCard(
        name="m", task="inpaint", arch="a", mask=MaskSpec(channel=3), input_range=(0.0, 1.0)
    ).to_dict()
    for key in draw(st.lists(st.sampled_from(CARD_KEYS), max_size=4)):
        data[key] = draw(json_values)
    return data


def _parse(text: str) -> None:
    try:
        card = ModelCard.from_json(text)
    except ModelCardError:
        return
    # Whatever parses is a card the runtime can use: bounded, finite, consistent.
    assert 1 <= card.scale <= 16 and 1 <= card.in_channels <= 16
    assert 1 <= card.size_multiple <= 1024 and 1 <= card.min_size <= 4096
    for lo, hi in (card.input_range, card.output_range):
        assert np.isfinite(lo) and np.isfinite(hi) and lo < hi
    assert (card.mask is not None) == (card.task == "inpaint")


@given(data=card_like())
def test_a_card_with_arbitrary_values_parses_to_a_valid_card_or_raises(
    data: dict[str, object],
) -> None:
    _parse(json.dumps(data))


@given(text=st.text(alphabet=string.printable + '[]{}"\\', max_size=300))
def test_arbitrary_text_as_a_card_parses_or_raises(text: str) -> None:
    _parse(text)


# --- masks --------------------------------------------------------------------------------------


@given(
    mask=hnp.arrays(
        dtype=st.sampled_from([np.bool_, np.uint8, np.uint16, np.float32, np.int32]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
    ),
    invert=st.booleans(),
)
@example(mask=np.zeros((0, 0, 0), np.bool_), invert=False)  # found by a long run: no channel
def test_any_array_gives_a_hole_map_of_its_size_or_a_value_error(
    mask: np.ndarray, invert: bool
) -> None:
    try:
        hole = hole_from_array(mask, invert=invert)
    except ValueError as exc:
        assert str(exc).startswith("a mask must")  # ganedit's message, not numpy's
        assert mask.ndim not in (2, 3) or mask.shape[2] == 0
        return
    assert hole.dtype == np.bool_ and hole.shape == mask.shape[:2]


# --- the codec ----------------------------------------------------------------------------------


@given(
    pixels=hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16]),
        shape=hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=8),
    )
)
def test_unit_floats_quantise_back_to_the_same_pixels(pixels: np.ndarray) -> None:
    np.testing.assert_array_equal(quantise(to_unit(pixels), pixels.dtype), pixels)


@given(
    chw=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=7),
        elements=st.floats(-1, 1, width=32),
    ),
    pad_h=st.integers(0, 20),
    pad_w=st.integers(0, 20),
)
def test_padding_keeps_the_image_and_adds_only_its_own_values(
    chw: np.ndarray, pad_h: int, pad_w: int
) -> None:
    padded = pad_bottom_right(chw, pad_h, pad_w)
    channels, height, width = chw.shape
    assert padded.shape == (channels, height + pad_h, width + pad_w)
    np.testing.assert_array_equal(padded[:, :height, :width], chw)
    for c in range(channels):
        assert set(np.unique(padded[c])) <= set(np.unique(chw[c]))


@given(size=st.integers(1, 10**6), multiple=st.integers(1, 1024))
def test_round_up_is_the_least_multiple_not_below(size: int, multiple: int) -> None:
    up = round_up(size, multiple)
    assert up % multiple == 0 and size <= up < size + multiple
