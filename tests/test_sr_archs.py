"""ESRGAN-family networks: key layouts, detection from old and new checkpoints, ONNX export."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from ganedit.archs import (  # noqa: E402
    ResnetGenerator,
    RRDBNet,
    RRDBNetSpec,
    SRVGGNetCompact,
    SRVGGSpec,
    UnetGenerator,
    blend_state_dicts,
    default_arch_registry,
    detect_generator,
    load_generator,
)
from ganedit.archs.cyclegan.detect import is_resnet, is_unet  # noqa: E402
from ganedit.archs.esrgan.detect import convert_rrdbnet_keys, is_rrdbnet, is_srvgg  # noqa: E402
from ganedit.archs.esrgan.rrdb import pixel_unshuffle  # noqa: E402
from ganedit.errors import CheckpointError  # noqa: E402

TINY = {"num_feat": 8, "num_block": 2, "num_grow_ch": 4}


def _randomise(net: nn.Module, seed: int = 0) -> nn.Module:
    """Non-default weights everywhere (biases and PReLU slopes included), so loading is checked."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1)
    return net.eval()


def _rrdbnet(scale: int = 4, *, num_upsample: int | None = None, **options) -> RRDBNet:
    return _randomise(RRDBNet(scale=scale, num_upsample=num_upsample, **{**TINY, **options}))


def _srvgg(scale: int = 4, **options) -> SRVGGNetCompact:
    return _randomise(SRVGGNetCompact(scale=scale, **{"num_feat": 8, "num_conv": 2, **options}))


def _to_esrgan_names(state_dict: dict) -> dict:
    """BasicSR keys -> ESRGAN's later release (RRDB_trunk, trunk_conv, upconvN, HRconv)."""
    renames = (
        (r"^body\.(\d+)\.rdb(\d)\.", r"RRDB_trunk.\1.RDB\2."),
        (r"^conv_body\.", "trunk_conv."),
        (r"^conv_up(\d)\.", r"upconv\1."),
        (r"^conv_hr\.", "HRconv."),
    )
    out = {}
    for key, value in state_dict.items():
        for pattern, replacement in renames:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def _to_oldest_names(state_dict: dict, num_block: int, num_upsample: int) -> dict:
    """BasicSR keys -> ESRGAN's first release (one flat ``model`` sequence)."""
    flat = {"conv_first": 0, "conv_hr": 3 * num_upsample + 2, "conv_last": 3 * num_upsample + 4}
    flat.update({f"conv_up{i}": 3 * i for i in range(1, num_upsample + 1)})
    out = {}
    for key, value in state_dict.items():
        if match := re.match(r"^body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)$", key):
            block, rdb, conv, kind = match.groups()
            out[f"model.1.sub.{block}.RDB{rdb}.conv{conv}.0.{kind}"] = value
        elif key.startswith("conv_body."):
            out[f"model.1.sub.{num_block}.{key.split('.')[1]}"] = value
        else:
            name, kind = key.split(".")
            out[f"model.{flat[name]}.{kind}"] = value
    return out


def _layout(net: RRDBNet, layout: str) -> dict:
    state_dict = net.state_dict()
    if layout == "basicsr":
        return state_dict
    if layout == "params_ema":
        return {"params_ema": state_dict, "params": {k: v * 0 for k, v in state_dict.items()}}
    if layout == "params":
        return {"params": state_dict}
    if layout == "esrgan":
        return _to_esrgan_names(state_dict)
    return _to_oldest_names(state_dict, net.spec.num_block, net.spec.num_upsample)


LAYOUTS = ("basicsr", "params_ema", "params", "esrgan", "oldest")
# (scale, num_upsample): BasicSR's ×1/×2/×4, the community ×8, and the old 0-upsampling ×1.
SCALES = ((1, 2), (2, 2), (4, 2), (8, 3), (1, 0))


