"""The reference networks: state dict layouts, forward shapes and per-image batch norm."""

from __future__ import annotations

import dataclasses

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ganedit.archs import (  # noqa: E402
    ArchSpec,
    ImageStatsBatchNorm2d,
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    build_generator,
    detect_generator,
    use_image_statistics,
)
from ganedit.archs.cyclegan.spec import parse_arch_id, resnet_arch_id, unet_arch_id  # noqa: E402
from ganedit.archs.norm import make_norm  # noqa: E402


def _unet_level(level: int) -> str:
    """Key prefix of the U-Net block at ``level`` (1 = outermost)."""
    if level == 1:
        return "model.model"
    return "model.model.1" + ".model.3" * (level - 2)


class TestResnetGeneratorKeys:
    @pytest.mark.parametrize(
        ("n_blocks", "norm", "use_dropout", "expected_count"),
        [
            (9, "instance", False, 48),
            (9, "instance", True, 48),
            (6, "instance", False, 36),
            (9, "batch", False, 140),
            (3, "none", False, 13),
        ],
    )
    def test_key_count(self, n_blocks, norm, use_dropout, expected_count):
        net = ResnetGenerator(ngf=4, n_blocks=n_blocks, norm=norm, use_dropout=use_dropout)
        assert len(net.state_dict()) == expected_count

    def test_instance_norm_keys(self):
        keys = ResnetGenerator(ngf=4, n_blocks=9).state_dict().keys()
        for key in (
            "model.1.weight",
            "model.1.bias",
            "model.4.weight",
            "model.7.weight",
            "model.10.conv_block.1.weight",
            "model.10.conv_block.5.weight",
            "model.18.conv_block.5.bias",
            "model.19.weight",  # first transposed convolution
            "model.22.weight",
            "model.26.weight",  # last 7×7 convolution
            "model.26.bias",
        ):
            assert key in keys
        assert not any("running" in key for key in keys)

    def test_dropout_shifts_second_conv(self):
        keys = ResnetGenerator(ngf=4, n_blocks=2, use_dropout=True).state_dict().keys()
        assert "model.10.conv_block.6.weight" in keys
        assert "model.10.conv_block.5.weight" not in keys

    @pytest.mark.parametrize(("use_dropout", "second"), [(False, 3), (True, 4)])
    def test_zero_padding_keys(self, use_dropout, second):
        net = ResnetGenerator(ngf=4, n_blocks=2, padding_type="zero", use_dropout=use_dropout)
        keys = net.state_dict().keys()
        assert "model.10.conv_block.0.weight" in keys
        assert f"model.10.conv_block.{second}.weight" in keys

    def test_batch_norm_keys_and_no_conv_bias(self):
        keys = ResnetGenerator(ngf=4, n_blocks=9, norm="batch").state_dict().keys()
        assert {"model.2.weight", "model.2.running_mean", "model.2.num_batches_tracked"} <= keys
        assert "model.10.conv_block.2.running_var" in keys
        assert "model.1.bias" not in keys
        assert "model.26.bias" in keys  # the last convolution always has a bias

    def test_norm_none_has_no_bias_and_no_norm_keys(self):
        keys = ResnetGenerator(ngf=4, n_blocks=1, norm="none").state_dict().keys()
        assert "model.1.bias" not in keys
        assert not any(key.startswith("model.2.") for key in keys)

    def test_rejects_unknown_padding(self):
        with pytest.raises(ValueError, match="padding_type"):
            ResnetGenerator(ngf=4, n_blocks=1, padding_type="circular")


class TestUnetGeneratorKeys:
    @pytest.mark.parametrize(
        ("num_downs", "norm", "expected_count"),
        [(8, "batch", 82), (7, "instance", 28), (5, "batch", 46), (5, "none", 11)],
    )
    def test_key_count(self, num_downs, norm, expected_count):
        net = UnetGenerator(ngf=4, num_downs=num_downs, norm=norm)
        assert len(net.state_dict()) == expected_count

    def test_unet_256_nesting(self):
        keys = UnetGenerator(ngf=4, num_downs=8, norm="batch").state_dict().keys()
        for key in (
            "model.model.0.weight",
            "model.model.3.weight",
            "model.model.3.bias",  # the outermost transposed convolution always has a bias
            "model.model.1.model.1.weight",
            "model.model.1.model.2.running_mean",
            "model.model.1.model.3.model.3.model.1.weight",
            f"{_unet_level(8)}.model.1.weight",  # innermost down
            f"{_unet_level(8)}.model.3.weight",  # innermost up
            f"{_unet_level(8)}.model.4.running_var",  # innermost upnorm
        ):
            assert key in keys
        assert f"{_unet_level(9)}.model.1.weight" not in keys
        assert "model.model.0.bias" not in keys

    def test_dropout_adds_no_keys(self):
        with_dropout = UnetGenerator(ngf=4, num_downs=7, use_dropout=True).state_dict()
        without = UnetGenerator(ngf=4, num_downs=7).state_dict()
        assert list(with_dropout) == list(without)

    def test_channel_counts_in_shapes(self):
        state_dict = UnetGenerator(in_channels=1, out_channels=3, ngf=4, num_downs=5).state_dict()
        assert state_dict["model.model.0.weight"].shape == (4, 1, 4, 4)
        assert state_dict["model.model.3.weight"].shape == (8, 3, 4, 4)

    def test_rejects_fewer_than_five_downs(self):
        with pytest.raises(ValueError, match="num_downs"):
            UnetGenerator(num_downs=4)


