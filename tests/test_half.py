"""float16 models: ``ganedit.export.half.to_half``, ``load(..., variant=Variant(half=True))``
and ``--half``.

On the CPU, onnxruntime's provider runs a float16 graph in float32 behind Casts it inserts (no
float16 Conv on x86), so running the converted graph there checks its structure and the rounding
of its weights, input and output only. ``emulate_fp16`` (benchmarks/fp16_emulation.py) also
rounds every float16 activation, which is what float16 storage costs on a GPU. The tests marked
``gpu`` run the real CUDA path; they are deselected by default and skip without CUDA.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from click.testing import CliRunner, Result

onnx = pytest.importorskip("onnx")
pytest.importorskip("torch")

import onnxruntime as ort  # noqa: E402
from upscale_helpers import exported_models, levels, photo, to_uint8  # noqa: E402

import ganedit  # noqa: E402
import ganedit.loading  # noqa: E402
from ganedit import GaneditError, ModelCard, Variant  # noqa: E402
from ganedit.card import METADATA_KEY  # noqa: E402
from ganedit.cli import main  # noqa: E402
from ganedit.export.half import DEFAULT_KEEP_FP32_OPS, require_onnx, to_half  # noqa: E402
from ganedit.zoo import ModelRegistry, ZooEntry  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fp16_emulation import emulate_fp16  # noqa: E402

if TYPE_CHECKING:
    from torch import nn

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
MODELS = ("resnet", "unet", "unet_running", "rrdb_x4", "srvgg_x4")
HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
HAS_TENSORRT = "TensorrtExecutionProvider" in ort.get_available_providers()
HALF = Variant(half=True)
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="onnxruntime has no CUDA provider here")


@pytest.fixture(scope="session")
def model_files(
    tmp_path_factory: pytest.TempPathFactory,
    resnet_onnx: Path,
    unet_onnx: Path,
    unet_running_onnx: Path,
) -> dict[str, Path]:
    """Tiny exported models of every family: the CycleGAN ResNet (instance norm), the pix2pix
    U-Net with per-image (exported as InstanceNormalization) and running batch norm, RRDBNet
    and SRVGGNetCompact."""
    sr = exported_models(tmp_path_factory)
    return {
        "resnet": resnet_onnx,
        "unet": unet_onnx,
        "unet_running": unet_running_onnx,
        "rrdb_x4": sr["rrdb_x4"],
        "srvgg_x4": sr["srvgg_x4"],
    }


@pytest.fixture(scope="session")
def halves(model_files: dict[str, Path]) -> dict[str, onnx.ModelProto]:
    return {name: to_half(onnx.load(str(path))) for name, path in model_files.items()}


def _card(model: onnx.ModelProto) -> ModelCard:
    (value,) = [p.value for p in model.metadata_props if p.key == METADATA_KEY]
    return ModelCard.from_json(value)


def _consumers(model: onnx.ModelProto, name: str) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if name in n.input]


def _run(model: onnx.ModelProto, image: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) in [0, 1] through ``model``, back as uint8 (H', W', 3)."""
    card = _card(model)
    lo, hi = card.input_range
    x = np.ascontiguousarray((image * (hi - lo) + lo).transpose(2, 0, 1)[None], np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"image": x})
    lo, hi = card.output_range
    return to_uint8((y[0].transpose(1, 2, 0) - lo) / (hi - lo))


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


# --- the converter ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_converted_graph_passes_full_onnx_check(
    halves: dict[str, onnx.ModelProto], name: str
) -> None:
    onnx.checker.check_model(halves[name], full_check=True)
    onnx.shape_inference.infer_shapes(halves[name], strict_mode=True)


@pytest.mark.parametrize("name", MODELS)
def test_every_initializer_is_fp16_except_those_of_kept_ops(
    halves: dict[str, onnx.ModelProto], name: str
) -> None:
    model = halves[name]
    for tensor in model.graph.initializer:
        if tensor.data_type not in (FLOAT, FLOAT16):
            continue
        consumers = {n.op_type for n in _consumers(model, tensor.name)}
        expected = FLOAT if consumers <= set(DEFAULT_KEEP_FP32_OPS) else FLOAT16
        assert tensor.data_type == expected, (tensor.name, consumers)


