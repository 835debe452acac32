"""Checkpoint reading, architecture detection and strict loading of generators."""

from __future__ import annotations

import dataclasses
import os
import pickle
import re

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ganedit.archs import (  # noqa: E402
    ArchEntry,
    ArchRegistry,
    ArchSpec,
    ImageStatsBatchNorm2d,
    ResnetGenerator,
    UnetGenerator,
    default_arch_registry,
    detect_generator,
    load_generator,
    read_state_dict,
)
from ganedit.archs.cyclegan.detect import RESNET_ENTRY, UNET_ENTRY  # noqa: E402
from ganedit.errors import CheckpointError  # noqa: E402


@dataclasses.dataclass
class NotATensor:
    """Pickled into a checkpoint to check that weights_only loading refuses it."""

    value: int = 1


class _Payload:
    """Unpickling it would run ``touch MARKER`` (os.system)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


def _randomise(net: nn.Module) -> nn.Module:
    """Give norm layers and biases non-default values so that loading them is checked."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in net.named_parameters():
            if param.ndim == 1:
                param.copy_(torch.randn_like(param) * 0.2 + (1.0 if "weight" in name else 0.0))
        for name, buffer in net.named_buffers():
            if name.endswith("running_mean"):
                buffer.normal_()
            elif name.endswith("running_var"):
                buffer.uniform_(0.5, 2.0)
    return net


def _resnet(**options) -> nn.Module:
    return _randomise(ResnetGenerator(ngf=4, **options))


def _unet(**options) -> nn.Module:
    return _randomise(UnetGenerator(ngf=4, **options))


def _save_pth(obj, path):
    torch.save(obj, path)
    return path


class TestDetection:
    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"n_blocks": 9}, ("resnet_9blocks", "instance", False, "reflect")),
            ({"n_blocks": 6, "use_dropout": True}, ("resnet_6blocks", "instance", True, "reflect")),
            ({"n_blocks": 3, "norm": "batch"}, ("resnet_3blocks", "batch", False, "reflect")),
            ({"n_blocks": 2, "norm": "none"}, ("resnet_2blocks", "none", False, "reflect")),
            (
                {"n_blocks": 2, "padding_type": "zero"},
                ("resnet_2blocks", "instance", False, "zero"),
            ),
            (
                {"n_blocks": 1, "padding_type": "zero", "use_dropout": True, "norm": "batch"},
                ("resnet_1blocks", "batch", True, "zero"),
            ),
            ({"n_blocks": 0}, ("resnet_0blocks", "instance", False, "reflect")),
        ],
    )
    def test_resnet_variants(self, options, expected):
        spec = detect_generator(_resnet(**options).state_dict())
        assert (spec.arch, spec.norm, spec.use_dropout, spec.padding_type) == expected
        assert (spec.family, spec.ngf, spec.n_blocks, spec.num_downs) == (
            "resnet",
            4,
            options["n_blocks"],
            None,
        )

    @pytest.mark.parametrize(("in_channels", "out_channels"), [(1, 3), (3, 1), (3, 3)])
    def test_resnet_channels(self, in_channels, out_channels):
        net = _resnet(n_blocks=1, in_channels=in_channels, out_channels=out_channels)
        spec = detect_generator(net.state_dict())
        assert (spec.in_channels, spec.out_channels) == (in_channels, out_channels)

    @pytest.mark.parametrize(
        ("num_downs", "norm", "arch"),
        [(5, "batch", "unet_32"), (7, "batch", "unet_128"), (8, "instance", "unet_256")],
    )
    @pytest.mark.parametrize(("in_channels", "out_channels"), [(1, 3), (3, 3)])
    def test_unet_variants(self, num_downs, norm, arch, in_channels, out_channels):
        net = _unet(
            num_downs=num_downs,
            norm=norm,
            use_dropout=True,
            in_channels=in_channels,
            out_channels=out_channels,
        )
        spec = detect_generator(net.state_dict())
        assert spec == ArchSpec(
            family="unet",
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=4,
            norm=norm,
            num_downs=num_downs,
        )
        assert spec.arch == arch
        assert spec.use_dropout is None  # dropout has no weights, so it cannot be seen

    def test_unet_without_norm(self):
        assert detect_generator(_unet(num_downs=5, norm="none").state_dict()).norm == "none"


