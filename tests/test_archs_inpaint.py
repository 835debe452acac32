"""The gated-convolution inpainting generator, its discriminator, spec, detection and export."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ganedit.archs import (  # noqa: E402
    GatedConv2d,
    InpaintGenerator,
    InpaintSpec,
    SNPatchDiscriminator,
    detect_generator,
)
from ganedit.archs.inpaint.detect import inpaint_spec, is_inpaint  # noqa: E402
from ganedit.archs.inpaint.network import FEATURE_GAIN, SIZE_MULTIPLE  # noqa: E402
from ganedit.card import MaskSpec  # noqa: E402
from ganedit.errors import CheckpointError  # noqa: E402

NGF = 4


def _randomise(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default weights everywhere, so that loading is checked."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.2)
    return net.eval()


def _input(batch: int, height: int, width: int, *, channels: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, channels, height, width, generator=generator) * 2 - 1
    mask = torch.zeros(batch, 1, height, width)
    mask[:, :, height // 4 : height // 2, width // 3 : width // 2] = 1
    return torch.cat([image * (1 - mask), mask], dim=1)


class TestGatedConv2d:
    @pytest.mark.parametrize(
        ("stride", "dilation", "expected"), [(1, 1, (12, 20)), (2, 1, (6, 10)), (1, 4, (12, 20))]
    )
    def test_shape(self, stride, dilation, expected):
        conv = GatedConv2d(3, 5, 3, stride=stride, dilation=dilation)
        assert conv(torch.zeros(2, 3, 12, 20)).shape == (2, 5, *expected)

    def test_one_convolution_gives_features_and_gate(self):
        conv = GatedConv2d(3, 5, 5)
        assert conv.conv.weight.shape == (10, 3, 5, 5)

    def test_initialisation_is_he_normal_with_scaled_features_and_zero_bias(self):
        torch.manual_seed(0)
        conv = GatedConv2d(64, 64, 3)
        features, gate = conv.conv.weight.detach().split(64, dim=0)
        he_std = (2 / (64 * 9)) ** 0.5
        assert float(gate.std()) == pytest.approx(he_std, rel=0.05)
        assert float(features.std()) == pytest.approx(FEATURE_GAIN * he_std, rel=0.05)
        assert not conv.conv.bias.any()

    @staticmethod
    def _spread(stage: nn.Module) -> float:
        """Largest over smallest activation std across a stage's gated layers."""
        x = _input(1, 128, 128)
        scales = []
        with torch.no_grad():
            for layer in [*stage.encoder, *stage.dilated, *stage.decoder]:
                x = layer(x)
                scales.append(float(x.std()))
        return max(scales) / min(scales)

    def test_untrained_stage_keeps_the_signal_through_its_depth(self):
        torch.manual_seed(0)
        stage = InpaintGenerator(ngf=16).coarse
        assert self._spread(stage) < 4
        # PyTorch's default initialisation shrinks it more than tenfold: the untrained
        # generator then outputs a near-constant image.
        for module in stage.modules():
            if isinstance(module, GatedConv2d):
                module.conv.reset_parameters()
        assert self._spread(stage) > 10

    def test_without_activation_gates_raw_features(self):
        conv = GatedConv2d(2, 3, 3, activation=False)
        x = torch.randn(1, 2, 8, 8)
        features, gate = conv.conv(x).split(3, dim=1)
        torch.testing.assert_close(conv(x), features * torch.sigmoid(gate))

    def test_even_kernel_is_refused(self):
        with pytest.raises(ValueError, match="odd"):
            GatedConv2d(3, 3, 4)


