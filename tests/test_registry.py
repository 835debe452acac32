"""Every registered architecture, end to end.

Each entry of ``default_arch_registry()`` gives a tiny example network (``ArchEntry.example``),
which goes through what a user's checkpoint goes through: saved as ``.pth`` and
``.safetensors`` -> detected (by its own entry only) -> loaded strictly -> run on a small
non-square input -> exported to ONNX -> onnxruntime agrees with torch. A new entry is tested as
soon as it is registered (timm's ``tests/test_models.py``, spandrel's ``assert_loads_correctly``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from torch import nn  # noqa: E402

from ganedit.archs import (  # noqa: E402
    ArchEntry,
    ModelSpec,
    default_arch_registry,
    detect_generator,
    load_generator,
    use_image_statistics,
)
from ganedit.card import METADATA_KEY, ModelCard  # noqa: E402
from ganedit.export import checkpoint_to_onnx, generator_card  # noqa: E402

# ganedit's own families; the architectures imported through spandrel are covered by
# tests/test_imported_archs.py (spandrel loads their weights, so "loads strictly" means other
# things there).
ENTRIES = [
    pytest.param(entry, id=entry.id)
    for entry in default_arch_registry()
    if not entry.id.startswith("spandrel_")
]
SUFFIXES = (".pth", ".safetensors")


def _randomise(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default weights and batch-norm statistics, so that loading them is checked."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
        for name, buffer in net.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator) * 0.5)
            elif name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) * 1.5 + 0.5)
    return net


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _input(spec: ModelSpec, *, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A ``(batch, C, H, W)`` input in the spec's range, ``H < W``, with a mask channel (holes
    in a box) for an inpainting network."""
    height = _round_up(max(spec.min_size, 16), spec.size_multiple)
    width = height + _round_up(8, spec.size_multiple)
    low, high = spec.input_range
    generator = torch.Generator().manual_seed(seed)
    image = low + (high - low) * torch.rand(
        batch, spec.in_channels, height, width, generator=generator
    )
    if spec.mask is None:
        return image
    hole = torch.zeros(batch, 1, height, width)
    hole[..., height // 4 : height // 2, width // 3 : width // 2] = 1
    mask = hole if spec.mask.hole == 1 else 1 - hole
    channel = spec.mask.channel
    return torch.cat([image[:, :channel], mask, image[:, channel:]], dim=1)


def _save(state_dict: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state_dict, str(path))
    else:
        torch.save(state_dict, path)
    return path


@pytest.fixture(params=ENTRIES)
def entry(request: pytest.FixtureRequest) -> ArchEntry:
    return request.param


@pytest.fixture
def example(entry: ArchEntry) -> nn.Module:
    """The entry's example with random weights, in training form (as training saves it)."""
    return _randomise(entry.example())


@pytest.fixture(params=SUFFIXES)
def checkpoint(request: pytest.FixtureRequest, example: nn.Module, tmp_path: Path) -> Path:
    return _save(example.state_dict(), tmp_path / f"model{request.param}")


class TestEveryRegisteredArchitecture:
    def test_example_is_detected_by_its_own_entry_only(
        self, entry: ArchEntry, example: nn.Module
    ) -> None:
        state_dict = example.state_dict()
        registry = default_arch_registry()
        own = [e for e in registry if not e.id.startswith("spandrel_") and e.detect(state_dict)]
        assert [other.id for other in own] == [entry.id]
        # spandrel's own key checks may accept it too (its ESRGAN does), but ganedit's come first.
        assert registry.detect(state_dict) is entry

    def test_saved_checkpoint_is_detected_and_loads_strictly(
        self, entry: ArchEntry, example: nn.Module, checkpoint: Path
    ) -> None:
        spec = detect_generator(checkpoint)
        assert spec == entry.build(example.state_dict()).spec
        loaded = load_generator(checkpoint)
        assert loaded.spec == spec
        assert loaded.source == str(checkpoint)
        assert not loaded.module.training
        saved = example.state_dict()
        assert list(loaded.module.state_dict()) == list(saved)
        for key, value in loaded.module.state_dict().items():
            torch.testing.assert_close(value, saved[key], rtol=0, atol=0)

    def test_loaded_network_runs_a_non_square_input(
        self, example: nn.Module, checkpoint: Path
    ) -> None:
        loaded = load_generator(checkpoint)
        spec = loaded.spec
        x = _input(spec)
        _, _, height, width = x.shape
        assert height < width
        # Loading runs batch norm on per-image statistics (the reference's test-time mode).
        reference = use_image_statistics(example).eval()
        with torch.no_grad():
            out = loaded.module(x)
            expected = reference(x)
        assert out.shape == (2, spec.out_channels, height * spec.scale, width * spec.scale)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out, expected, rtol=0, atol=0)

    # The TorchScript exporter that export/ uses warns about itself and about tracing.
    @pytest.mark.filterwarnings("ignore")
    def test_onnx_export_matches_torch(self, entry: ArchEntry, checkpoint: Path, tmp_path: Path):
        result = checkpoint_to_onnx(checkpoint, tmp_path / "model.onnx", name=entry.id)
        loaded = load_generator(checkpoint)
        assert result.card == generator_card(loaded.spec, name=entry.id, source=str(checkpoint))
        stored = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
        assert ModelCard.from_json(stored[METADATA_KEY]) == result.card
        assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
        # Another batch size and shape than the exporter's own verification used.
        x = _input(loaded.spec, batch=3, seed=1)
        assert tuple(x.shape) not in result.verify_shapes
        session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = loaded.module(x).numpy()
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)


def test_default_arch_registry_lists_ganedits_own_families_first_in_order() -> None:
    assert [entry.id for entry in default_arch_registry()][:5] == [
        "cyclegan_resnet",
        "pix2pix_unet",
        "esrgan_rrdbnet",
        "realesrgan_srvgg",
        "gated_inpaint",
    ]


def test_default_arch_registry_is_a_new_registry_each_call() -> None:
    first = default_arch_registry()
    assert first is not default_arch_registry()
    assert [e.id for e in first] == [e.id for e in default_arch_registry()]