class TestRRDBNetKeys:
    def test_x4_keys(self):
        keys = set(RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).state_dict())
        rdb = {
            f"body.0.rdb{r}.conv{c}.{kind}"
            for r in (1, 2, 3)
            for c in (1, 2, 3, 4, 5)
            for kind in ("weight", "bias")
        }
        convs = ("conv_first", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last")
        assert keys == rdb | {f"{name}.{kind}" for name in convs for kind in ("weight", "bias")}

    @pytest.mark.parametrize(("scale", "first_in"), [(4, 3), (2, 12), (1, 48), (8, 3)])
    def test_conv_first_takes_unshuffled_channels(self, scale, first_in):
        net = RRDBNet(scale=scale, **TINY)
        assert net.conv_first.weight.shape == (8, first_in, 3, 3)

    def test_x8_has_third_upsampling(self):
        keys = RRDBNet(scale=8, **TINY).state_dict()
        assert "conv_up3.weight" in keys
        assert "conv_up4.weight" not in keys

    def test_dense_block_shapes(self):
        state_dict = RRDBNet(**TINY).state_dict()
        assert state_dict["body.1.rdb3.conv1.weight"].shape == (4, 8, 3, 3)
        assert state_dict["body.1.rdb3.conv5.weight"].shape == (8, 8 + 4 * 4, 3, 3)

    def test_impossible_scale_raises(self):
        with pytest.raises(ValueError, match="cannot give scale 4"):
            RRDBNet(scale=4, num_upsample=1, **TINY)


class TestSRVGGKeys:
    def test_prelu_keys(self):
        keys = set(SRVGGNetCompact(num_feat=8, num_conv=2, scale=4).state_dict())
        convs = {f"body.{i}.{kind}" for i in (0, 2, 4, 6) for kind in ("weight", "bias")}
        assert keys == convs | {"body.1.weight", "body.3.weight", "body.5.weight"}

    @pytest.mark.parametrize("act_type", ["relu", "leakyrelu"])
    def test_parameterless_activation_keys(self, act_type):
        keys = set(SRVGGNetCompact(num_feat=8, num_conv=2, act_type=act_type).state_dict())
        assert keys == {f"body.{i}.{kind}" for i in (0, 2, 4, 6) for kind in ("weight", "bias")}

    def test_last_conv_gives_channels_times_scale_squared(self):
        net = SRVGGNetCompact(num_feat=8, num_conv=2, scale=3)
        assert net.state_dict()["body.6.weight"].shape == (27, 8, 3, 3)

    def test_out_channels_must_equal_in_channels(self):
        with pytest.raises(ValueError, match="out_channels must equal in_channels"):
            SRVGGNetCompact(in_channels=3, out_channels=1)


class TestPixelUnshuffle:
    @pytest.mark.parametrize("factor", [2, 4])
    def test_matches_torch(self, factor):
        x = torch.randn(2, 3, 8, 12)
        torch.testing.assert_close(
            pixel_unshuffle(x, factor), torch.nn.functional.pixel_unshuffle(x, factor)
        )

    def test_indivisible_size_raises(self):
        with pytest.raises(ValueError, match="divisible by 2"):
            pixel_unshuffle(torch.zeros(1, 3, 9, 8), 2)


class TestForwardShapes:
    @pytest.mark.parametrize(("scale", "num_upsample"), SCALES)
    @pytest.mark.parametrize("size", [(8, 8), (16, 12)])
    def test_rrdbnet(self, scale, num_upsample, size):
        net = _rrdbnet(scale, num_upsample=num_upsample)
        with torch.no_grad():
            out = net(torch.rand(2, 3, *size))
        assert out.shape == (2, 3, size[0] * scale, size[1] * scale)

    @pytest.mark.parametrize("scale", [1, 2, 3, 4])
    @pytest.mark.parametrize("size", [(8, 8), (9, 13)])
    def test_srvgg_any_size(self, scale, size):
        with torch.no_grad():
            out = _srvgg(scale)(torch.rand(1, 3, *size))
        assert out.shape == (1, 3, size[0] * scale, size[1] * scale)

    @pytest.mark.parametrize(("scale", "multiple"), [(1, 4), (2, 2), (4, 1), (8, 1)])
    def test_size_multiple_is_the_unshuffle_factor(self, scale, multiple):
        assert RRDBNet(scale=scale, **TINY).spec.size_multiple == multiple

    def test_x2_needs_even_sizes(self):
        net = _rrdbnet(2)
        assert net.spec.size_multiple == 2
        with pytest.raises(ValueError, match="divisible by 2"):
            net(torch.rand(1, 3, 9, 8))

    def test_x2_odd_size_runs_once_padded_to_size_multiple(self):
        net = _rrdbnet(2)
        x = torch.rand(1, 3, 9, 11)
        m = net.spec.size_multiple
        padded = nn.functional.pad(x, (0, -11 % m, 0, -9 % m), mode="replicate")
        with torch.no_grad():
            out = net(padded)[..., : 9 * 2, : 11 * 2]
        assert out.shape == (1, 3, 18, 22)


class TestRRDBNetDetection:
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize(("scale", "num_upsample"), SCALES)
    def test_hyperparameters_from_shapes(self, layout, scale, num_upsample):
        net = _rrdbnet(scale, num_upsample=num_upsample)
        spec = detect_generator(_layout(net, layout))
        assert spec == net.spec
        assert spec.scale == scale

    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize(("scale", "num_upsample"), SCALES)
    def test_loads_with_identical_outputs(self, layout, scale, num_upsample):
        net = _rrdbnet(scale, num_upsample=num_upsample)
        loaded = load_generator(_layout(net, layout))
        x = torch.rand(1, 3, 8, 12)
        with torch.no_grad():
            torch.testing.assert_close(loaded.module(x), net(x), rtol=0, atol=0)

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"num_feat": 4, "num_block": 1, "num_grow_ch": 4}, (4, 1, 4)),
            ({"num_feat": 8, "num_block": 3, "num_grow_ch": 6}, (8, 3, 6)),
        ],
    )
    def test_sizes(self, options, expected):
        spec = detect_generator(RRDBNet(scale=4, **options).state_dict())
        assert (spec.num_feat, spec.num_block, spec.num_grow_ch) == expected
        assert spec.arch == f"rrdbnet_x4_{expected[1]}b_{expected[0]}f"

    @pytest.mark.parametrize(
        ("channels", "scale"), [((1, 1), 2), ((1, 1), 1), ((4, 3), 4), ((3, 1), 4)]
    )
    def test_channels(self, channels, scale):
        net = RRDBNet(in_channels=channels[0], out_channels=channels[1], scale=scale, **TINY)
        spec = detect_generator(net.state_dict())
        assert (spec.in_channels, spec.out_channels, spec.scale) == (*channels, scale)

    @pytest.mark.parametrize("layout", ["basicsr", "esrgan", "oldest"])
    def test_registry_picks_rrdbnet_entry(self, layout):
        entry = default_arch_registry().detect(_layout(_rrdbnet(4), layout))
        assert entry is not None and entry.id == "esrgan_rrdbnet"

    def test_converted_keys(self):
        net = RRDBNet(scale=4, num_feat=4, num_block=1, num_grow_ch=4)
        oldest = _to_oldest_names(net.state_dict(), 1, 2)
        assert {
            "model.0.weight",
            "model.1.sub.0.RDB1.conv1.0.weight",
            "model.1.sub.1.weight",
        } < set(oldest)
        assert {"model.3.weight", "model.6.weight", "model.8.weight", "model.10.weight"} < set(
            oldest
        )
        assert set(convert_rrdbnet_keys(oldest)) == set(net.state_dict())
        esrgan = _to_esrgan_names(net.state_dict())
        assert {"RRDB_trunk.0.RDB3.conv5.bias", "trunk_conv.weight", "HRconv.bias"} < set(esrgan)
        assert set(convert_rrdbnet_keys(esrgan)) == set(net.state_dict())

    def test_conversion_shares_tensors(self):
        state_dict = _to_esrgan_names(_rrdbnet(4).state_dict())
        converted = convert_rrdbnet_keys(state_dict)
        assert converted["conv_body.weight"] is state_dict["trunk_conv.weight"]

    def test_oldest_with_pixel_shuffle_indices_raises(self):
        state_dict = _to_oldest_names(_rrdbnet(4).state_dict(), 2, 2)
        state_dict["model.4.weight"] = state_dict.pop("model.3.weight")
        with pytest.raises(CheckpointError, match="pixel-shuffle upsampling"):
            load_generator(state_dict)

    def test_esrgan_plus_is_left_to_spandrel(self):
        # ESRGAN+ blocks carry conv1x1 noise branches that ganedit's RRDBNet cannot hold:
        # spandrel's ESRGAN takes such files (tests/test_imported_archs.py loads a real one);
        # this one, a plain RRDBNet with one stray conv1x1, is inconsistent for it too.
        state_dict = _to_oldest_names(_rrdbnet(4).state_dict(), 2, 2)
        state_dict["model.1.sub.0.RDB1.conv1x1.weight"] = torch.zeros(4, 8, 1, 1)
        assert not is_rrdbnet(state_dict)
        with pytest.raises(CheckpointError, match="looks like an ESRGAN model, but spandrel"):
            load_generator(state_dict)

    def test_missing_block_weight_names_key(self):
        state_dict = _rrdbnet(4).state_dict()
        del state_dict["body.1.rdb2.conv3.bias"]
        with pytest.raises(CheckpointError, match=r"body\.1\.rdb2\.conv3\.bias"):
            load_generator(state_dict)