class TestSpecRequirements:
    def test_resnet(self):
        spec = detect_generator(_resnet(n_blocks=9).state_dict())
        assert (spec.size_multiple, spec.min_size, spec.tiling, spec.norm_stats) == (
            4,
            16,
            "discouraged",
            None,
        )

    def test_unet_batch_norm(self):
        spec = detect_generator(_unet(num_downs=7).state_dict())
        assert (spec.size_multiple, spec.min_size, spec.tiling, spec.norm_stats) == (
            128,
            128,
            "discouraged",
            "image",
        )

    def test_tiling_ok_without_norm(self):
        assert detect_generator(_resnet(n_blocks=1, norm="none").state_dict()).tiling == "ok"

    def test_describe(self):
        spec = detect_generator(_resnet(n_blocks=9).state_dict())
        assert (
            spec.describe() == "resnet_9blocks (in 3, out 3, ngf 4, norm instance, padding reflect)"
        )

    def test_invalid_spec_rejected(self):
        with pytest.raises(ValueError, match="n_blocks"):
            ArchSpec(family="resnet", in_channels=3, out_channels=3, ngf=4, norm="instance")


class TestRoundTrip:
    @pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
    @pytest.mark.parametrize(
        "make",
        [
            lambda: _resnet(n_blocks=2, use_dropout=True),
            lambda: _resnet(n_blocks=1, norm="batch", padding_type="zero", in_channels=1),
            lambda: _unet(num_downs=5, use_dropout=True),
        ],
        ids=["resnet_dropout", "resnet_batch_zero_grey", "unet_32"],
    )
    def test_save_detect_load_strict(self, tmp_path, suffix, make):
        net = make()
        path = tmp_path / f"net{suffix}"
        if suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(net.state_dict(), path)
        else:
            torch.save(net.state_dict(), path)
        loaded = load_generator(path)
        assert loaded.source == str(path)
        assert not loaded.module.training
        for key, value in net.state_dict().items():
            torch.testing.assert_close(loaded.module.state_dict()[key], value)
        x = torch.rand(2, loaded.spec.in_channels, 32, 32) * 2 - 1
        with torch.no_grad():
            expected = use_reference_stats(net)(x)
            torch.testing.assert_close(loaded.module(x), expected, atol=1e-5, rtol=1e-4)

    def test_loads_a_state_dict_object(self):
        loaded = load_generator(_resnet(n_blocks=1).state_dict())
        assert loaded.source == "<state dict>"
        assert loaded.spec.arch == "resnet_1blocks"

    def test_batch_norm_runs_on_image_statistics(self):
        loaded = load_generator(_unet(num_downs=5).state_dict())
        norms = [m for m in loaded.module.modules() if isinstance(m, nn.BatchNorm2d)]
        assert norms
        assert all(isinstance(m, ImageStatsBatchNorm2d) for m in norms)
        batch = torch.rand(3, 3, 32, 32) * 2 - 1
        with torch.no_grad():
            alone = torch.cat([loaded.module(batch[i : i + 1]) for i in range(3)])
            torch.testing.assert_close(loaded.module(batch), alone, atol=1e-6, rtol=1e-5)


def use_reference_stats(net: nn.Module) -> nn.Module:
    """``net`` as the reference tests it: train mode (per-image batch norm), dropout off."""
    net.train()
    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0

    def per_image(x):
        return torch.cat([net(x[i : i + 1]) for i in range(x.shape[0])])

    return per_image


