"""ganedit.export: checkpoints -> ONNX with a card, dynamic shapes, verified against torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

import ganedit.export
from ganedit import ModelCard
from ganedit.archs import ImageStatsBatchNorm2d, use_running_statistics
from ganedit.card import METADATA_KEY
from ganedit.cli import main
from ganedit.export import (
    ExportError,
    ExportResult,
    checkpoint_to_onnx,
    export_onnx,
    inference_module,
)


def _metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    (out,) = _session(path).run(None, {"image": x})
    return out


def _run_torch(module: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _inputs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


@pytest.fixture(params=["resnet", "unet"])
def exported(request: pytest.FixtureRequest) -> ExportResult:
    return request.getfixturevalue(f"{request.param}_export")


def test_card_is_stored_under_the_ganedit_metadata_key(exported: ExportResult) -> None:
    meta = _metadata(exported.path)
    assert list(meta) == [METADATA_KEY]
    assert ModelCard.from_json(meta[METADATA_KEY]) == exported.card


def test_onnx_checker_accepts_the_file(exported: ExportResult) -> None:
    onnx.checker.check_model(onnx.load(str(exported.path)))


def test_verification_difference_is_below_tolerance(exported: ExportResult) -> None:
    assert exported.max_abs_diff is not None
    assert exported.max_abs_diff < 1e-4


def test_verification_exercises_two_batch_sizes(exported: ExportResult) -> None:
    assert sorted(shape[0] for shape in exported.verify_shapes) == [1, 2]


def test_batch_height_and_width_are_dynamic(exported: ExportResult) -> None:
    graph = onnx.load(str(exported.path)).graph
    for value in (graph.input[0], graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "", "height", "width"]
        assert dims[1].dim_value == 3


def test_resnet_card_describes_the_checkpoint(resnet_export: ExportResult) -> None:
    card = resnet_export.card
    assert (card.name, card.source, card.license) == ("tiny_resnet", "tests", "test-only")
    assert (card.arch, card.task, card.scale) == ("resnet_1blocks", "translate", 1)
    assert (card.size_multiple, card.min_size) == (4, 16)
    assert card.input_range == card.output_range == (-1.0, 1.0)
    assert card.norm_stats is None
    assert card.tiling == "discouraged"  # instance norm sees the whole image
    assert card.extra == {"family": "resnet", "ngf": 4, "norm": "instance"}


def test_unet_card_describes_the_checkpoint(unet_export: ExportResult) -> None:
    card = unet_export.card
    assert (card.arch, card.size_multiple, card.min_size) == ("unet_32", 32, 32)
    assert card.norm_stats == "image"
    assert card.extra["norm"] == "batch"


@pytest.mark.parametrize("shape", [(1, 3, 16, 16), (1, 3, 20, 36), (2, 3, 44, 28), (2, 3, 64, 96)])
def test_resnet_onnx_matches_torch_at_several_sizes(
    resnet_onnx: Path, resnet_module: torch.nn.Module, shape: tuple[int, ...]
) -> None:
    x = _inputs(shape)
    got = _run_onnx(resnet_onnx, x)
    assert got.shape == shape
    np.testing.assert_allclose(got, _run_torch(resnet_module, x), atol=1e-4, rtol=0)


@pytest.mark.parametrize("shape", [(1, 3, 32, 32), (1, 3, 64, 96), (2, 3, 96, 64)])
def test_unet_onnx_matches_torch_at_several_sizes(
    unet_onnx: Path, unet_module: torch.nn.Module, shape: tuple[int, ...]
) -> None:
    x = _inputs(shape)
    got = _run_onnx(unet_onnx, x)
    assert got.shape == shape
    np.testing.assert_allclose(got, _run_torch(unet_module, x), atol=1e-4, rtol=0)


def test_running_statistics_change_the_card(
    unet_export: ExportResult, unet_running_export: ExportResult
) -> None:
    image, running = unet_export.card, unet_running_export.card
    assert (image.norm_stats, running.norm_stats) == ("image", "running")
    assert (image.tiling, running.tiling) == ("discouraged", "ok")
    stored = json.loads(_metadata(unet_running_export.path)[METADATA_KEY])
    assert stored["norm_stats"] == "running"


def test_running_statistics_change_the_output(unet_onnx: Path, unet_running_onnx: Path) -> None:
    x = _inputs((1, 3, 64, 64))
    difference = np.abs(_run_onnx(unet_onnx, x) - _run_onnx(unet_running_onnx, x)).max()
    assert difference > 1e-2


def test_running_statistics_export_matches_plain_batch_norm(
    unet_running_onnx: Path, unet_checkpoint: Path
) -> None:
    from ganedit.archs import load_generator

    module = use_running_statistics(load_generator(unet_checkpoint).module).eval()
    x = _inputs((2, 3, 64, 32))
    np.testing.assert_allclose(
        _run_onnx(unet_running_onnx, x), _run_torch(module, x), atol=1e-4, rtol=0
    )


def test_per_image_statistics_make_batch_results_equal_single_results(unet_onnx: Path) -> None:
    session = _session(unet_onnx)
    first = _inputs((1, 3, 64, 64), seed=1)
    second = _inputs((1, 3, 64, 64), seed=2) * 0.3 + 0.5  # very different statistics
    (batch,) = session.run(None, {"image": np.concatenate([first, second])})
    (alone_first,) = session.run(None, {"image": first})
    (alone_second,) = session.run(None, {"image": second})
    np.testing.assert_allclose(batch[0], alone_first[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(batch[1], alone_second[0], atol=1e-5, rtol=0)


def test_failed_verification_raises_and_writes_nothing(
    resnet_module: torch.nn.Module, resnet_export: ExportResult, tmp_path: Path
) -> None:
    out = tmp_path / "never.onnx"
    with pytest.raises(ExportError, match="differs from torch"):
        export_onnx(resnet_module, resnet_export.card, out, tolerance=0.0)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_of_no_known_architecture_raises_checkpoint_error(tmp_path: Path) -> None:
    from ganedit import CheckpointError

    bogus = tmp_path / "bogus.pth"
    torch.save({"encoder.weight": torch.zeros(2, 2)}, bogus)
    with pytest.raises(CheckpointError, match="no known architecture"):
        checkpoint_to_onnx(bogus, tmp_path / "bogus.onnx")


def test_cli_export_prints_difference_and_writes_card_fields(
    resnet_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.onnx"
    args = ["export", str(resnet_checkpoint), "-o", str(out)]
    args += ["--name", "n", "--source", "s", "--license", "l"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "verified against torch: max abs diff" in result.output
    diff = float(result.output.rsplit("max abs diff", 1)[1].split()[0])
    assert diff < 1e-4
    card = ModelCard.from_json(_metadata(out)[METADATA_KEY])
    assert (card.name, card.source, card.license) == ("n", "s", "l")


def test_cli_export_of_a_non_checkpoint_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.pth"
    bogus.write_text("not a checkpoint")
    result = CliRunner().invoke(main, ["export", str(bogus), "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2
    assert "not a PyTorch checkpoint" in result.output
    assert not (tmp_path / "x.onnx").exists()


def test_inference_module_with_running_statistics(unet_checkpoint: Path) -> None:
    module, card = inference_module(
        unet_checkpoint, name="n", source="s", license="l", norm_stats="running"
    )
    assert not module.training
    norms = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms
    assert not any(isinstance(m, ImageStatsBatchNorm2d) for m in norms)
    assert (card.name, card.source, card.license) == ("n", "s", "l")
    assert (card.norm_stats, card.tiling) == ("running", "ok")


def test_inference_module_gives_the_exported_module_and_card(
    unet_checkpoint: Path, unet_export: ExportResult, unet_module: torch.nn.Module
) -> None:
    module, card = inference_module(unet_checkpoint, name="tiny_unet", source=str(unet_checkpoint))
    assert card == unet_export.card
    x = _inputs((1, 3, 32, 64))
    np.testing.assert_array_equal(_run_torch(module, x), _run_torch(unet_module, x))


def test_inference_module_rejects_unknown_norm_stats(unet_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="norm_stats must be 'image' or 'running', got 'batch'"):
        inference_module(unet_checkpoint, name="n", source="s", norm_stats="batch")  # type: ignore[arg-type]


def test_import_ganedit_export_does_not_import_torch() -> None:
    # Torch-free submodules (e.g. the float16 converter) must stay importable without torch.
    code = "import sys, ganedit.export; print(sorted(m for m in sys.modules if m == 'torch'))"
    result = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ganedit.export.__all__)
def test_every_public_name_resolves_lazily(name: str) -> None:
    assert getattr(ganedit.export, name) is not None
    assert name in dir(ganedit.export)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'ganedit\.export' has no attribute 'nope'"):
        ganedit.export.nope  # noqa: B018