class TestSRVGGDetection:
    @pytest.mark.parametrize("scale", [1, 2, 3, 4])
    @pytest.mark.parametrize(("num_conv", "num_feat"), [(0, 4), (2, 8), (5, 6)])
    def test_hyperparameters_from_shapes(self, scale, num_conv, num_feat):
        net = _srvgg(scale, num_conv=num_conv, num_feat=num_feat)
        spec = detect_generator({"params": net.state_dict()})
        assert spec == net.spec
        assert spec.arch == f"srvgg_x{scale}_{num_conv}c_{num_feat}f_prelu"

    def test_grey(self):
        net = _srvgg(2, in_channels=1, out_channels=1)
        spec = detect_generator(net.state_dict())
        assert (spec.in_channels, spec.out_channels, spec.scale) == (1, 1, 2)

    def test_loads_with_identical_outputs(self):
        net = _srvgg(4)
        loaded = load_generator({"params": net.state_dict()})
        x = torch.rand(1, 3, 9, 7)
        with torch.no_grad():
            torch.testing.assert_close(loaded.module(x), net(x), rtol=0, atol=0)

    @pytest.mark.parametrize("act_type", ["relu", "leakyrelu"])
    def test_parameterless_activation_raises(self, act_type):
        net = _srvgg(4, act_type=act_type)
        assert is_srvgg(net.state_dict())
        with pytest.raises(CheckpointError, match="ReLU or LeakyReLU"):
            detect_generator(net.state_dict())

    def test_last_conv_channels_not_in_times_square_raise(self):
        state_dict = _srvgg(4).state_dict()
        state_dict["body.6.weight"] = torch.zeros(47, 8, 3, 3)
        state_dict["body.6.bias"] = torch.zeros(47)
        with pytest.raises(CheckpointError, match="scale²"):
            detect_generator(state_dict)


