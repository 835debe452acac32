"""The Python API: ganedit.load and Translator on PIL images and numpy arrays."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image

import ganedit
from ganedit import GaneditError, ModelCardError, Translator, UnknownModelError
from ganedit import loading as loading_module

ODD_SIZES = [(37, 53), (17, 31), (5, 9), (96, 95)]  # (height, width); 5x9 is below min_size


def _rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _alpha(height: int, width: int) -> np.ndarray:
    return (np.arange(height * width) % 256).astype(np.uint8).reshape(height, width)


def _torch_reference(module: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """What the torch generator makes of ``rgb`` (uint8 HWC), written out independently."""
    height, width = rgb.shape[:2]

    def target(n: int) -> int:
        return -(-max(n, 16) // 4) * 4

    x = rgb.astype(np.float64).transpose(2, 0, 1) / 255 * 2 - 1
    pad_h, pad_w = target(height) - height, target(width) - width
    x = np.pad(x, ((0, 0), (0, pad_h), (0, 0)), mode="reflect" if pad_h < height else "edge")
    x = np.pad(x, ((0, 0), (0, 0), (0, pad_w)), mode="reflect" if pad_w < width else "edge")
    with torch.no_grad():
        y = module(torch.from_numpy(x[None].astype(np.float32)))[0].numpy()
    y = y[:, :height, :width].transpose(1, 2, 0)
    return np.round(np.clip((y + 1) / 2, 0, 1) * 255).astype(np.uint8)


def _max_level_difference(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


# --- load -------------------------------------------------------------------------------------


def test_load_onnx_gives_a_translator_with_its_card(resnet_onnx: Path) -> None:
    model = ganedit.load(resnet_onnx, device="cpu")
    assert isinstance(model, Translator)
    assert model.card.name == "tiny_resnet"
    assert model.path == resnet_onnx
    assert model.providers == ["CPUExecutionProvider"]


def test_load_checkpoint_converts_into_ganedit_home(
    resnet_checkpoint: Path, ganedit_home: Path
) -> None:
    model = ganedit.load(resnet_checkpoint, device="cpu")
    assert model.path.parent == ganedit_home / "converted"
    assert model.path.name.startswith("tiny_resnet-") and model.path.suffix == ".onnx"
    assert model.card.source == str(resnet_checkpoint.resolve())


def test_load_checkpoint_twice_converts_once(
    resnet_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = loading_module.convert_checkpoint

    def counting(checkpoint: Path, out: Path, **kwargs: object) -> Path:
        calls.append(checkpoint)
        return real(checkpoint, out, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loading_module, "convert_checkpoint", counting)
    first = ganedit.load(resnet_checkpoint, device="cpu")
    mtime = first.path.stat().st_mtime_ns
    second = ganedit.load(resnet_checkpoint, device="cpu")
    assert len(calls) == 1
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == mtime


def test_converted_checkpoint_translates_like_the_exported_onnx(
    resnet_checkpoint: Path, resnet_translator: Translator
) -> None:
    image = _rgb(37, 53)
    converted = ganedit.load(resnet_checkpoint, device="cpu")
    np.testing.assert_array_equal(converted(image), resnet_translator(image))


def test_norm_stats_variants_of_a_checkpoint_are_cached_apart(unet_checkpoint: Path) -> None:
    image = ganedit.load(unet_checkpoint, device="cpu", norm_stats="image")
    running = ganedit.load(unet_checkpoint, device="cpu", norm_stats="running")
    assert image.path != running.path
    assert (image.card.norm_stats, running.card.norm_stats) == ("image", "running")


def test_unknown_name_raises_unknown_model_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownModelError, match="Did you mean: horse2zebra"):
        ganedit.load("horse2zebr")


def test_missing_model_file_raises_ganedit_error(tmp_path: Path) -> None:
    with pytest.raises(GaneditError, match="does not exist"):
        ganedit.load(tmp_path / "nothing.onnx")


def test_unsupported_model_file_type_raises_ganedit_error(tmp_path: Path) -> None:
    weights = tmp_path / "weights.h5"
    weights.write_bytes(b"\x89HDF")
    with pytest.raises(GaneditError, match=r"cannot load a \.h5 file"):
        ganedit.load(weights)


def test_onnx_without_card_raises_model_card_error(resnet_onnx: Path, tmp_path: Path) -> None:
    model = onnx.load(str(resnet_onnx))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(ModelCardError, match="no ganedit model card"):
        ganedit.load(bare, device="cpu")


def test_cuda_without_cuda_provider_raises_a_clear_error(
    resnet_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(GaneditError, match=r"no CUDA provider.*ganedit\[gpu\]"):
        ganedit.load(resnet_onnx, device="cuda")


def test_unavailable_explicit_provider_raises_ganedit_error(resnet_onnx: Path) -> None:
    with pytest.raises(GaneditError, match="not available"):
        ganedit.load(resnet_onnx, providers=["NoSuchExecutionProvider"])


def test_invalid_norm_stats_raises_value_error(resnet_onnx: Path) -> None:
    with pytest.raises(ValueError, match="norm_stats"):
        ganedit.load(resnet_onnx, norm_stats="batch")  # type: ignore[arg-type]


def _run_python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_import_ganedit_does_not_import_torch() -> None:
    code = "import sys, ganedit; print(sorted(m for m in sys.modules if m.startswith('torch')))"
    assert _run_python(code) == "[]"


def test_translating_with_an_onnx_file_does_not_import_torch_or_onnx(resnet_onnx: Path) -> None:
    code = (
        "import sys, numpy as np, ganedit\n"
        "ganedit.load(sys.argv[1], device='cpu')(np.zeros((20, 20, 3), np.uint8))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx'}))"
    )
    assert _run_python(code, str(resnet_onnx)) == "[]"


# --- Translator on PIL images -----------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), ODD_SIZES)
def test_pil_rgb_output_has_the_input_size(
    resnet_translator: Translator, height: int, width: int
) -> None:
    out = resnet_translator(Image.fromarray(_rgb(height, width)))
    assert isinstance(out, Image.Image)
    assert (out.mode, out.size) == ("RGB", (width, height))


@pytest.mark.parametrize(("height", "width"), ODD_SIZES)
def test_pil_rgb_matches_the_torch_module(
    resnet_translator: Translator, resnet_module: torch.nn.Module, height: int, width: int
) -> None:
    rgb = _rgb(height, width)
    out = np.asarray(resnet_translator(Image.fromarray(rgb)))
    assert _max_level_difference(out, _torch_reference(resnet_module, rgb)) <= 1


def test_pil_rgba_keeps_its_alpha(resnet_translator: Translator) -> None:
    rgba = np.dstack([_rgb(37, 53), _alpha(37, 53)])
    out = resnet_translator(Image.fromarray(rgba))
    assert (out.mode, out.size) == ("RGBA", (53, 37))
    np.testing.assert_array_equal(np.asarray(out)[:, :, 3], rgba[:, :, 3])


def test_pil_rgba_colour_is_translated_like_rgb(resnet_translator: Translator) -> None:
    rgb = _rgb(37, 53)
    rgba = np.dstack([rgb, _alpha(37, 53)])
    with_alpha = np.asarray(resnet_translator(Image.fromarray(rgba)))[:, :, :3]
    np.testing.assert_array_equal(with_alpha, np.asarray(resnet_translator(Image.fromarray(rgb))))


def test_pil_grey_is_translated_as_rgb(resnet_translator: Translator) -> None:
    grey = _rgb(37, 53)[:, :, 0]
    out = resnet_translator(Image.fromarray(grey, mode="L"))
    assert (out.mode, out.size) == ("RGB", (53, 37))
    as_rgb = resnet_translator(Image.fromarray(np.dstack([grey] * 3)))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(as_rgb))


def test_pil_16bit_grey_is_translated_like_its_8bit_version(
    resnet_translator: Translator,
) -> None:
    grey = _rgb(37, 53)[:, :, 0]
    deep = Image.fromarray(grey.astype(np.uint16) * 257)
    assert deep.mode == "I;16"
    out = resnet_translator(deep)
    assert (out.mode, out.size) == ("RGB", (53, 37))  # Pillow has no 16-bit RGB mode
    eight = np.asarray(resnet_translator(Image.fromarray(grey, mode="L")))
    assert _max_level_difference(np.asarray(out), eight) <= 1


# --- Translator on numpy arrays ---------------------------------------------------------------


@pytest.mark.parametrize(("height", "width"), ODD_SIZES)
def test_uint8_array_keeps_size_and_dtype(
    resnet_translator: Translator, height: int, width: int
) -> None:
    out = resnet_translator(_rgb(height, width))
    assert (out.shape, out.dtype) == ((height, width, 3), np.uint8)


def test_uint8_array_matches_the_torch_module(
    resnet_translator: Translator, resnet_module: torch.nn.Module
) -> None:
    rgb = _rgb(37, 53, seed=3)
    assert _max_level_difference(resnet_translator(rgb), _torch_reference(resnet_module, rgb)) <= 1


def test_uint16_array_keeps_dtype_and_full_range(resnet_translator: Translator) -> None:
    rgb = _rgb(37, 53)
    out = resnet_translator(rgb.astype(np.uint16) * 257)
    assert (out.shape, out.dtype) == ((37, 53, 3), np.uint16)
    assert np.any(out % 257 != 0)  # 16-bit precision, not 8-bit values scaled up
    eight = resnet_translator(rgb)
    assert np.abs(out / 257 - eight).max() <= 1


def test_float_array_comes_back_as_unit_float(resnet_translator: Translator) -> None:
    rgb = _rgb(37, 53)
    out = resnet_translator(rgb.astype(np.float32) / 255)
    assert (out.shape, out.dtype) == ((37, 53, 3), np.float32)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out * 255, resnet_translator(rgb), atol=1.0)


def test_2d_grey_array_is_translated_as_rgb(resnet_translator: Translator) -> None:
    grey = _rgb(37, 53)[:, :, 0]
    out = resnet_translator(grey)
    assert (out.shape, out.dtype) == ((37, 53, 3), np.uint8)
    np.testing.assert_array_equal(out, resnet_translator(np.dstack([grey] * 3)))


def test_four_channel_array_keeps_its_alpha(resnet_translator: Translator) -> None:
    rgba = np.dstack([_rgb(37, 53), _alpha(37, 53)])
    out = resnet_translator(rgba)
    assert out.shape == (37, 53, 4)
    np.testing.assert_array_equal(out[:, :, 3], rgba[:, :, 3])
    np.testing.assert_array_equal(out[:, :, :3], resnet_translator(rgba[:, :, :3]))


@pytest.mark.parametrize(
    "bad", [np.zeros((8, 8, 5), np.uint8), np.zeros((8, 8, 3), np.int64), [[0, 1]]]
)
def test_unsupported_input_raises(resnet_translator: Translator, bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        resnet_translator(bad)  # type: ignore[call-overload]


# --- map --------------------------------------------------------------------------------------


def test_map_with_batches_equals_one_at_a_time(resnet_translator: Translator) -> None:
    images = [_rgb(37, 53, seed=s) for s in range(5)]
    batched = list(resnet_translator.map(images, batch_size=3))
    single = [resnet_translator(image) for image in images]
    assert len(batched) == len(single)
    for got, expected in zip(batched, single, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_map_keeps_order_with_mixed_sizes(resnet_translator: Translator) -> None:
    sizes = [(20, 20), (37, 53), (20, 20), (17, 31), (37, 53), (5, 9), (20, 20)]
    images = [_rgb(h, w, seed=s) for s, (h, w) in enumerate(sizes)]
    batched = list(resnet_translator.map(images, batch_size=4))
    assert [out.shape[:2] for out in batched] == sizes
    for got, image in zip(batched, images, strict=True):
        np.testing.assert_array_equal(got, resnet_translator(image))


def test_map_is_lazy(resnet_translator: Translator) -> None:
    def images():
        yield _rgb(20, 20)
        raise AssertionError("read past the first batch")

    first = next(iter(resnet_translator.map(images(), batch_size=1)))
    assert first.shape == (20, 20, 3)


def test_bucket_batches_nearby_sizes_together(
    resnet_translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucketed = resnet_translator.with_options(bucket=32)
    assert resnet_translator.options.bucket == 0  # the original is unchanged
    assert bucketed._session is resnet_translator._session  # one loaded network
    batches: list[int] = []
    run = Translator.run_prepared

    def spy(self: Translator, items: list) -> list:
        batches.append(len(items))
        return run(self, items)

    monkeypatch.setattr(Translator, "run_prepared", spy)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(30, 29), (25, 32)]]
    together = list(bucketed.map(images, batch_size=2))
    assert batches == [2]  # both pad to 32x32 and run as one batch
    assert [out.shape for out in together] == [(30, 29, 3), (25, 32, 3)]
    batches.clear()
    apart = [bucketed(image) for image in images]
    for one, other in zip(together, apart, strict=True):
        np.testing.assert_array_equal(one, other)  # batching does not change the result
    batches.clear()
    list(resnet_translator.map(images, batch_size=2))
    assert batches == [1, 1]  # without a bucket the two shapes differ


def test_negative_bucket_is_rejected(resnet_translator: Translator) -> None:
    with pytest.raises(ValueError, match="bucket must be >= 0"):
        resnet_translator.with_options(bucket=-1)


def test_map_rejects_batch_size_below_one(resnet_translator: Translator) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(resnet_translator.map([_rgb(20, 20)], batch_size=0))


def test_unet_batches_equal_single_images(unet_onnx: Path) -> None:
    model = ganedit.load(unet_onnx, device="cpu")
    images = [_rgb(40, 70, seed=1), _rgb(40, 70, seed=2) // 4]  # different statistics
    batched = list(model.map(images, batch_size=2))
    for got, image in zip(batched, images, strict=True):
        assert _max_level_difference(got, model(image)) == 0