@pytest.mark.parametrize("name", MODELS)
def test_no_float32_constant_is_left_outside_kept_ops(
    halves: dict[str, onnx.ModelProto], name: str
) -> None:
    model = halves[name]
    for node in model.graph.node:
        value = next((a.t for a in node.attribute if a.name == "value"), None)
        if node.op_type != "Constant" or value is None or value.data_type != FLOAT:
            continue
        consumers = _consumers(model, node.output[0])
        # Float32 by the op's schema (Resize's scales) or a kept op's parameter.
        assert all(
            c.op_type in DEFAULT_KEEP_FP32_OPS or c.op_type == "Resize" for c in consumers
        ), (node.output[0], [c.op_type for c in consumers])


@pytest.mark.parametrize("name", MODELS)
def test_interface_stays_float32(
    halves: dict[str, onnx.ModelProto], model_files: dict[str, Path], name: str
) -> None:
    session = ort.InferenceSession(
        halves[name].SerializeToString(), providers=["CPUExecutionProvider"]
    )
    original = ort.InferenceSession(str(model_files[name]), providers=["CPUExecutionProvider"])
    for got, want in zip(
        (*session.get_inputs(), *session.get_outputs()),
        (*original.get_inputs(), *original.get_outputs()),
        strict=True,
    ):
        assert (got.name, got.type, got.shape) == (want.name, "tensor(float)", want.shape)


@pytest.mark.parametrize("name", MODELS)
def test_card_survives_with_precision_fp16(
    halves: dict[str, onnx.ModelProto], model_files: dict[str, Path], name: str
) -> None:
    before = _card(onnx.load(str(model_files[name])))
    after = _card(halves[name])
    assert after.extra["precision"] == "fp16"
    assert after.replace(extra=before.extra) == before


def test_instance_norm_runs_in_fp32_between_casts(halves: dict[str, onnx.ModelProto]) -> None:
    model = halves["resnet"]
    producers = {o: n for n in model.graph.node for o in n.output}
    norms = [n for n in model.graph.node if n.op_type == "InstanceNormalization"]
    assert norms
    for norm in norms:
        data = producers[norm.input[0]]
        assert data.op_type == "Cast" and data.attribute[0].i == FLOAT
        for consumer in _consumers(model, norm.output[0]):
            assert consumer.op_type == "Cast" and consumer.attribute[0].i == FLOAT16
    assert _card(model).extra["fp32_ops"] == ["InstanceNormalization"]


def test_keep_nothing_converts_instance_norm_too(resnet_onnx: Path) -> None:
    model = to_half(onnx.load(str(resnet_onnx)), keep_fp32_ops=())
    float32 = [t.name for t in model.graph.initializer if t.data_type == FLOAT]
    constants = [
        n.output[0]
        for n in model.graph.node
        if n.op_type == "Constant" and n.attribute[0].t.data_type == FLOAT
    ]
    assert float32 == [] and constants == []
    casts = [n for n in model.graph.node if n.op_type == "Cast" and n.attribute[0].i == FLOAT]
    assert len(casts) == 1  # only the one before the output