class TestNoConfusionWithCycleGAN:
    """CycleGAN/pix2pix keys also start with ``model.``; neither family is taken for the other."""

    @pytest.mark.parametrize(
        "net",
        [
            ResnetGenerator(ngf=4, n_blocks=1),
            ResnetGenerator(ngf=4, n_blocks=2, norm="none", padding_type="zero"),
            UnetGenerator(ngf=4, num_downs=5, norm="batch"),
        ],
        ids=["resnet", "resnet_zero_nonorm", "unet"],
    )
    def test_cyclegan_not_taken_for_sr(self, net):
        state_dict = net.state_dict()
        assert not is_rrdbnet(state_dict)
        assert not is_srvgg(state_dict)
        assert detect_generator(state_dict).task == "translate"

    @pytest.mark.parametrize("layout", ["basicsr", "esrgan", "oldest"])
    @pytest.mark.parametrize(("scale", "num_upsample"), SCALES)
    def test_rrdbnet_not_taken_for_cyclegan(self, layout, scale, num_upsample):
        state_dict = _layout(_rrdbnet(scale, num_upsample=num_upsample), layout)
        assert not is_resnet(state_dict)
        assert not is_unet(state_dict)
        assert detect_generator(state_dict).task == "upscale"

    def test_srvgg_not_taken_for_cyclegan(self):
        state_dict = _srvgg(4).state_dict()
        assert not is_resnet(state_dict)
        assert not is_unet(state_dict)
        assert not is_rrdbnet(state_dict)


class TestSpecs:
    def test_rrdbnet_card_fields(self):
        spec = RRDBNetSpec(
            in_channels=3,
            out_channels=3,
            scale=4,
            num_feat=64,
            num_block=23,
            num_grow_ch=32,
            num_upsample=2,
        )
        assert spec.arch == "rrdbnet_x4_23b_64f"
        assert (spec.task, spec.input_range, spec.output_range) == ("upscale", (0, 1), (0, 1))
        assert (spec.tiling, spec.norm_stats, spec.size_multiple, spec.min_size) == (
            "ok",
            None,
            1,
            1,
        )
        assert spec.card_extra()["family"] == "rrdbnet"
        assert spec.describe().startswith("rrdbnet_x4_23b_64f (")

    def test_srvgg_card_fields(self):
        spec = SRVGGSpec(
            in_channels=3, out_channels=3, scale=4, num_feat=64, num_conv=32, act_type="prelu"
        )
        assert spec.arch == "srvgg_x4_32c_64f_prelu"
        assert (spec.size_multiple, spec.min_size, spec.tiling) == (1, 1, "ok")
        assert spec.card_extra() == {
            "family": "srvgg",
            "num_feat": 64,
            "num_conv": 32,
            "act_type": "prelu",
        }

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({"num_feat": 0}, "num_feat must be a positive integer"),
            ({"scale": 4, "num_upsample": 1}, "cannot give scale 4"),
            ({"scale": 1, "num_upsample": 3}, "cannot give scale 1"),
        ],
    )
    def test_invalid_rrdbnet_spec(self, options, message):
        fields = {
            "in_channels": 3,
            "out_channels": 3,
            "scale": 4,
            "num_feat": 8,
            "num_block": 1,
            "num_grow_ch": 4,
            "num_upsample": 2,
        }
        with pytest.raises(ValueError, match=message):
            RRDBNetSpec(**{**fields, **options})

    def test_invalid_act_type(self):
        with pytest.raises(ValueError, match="act_type must be one of"):
            SRVGGSpec(in_channels=3, out_channels=3, scale=4, num_feat=8, num_conv=1, act_type="x")


