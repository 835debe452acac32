"""The Python API: ganedit.load (resolve, variants, sessions) and Translator on PIL images and
numpy arrays."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from PIL import Image

import ganedit
from ganedit import (
    GaneditError,
    InpaintOptions,
    ModelCard,
    ModelCardError,
    TranslateOptions,
    Translator,
    UnknownModelError,
    UpscaleOptions,
    Variant,
)
from ganedit.card import METADATA_KEY, TASKS
from ganedit.export import variants as variants_module
from ganedit.loading import TASK_CLASSES
from ganedit.resolve import resolve
from ganedit.session import OrtSession

if TYPE_CHECKING:
    from ganedit.export import ExportResult

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
    real = variants_module._convert

    def counting(
        checkpoint: Path, out: Path, source: object, variant: Variant, **options: object
    ) -> Path:
        calls.append(checkpoint)
        return real(checkpoint, out, source, variant, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(variants_module, "_convert", counting)
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
    image = ganedit.load(unet_checkpoint, device="cpu", variant=Variant(norm_stats="image"))
    running = ganedit.load(unet_checkpoint, device="cpu", variant=Variant(norm_stats="running"))
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


def test_task_classes_cover_every_task() -> None:
    assert set(TASK_CLASSES) == set(TASKS)
    assert all(issubclass(cls, ganedit.Model) for cls in TASK_CLASSES.values())


def test_only_the_inpainting_class_requires_a_mask() -> None:
    assert {task for task, cls in TASK_CLASSES.items() if cls.requires_mask} == {"inpaint"}


# --- Variant ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "suffix"),
    [
        (Variant(), ""),
        (Variant(half=True), ""),  # float16 is a conversion of the float32 file, cached apart
        (Variant(norm_stats="running"), ".running"),
        (Variant(denoise=1.0), ""),  # the model's own weights: nothing to blend
        (Variant(denoise=1), ""),
        (Variant(denoise=0), ".denoise0"),
        (Variant(denoise=0.3), ".denoise0.3"),
        (Variant(denoise=0.304), ".denoise0.304"),
        (Variant(denoise=0.1234567), ".denoise0.123457"),
        (Variant(norm_stats="running", denoise=0.3), ".running.denoise0.3"),
    ],
    ids=lambda v: repr(v) if isinstance(v, str) else None,
)
def test_variant_cache_suffix(variant: Variant, suffix: str) -> None:
    assert variant.cache_suffix == suffix


@pytest.mark.parametrize("denoise", [1.5, -0.1, float("nan"), float("inf"), True, "0.5"])
def test_variant_refuses_a_denoise_outside_zero_to_one(denoise: object) -> None:
    with pytest.raises(ValueError, match=r"denoise must be in \[0, 1\]"):
        Variant(denoise=denoise)  # type: ignore[arg-type]


@pytest.mark.parametrize("norm_stats", ["batch", "x", None])
def test_variant_refuses_unknown_norm_stats(norm_stats: object) -> None:
    with pytest.raises(ValueError, match="norm_stats must be 'image' or 'running'"):
        Variant(norm_stats=norm_stats)  # type: ignore[arg-type]


# --- resolve ----------------------------------------------------------------------------------


def test_resolve_an_onnx_file(resnet_onnx: Path) -> None:
    source = resolve(resnet_onnx)
    assert (source.kind, source.name, source.path) == ("onnx", "tiny_resnet", resnet_onnx)
    assert source.origin == str(resnet_onnx.resolve())


def test_resolve_a_checkpoint_file(resnet_checkpoint: Path) -> None:
    source = resolve(resnet_checkpoint)
    assert (source.kind, source.name) == ("checkpoint", "tiny_resnet")
    assert source.path == resnet_checkpoint
    assert source.origin == str(resnet_checkpoint.resolve())


@pytest.mark.parametrize("name", ["horse2zebra", "cyclegan/horse2zebra", "HORSE2ZEBRA"])
def test_resolve_a_zoo_name_without_downloading(name: str, ganedit_home: Path) -> None:
    source = resolve(name)
    assert (source.kind, source.name) == ("zoo", "horse2zebra")
    assert source.entry is not None and source.origin == source.entry.url
    assert source.license == source.entry.license
    assert source.twin is None
    assert list(ganedit_home.iterdir()) == []


@pytest.mark.parametrize("name", ["cv2-telea", "cv2-ns"])
def test_resolve_a_builtin_baseline(name: str) -> None:
    source = resolve(name)
    assert (source.kind, source.name, source.origin) == ("builtin", name, f"builtin:{name}")


def test_resolve_a_denoise_blend_names_the_twin() -> None:
    source = resolve("realesr-general-x4v3", Variant(denoise=0.5))
    assert source.kind == "zoo"
    assert source.twin is not None and source.twin.name == "realesr-general-wdn-x4v3"


def test_resolve_denoise_one_needs_no_twin() -> None:
    assert resolve("realesr-general-x4v3", Variant(denoise=1.0)).twin is None


def test_resolve_an_unknown_name_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError, match="Did you mean: horse2zebra"):
        resolve("horse2zebr")


@pytest.mark.parametrize("name", ["nothing.onnx", "weights.pth", "folder/model"])
def test_resolve_a_missing_path_says_it_does_not_exist(tmp_path: Path, name: str) -> None:
    with pytest.raises(GaneditError, match=r"model file .* does not exist"):
        resolve(tmp_path / name)


def test_resolve_refuses_denoise_for_a_file(resnet_onnx: Path) -> None:
    message = r"--denoise applies to zoo models with a no-denoise twin \(realesr-general-x4v3\)"
    with pytest.raises(GaneditError, match=message + ", not to the file"):
        resolve(resnet_onnx, Variant(denoise=0.5))


def test_resolve_refuses_denoise_for_a_model_without_a_twin() -> None:
    with pytest.raises(GaneditError, match=r"no-denoise twin .*, not to horse2zebra"):
        resolve("horse2zebra", Variant(denoise=0.5))


def test_resolve_refuses_half_for_a_builtin_baseline() -> None:
    with pytest.raises(GaneditError, match="cv2-telea is built in, not a network"):
        resolve("cv2-telea", Variant(half=True))


# --- sessions ---------------------------------------------------------------------------------


def _with_card_metadata(resnet_onnx: Path, out: Path, card_json: str | None) -> Path:
    model = onnx.load(str(resnet_onnx))
    del model.metadata_props[:]
    if card_json is not None:
        onnx.helper.set_model_props(model, {METADATA_KEY: card_json})
    onnx.save(model, str(out))
    return out


def test_ort_session_card_is_the_exported_card(resnet_export: ExportResult) -> None:
    assert OrtSession(resnet_export.path, device="cpu").card == resnet_export.card


def test_ort_session_card_of_a_file_without_one_names_the_file(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    bare = _with_card_metadata(resnet_onnx, tmp_path / "bare.onnx", None)
    with pytest.raises(
        ModelCardError, match=r"bare\.onnx: this ONNX file has no ganedit model card"
    ):
        _ = OrtSession(bare, device="cpu").card


@pytest.mark.parametrize(
    ("card_json", "message"),
    [
        ("{not json", "model card is not valid JSON"),
        ('{"name": "x"}', r"lacks required keys \['task', 'arch'\]"),
        ('{"name": "x", "task": "colorize", "arch": "a"}', "task must be one of"),
    ],
)
def test_ort_session_card_that_is_malformed_names_the_file(
    resnet_onnx: Path, tmp_path: Path, card_json: str, message: str
) -> None:
    path = _with_card_metadata(resnet_onnx, tmp_path / "bad.onnx", card_json)
    with pytest.raises(ModelCardError, match=f"bad.onnx: .*{message}"):
        _ = OrtSession(path, device="cpu").card


def test_ort_session_of_a_file_onnxruntime_cannot_read(tmp_path: Path) -> None:
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf")
    with pytest.raises(GaneditError, match=r"junk\.onnx: onnxruntime cannot load this model"):
        OrtSession(junk, device="cpu")


@pytest.mark.parametrize(
    ("providers", "on_gpu"),
    [
        (["CUDAExecutionProvider", "CPUExecutionProvider"], True),
        (["TensorrtExecutionProvider", "CUDAExecutionProvider"], True),
        (["CPUExecutionProvider"], False),
    ],
)
def test_ort_session_on_gpu_reads_the_first_provider(
    resnet_translator: Translator,
    monkeypatch: pytest.MonkeyPatch,
    providers: list[str],
    on_gpu: bool,
) -> None:
    monkeypatch.setattr(OrtSession, "providers", property(lambda self: providers))
    assert resnet_translator.on_gpu is on_gpu


def test_io_binding_path_gives_the_same_output_as_run(resnet_onnx: Path) -> None:
    """The GPU's IO-binding path, exercised on the CPU device (the code is the same)."""
    session = OrtSession(resnet_onnx, device="cpu")
    assert session.bind_device is None  # the CPU runs plain session.run
    batch = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 40)).astype(np.float32)
    np.testing.assert_array_equal(session.run_bound(batch, "cpu"), session.run(batch))