class TestArchIds:
    @pytest.mark.parametrize("n_blocks", [0, 1, 6, 9, 12])
    def test_resnet_id_round_trip(self, n_blocks):
        assert parse_arch_id(resnet_arch_id(n_blocks)) == ("resnet", n_blocks)

    @pytest.mark.parametrize("num_downs", [5, 7, 8, 9])
    def test_unet_id_round_trip(self, num_downs):
        assert parse_arch_id(unet_arch_id(num_downs)) == ("unet", num_downs)

    @pytest.mark.parametrize(
        ("arch", "message"),
        [
            ("unet_100", "unet size must be a power of two >= 32, got 'unet_100'"),
            ("unet_16", "unet size must be a power of two >= 32, got 'unet_16'"),
            ("vgg_16", r"unknown generator 'vgg_16': expected resnet_<n>blocks \(e\.g\."),
            ("resnet_nineblocks", "invalid literal for int"),
        ],
    )
    def test_invalid_ids_are_explained(self, arch, message):
        with pytest.raises(ValueError, match=message):
            parse_arch_id(arch)

    @pytest.mark.parametrize(
        ("arch", "norm", "use_dropout"),
        [("resnet_2blocks", "instance", True), ("resnet_0blocks", "batch", False)],
    )
    def test_from_arch_id_builds_what_detection_reads_back(self, arch, norm, use_dropout):
        spec = ArchSpec.from_arch_id(
            arch, in_channels=1, out_channels=3, ngf=4, norm=norm, use_dropout=use_dropout
        )
        assert spec.arch == arch
        assert detect_generator(build_generator(spec).state_dict()) == spec

    def test_from_arch_id_unet_keeps_the_dropout_detection_cannot_see(self):
        spec = ArchSpec.from_arch_id(
            "unet_64", in_channels=3, out_channels=3, ngf=4, norm="batch", use_dropout=True
        )
        net = build_generator(spec)
        assert isinstance(net, UnetGenerator)
        assert any(isinstance(m, nn.Dropout) for m in net.modules())
        detected = detect_generator(net.state_dict())
        assert detected == dataclasses.replace(spec, use_dropout=None)


class TestDiscriminators:
    @pytest.mark.parametrize(("n_layers", "expected_count"), [(1, 10), (3, 22)])
    def test_nlayer_key_count(self, n_layers, expected_count):
        net = NLayerDiscriminator(in_channels=6, ndf=4, n_layers=n_layers)
        assert len(net.state_dict()) == expected_count

    def test_nlayer_keys(self):
        keys = NLayerDiscriminator(in_channels=6, ndf=4).state_dict().keys()
        assert {"model.0.weight", "model.0.bias", "model.2.weight", "model.3.running_mean"} <= keys
        assert {"model.8.weight", "model.9.weight", "model.11.weight", "model.11.bias"} <= keys
        assert "model.2.bias" not in keys

    def test_pixel_keys(self):
        keys = set(PixelDiscriminator(in_channels=6, ndf=4, norm="instance").state_dict())
        assert keys == {
            "net.0.weight",
            "net.0.bias",
            "net.2.weight",
            "net.2.bias",
            "net.5.weight",
            "net.5.bias",
        }

    @pytest.mark.parametrize(("size", "patches"), [(64, 6), (32, 2)])
    def test_patchgan_output_shape(self, size, patches):
        net = NLayerDiscriminator(in_channels=6, ndf=4)
        assert net(torch.zeros(2, 6, size, size)).shape == (2, 1, patches, patches)

    def test_pixel_output_shape(self):
        net = PixelDiscriminator(in_channels=3, ndf=4)
        assert net(torch.zeros(2, 3, 10, 12)).shape == (2, 1, 10, 12)