class TestContainersAndQuirks:
    @pytest.mark.parametrize("container", ["state_dict", "params_ema", "params", "netG", "model"])
    def test_unwraps_container(self, tmp_path, container):
        net = _resnet(n_blocks=1)
        path = _save_pth({container: net.state_dict(), "epoch": 7}, tmp_path / "ckpt.pth")
        assert set(read_state_dict(path)) == set(net.state_dict())

    def test_prefers_ema_weights(self, tmp_path):
        ema, raw = _resnet(n_blocks=1).state_dict(), _resnet(n_blocks=2).state_dict()
        path = _save_pth({"params": raw, "params_ema": ema}, tmp_path / "ckpt.pth")
        assert set(read_state_dict(path)) == set(ema)

    def test_strips_module_prefix(self, tmp_path):
        net = _resnet(n_blocks=1)
        wrapped = {f"module.{key}": value for key, value in net.state_dict().items()}
        path = _save_pth(wrapped, tmp_path / "ddp.pth")
        assert set(read_state_dict(path)) == set(net.state_dict())
        assert load_generator(path).spec.arch == "resnet_1blocks"

    def test_strips_old_instance_norm_running_stats(self, tmp_path):
        net = _resnet(n_blocks=2)
        state_dict = dict(net.state_dict())
        for name, module in net.named_modules():
            if isinstance(module, nn.InstanceNorm2d):  # as saved by PyTorch 0.4.0
                state_dict[f"{name}.running_mean"] = torch.randn(module.num_features)
                state_dict[f"{name}.running_var"] = torch.rand(module.num_features) + 0.5
                state_dict[f"{name}.num_batches_tracked"] = torch.tensor(3)
        assert "model.2.running_mean" in state_dict
        loaded = load_generator(_save_pth(state_dict, tmp_path / "old.pth"))
        assert loaded.spec.norm == "instance"
        x = torch.rand(1, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(loaded.module(x), net.eval()(x))

    def test_supplies_missing_num_batches_tracked(self, tmp_path):
        net = _resnet(n_blocks=1, norm="batch")
        state_dict = {
            key: value
            for key, value in net.state_dict().items()
            if not key.endswith("num_batches_tracked")
        }
        loaded = load_generator(_save_pth(state_dict, tmp_path / "old_bn.pth"))
        assert loaded.spec.norm == "batch"
        torch.testing.assert_close(
            loaded.module.state_dict()["model.2.running_mean"], state_dict["model.2.running_mean"]
        )


class TestErrors:
    def test_unknown_architecture(self, tmp_path):
        junk = {
            "conv1.weight": torch.zeros(8, 3, 3, 3),
            "conv1.bias": torch.zeros(8),
            "fc.weight": torch.zeros(10, 8),
        }
        path = _save_pth(junk, tmp_path / "x.pth")
        with pytest.raises(
            CheckpointError, match="no known architecture matches its 3 keys"
        ) as info:
            load_generator(path)
        message = str(info.value)
        assert message.startswith(f"{path}: no known architecture matches its 3 keys")
        assert "first: conv1.weight, conv1.bias, fc.weight" in message
        assert "ResNet generator (model.1.weight" in message
        assert "U-Net generator (model.model.0.weight" in message

    def test_shape_mismatch_is_explained(self):
        state_dict = dict(_resnet(n_blocks=2).state_dict())
        state_dict["model.4.weight"] = torch.zeros(8, 5, 3, 3)
        with pytest.raises(
            CheckpointError, match=r"model\.4\.weight: file \(8, 5, 3, 3\), expected"
        ):
            load_generator(state_dict)

    def test_missing_and_unexpected_keys_are_listed(self):
        state_dict = dict(_resnet(n_blocks=2, norm="batch").state_dict())
        del state_dict["model.5.weight"]
        state_dict["model.5.extra"] = torch.zeros(1)
        with pytest.raises(CheckpointError, match="looks like resnet_2blocks") as info:
            load_generator(state_dict)
        message = str(info.value)
        assert "looks like resnet_2blocks" in message
        assert "1 missing key (model.5.weight)" in message
        assert "1 unexpected key (model.5.extra)" in message

    def test_inconsistent_block_layout(self):
        state_dict = dict(_resnet(n_blocks=2).state_dict())
        state_dict["model.10.conv_block.3.weight"] = torch.zeros(16, 16, 3, 3)
        with pytest.raises(CheckpointError, match="conv_block indices"):
            load_generator(state_dict)

    def test_pickled_object_refused(self, tmp_path):
        state_dict = dict(_resnet(n_blocks=1).state_dict())
        path = _save_pth({**state_dict, "extra": NotATensor()}, tmp_path / "unsafe.pth")
        with pytest.raises(CheckpointError, match="NotATensor") as info:
            read_state_dict(path)
        message = str(info.value)
        assert message.startswith(f"{path}: refused: loading it would run Python code")
        assert "NotATensor" in message
        assert "likely succeed" not in message  # torch's advice to load it unsafely

    @pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
    @pytest.mark.parametrize("container", ["torch.save", "raw pickle"])
    def test_a_payload_that_runs_a_command_is_refused_unrun(self, tmp_path, suffix, container):
        marker = tmp_path / "ran"
        payload = _Payload(str(marker))
        path = tmp_path / f"evil{suffix}"
        if container == "torch.save":
            torch.save({"weight": torch.zeros(1), "x": payload}, path)
        else:
            path.write_bytes(pickle.dumps(payload, protocol=4))
        with pytest.raises(CheckpointError) as info:
            read_state_dict(path)
        assert not marker.exists()
        assert str(info.value).startswith(
            f"{path}: refused: loading it would run Python code from the file (posix.system)"
        )

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            (b"", "not a PyTorch checkpoint (the file is empty)"),
            (bytes(range(139, 255)) * 4, "not a PyTorch checkpoint"),
            (b"hello world", "not a PyTorch checkpoint"),
        ],
        ids=["empty", "junk", "text"],
    )
    def test_not_a_checkpoint(self, tmp_path, content, expected):
        path = tmp_path / "bad.pth"
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=re.escape(expected)):
            read_state_dict(path)

    def test_not_a_safetensors_file(self, tmp_path):
        path = tmp_path / "bad.safetensors"
        path.write_bytes(b"\x00" * 32)
        with pytest.raises(CheckpointError, match="not a safetensors file"):
            read_state_dict(path)

    @pytest.mark.parametrize(
        ("obj", "expected"),
        [
            ({}, "the checkpoint is empty"),
            ([torch.zeros(1)], "holds a list, expected a state dict"),
            (
                {"epoch": 3, "weights": torch.zeros(1)},
                r"its 2 top-level entries \(epoch \(int\), weights \(tensor\)\)",
            ),
        ],
        ids=["empty_dict", "list", "mixed_dict"],
    )
    def test_not_a_state_dict(self, tmp_path, obj, expected):
        path = _save_pth(obj, tmp_path / "odd.pth")
        with pytest.raises(CheckpointError, match=expected):
            read_state_dict(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CheckpointError, match="no such file"):
            read_state_dict(tmp_path / "nothing.pth")

    def test_unsupported_extension(self, tmp_path):
        path = tmp_path / "weights.ckpt"
        path.write_bytes(b"x")
        with pytest.raises(CheckpointError, match=r"unsupported checkpoint extension '\.ckpt'"):
            read_state_dict(path)


