"""Every architecture imported through spandrel, end to end, on tiny random-weight models.

For each registry entry of :mod:`ganedit.archs.imported` with an example (the rows of
``ganedit.archs.imported.facts``): its state dict, saved as a checkpoint, is detected by that
entry, loads without flags, and ganedit's network gives what spandrel's own model descriptor
gives (in eval mode, the way users run it) at an odd, non-square size. Then its route is
checked: an ``onnx`` architecture exports, and onnxruntime agrees with torch at another odd size
and batch (within the card's batch limit); a ``torch`` one is refused by the exporter with its
reason. Non-commercial architectures are refused without the opt-in and naming their licence;
refused ones say why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("spandrel")
ort = pytest.importorskip("onnxruntime")
from torch import nn  # noqa: E402

from ganedit.archs import ArchEntry, default_arch_registry, load_generator  # noqa: E402
from ganedit.archs.imported.facts import FACTS  # noqa: E402
from ganedit.errors import CheckpointError  # noqa: E402
from ganedit.export import NotExportable, checkpoint_to_onnx  # noqa: E402

ALL = default_arch_registry(allow_noncommercial=True)
IMPORTED = [entry for entry in ALL if entry.id.startswith("spandrel_")]
#: Tens of millions of parameters: saved, loaded and exported in seconds each, not in a blink.
BIG = {"spandrel_lama", "spandrel_fbcnn", "spandrel_mat"}


def _fact(entry: ArchEntry):  # type: ignore[no-untyped-def]
    return next(f for f in FACTS.values() if f"spandrel_{f.id.lower()}" == entry.id)


def _params(route: str) -> list[pytest.param]:  # type: ignore[type-arg]
    return [
        pytest.param(entry, id=entry.id, marks=[pytest.mark.slow] if entry.id in BIG else [])
        for entry in IMPORTED
        if _fact(entry).route == route and entry.example is not None
    ]


SUPPORTED = _params("onnx") + _params("torch")
EXPORTED = _params("onnx")
TORCH_ONLY = _params("torch")


def _example(entry: ArchEntry) -> nn.Module:
    """The entry's example with seeded weights; parameters a constructor leaves at zero (so
    that a branch would contribute nothing) get small random values."""
    assert entry.example is not None
    torch.manual_seed(0)
    net = entry.example().eval()
    with torch.no_grad():
        for param in net.parameters():
            if not param.abs().max() > 0:
                param.normal_(0, 0.02)
    return net


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One saved example checkpoint per entry, made on first use."""
    return {}


def _checkpoint(entry: ArchEntry, cache: dict[str, Path], folder: Path) -> Path:
    if entry.id not in cache:
        path = folder / f"{entry.id}.pth"
        torch.save(_example(entry).state_dict(), path)
        cache[entry.id] = path
    return cache[entry.id]


