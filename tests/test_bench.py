"""ganedit bench: the network's images/s at a size and batch, and how busy the machine was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import ganedit
from ganedit.bench import BenchResult, bench_model, parse_size
from ganedit.cli import main


@pytest.mark.parametrize(
    ("text", "expected"), [("256", (256, 256)), ("512x384", (384, 512)), ("64X32", (32, 64))]
)
def test_parse_size_reads_n_and_width_by_height(text: str, expected: tuple[int, int]) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "0", "12x", "axb", "1x2x3", "-4"])
def test_parse_size_rejects_malformed_sizes(text: str) -> None:
    with pytest.raises(ValueError, match="size must be"):
        parse_size(text)


def test_bench_model_pads_to_the_size_multiple_and_counts_images(resnet_onnx: Path) -> None:
    model = ganedit.load(resnet_onnx, device="cpu")
    result = bench_model(model, height=30, width=41, batch=2, seconds=0.2, warmup=1)
    assert isinstance(result, BenchResult)
    m = model.card.size_multiple
    assert result.height % m == 0 and result.width % m == 0
    assert result.height >= 30 and result.width >= 41
    assert result.calls >= 3
    assert result.images_per_s == pytest.approx(2 * result.calls / result.seconds)
    assert result.latency_ms[0] <= result.latency_ms[1]
    assert result.gpu_percent is None  # on the CPU the busy cores are reported instead
    assert result.cpu_cores_busy is not None and result.cpu_cores_busy > 0
    assert "images/s" in result.summary() and "CPU cores busy" in result.summary()


def test_bench_model_rejects_a_non_positive_batch(resnet_onnx: Path) -> None:
    with pytest.raises(ValueError):
        bench_model(ganedit.load(resnet_onnx, device="cpu"), batch=0)


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
    assert "not a network" in result.output


def test_bench_cli_rejects_a_bad_size(resnet_onnx: Path) -> None:
    result = CliRunner().invoke(main, ["bench", str(resnet_onnx), "--size", "big"])
    assert result.exit_code == 2
    assert "size must be" in result.output


def test_io_binding_path_gives_the_same_output_as_run(resnet_onnx: Path) -> None:
    """The GPU's IO-binding path, exercised on the CPU device (the code is the same)."""
    import numpy as np

    model = ganedit.load(resnet_onnx, device="cpu")
    assert model._bind_device is None  # the CPU runs plain session.run
    batch = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 40)).astype(np.float32)
    np.testing.assert_array_equal(model._run_bound(batch, "cpu"), model.run_batch(batch))


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