def test_weights_beyond_fp16_range_are_clamped() -> None:
    from onnx import helper, numpy_helper

    weight = np.array([[[[1e6]]], [[[-1e6]]], [[[0.5]]]], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["output"])],
        "g",
        [helper.make_tensor_value_info("image", FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("output", FLOAT, [1, 3, 2, 2])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (half,) = to_half(model).graph.initializer
    assert numpy_helper.to_array(half).ravel().tolist() == [65504.0, -65504.0, 0.5]


def test_original_model_is_left_unchanged(resnet_onnx: Path) -> None:
    model = onnx.load(str(resnet_onnx))
    before = model.SerializeToString()
    to_half(model)
    assert model.SerializeToString() == before


def test_fp16_model_is_refused(halves: dict[str, onnx.ModelProto]) -> None:
    with pytest.raises(GaneditError, match="already holds float16"):
        to_half(halves["srvgg_x4"])


def test_missing_onnx_names_the_gpu_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"needs the onnx package: pip install 'ganedit\[gpu\]'"):
        require_onnx()


# --- numerics (CPU: emulated fp16 storage, and onnxruntime's upcasting CPU run) ---------------


@pytest.mark.parametrize("name", MODELS)
def test_emulated_fp16_storage_within_2_levels_of_fp32(
    halves: dict[str, onnx.ModelProto], model_files: dict[str, Path], name: str
) -> None:
    image = photo(64, 96)
    fp32 = _run(onnx.load(str(model_files[name])), image)
    fp16 = _run(emulate_fp16(halves[name]), image)
    assert levels(fp32, fp16) <= 2


@pytest.mark.parametrize("name", MODELS)
def test_fp16_weights_on_the_cpu_provider_within_2_levels_of_fp32(
    halves: dict[str, onnx.ModelProto], model_files: dict[str, Path], name: str
) -> None:
    """The CPU provider computes in float32 here: this checks the graph and its fp16 weights."""
    image = photo(64, 96)
    fp32 = _run(onnx.load(str(model_files[name])), image)
    fp16 = _run(halves[name], image)
    assert levels(fp32, fp16) <= 2


def test_emulation_rounds_activations(halves: dict[str, onnx.ModelProto]) -> None:
    # If the emulation's Casts were optimised away it would equal the plain CPU run.
    image = photo(64, 96)
    plain = _run(halves["resnet"], image).astype(np.int32)
    emulated = _run(emulate_fp16(halves["resnet"]), image).astype(np.int32)
    assert np.any(plain != emulated)


# --- load(half=True) and --half ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "model", "device"),
    [
        ("translate", "resnet", "cpu"),
        ("upscale", "srvgg_x4", "cpu"),
        pytest.param(
            "translate",
            "resnet",
            "auto",
            marks=pytest.mark.skipif(HAS_CUDA, reason="auto picks CUDA here"),
        ),
    ],
)
def test_half_on_the_cpu_exits_two_with_the_reason(
    model_files: dict[str, Path],
    tmp_path: Path,
    ganedit_home: Path,
    command: str,
    model: str,
    device: str,
) -> None:
    images = tmp_path / "in"
    images.mkdir()
    result = _invoke(command, model_files[model], images, "-o", tmp_path / "out", "--device",
                     device, "--half")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--half needs a CUDA device; fp16 is never used on the CPU" in result.output
    assert not (ganedit_home / "converted").exists()  # refused before converting anything