@pytest.fixture
def checkpoint(
    entry: ArchEntry, checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return _checkpoint(entry, checkpoints, tmp_path_factory.getbasetemp())


def _spandrel_descriptor(path: Path):  # type: ignore[no-untyped-def]
    """What spandrel itself loads from the file (with its non-commercial architectures)."""
    from spandrel import MAIN_REGISTRY

    registry = MAIN_REGISTRY.copy()
    try:
        from spandrel_extra_arches import EXTRA_REGISTRY
    except ImportError:
        pass
    else:
        registry.add(*EXTRA_REGISTRY.architectures("insertion"), ignore_duplicates=True)
    return registry.load(torch.load(path, map_location="cpu", weights_only=True)).eval()


def _inputs(channels: int, height: int, width: int, *, batch: int = 1, masked: bool = False):
    """A ``(batch, channels (+1 mask), H, W)`` input in [0, 1]; the mask (last) holds a box."""
    generator = torch.Generator().manual_seed(height * 31 + width)
    image = torch.rand(batch, channels, height, width, generator=generator)
    if not masked:
        return image
    mask = torch.zeros(batch, 1, height, width)
    mask[..., height // 4 : height // 2 + 1, width // 3 : 2 * width // 3] = 1
    return torch.cat([image * (1 - mask), mask], dim=1)


@pytest.mark.parametrize("entry", SUPPORTED)
class TestSupported:
    def test_its_example_is_detected_first_by_its_own_entry(self, entry: ArchEntry) -> None:
        assert ALL.detect(_example(entry).state_dict()) is entry

    @pytest.mark.filterwarnings("ignore")
    def test_loads_and_gives_what_spandrel_gives_at_an_odd_size(
        self, entry: ArchEntry, checkpoint: Path
    ) -> None:
        loaded = load_generator(checkpoint, registry=ALL)
        spec = loaded.spec
        assert spec.card_extra()["spandrel_arch"] == _fact(entry).id
        assert not loaded.module.training
        descriptor = _spandrel_descriptor(checkpoint)
        height, width = max(spec.min_size, 29) + 2, max(spec.min_size, 29) + 8  # odd, H < W
        height += height % 2 == 0
        width += width % 2 == 0
        masked = spec.mask is not None
        x = _inputs(spec.in_channels, height, width, masked=masked)
        # ganedit's codec pads what spandrel's descriptor pads (its size requirements) outside
        # the network, by the same rule: mirror.
        pad_h = -(-max(height, spec.min_size) // spec.size_multiple) * spec.size_multiple - height
        pad_w = -(-max(width, spec.min_size) // spec.size_multiple) * spec.size_multiple - width
        padded = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        fact = _fact(entry)
        if fact.seed is not None:  # a model that draws random numbers: the same draws
            descriptor.model.z = loaded.module.model.z
            torch.manual_seed(fact.seed)
        with torch.no_grad():
            if masked:
                theirs = descriptor(x[:, : spec.in_channels], x[:, spec.in_channels :])
            else:
                theirs = descriptor(x)
            ours = loaded.module(padded)[..., : height * spec.scale, : width * spec.scale]
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours.clamp(0, 1), theirs, rtol=0, atol=2e-5)


@pytest.mark.parametrize("entry", EXPORTED)
@pytest.mark.filterwarnings("ignore")
def test_exported_graph_matches_torch_at_another_odd_size(
    entry: ArchEntry, checkpoint: Path, tmp_path: Path
) -> None:
    result = checkpoint_to_onnx(
        checkpoint, tmp_path / "model.onnx", name=entry.id, allow_noncommercial=True
    )
    card = result.card
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
    assert card.extra["spandrel_arch"] == _fact(entry).id
    assert card.max_batch == _fact(entry).max_batch
    assert card.extra["arch_license"] == _fact(entry).license
    loaded = load_generator(checkpoint, registry=ALL)
    batch = card.max_batch or 2
    multiple = card.size_multiple
    # Neither verification shape: taller than both, so that window models pad it further.
    height = -(-max(card.min_size, 101) // multiple) * multiple
    width = -(-max(card.min_size, 45) // multiple) * multiple + multiple
    x = _inputs(card.in_channels, height, width, batch=batch, masked=card.mask is not None)
    assert tuple(x.shape) not in result.verify_shapes
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": x.numpy()})
    with torch.no_grad():
        expected = loaded.module(x).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("entry", TORCH_ONLY)
@pytest.mark.filterwarnings("ignore")
def test_architecture_without_a_right_graph_is_not_exported(
    entry: ArchEntry, checkpoint: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotExportable, match=r"is not exported to ONNX: .*torch backend") as info:
        checkpoint_to_onnx(checkpoint, tmp_path / "m.onnx", allow_noncommercial=True)
    assert _fact(entry).reason in str(info.value)
    assert not (tmp_path / "m.onnx").exists()


NONCOMMERCIAL = [p for p in SUPPORTED if _fact(p.values[0]).noncommercial]


@pytest.mark.parametrize("entry", NONCOMMERCIAL)
def test_noncommercial_architecture_is_refused_without_the_opt_in(
    entry: ArchEntry, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GANEDIT_ALLOW_NONCOMMERCIAL", raising=False)
    fact = _fact(entry)
    with pytest.raises(CheckpointError, match=f"{fact.id} model, whose code is licensed"):
        load_generator(checkpoint)
    monkeypatch.setenv("GANEDIT_ALLOW_NONCOMMERCIAL", "1")
    assert load_generator(checkpoint).spec.card_extra()["noncommercial"] is True


def test_every_fact_is_an_architecture_spandrel_registers() -> None:
    from spandrel import MAIN_REGISTRY
    from spandrel_extra_arches import EXTRA_REGISTRY

    registered = {str(a.architecture.id) for a in MAIN_REGISTRY.architectures()}
    registered |= {str(a.architecture.id) for a in EXTRA_REGISTRY.architectures()}
    assert set(FACTS) | {"Compact"} == registered


def test_every_refused_architecture_says_why() -> None:
    refused = [fact for fact in FACTS.values() if fact.route == "refused"]
    assert {f.id for f in refused} >= {"GFPGAN", "RestoreFormer", "CodeFormer"}
    assert all(len(fact.reason) > 20 for fact in refused)


def test_a_refused_architecture_is_refused_with_its_reason() -> None:
    from ganedit.archs.imported.detect import imported_entries

    gfpgan = next(e for e in imported_entries() if e.id == "spandrel_gfpgan")
    with pytest.raises(CheckpointError, match="GFPGAN model, which ganedit refuses: face"):
        gfpgan.build({})


def test_imported_architectures_come_after_ganedits_own() -> None:
    ids = [entry.id for entry in ALL]
    assert ids[:5] == [
        "cyclegan_resnet",
        "pix2pix_unet",
        "esrgan_rrdbnet",
        "realesrgan_srvgg",
        "gated_inpaint",
    ]
    assert all(entry_id.startswith("spandrel_") for entry_id in ids[5:])
    # spandrel's order settles its overlaps: Swin2SR files also pass SwinIR's key check.
    assert ids.index("spandrel_swin2sr") < ids.index("spandrel_swinir")


def test_an_unknown_file_points_to_spandrel_extra_arches_only_when_it_is_missing() -> None:
    from ganedit.archs import ArchRegistry

    # What the registry holds without spandrel_extra_arches: no non-commercial architecture.
    without_extra = ArchRegistry(
        tuple(e for e in ALL if not e.id.startswith("spandrel_") or not _fact(e).noncommercial)
    )
    unknown = {"foo.weight": torch.zeros(2)}
    with pytest.raises(CheckpointError, match=r"pip install spandrel_extra_arches$"):
        load_generator(unknown, registry=without_extra)
    with pytest.raises(CheckpointError, match=r"no known architecture") as info:
        load_generator(unknown, registry=ALL)
    assert "spandrel_extra_arches" not in str(info.value)


REALCUGAN = [
    ("UpCunet2x", {}),
    ("UpCunet3x", {}),
    ("UpCunet4x", {}),
    ("UpCunet4x", {"pro": True}),  # another input range, inside the forward
    ("UpCunet2x_fast", {}),
]


@pytest.mark.parametrize(
    ("class_name", "kwargs"), REALCUGAN, ids=["2x", "3x", "4x", "4x-pro", "2x-fast"]
)
@pytest.mark.filterwarnings("ignore")
def test_every_realcugan_variant_exports_right_at_odd_and_even_sizes(
    class_name: str, kwargs: dict[str, bool], tmp_path: Path
) -> None:
    # Their forwards crop odd sizes behind a Python ``if`` (the ×4 ones before adding the
    # upsampled input); an export traced at an even size would drop the crop.
    from spandrel.architectures import RealCUGAN

    torch.manual_seed(0)
    path = tmp_path / "cugan.pth"
    network = getattr(RealCUGAN, class_name)(in_channels=3, out_channels=3, **kwargs)
    torch.save(network.state_dict(), path)
    result = checkpoint_to_onnx(path, tmp_path / "cugan.onnx")
    card = result.card
    assert card.extra["spandrel_arch"] == "RealCUGAN"
    loaded = load_generator(path)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    for height, width in [(41, 49), (44, 60)]:
        height = -(-max(height, card.min_size) // card.size_multiple) * card.size_multiple
        width = -(-max(width, card.min_size) // card.size_multiple) * card.size_multiple
        x = _inputs(3, height, width, batch=2)
        (got,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = loaded.module(x).numpy()
        assert got.shape == expected.shape == (2, 3, height * card.scale, width * card.scale)
        np.testing.assert_allclose(got, expected, atol=1e-4)