class TestInpaintGenerator:
    @pytest.mark.parametrize(("height", "width"), [(16, 16), (48, 80), (72, 40)])
    def test_output_shape_and_range(self, height, width):
        net = _randomise(InpaintGenerator(ngf=NGF))
        with torch.no_grad():
            out = net(_input(2, height, width))
        assert out.shape == (2, 3, height, width)
        assert out.abs().max() <= 1

    def test_forward_stages_shapes_and_range(self):
        net = _randomise(InpaintGenerator(ngf=NGF))
        coarse, refined = net.forward_stages(_input(2, 32, 48))
        assert coarse.shape == refined.shape == (2, 3, 32, 48)
        assert coarse.abs().max() <= 1 and refined.abs().max() <= 1

    def test_known_pixels_pass_through(self):
        net = _randomise(InpaintGenerator(ngf=NGF))
        x = _input(1, 32, 32)
        known = x[:, 3:] == 0
        with torch.no_grad():
            out = net(x)
        torch.testing.assert_close(out[known.expand_as(out)], x[:, :3][known.expand_as(out)])

    def test_holes_take_the_refined_stage(self):
        net = _randomise(InpaintGenerator(ngf=NGF))
        x = _input(1, 32, 32)
        hole = (x[:, 3:] == 1).expand(1, 3, 32, 32)
        with torch.no_grad():
            _, refined = net.forward_stages(x)
            out = net(x)
        torch.testing.assert_close(out[hole], refined[hole])

    def test_hole_pixel_values_are_ignored(self):
        net = _randomise(InpaintGenerator(ngf=NGF))
        x = _input(1, 32, 32)
        noisy = x.clone()
        noisy[:, :3] += x[:, 3:] * torch.randn(1, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(net(noisy), net(x))

    def test_grey_images(self):
        net = InpaintGenerator(ngf=NGF, in_channels=1)
        assert net(_input(1, 16, 20, channels=1)).shape == (1, 1, 16, 20)

    def test_wrong_channel_count_is_explained(self):
        net = InpaintGenerator(ngf=NGF)
        with pytest.raises(ValueError, match=r"expected input \(B, 4, H, W\)"):
            net(torch.zeros(1, 3, 16, 16))

    def test_odd_ngf_is_refused(self):
        with pytest.raises(ValueError, match="ngf must be even"):
            InpaintGenerator(ngf=5)

    def test_size_multiple_is_four(self):
        assert SIZE_MULTIPLE == 4 == InpaintSpec().size_multiple


class TestSNPatchDiscriminator:
    @pytest.mark.parametrize(
        ("n_layers", "size", "expected"),
        [(6, (64, 32), (16, 1, 1)), (3, (32, 48), (16, 4, 6)), (2, (16, 16), (8, 4, 4))],
    )
    def test_output_shape(self, n_layers, size, expected):
        net = SNPatchDiscriminator(ndf=4, n_layers=n_layers)
        assert net(torch.zeros(2, 4, *size)).shape == (2, *expected)

    def test_every_convolution_is_spectrally_normalised(self):
        net = SNPatchDiscriminator(ndf=4, n_layers=4)
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 4
        assert all(nn.utils.parametrize.is_parametrized(conv, "weight") for conv in convs)
        assert all(conv.kernel_size == (5, 5) and conv.stride == (2, 2) for conv in convs)

    def test_spectral_norm_bounds_the_weights(self):
        net = SNPatchDiscriminator(ndf=4, n_layers=2).train()
        for _ in range(20):  # power iterations converge during training forward passes
            net(torch.randn(1, 4, 16, 16))
        weight = net.model[0].weight.detach().flatten(1)
        assert torch.linalg.matrix_norm(weight, ord=2) < 1.05


class TestSpec:
    def test_card_fields(self):
        spec = InpaintSpec(ngf=32)
        assert (spec.task, spec.arch, spec.scale) == ("inpaint", "gated_inpaint", 1)
        assert (spec.in_channels, spec.out_channels) == (3, 3)
        assert (spec.input_range, spec.output_range) == ((-1.0, 1.0), (-1.0, 1.0))
        assert (spec.size_multiple, spec.min_size, spec.tiling) == (4, 16, "discouraged")
        assert spec.norm_stats is None
        assert spec.mask == MaskSpec(channel=3, hole=1)
        assert spec.card_extra() == {"family": "gated_inpaint", "ngf": 32}
        assert "ngf 32" in spec.describe()

    @pytest.mark.parametrize("kwargs", [{"ngf": 0}, {"ngf": 7}, {"in_channels": 0}])
    def test_invalid_values_are_refused(self, kwargs):
        with pytest.raises(ValueError, match="invalid InpaintSpec"):
            InpaintSpec(**kwargs)

    def test_card_carries_the_mask(self):
        from ganedit.export import generator_card

        card = generator_card(InpaintSpec(ngf=8, in_channels=1), name="grey")
        assert card.mask == MaskSpec(channel=1, hole=1)
        assert card.to_dict()["mask"] == {"channel": 1, "hole": 1}


class TestDetection:
    @pytest.mark.parametrize(("ngf", "channels"), [(4, 3), (6, 1)])
    def test_spec_is_read_from_shapes(self, ngf, channels):
        state_dict = InpaintGenerator(ngf=ngf, in_channels=channels).state_dict()
        assert is_inpaint(state_dict)
        assert detect_generator(state_dict) == InpaintSpec(ngf=ngf, in_channels=channels)

    def test_other_generators_are_not_taken_for_inpainting(self):
        from ganedit.archs import ResnetGenerator, SRVGGNetCompact

        assert not is_inpaint(ResnetGenerator(ngf=4, n_blocks=1).state_dict())
        assert not is_inpaint(SRVGGNetCompact(num_feat=4, num_conv=1).state_dict())

    def test_inconsistent_last_layer_is_explained(self):
        state_dict = dict(InpaintGenerator(ngf=NGF).state_dict())
        state_dict["refine.to_image.weight"] = torch.zeros(3, 5, 3, 3)
        with pytest.raises(CheckpointError, match=r"refine\.to_image\.weight should be"):
            inpaint_spec(state_dict)


class TestExport:
    def test_onnx_matches_torch_at_two_non_square_sizes(self, tmp_path):
        import onnxruntime as ort

        from ganedit.export import export_onnx, generator_card

        net = _randomise(InpaintGenerator(ngf=NGF))
        result = export_onnx(net, generator_card(net.spec, name="tiny"), tmp_path / "m.onnx")
        assert result.verify_shapes[0][1] == 4  # the image and the mask
        session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
        for seed, (height, width) in enumerate(((48, 80), (72, 40))):
            x = _input(2, height, width, seed=seed)
            with torch.no_grad():
                expected = net(x).numpy()
            (got,) = session.run(None, {"image": x.numpy()})
            assert got.shape == expected.shape
            assert np.abs(got - expected).max() < 1e-4