class _Wrapper(nn.Module):
    """A module holding a generator, as traced TorchScript releases hold theirs (big-lama.pt)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(x)


class TestTorchScript:
    """TorchScript archives are read for their tensors, without running anything in them."""

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
    @pytest.mark.filterwarnings("ignore::FutureWarning")
    def test_reads_what_torch_jit_load_would_give(self, tmp_path, dtype):
        wrapper = _Wrapper(_resnet(n_blocks=1)).eval().to(dtype)
        traced = torch.jit.trace(wrapper, torch.rand(1, 3, 16, 16, dtype=dtype))
        path = tmp_path / "traced.pt"
        traced.save(str(path))
        expected = torch.jit.load(str(path)).state_dict()
        got = read_state_dict(path)
        assert list(got) == list(expected)
        assert next(iter(got)).startswith("generator.model.")
        for key, value in expected.items():
            assert got[key].dtype == value.dtype and torch.equal(got[key], value), key

    @pytest.mark.filterwarnings("ignore::FutureWarning")
    def test_reads_a_scripted_module_with_shared_and_sliced_storages(self, tmp_path):
        class Shared(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                base = torch.arange(12.0)
                self.register_buffer("whole", base.view(3, 4))
                self.register_buffer("column", base.view(3, 4)[:, 1])  # strided, offset 1

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return x + self.column.sum()

        path = tmp_path / "scripted.pt"
        torch.jit.script(Shared()).save(str(path))
        got = read_state_dict(path)
        assert torch.equal(got["whole"], torch.arange(12.0).view(3, 4))
        assert torch.equal(got["column"], torch.tensor([1.0, 5.0, 9.0]))

    def test_an_archive_pickling_a_function_is_refused_unrun(self, tmp_path):
        import pickle
        import zipfile

        path = tmp_path / "evil.pt"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("evil/data.pkl", pickle.dumps((eval, ("1/0",)), protocol=2))
            archive.writestr("evil/code/__torch__.py", "")
        with pytest.raises(
            CheckpointError,
            match=rf"^{re.escape(str(path))}: a TorchScript archive whose weights ganedit cannot "
            r"read \(unsupported global in a TorchScript archive: __builtin__\.eval\)",
        ):
            read_state_dict(path)


class TestRegistry:
    def test_get_and_contains_by_id(self):
        registry = default_arch_registry()
        assert "pix2pix_unet" in registry
        assert "esrgan" not in registry
        assert registry.get("cyclegan_resnet") is RESNET_ENTRY

    def test_duplicate_id_rejected(self):
        registry = default_arch_registry()
        with pytest.raises(ValueError, match="already registered"):
            registry.add(dataclasses.replace(UNET_ENTRY, description="another"))

    def test_unknown_id(self):
        with pytest.raises(KeyError, match="known: cyclegan_resnet, pix2pix_unet"):
            default_arch_registry().get("esrgan")

    def test_detect_returns_none_for_unknown_keys(self):
        assert default_arch_registry().detect({"x.weight": torch.zeros(1)}) is None

    def test_loader_uses_the_given_registry(self):
        only_unet = ArchRegistry((UNET_ENTRY,))
        with pytest.raises(CheckpointError, match="expected a CycleGAN/pix2pix U-Net generator"):
            load_generator(_resnet(n_blocks=1).state_dict(), registry=only_unet)

    def test_custom_entry(self):
        def build(state_dict):
            return RESNET_ENTRY.build(state_dict)

        entry = ArchEntry(
            id="custom",
            description="custom",
            detect=lambda sd: "model.1.weight" in sd,
            build=build,
            example=RESNET_ENTRY.example,
        )
        loaded = load_generator(_resnet(n_blocks=1).state_dict(), registry=ArchRegistry((entry,)))
        assert loaded.spec.arch == "resnet_1blocks"
