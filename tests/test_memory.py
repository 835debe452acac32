"""ganedit.memory: sizes in and out, and what the estimate scales with."""

from __future__ import annotations

from typing import ClassVar

import pytest

from ganedit.errors import GaneditError
from ganedit.memory import NETWORK_BYTES_PER_PIXEL, format_size, image_bytes, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("123", 123), ("8G", 8 << 30), ("512m", 512 << 20), ("1.5GiB", 3 << 29),
     ("2 KB", 2048), ("1T", 1 << 40)],
)  # fmt: skip
def test_parse_size_reads_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "8X", "1e9"])
def test_parse_size_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(GaneditError, match="not a memory size"):
        parse_size(text)


def test_format_size_picks_the_unit() -> None:
    assert [format_size(n) for n in (512, 1536, 3 << 20, 5 << 30, 2 << 40)] == [
        "512 B", "1.5 KiB", "3.0 MiB", "5.0 GiB", "2048.0 GiB",
    ]  # fmt: skip


def test_the_estimate_counts_the_network_per_pixel_it_sees(resnet_translator) -> None:  # type: ignore[no-untyped-def]
    small = image_bytes(resnet_translator, 100, 100, 3, 1)
    big = image_bytes(resnet_translator, 200, 200, 3, 1)
    assert big == pytest.approx(4 * small, rel=0.05)  # whole images: linear in pixels
    assert small > resnet_translator.working_pixels(100, 100) * NETWORK_BYTES_PER_PIXEL


def test_a_card_can_state_its_network_memory(resnet_translator) -> None:  # type: ignore[no-untyped-def]
    stated = resnet_translator.with_options()
    stated.card = stated.card.replace(extra={"bytes_per_pixel": 10})
    pixels = stated.working_pixels(100, 100)
    default = image_bytes(resnet_translator, 100, 100, 3, 1)
    assert default - image_bytes(stated, 100, 100, 3, 1) == pixels * (NETWORK_BYTES_PER_PIXEL - 10)


class _Session:
    providers: ClassVar[list[str]] = ["stub"]
    on_gpu = False
    is_network = True

    def run(self, batch):  # type: ignore[no-untyped-def]
        raise AssertionError("not run")


def test_a_tiled_upscale_is_estimated_by_its_tiles() -> None:
    from pathlib import Path

    from ganedit import ModelCard, Upscaler

    card = ModelCard(name="up", task="upscale", arch="a", scale=4, input_range=(0.0, 1.0),
                     output_range=(0.0, 1.0))  # fmt: skip
    up = Upscaler(_Session(), card, Path("up.onnx")).with_options(
        tile=64, tile_overlap=8, tile_batch=2
    )
    assert up.working_pixels(1000, 1000) == (64 + 16) ** 2 * 2  # a batch of overlapping tiles
    assert up.working_pixels(40, 50) == 40 * 50  # fits one tile: the whole image