class TestGeneratorForward:
    @pytest.mark.parametrize(("in_channels", "out_channels"), [(3, 3), (1, 3), (3, 1)])
    @pytest.mark.parametrize("size", [(16, 16), (32, 48)])
    def test_resnet_shape_and_range(self, in_channels, out_channels, size):
        net = ResnetGenerator(in_channels=in_channels, out_channels=out_channels, ngf=4, n_blocks=2)
        y = net(torch.randn(2, in_channels, *size))
        assert y.shape == (2, out_channels, *size)
        assert y.abs().max() <= 1

    @pytest.mark.parametrize(("num_downs", "size"), [(5, (32, 64)), (7, (128, 128))])
    @pytest.mark.parametrize(("in_channels", "out_channels"), [(3, 3), (1, 3)])
    def test_unet_shape_and_range(self, num_downs, size, in_channels, out_channels):
        net = UnetGenerator(
            in_channels=in_channels, out_channels=out_channels, num_downs=num_downs, ngf=4
        )
        y = use_image_statistics(net)(torch.randn(1, in_channels, *size))
        assert y.shape == (1, out_channels, *size)
        assert y.abs().max() <= 1


def _random_affine(bn: nn.BatchNorm2d) -> nn.BatchNorm2d:
    with torch.no_grad():
        bn.weight.normal_(1.0, 0.3)
        bn.bias.normal_(0.0, 0.3)
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    return bn


class TestImageStatsBatchNorm2d:
    def test_equals_train_mode_batch_norm_on_one_image(self):
        reference = _random_affine(nn.BatchNorm2d(5)).train()
        layer = use_image_statistics(reference)
        x = torch.randn(1, 5, 9, 7) * 3 + 1
        torch.testing.assert_close(layer(x), reference(x))

    def test_image_result_does_not_depend_on_batch(self):
        layer = use_image_statistics(_random_affine(nn.BatchNorm2d(5))).eval()
        batch = torch.randn(4, 5, 8, 8) * torch.arange(1.0, 5.0).view(4, 1, 1, 1)
        alone = torch.cat([layer(batch[i : i + 1]) for i in range(4)])
        torch.testing.assert_close(layer(batch), alone)

    def test_same_in_train_and_eval_mode(self):
        layer = use_image_statistics(_random_affine(nn.BatchNorm2d(3)))
        x = torch.randn(2, 3, 6, 6)
        torch.testing.assert_close(layer.train()(x), layer.eval()(x))

    def test_running_stats_left_untouched(self):
        layer = use_image_statistics(_random_affine(nn.BatchNorm2d(3))).train()
        before = {key: value.clone() for key, value in layer.state_dict().items()}
        layer(torch.randn(2, 3, 6, 6) + 5)
        for key, value in layer.state_dict().items():
            torch.testing.assert_close(value, before[key])

    def test_state_dict_keys_and_values_kept(self):
        bn = _random_affine(nn.BatchNorm2d(3, eps=1e-3))
        layer = use_image_statistics(bn)
        assert isinstance(layer, ImageStatsBatchNorm2d)
        assert layer.eps == 1e-3
        assert list(layer.state_dict()) == list(bn.state_dict())
        for key, value in bn.state_dict().items():
            torch.testing.assert_close(layer.state_dict()[key], value)

    def test_swaps_nested_batch_norms_only(self):
        net = nn.Sequential(
            nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm2d(4)), nn.ReLU()
        )
        net.append(make_norm("instance", 4))
        same = use_image_statistics(net)
        assert same is net
        assert isinstance(net[1], ImageStatsBatchNorm2d)
        assert isinstance(net[2][0], ImageStatsBatchNorm2d)
        assert type(net[4]) is nn.InstanceNorm2d

    def test_rejects_non_4d_input(self):
        with pytest.raises(ValueError, match="4D"):
            ImageStatsBatchNorm2d(3)(torch.zeros(3, 4, 4))

    # The TorchScript exporter (the one export/ uses) warns about itself and about tracing.
    @pytest.mark.filterwarnings("ignore")
    def test_exports_to_onnx(self, tmp_path):
        ort = pytest.importorskip("onnxruntime")
        onnx = pytest.importorskip("onnx")
        net = use_image_statistics(
            nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _random_affine(nn.BatchNorm2d(4)))
        ).eval()
        path = tmp_path / "bn.onnx"
        torch.onnx.export(
            net,
            (torch.randn(1, 3, 8, 8),),
            path,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}},
            dynamo=False,
        )
        ops = {node.op_type for node in onnx.load(path).graph.node}
        assert "InstanceNormalization" in ops
        assert "BatchNormalization" not in ops
        x = torch.randn(3, 3, 10, 12)
        (y,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
            None, {"x": x.numpy()}
        )
        with torch.no_grad():
            torch.testing.assert_close(torch.from_numpy(y), net(x), atol=1e-5, rtol=1e-5)
