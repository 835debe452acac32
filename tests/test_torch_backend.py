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
from ganedit import Runtime, Variant, loading
from ganedit.cli import main
from ganedit.errors import GaneditError
from ganedit.resolve import resolve
from ganedit.torch_backend import TorchSession

TORCH = Runtime(backend="torch")


def _image(height: int = 40, width: int = 52, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_torch_backend_translates_like_onnxruntime(resnet_checkpoint: Path) -> None:
    ort_model = ganedit.load(resnet_checkpoint, device="cpu")
    torch_model = ganedit.load(resnet_checkpoint, device="cpu", runtime=TORCH)
    assert isinstance(torch_model, ganedit.Translator)
    assert torch_model.providers == ["torch:cpu:fp32"]
    assert torch_model.card == ort_model.card  # the card its ONNX export carries
    image = _image()
    assert levels(torch_model(image), ort_model(image)) <= 1


@pytest.mark.parametrize("stats", ["image", "running"])
def test_torch_backend_runs_pix2pix_like_onnxruntime(unet_checkpoint: Path, stats: str) -> None:
    image = _image(64, 64, seed=1)
    variant = Variant(norm_stats=stats)  # type: ignore[arg-type]
    ort_out = ganedit.load(unet_checkpoint, device="cpu", variant=variant)(image)
    torch_out = ganedit.load(unet_checkpoint, device="cpu", variant=variant, runtime=TORCH)(image)
    assert levels(torch_out, ort_out) <= 1


def test_torch_backend_upscales_like_onnxruntime(tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint("rrdb_x2", tmp_path)
    image = photo(30, 42)
    ort_out = ganedit.load(checkpoint, device="cpu").with_options(tile=0)(image)
    torch_model = ganedit.load(checkpoint, device="cpu", runtime=TORCH)
    assert isinstance(torch_model, ganedit.Upscaler)
    torch_out = torch_model.with_options(tile=0)(image)
    assert torch_out.shape == (60, 84, 3)
    assert levels(torch_out, ort_out) <= 1


def test_torch_session_batches_like_single_images(resnet_checkpoint: Path) -> None:
    model = ganedit.load(resnet_checkpoint, device="cpu", runtime=TORCH)
    rng = np.random.default_rng(3)
    batch = rng.uniform(-1, 1, (2, 3, 32, 36)).astype(np.float32)
    together = model.run_batch(batch)
    apart = np.concatenate([model.run_batch(batch[i : i + 1]) for i in range(2)])
    assert together.dtype == np.float32
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_torch_backend_refuses_onnx_files(resnet_onnx: Path) -> None:
    with pytest.raises(GaneditError, match="the torch backend runs checkpoints"):
        ganedit.load(resnet_onnx, device="cpu", runtime=TORCH)


def test_torch_backend_never_runs_half_on_the_cpu(resnet_checkpoint: Path) -> None:
    with pytest.raises(GaneditError, match="fp16 is never used on the CPU"):
        ganedit.load(resnet_checkpoint, device="cpu", variant=Variant(half=True), runtime=TORCH)


def test_torch_session_refuses_half_on_the_cpu() -> None:
    import torch

    with pytest.raises(GaneditError, match="fp16 needs a CUDA device; half precision is never"):
        TorchSession(torch.nn.Identity(), device="cpu", half="fp16")


@pytest.mark.parametrize(
    ("device", "half", "providers", "on_gpu"),
    [
        ("cpu", None, ["torch:cpu:fp32"], False),
        ("cuda", "fp16", ["torch:cuda:fp16"], True),
        ("cuda:0", None, ["torch:cuda:0:fp32"], True),
        ("cuda", "bf16", ["torch:cuda:bf16"], True),
    ],
)
def test_torch_session_says_where_it_runs(
    device: str, half: str | None, providers: list[str], on_gpu: bool
) -> None:
    import torch

    session = TorchSession(torch.nn.Identity(), device="cpu")
    # Where a CUDA session would run, without a GPU: only the device and precision are read.
    session.device, session.half = torch.device(device), half  # type: ignore[assignment]
    assert (session.providers, session.on_gpu) == (providers, on_gpu)


def test_torch_backend_rejects_onnxruntime_providers(resnet_checkpoint: Path) -> None:
    with pytest.raises(GaneditError, match="providers are for the onnxruntime backend"):
        ganedit.load(resnet_checkpoint, runtime=TORCH, providers=["CPUExecutionProvider"])


def test_unknown_backend_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="backend must be 'onnxruntime', 'torch' or 'auto'"):
        Runtime(backend="tensorflow")  # type: ignore[arg-type]


def test_fewer_than_one_thread_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        Runtime(threads=0)


def test_auto_backend_prefers_onnxruntime_on_the_cpu(resnet_checkpoint: Path) -> None:
    source = resolve(resnet_checkpoint)
    assert loading.choose_backend(source, "cpu", None) == "onnxruntime"
    assert loading.choose_backend(source, "auto", ["CPUExecutionProvider"]) == "onnxruntime"


def test_auto_backend_takes_torch_where_only_torch_has_cuda(
    resnet_checkpoint: Path, resnet_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime

    from ganedit import torch_backend

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(torch_backend, "torch_cuda_available", lambda: True)
    checkpoint = resolve(resnet_checkpoint)
    assert loading.choose_backend(checkpoint, "auto", None) == "torch"
    onnx_file = resolve(resnet_onnx)
    assert loading.choose_backend(onnx_file, "auto", None) == "onnxruntime"  # nothing to run
    monkeypatch.setattr(torch_backend, "torch_cuda_available", lambda: False)
    assert loading.choose_backend(checkpoint, "auto", None) == "onnxruntime"


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
    assert loading.choose_backend(resolve(resnet_checkpoint), "auto", None) == "onnxruntime"


def _translate_with(backend: str, checkpoint: Path, folder: Path, out: Path) -> np.ndarray:
    args = ["translate", str(checkpoint), str(folder), "-o", str(out), "--device", "cpu"]
    result = CliRunner().invoke(main, [*args, "--backend", backend, "-q"])
    assert result.exit_code == 0, result.output
    return np.asarray(Image.open(out / "a.png"))


def test_translate_cli_with_the_torch_backend_matches_onnxruntime(
    resnet_checkpoint: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(_image(36, 44, seed=5)).save(folder / "a.png")
    ort = _translate_with("onnxruntime", resnet_checkpoint, folder, tmp_path / "ort")
    torch = _translate_with("torch", resnet_checkpoint, folder, tmp_path / "torch")
    assert levels(torch, ort) <= 1


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
    assert "--half needs a CUDA device; fp16 is never used on the CPU" in result.output
