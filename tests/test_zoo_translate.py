"""A zoo name end to end: download over HTTP, record the checksum, convert once, translate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from http_helpers import serve_folder
from PIL import Image

import ganedit
from ganedit import zoo
from ganedit.archs import ResnetGenerator
from ganedit.cli import main


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server over a folder holding a tiny reference-layout generator."""
    folder = tmp_path / "served"
    folder.mkdir()
    torch.manual_seed(0)
    net = ResnetGenerator(in_channels=3, out_channels=3, ngf=4, n_blocks=1, norm="instance")
    torch.save(net.state_dict(), folder / "tiny2zebra.pth")
    with serve_folder(folder) as served:
        yield served


@pytest.fixture
def registry(served: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> zoo.ModelRegistry:
    base, _ = served
    registry = zoo.ModelRegistry(
        [
            zoo.ZooEntry(
                name="tiny2zebra",
                task="translate",
                family="cyclegan",
                url=f"{base}/tiny2zebra.pth",
                description="a tiny test generator",
                license="test",
            )
        ]
    )
    monkeypatch.setattr(zoo, "default_registry", lambda: registry)
    return registry


def test_load_by_name_downloads_converts_and_caches(
    registry: zoo.ModelRegistry, served: tuple[str, list[str]], tmp_path: Path
) -> None:
    _, hits = served
    model = ganedit.load("tiny2zebra", device="cpu")
    assert isinstance(model, ganedit.Translator)
    assert model.card.name == "tiny2zebra"
    assert model.card.source.endswith("/tiny2zebra.pth")
    assert model.card.license == "test"
    assert hits == ["/tiny2zebra.pth"]
    onnx_file = model.path
    mtime = onnx_file.stat().st_mtime_ns
    again = ganedit.load("tiny2zebra", device="cpu")
    assert hits == ["/tiny2zebra.pth"]  # no second download
    assert again.path == onnx_file and onnx_file.stat().st_mtime_ns == mtime  # no reconversion
    assert zoo.ModelCache().recorded_sha256(registry.get("tiny2zebra")) is not None


def test_cli_translate_by_name(registry: zoo.ModelRegistry, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)).save(photos / "a.png")
    result = CliRunner().invoke(
        main, ["translate", "tiny2zebra", str(photos), "-o", str(tmp_path / "out"), "-q"]
    )
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.size == (41, 30)


def test_cli_translate_unknown_name_is_a_usage_error(
    registry: zoo.ModelRegistry, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["translate", "tiny2zebr", str(tmp_path), "-o", "out"])
    assert result.exit_code == 2
    assert "tiny2zebra" in result.output  # the suggestion


def test_cli_translate_by_name_says_it_downloads_and_converts_once(
    registry: zoo.ModelRegistry, tmp_path: Path
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(photos / "a.png")
    args = ["translate", "tiny2zebra", str(photos), "-o", str(tmp_path / "out"), "--overwrite"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "downloading tiny2zebra" in first.stderr
    assert "converting" in first.stderr and "max abs diff" in first.stderr
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert "downloading" not in second.stderr and "converting" not in second.stderr


def test_cli_translate_takes_the_family_slash_name_form(
    registry: zoo.ModelRegistry, tmp_path: Path
) -> None:
    # The documented cyclegan/NAME form was "model file cyclegan/NAME does not exist".
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((20, 20, 3), dtype=np.uint8)).save(photos / "a.png")
    result = CliRunner().invoke(
        main, ["translate", "cyclegan/tiny2zebra", str(photos), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "a.png").is_file()