class TestOnnxExport:
    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(lambda: _rrdbnet(1), id="rrdbnet_x1"),
            pytest.param(lambda: _rrdbnet(2), id="rrdbnet_x2"),
            pytest.param(lambda: _rrdbnet(4), id="rrdbnet_x4"),
            pytest.param(lambda: _rrdbnet(8), id="rrdbnet_x8"),
            pytest.param(lambda: _srvgg(4), id="srvgg_x4"),
            pytest.param(lambda: _srvgg(2), id="srvgg_x2"),
        ],
    )
    def test_checkpoint_to_onnx(self, make, tmp_path):
        from ganedit.export import checkpoint_to_onnx

        net = make()
        path = tmp_path / "model.pth"
        torch.save({"params_ema": net.state_dict()}, path)
        result = checkpoint_to_onnx(path, tmp_path / "model.onnx")
        card = result.card
        assert result.max_abs_diff is not None and result.max_abs_diff < 1e-4
        assert (card.task, card.arch, card.scale) == ("upscale", net.spec.arch, net.spec.scale)
        assert (card.input_range, card.output_range) == ((0.0, 1.0), (0.0, 1.0))
        assert card.size_multiple == net.spec.size_multiple
        assert card.to_dict()["family"] == net.spec.card_extra()["family"]

    @pytest.mark.parametrize("scale", [1, 2])
    def test_unshuffle_follows_dynamic_height_and_width(self, scale, tmp_path):
        import onnxruntime as ort

        from ganedit.export import export_onnx, generator_card

        net = _rrdbnet(scale)
        card = generator_card(net.spec, name="tiny")
        path = export_onnx(net, card, tmp_path / "m.onnx").path
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for shape in ((1, 3, 8, 16), (2, 3, 20, 12)):
            x = torch.rand(shape)
            with torch.no_grad():
                expected = net(x).numpy()
            (got,) = session.run(None, {"image": x.numpy()})
            assert got.shape == expected.shape
            assert np.abs(got - expected).max() < 1e-4


class TestBlendStateDicts:
    def _pair(self):
        a, b = _srvgg(4).state_dict(), _randomise(SRVGGNetCompact(num_feat=8, num_conv=2), 1)
        return a, b.state_dict()

    @pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
    def test_weighted_sum(self, weight):
        a, b = self._pair()
        blended = blend_state_dicts(a, b, weight)
        assert blended.keys() == a.keys()
        for key in a:
            torch.testing.assert_close(blended[key], weight * a[key] + (1 - weight) * b[key])

    def test_inputs_unchanged_and_dtype_kept(self):
        a, b = self._pair()
        a = {k: v.half() for k, v in a.items()}
        b = {k: v.half() for k, v in b.items()}
        before = {k: v.clone() for k, v in a.items()}
        blended = blend_state_dicts(a, b, 0.5)
        assert all(v.dtype == torch.float16 for v in blended.values())
        assert all(torch.equal(a[k], before[k]) for k in a)

    def test_integer_tensors_taken_when_equal(self):
        a = {"w": torch.ones(2), "n": torch.tensor(3)}
        b = {"w": torch.zeros(2), "n": torch.tensor(3)}
        assert blend_state_dicts(a, b, 0.5)["n"].item() == 3

    def test_different_keys_raise(self):
        a, b = self._pair()
        del b["body.2.bias"]
        with pytest.raises(CheckpointError, match=r"keys only in the first \(body.2.bias\)"):
            blend_state_dicts(a, b, 0.5)

    def test_different_shapes_raise(self):
        a = _srvgg(4).state_dict()
        b = _srvgg(2).state_dict()
        with pytest.raises(CheckpointError, match="other shapes"):
            blend_state_dicts(a, b, 0.5)

    def test_unequal_integer_tensors_raise(self):
        with pytest.raises(CheckpointError, match="unequal non-float"):
            blend_state_dicts({"n": torch.tensor(1)}, {"n": torch.tensor(2)}, 0.5)

    @pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), "0.5"])
    def test_bad_weight_raises(self, weight):
        a, b = self._pair()
        with pytest.raises(ValueError, match="weight must be"):
            blend_state_dicts(a, b, weight)