@pytest.mark.parametrize("command", ["translate", "upscale"])
def test_help_lists_half(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0 and "--half" in result.output


@pytest.mark.skipif(HAS_CUDA, reason="this onnxruntime has a CUDA provider")
def test_load_half_on_cuda_without_the_cuda_provider_is_a_clear_error(resnet_onnx: Path) -> None:
    with pytest.raises(GaneditError, match=r"no CUDA provider.*ganedit\[gpu\]"):
        ganedit.load(resnet_onnx, variant=HALF, device="cuda")


def test_load_half_on_the_cpu_is_refused_before_a_zoo_model_downloads(
    monkeypatch: pytest.MonkeyPatch, ganedit_home: Path
) -> None:
    # Port 1 refuses connections: a download attempt would fail with another message.
    entry = ZooEntry(
        name="far", task="translate", family="cyclegan", url="http://127.0.0.1:1/f.pth"
    )
    monkeypatch.setattr(ganedit.zoo, "default_registry", lambda: ModelRegistry([entry]))
    with pytest.raises(GaneditError, match="--half needs a CUDA device"):
        ganedit.load("far", variant=HALF, device="cpu")
    assert list(ganedit_home.iterdir()) == []


@pytest.fixture
def fp16_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``half`` through on the CPU, so that the conversion and caching run here. The CPU
    provider then runs the float16 model in float32: only weight rounding shows (the ``gpu``
    tests below check the real thing)."""
    monkeypatch.setattr(ganedit.loading, "check_fp16_providers", lambda providers: None)


@pytest.mark.usefixtures("fp16_on_the_cpu")
def test_load_half_converts_once_into_the_cache(
    resnet_onnx: Path, ganedit_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ganedit.load(resnet_onnx, variant=HALF, device="cpu")
    assert first.path.parent == ganedit_home / "converted"
    assert first.path.name.startswith(f"{resnet_onnx.stem}-")
    assert first.path.name.endswith(".fp16.onnx")
    assert first.card.extra["precision"] == "fp16"
    stamp = first.path.stat().st_mtime_ns

    def no_conversion(*args: object, **kwargs: object) -> None:
        raise AssertionError("converted again")

    monkeypatch.setattr("ganedit.export.half.to_half", no_conversion)
    second = ganedit.load(resnet_onnx, variant=HALF, device="cpu")
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == stamp
    assert list((ganedit_home / "converted").glob(".*.tmp")) == []


@pytest.mark.usefixtures("fp16_on_the_cpu")
def test_loaded_fp16_weights_on_the_cpu_provider_within_2_levels_of_fp32(
    resnet_onnx: Path,
) -> None:
    image = to_uint8(photo(40, 56))
    fp32 = ganedit.load(resnet_onnx, device="cpu")(image)
    fp16 = ganedit.load(resnet_onnx, variant=HALF, device="cpu")(image)
    assert fp16.dtype == np.uint8 and fp16.shape == fp32.shape
    assert levels(fp32, fp16) <= 2


@pytest.mark.usefixtures("fp16_on_the_cpu")
def test_load_half_cache_follows_the_source_content(resnet_onnx: Path, tmp_path: Path) -> None:
    copy = tmp_path / resnet_onnx.name
    copy.write_bytes(resnet_onnx.read_bytes())
    same = ganedit.load(copy, variant=HALF, device="cpu").path
    assert same == ganedit.load(resnet_onnx, variant=HALF, device="cpu").path
    model = onnx.load(str(copy))
    model.doc_string = "changed"
    onnx.save(model, str(copy))
    assert ganedit.load(copy, variant=HALF, device="cpu").path != same


# --- on a GPU (deselected by default: pytest -m gpu) ---------------------------------------------


@pytest.mark.gpu
@needs_cuda
def test_cuda_session_runs_through_io_binding_like_torch(
    resnet_onnx: Path, resnet_module: nn.Module
) -> None:
    import torch

    model = ganedit.load(resnet_onnx, device="cuda")
    assert model.on_gpu and model.session.bind_device == "cuda"
    batch = np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 40)).astype(np.float32)
    with torch.no_grad():
        expected = resnet_module(torch.from_numpy(batch)).numpy()
    got = model.session.run_bound(batch, "cuda")
    np.testing.assert_allclose(got, expected, atol=5e-3)  # cuDNN may use TF32 convolutions
    np.testing.assert_array_equal(model.run_batch(batch), got)  # run() is the bound path


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name", ["resnet", "srvgg_x4"])
def test_load_half_on_cuda_within_2_levels_of_fp32(model_files: dict[str, Path], name: str) -> None:
    image = to_uint8(photo(40, 56))
    fp32 = ganedit.load(model_files[name], device="cuda")
    fp16 = ganedit.load(model_files[name], variant=HALF, device="cuda")
    assert fp16.on_gpu and fp16.card.extra["precision"] == "fp16"
    if fp16.card.task == "upscale":
        fp32, fp16 = fp32.with_options(tile=0), fp16.with_options(tile=0)
    expected, got = fp32(image), fp16(image)
    assert got.dtype == np.uint8 and got.shape == expected.shape
    assert levels(expected, got) <= 2


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_TENSORRT, reason="onnxruntime has no TensorRT provider here")
def test_tensorrt_sessions_cache_engines_under_ganedit_home(
    resnet_onnx: Path, ganedit_home: Path
) -> None:
    model = ganedit.load(resnet_onnx, device="cuda")
    assert model.providers[0] == "TensorrtExecutionProvider"
    options = model.session.ort.get_provider_options()["TensorrtExecutionProvider"]
    assert options["trt_engine_cache_enable"] == "1"
    assert options["trt_engine_cache_path"] == str(ganedit_home / "tensorrt")
    assert options["trt_timing_cache_path"] == str(ganedit_home / "tensorrt")