# --- import cost ------------------------------------------------------------------------------


def _run_python(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


_HEAVY = "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx', 'ray'}))"


@pytest.mark.parametrize(
    "code",
    [
        "import sys, ganedit\n",
        "import sys, ganedit.cli\n",
        "import sys, ganedit.ray\n",  # Ray itself only when a job runs on it
        "import sys, numpy as np, ganedit\n"
        "ganedit.load(sys.argv[1], device='cpu')(np.zeros((20, 20, 3), np.uint8))\n",
    ],
    ids=["import-ganedit", "import-ganedit-cli", "import-ganedit-ray", "load-and-run-an-onnx-file"],
)
def test_the_runtime_imports_neither_torch_nor_onnx_nor_ray(resnet_onnx: Path, code: str) -> None:
    assert _run_python(code + _HEAVY, str(resnet_onnx)) == "[]"


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
    ("bad", "error", "message"),
    [
        (np.zeros((8, 8, 5), np.uint8), ValueError, r"expected an \(H, W\) or \(H, W, C\) image"),
        (np.zeros((8, 8, 3), np.int64), TypeError, "must be uint8, uint16 or float, got int64"),
        ([[0, 1]], TypeError, "expected a PIL image or a numpy array, got list"),
    ],
    ids=["five-channels", "int64", "list"],
)
def test_unsupported_input_raises(
    resnet_translator: Translator, bad: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        resnet_translator(bad)  # type: ignore[call-overload]


# --- one call shape: masks are for inpainting models --------------------------------------------


@pytest.mark.parametrize("as_keyword", [False, True], ids=["positional", "keyword"])
def test_a_mask_given_to_a_translator_is_refused(
    resnet_translator: Translator, as_keyword: bool
) -> None:
    image, mask = _rgb(20, 20), np.ones((20, 20), bool)
    with pytest.raises(GaneditError, match="tiny_resnet is a translate model; it takes no mask"):
        if as_keyword:
            resnet_translator(image, mask=mask)
        else:
            resnet_translator(image, mask)


def test_map_with_no_masks_for_a_translator_equals_map_without(
    resnet_translator: Translator,
) -> None:
    images = [_rgb(20, 20, seed=s) for s in range(3)]
    with_none = list(resnet_translator.map(images, masks=[None] * 3))
    for got, expected in zip(with_none, resnet_translator.map(images), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_map_with_a_mask_for_a_translator_is_refused(resnet_translator: Translator) -> None:
    masks = [None, np.ones((20, 20), bool)]
    with pytest.raises(GaneditError, match="takes no mask"):
        list(resnet_translator.map([_rgb(20, 20), _rgb(20, 20)], masks=masks))


def _holes(count: int) -> Iterator[np.ndarray]:
    for index in range(count):
        hole = np.zeros((24, 30), bool)
        hole[4 + index : 9 + index, 6:12] = True
        yield hole


def test_map_takes_masks_as_a_keyword_or_as_pairs() -> None:
    baseline = ganedit.load("cv2-telea")
    images = [_rgb(24, 30, seed=s) for s in range(3)]
    masks = list(_holes(3))
    by_keyword = list(baseline.map(images, masks=masks, batch_size=2))
    by_pairs = list(baseline.map(zip(images, masks, strict=True), batch_size=2))
    one_by_one = [baseline(image, mask) for image, mask in zip(images, masks, strict=True)]
    for keyword, pair, single in zip(by_keyword, by_pairs, one_by_one, strict=True):
        np.testing.assert_array_equal(keyword, single)
        np.testing.assert_array_equal(pair, single)


def test_map_refuses_fewer_masks_than_images(resnet_translator: Translator) -> None:
    with pytest.raises(ValueError, match="shorter"):
        list(resnet_translator.map([_rgb(20, 20), _rgb(20, 20)], masks=[None]))


# --- with_options -------------------------------------------------------------------------------


def test_with_options_returns_a_copy_that_shares_the_network(
    resnet_translator: Translator,
) -> None:
    bucketed = resnet_translator.with_options(bucket=32)
    assert bucketed.options.bucket == 32
    assert resnet_translator.options.bucket == 0  # the original is unchanged
    assert bucketed.session is resnet_translator.session  # one loaded network
    assert bucketed.card is resnet_translator.card


def test_with_options_takes_a_whole_options_object(resnet_translator: Translator) -> None:
    options = TranslateOptions(bucket=64)
    assert resnet_translator.with_options(options).options is options


def test_with_options_changes_fields_of_a_given_options_object(
    resnet_translator: Translator,
) -> None:
    changed = resnet_translator.with_options(TranslateOptions(bucket=64), bucket=16)
    assert changed.options == TranslateOptions(bucket=16)


@pytest.mark.parametrize(
    "options", [UpscaleOptions(), InpaintOptions()], ids=lambda o: type(o).__name__
)
def test_with_options_of_another_task_is_a_type_error(
    resnet_translator: Translator, options: object
) -> None:
    expected = f"Translator takes TranslateOptions, got {type(options).__name__}"
    with pytest.raises(TypeError, match=expected):
        resnet_translator.with_options(options)


def test_with_options_of_an_unknown_field_is_a_type_error(resnet_translator: Translator) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'tile'"):
        resnet_translator.with_options(tile=0)


def test_negative_bucket_is_rejected(resnet_translator: Translator) -> None:
    with pytest.raises(ValueError, match="bucket must be >= 0"):
        resnet_translator.with_options(bucket=-1)


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
    def images() -> Iterator[np.ndarray]:
        yield _rgb(20, 20)
        raise AssertionError("read past the first batch")

    first = next(iter(resnet_translator.map(images(), batch_size=1)))
    assert first.shape == (20, 20, 3)


def test_map_rejects_batch_size_below_one(resnet_translator: Translator) -> None:
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        list(resnet_translator.map([_rgb(20, 20)], batch_size=0))


def test_unet_batches_equal_single_images(unet_onnx: Path) -> None:
    model = ganedit.load(unet_onnx, device="cpu")
    images = [_rgb(40, 70, seed=1), _rgb(40, 70, seed=2) // 4]  # different statistics
    batched = list(model.map(images, batch_size=2))
    for got, image in zip(batched, images, strict=True):
        assert _max_level_difference(got, model(image)) == 0


# --- bucket: nearby sizes batch together --------------------------------------------------------

# 30x29 and 25x32 pad to 32x32 and 28x32 (size multiple 4), or both to 32x32 with a bucket of 32.
NEARBY = [(30, 29), (25, 32)]


@pytest.fixture
def network_calls(
    resnet_translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[int, ...]]:
    """The batch shape of every network call the resnet translator (and its copies) makes."""
    calls: list[tuple[int, ...]] = []
    real = resnet_translator.session.run

    def counting(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return real(batch)

    monkeypatch.setattr(resnet_translator.session, "run", counting)
    return calls


def _nearby() -> list[np.ndarray]:
    return [_rgb(h, w, seed=s) for s, (h, w) in enumerate(NEARBY)]


def test_bucket_runs_nearby_sizes_as_one_batch_and_keeps_their_sizes(
    resnet_translator: Translator, network_calls: list[tuple[int, ...]]
) -> None:
    together = list(resnet_translator.with_options(bucket=32).map(_nearby(), batch_size=2))
    assert network_calls == [(2, 3, 32, 32)]
    assert [out.shape for out in together] == [(30, 29, 3), (25, 32, 3)]


def test_without_a_bucket_nearby_sizes_run_apart(
    resnet_translator: Translator, network_calls: list[tuple[int, ...]]
) -> None:
    list(resnet_translator.map(_nearby(), batch_size=2))
    assert network_calls == [(1, 3, 32, 32), (1, 3, 28, 32)]


def test_a_bucketed_batch_equals_the_bucketed_images_one_at_a_time(
    resnet_translator: Translator,
) -> None:
    bucketed = resnet_translator.with_options(bucket=32)
    together = list(bucketed.map(_nearby(), batch_size=2))
    for one, image in zip(together, _nearby(), strict=True):
        np.testing.assert_array_equal(one, bucketed(image))


# --- a translator whose network changes the size (stub session) --------------------------------


class _NearestUpsampler:
    """A Session whose "network" repeats each pixel ``scale`` times along both axes."""

    providers: ClassVar[list[str]] = ["stub"]
    on_gpu = False
    is_network = True

    def __init__(self, scale: int):
        self.scale = scale

    def run(self, batch: np.ndarray) -> np.ndarray:
        return batch.repeat(self.scale, axis=2).repeat(self.scale, axis=3)


def _scaling_translator(scale: int) -> Translator:
    card = ModelCard(name=f"x{scale}", task="translate", arch="stub", scale=scale)
    return Translator(_NearestUpsampler(scale), card, Path("stub"))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_at_scale_one_comes_back_unchanged(dtype: type) -> None:
    rgba = np.dstack([_rgb(5, 7), _alpha(5, 7)]).astype(dtype)
    out = _scaling_translator(1)(rgba)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out[:, :, 3], rgba[:, :, 3])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_alpha_is_resized_with_the_network_output_and_keeps_its_dtype(dtype: type) -> None:
    top = np.iinfo(dtype).max
    rgba = np.dstack([_rgb(5, 7).astype(dtype), np.full((5, 7), top, dtype)])
    out = _scaling_translator(4)(rgba)
    assert (out.shape, out.dtype) == ((20, 28, 4), np.dtype(dtype))
    np.testing.assert_array_equal(out[:, :, 3], top)


def test_colour_of_a_scaling_translator_comes_back_scaled() -> None:
    rgb = _rgb(5, 7)
    np.testing.assert_array_equal(_scaling_translator(2)(rgb), rgb.repeat(2, 0).repeat(2, 1))
