"""The torch backend: checkpoints run with PyTorch behind the onnxruntime interface.

Each backend keeps the other honest: the same checkpoint through both gives the same pictures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from upscale_helpers import levels, photo, tiny_checkpoint

import ganedit
from ganedit import loading
from ganedit.cli import main
from ganedit.errors import GaneditError
from ganedit.torch_backend import TorchSession


def _image(height: int = 40, width: int = 52, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_torch_backend_translates_like_onnxruntime(resnet_checkpoint: Path) -> None:
    ort_model = ganedit.load(resnet_checkpoint, device="cpu")
    torch_model = ganedit.load(resnet_checkpoint, device="cpu", backend="torch")
    assert isinstance(torch_model, ganedit.Translator)
    assert torch_model.providers == ["torch:cpu:fp32"]
    assert torch_model.card == ort_model.card  # the card its ONNX export carries
    image = _image()
    assert levels(torch_model(image), ort_model(image)) <= 1


def test_torch_backend_runs_pix2pix_with_per_image_statistics(unet_checkpoint: Path) -> None:
    image = _image(64, 64, seed=1)
    for stats in ("image", "running"):
        ort_out = ganedit.load(unet_checkpoint, device="cpu", norm_stats=stats)(image)
        torch_out = ganedit.load(unet_checkpoint, device="cpu", norm_stats=stats, backend="torch")(
            image
        )
        assert levels(torch_out, ort_out) <= 1, stats


def test_torch_backend_upscales_like_onnxruntime(tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint("rrdb_x2", tmp_path)
    image = photo(30, 42)
    ort_out = ganedit.load(checkpoint, device="cpu")(image, tile=0)
    torch_model = ganedit.load(checkpoint, device="cpu", backend="torch")
    assert isinstance(torch_model, ganedit.Upscaler)
    torch_out = torch_model(image, tile=0)
    assert torch_out.shape == (60, 84, 3)
    assert levels(torch_out, ort_out) <= 1


def test_torch_session_batches_like_single_images(resnet_checkpoint: Path) -> None:
    model = ganedit.load(resnet_checkpoint, device="cpu", backend="torch")
    rng = np.random.default_rng(3)
    batch = rng.uniform(-1, 1, (2, 3, 32, 36)).astype(np.float32)
    together = model.run_batch(batch)
    apart = np.concatenate([model.run_batch(batch[i : i + 1]) for i in range(2)])
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_torch_backend_refuses_onnx_files(resnet_onnx: Path) -> None:
    with pytest.raises(GaneditError, match="the torch backend runs checkpoints"):
        ganedit.load(resnet_onnx, device="cpu", backend="torch")


def test_torch_backend_never_runs_half_on_the_cpu(resnet_checkpoint: Path) -> None:
    with pytest.raises(GaneditError, match="fp16 is never used on the CPU"):
        ganedit.load(resnet_checkpoint, device="cpu", backend="torch", half=True)


def test_torch_session_refuses_half_on_the_cpu() -> None:
    import torch

    with pytest.raises(GaneditError, match="never used on the CPU"):
        TorchSession(torch.nn.Identity(), device="cpu", half="fp16")


def test_torch_backend_rejects_onnxruntime_providers(resnet_checkpoint: Path) -> None:
    with pytest.raises(GaneditError, match="providers are for the onnxruntime backend"):
        ganedit.load(resnet_checkpoint, backend="torch", providers=["CPUExecutionProvider"])


def test_unknown_backend_is_a_value_error(resnet_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="backend must be"):
        ganedit.load(resnet_checkpoint, backend="tensorflow")  # type: ignore[arg-type]


def test_auto_backend_prefers_onnxruntime_on_the_cpu(resnet_checkpoint: Path) -> None:
    assert loading.choose_backend(resnet_checkpoint, "cpu", None) == "onnxruntime"
    assert loading.choose_backend(resnet_checkpoint, "auto", ["CPUExecutionProvider"]) == (
        "onnxruntime"
    )


def test_auto_backend_takes_torch_where_only_torch_has_cuda(
    resnet_checkpoint: Path, resnet_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    from ganedit import torch_backend

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(torch_backend, "torch_cuda_available", lambda: True)
    assert loading.choose_backend(resnet_checkpoint, "auto", None) == "torch"
    assert loading.choose_backend(resnet_onnx, "auto", None) == "onnxruntime"  # nothing to run
    monkeypatch.setattr(torch_backend, "torch_cuda_available", lambda: False)
    assert loading.choose_backend(resnet_checkpoint, "auto", None) == "onnxruntime"


def test_auto_backend_keeps_onnxruntime_when_it_has_cuda(
    resnet_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    from ganedit import torch_backend

    monkeypatch.setattr(
        onnxruntime,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    monkeypatch.setattr(torch_backend, "torch_cuda_available", lambda: True)
    assert loading.choose_backend(resnet_checkpoint, "auto", None) == "onnxruntime"


def test_translate_cli_with_the_torch_backend_matches_onnxruntime(
    resnet_checkpoint: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_image(36, 44, seed=5)).save(folder / "a.png")
    runs = {}
    for backend in ("onnxruntime", "torch"):
        out = tmp_path / backend
        result = CliRunner().invoke(
            main,
            [
                "translate",
                str(resnet_checkpoint),
                str(folder),
                "-o",
                str(out),
                "--device",
                "cpu",
                "--backend",
                backend,
                "-q",
            ],
        )
        assert result.exit_code == 0, result.output
        runs[backend] = np.asarray(Image.open(out / "a.png"))
    assert levels(runs["torch"], runs["onnxruntime"]) <= 1


def test_half_with_the_torch_backend_on_the_cpu_is_a_usage_error(
    resnet_checkpoint: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main,
        [
            "translate",
            str(resnet_checkpoint),
            str(tmp_path),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "--backend",
            "torch",
            "--half",
        ],
    )
    assert result.exit_code == 2
    assert "never used on the CPU" in result.output
