"""ganedit bench: the network's images/s at a size and batch, and how busy the machine was."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

import ganedit
from ganedit import ModelCard, Translator
from ganedit.bench import BenchResult, bench_model, parse_size
from ganedit.cli import main


@pytest.mark.parametrize(
    ("text", "expected"), [("256", (256, 256)), ("512x384", (384, 512)), ("64X32", (32, 64))]
)
def test_parse_size_reads_n_and_width_by_height(text: str, expected: tuple[int, int]) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "0", "12x", "axb", "1x2x3", "-4"])
def test_parse_size_rejects_malformed_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="size must be N or WIDTHxHEIGHT, got"):
        parse_size(text)


class _SleepingSession:
    """A Session whose every call takes ``seconds`` (and returns the input)."""

    providers: ClassVar[list[str]] = ["stub"]
    on_gpu = False
    is_network = True

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.batches: list[tuple[int, ...]] = []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.shape)
        time.sleep(self.seconds)
        return batch


def _stub_model(session: _SleepingSession, **card: Any) -> Translator:
    fields: dict[str, Any] = {"name": "stub", "task": "translate", "arch": "stub"}
    return Translator(session, ModelCard(**(fields | card)), Path("stub"))


def test_bench_model_measures_the_speed_of_the_network() -> None:
    # Each call takes 50 ms for 2 images: 40 images/s and 50 ms per call, within sleep's slack.
    result = bench_model(_stub_model(_SleepingSession(0.05)), batch=2, seconds=0.3, warmup=1)
    assert result.images_per_s == pytest.approx(40, rel=0.2)
    assert result.latency_ms[0] == pytest.approx(50, rel=0.2)
    assert result.latency_ms[0] <= result.latency_ms[1]


@pytest.mark.parametrize(
    ("size", "card", "padded"),
    [
        ((30, 41), {"size_multiple": 4}, (32, 44)),
        ((30, 41), {"size_multiple": 4, "min_size": 64}, (64, 64)),
        ((32, 32), {"size_multiple": 32}, (32, 32)),
        ((5, 9), {}, (5, 9)),
    ],
)
def test_bench_model_runs_the_padded_size_the_card_asks_for(
    size: tuple[int, int], card: dict[str, int], padded: tuple[int, int]
) -> None:
    session = _SleepingSession(0.0)
    result = bench_model(
        _stub_model(session, **card), height=size[0], width=size[1], batch=3, seconds=0.01
    )
    assert (result.height, result.width) == padded
    assert set(session.batches) == {(3, 3, *padded)}


def test_bench_model_warms_up_then_makes_at_least_three_timed_calls() -> None:
    session = _SleepingSession(0.0)
    result = bench_model(_stub_model(session), seconds=1e-9, warmup=2)
    assert result.calls == 3
    assert len(session.batches) == 2 + 3


def test_bench_model_reports_busy_cores_on_the_cpu(resnet_onnx: Path) -> None:
    model = ganedit.load(resnet_onnx, device="cpu")
    result = bench_model(model, height=30, width=41, batch=2, seconds=0.2, warmup=1)
    assert isinstance(result, BenchResult)
    assert result.providers == ["CPUExecutionProvider"]
    assert result.gpu_percent is None  # on the CPU the busy cores are reported instead
    assert result.cpu_cores_busy is not None and result.cpu_cores_busy > 0
    assert "images/s" in result.summary() and "CPU cores busy" in result.summary()


@pytest.mark.parametrize(
    "sizes", [{"batch": 0}, {"height": 0}, {"width": -1}, {"seconds": 0}], ids=str
)
def test_bench_model_rejects_non_positive_sizes(sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="batch, height, width and seconds must be positive"):
        bench_model(_stub_model(_SleepingSession(0.0)), **sizes)


def test_bench_cli_measures_every_size_and_batch_as_json(resnet_onnx: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "bench",
            str(resnet_onnx),
            "--size",
            "32,48x32",
            "--batch",
            "1,2",
            "--seconds",
            "0.1",
            "--device",
            "cpu",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["width"], r["height"], r["batch"]) for r in rows] == [
        (32, 32, 1),
        (32, 32, 2),
        (48, 32, 1),
        (48, 32, 2),
    ]
    assert all(r["images_per_s"] > 0 for r in rows)


def test_bench_cli_rejects_what_is_not_a_network() -> None:
    result = CliRunner().invoke(main, ["bench", "cv2-telea", "--seconds", "0.1"])
    assert result.exit_code == 2
    assert "cv2-telea is not a network; there is nothing to benchmark" in result.output


def test_bench_cli_rejects_a_bad_size(resnet_onnx: Path) -> None:
    result = CliRunner().invoke(main, ["bench", str(resnet_onnx), "--size", "big"])
    assert result.exit_code == 2
    assert "size must be N or WIDTHxHEIGHT" in result.output


def test_cuda_sessions_get_tuned_provider_options(tmp_path: Path) -> None:
    from ganedit.session import CUDA_OPTIONS, with_provider_options

    chosen = with_provider_options(
        ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
        home=tmp_path,
    )
    trt, cuda, cpu = chosen
    assert trt[0] == "TensorrtExecutionProvider"
    assert trt[1]["trt_engine_cache_path"] == str(tmp_path / "tensorrt")
    assert trt[1]["trt_engine_cache_enable"] == "True"
    assert cuda == ("CUDAExecutionProvider", CUDA_OPTIONS)
    assert CUDA_OPTIONS["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert cpu == "CPUExecutionProvider"
