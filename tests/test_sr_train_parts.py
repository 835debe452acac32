"""Real-ESRGAN training parts: blur kernels, degradations, USM, perceptual loss, U-Net D, EMA."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import parametrize  # noqa: E402

from ganedit.errors import GaneditError  # noqa: E402
from ganedit.train import degradation_ops as bk  # noqa: E402
from ganedit.train import sr_losses  # noqa: E402
from ganedit.train.degradations import (  # noqa: E402
    DegradationConfig,
    add_gaussian_noise,
    add_poisson_noise,
    bicubic_degrade,
    degrade,
    jpeg_compress,
    usm_sharp,
)
from ganedit.train.ema import ModelEMA  # noqa: E402
from ganedit.train.sr_discriminator import UNetDiscriminatorSN  # noqa: E402
from ganedit.train.sr_losses import PerceptualLoss, VGGWeightsNotFoundError, tiny_vgg19  # noqa: E402


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _images(b: int = 2, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """Smooth gradients plus texture, in [0, 1]."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([xx, yy, (xx + yy) / 2]).expand(b, 3, h, w)
    return (0.8 * base + 0.2 * torch.rand(b, 3, h, w, generator=_gen(seed))).clamp(0, 1)


# -------------------------------------------------------------------------------------- kernels
KERNELS = {
    "iso": lambda k: bk.gaussian_kernel(k, 1.5, 1.5),
    "aniso": lambda k: bk.gaussian_kernel(k, 2.5, 0.7, 0.6),
    "generalized_iso": lambda k: bk.generalized_gaussian_kernel(k, 1.5, 1.5, 0.0, 2.5),
    "generalized_aniso": lambda k: bk.generalized_gaussian_kernel(k, 2.0, 0.8, -1.0, 0.7),
    "plateau_iso": lambda k: bk.plateau_kernel(k, 1.5, 1.5, 0.0, 1.5),
    "plateau_aniso": lambda k: bk.plateau_kernel(k, 2.0, 0.8, 2.0, 1.2),
    "sinc": lambda k: bk.sinc_kernel(k, math.pi / 3),
}


@pytest.mark.parametrize("size", [7, 13, 21])
@pytest.mark.parametrize("family", sorted(KERNELS))
def test_kernel_sums_to_one_with_point_symmetry(family, size):
    kernel = KERNELS[family](size)
    assert kernel.shape == (size, size)
    torch.testing.assert_close(kernel.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(kernel, kernel.flip(0, 1))  # every family is centred


@pytest.mark.parametrize("family", ["iso", "generalized_iso", "plateau_iso", "sinc"])
def test_isotropic_kernels_are_transpose_symmetric_and_peak_in_the_middle(family):
    kernel = KERNELS[family](13)
    torch.testing.assert_close(kernel, kernel.T)
    torch.testing.assert_close(kernel, kernel.flip(0))
    assert kernel.argmax() == 13 * 6 + 6


def test_sinc_kernel_pads_to_the_requested_size():
    kernel = bk.sinc_kernel(7, math.pi / 2, pad_to=21)
    assert kernel.shape == (21, 21)
    assert kernel[:7].abs().sum() == 0


@pytest.mark.parametrize("family", bk.KERNEL_TYPES)
def test_random_blur_kernel_of_each_family_is_normalised_21x21(family):
    kernel = bk.random_blur_kernel(
        _gen(3),
        sizes=(7, 11, 21),
        kernel_list=(family,),
        kernel_prob=(1.0,),
        sinc_prob=0.0,
        sigma_range=(0.2, 3.0),
        betag_range=(0.5, 4.0),
        betap_range=(1.0, 2.0),
    )
    assert kernel.shape == (21, 21)
    torch.testing.assert_close(kernel.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(kernel, kernel.flip(0, 1))


@pytest.mark.parametrize(("prob", "is_pulse"), [(0.0, True), (1.0, False)])
def test_final_kernel_is_sinc_or_pulse(prob, is_pulse):
    kernel = bk.random_final_kernel(_gen(), prob=prob, sizes=(7, 9))
    assert kernel.shape == (21, 21)
    assert bool(kernel[10, 10] == 1.0) is is_pulse
    torch.testing.assert_close(kernel.sum(), torch.tensor(1.0, dtype=torch.float64))


def test_filter2d_applies_each_sample_its_own_kernel():
    img = _images(b=2, h=32, w=32)
    kernels = torch.stack([bk.gaussian_kernel(5, 1.0, 1.0), bk.gaussian_kernel(5, 2.0, 0.5, 1.0)])
    out = bk.filter2d(img, kernels)
    for i in range(2):
        padded = F.pad(img[i : i + 1], (2, 2, 2, 2), mode="reflect")
        weight = kernels[i].float().expand(3, 1, 5, 5)
        torch.testing.assert_close(out[i : i + 1], F.conv2d(padded, weight, groups=3))


@pytest.mark.parametrize("size", [1, 3, 8])
def test_filter2d_with_a_pulse_is_identity_even_on_tiny_images(size):
    img = torch.rand(2, 3, size, size + 1, generator=_gen())
    pulse = bk.random_final_kernel(_gen(), prob=0.0, sizes=(7,))
    torch.testing.assert_close(bk.filter2d(img, pulse), img)


# ----------------------------------------------------------------------------------- degrade
@pytest.mark.parametrize(("b", "h", "w", "scale"), [(2, 64, 64, 4), (1, 32, 48, 4), (3, 32, 64, 2)])
def test_degrade_shape_range_and_8bit_levels(b, h, w, scale):
    lr = degrade(_images(b, h, w), scale=scale, config=DegradationConfig(), generator=_gen())
    assert lr.shape == (b, 3, h // scale, w // scale)
    assert lr.min() >= 0 and lr.max() <= 1
    torch.testing.assert_close(lr * 255, (lr * 255).round(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_degrade_is_a_function_of_the_generator_seed(seed):
    hr, config = _images(), DegradationConfig()
    first = degrade(hr, scale=4, config=config, generator=_gen(seed))
    again = degrade(hr, scale=4, config=config, generator=_gen(seed))
    other = degrade(hr, scale=4, config=config, generator=_gen(seed + 100))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_degrade_leaves_the_global_rngs_alone():
    torch_state, py_state, np_state = (
        torch.get_rng_state(),
        random.getstate(),
        np.random.get_state(),
    )
    generator = _gen()
    before = generator.get_state()
    degrade(_images(), scale=4, config=DegradationConfig(), generator=generator)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert not torch.equal(generator.get_state(), before)


@pytest.mark.parametrize("shape", [(2, 3, 30, 32), (2, 1, 32, 32), (3, 32, 32)])
def test_degrade_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match=r"divisible|expected"):
        degrade(torch.rand(shape), scale=4, config=DegradationConfig(), generator=_gen())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kernel_prob": (0.5, 0.5)}, r"match kernel_prob \(0\.5, 0\.5\) in length"),
        ({"resize_prob": (0.5, 0.6, 0.0)}, "resize_prob must be non-negative and sum to 1"),
        ({"noise_range": (30.0, 1.0)}, r"noise_range must be .* with low <= high"),
        ({"kernel_sizes": (8,)}, r"kernel sizes must be odd, 3\.\.21, got 8"),
        ({"kernel_list": ("box",), "kernel_prob": (1.0,)}, r"kernel_list \('box',\) must name"),
    ],
)
def test_config_rejects_inconsistent_values(overrides, message):
    with pytest.raises(ValueError, match=message):
        DegradationConfig(**overrides)


# ------------------------------------------------------------------------------ noise, JPEG
@pytest.mark.parametrize("add_noise", ["gaussian", "poisson"])
def test_gray_noise_is_the_same_in_every_channel(add_noise):
    img = torch.full((2, 1, 32, 32), 0.5).expand(2, 3, 32, 32)
    if add_noise == "gaussian":
        out = add_gaussian_noise(img, sigma_range=(20, 20), gray_prob=1.0, generator=_gen())
    else:
        out = add_poisson_noise(img, scale_range=(2, 2), gray_prob=1.0, generator=_gen())
    assert not torch.equal(out, img)
    torch.testing.assert_close(out[:, 0], out[:, 1])
    torch.testing.assert_close(out[:, 0], out[:, 2])


def test_gaussian_noise_has_the_requested_sigma():
    img = torch.full((1, 3, 64, 64), 0.5)
    out = add_gaussian_noise(img, sigma_range=(10, 10), gray_prob=0.0, generator=_gen())
    assert abs((out - img).std().item() * 255 - 10) < 0.5


def test_jpeg_changes_the_image_more_at_lower_quality():
    img = _images(b=1)
    errors = [(jpeg_compress(img, quality=[q]) - img).abs().mean().item() for q in (95, 60, 30)]
    assert 0 < errors[0] < errors[1] < errors[2]


def test_jpeg_is_deterministic_and_8bit():
    img = _images(b=2)
    out = jpeg_compress(img, quality=torch.tensor([40.0, 80.0]))
    assert torch.equal(out, jpeg_compress(img, quality=[40, 80]))
    assert out.shape == img.shape and out.dtype == img.dtype
    torch.testing.assert_close(out * 255, (out * 255).round(), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="one quality per sample"):
        jpeg_compress(img, quality=[50])


# --------------------------------------------------------------------------- bicubic, USM
@pytest.mark.parametrize(("h", "w", "scale"), [(64, 64, 4), (32, 48, 2), (36, 36, 3)])
def test_bicubic_degrade_is_antialiased_bicubic_rounded(h, w, scale):
    hr = _images(2, h, w)
    expected = F.interpolate(hr, size=(h // scale, w // scale), mode="bicubic", antialias=True)
    out = bicubic_degrade(hr, scale=scale)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected.clamp(0, 1), atol=0.5 / 255 + 1e-6, rtol=0)


def test_usm_sharp_raises_edge_contrast():
    img = torch.full((1, 3, 64, 64), 0.3)
    img[..., 32:] = 0.7
    out = usm_sharp(img)
    assert (out[..., 31] < 0.3).all() and (out[..., 32] > 0.7).all()
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("value", [0.0, 0.42, 1.0])
def test_usm_sharp_keeps_flat_images(value):
    img = torch.full((2, 3, 40, 40), value)
    torch.testing.assert_close(usm_sharp(img), img)


# ------------------------------------------------------------------------- perceptual loss
@pytest.fixture
def perceptual() -> PerceptualLoss:
    return PerceptualLoss(vgg=tiny_vgg19(width=4))


def test_perceptual_loss_is_zero_for_identical_inputs(perceptual):
    x = _images(2, 32, 32)
    assert perceptual(x, x.clone()).item() == 0.0


@pytest.mark.parametrize("criterion", ["l1", "l2", "fro"])
def test_perceptual_loss_is_positive_and_reaches_the_input(criterion):
    loss_fn = PerceptualLoss(vgg=tiny_vgg19(width=4), criterion=criterion)
    x = _images(2, 32, 32, seed=1).requires_grad_(True)
    loss = loss_fn(x, _images(2, 32, 32, seed=2))
    loss.backward()
    assert loss.item() > 0 and x.grad is not None and x.grad.abs().sum() > 0


def test_perceptual_vgg_is_frozen_in_eval_mode(perceptual):
    perceptual.train()
    assert not perceptual.vgg.training
    assert all(not p.requires_grad for p in perceptual.parameters())
    assert len(perceptual.vgg) == sr_losses.VGG19_LAYER_NAMES.index("conv5_4") + 1


def test_vgg19_features_match_torchvision_layout():
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):  # shapes only, no memory
        reference = torchvision.models.vgg19().features
        actual = sr_losses.vgg19_features().state_dict()
    expected = reference.state_dict()
    assert [(k, v.shape) for k, v in actual.items()] == [(k, v.shape) for k, v in expected.items()]
    assert len(sr_losses.VGG19_LAYER_NAMES) == len(reference)


def test_perceptual_rejects_unknown_layers():
    with pytest.raises(ValueError, match="conv9_9"):
        PerceptualLoss({"conv9_9": 1.0}, vgg=tiny_vgg19())


def test_missing_vgg_weights_raise_a_teaching_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(VGGWeightsNotFoundError, match=r"vgg19-dcbb9e9d\.pth") as info:
        PerceptualLoss()
    message = str(info.value)
    assert isinstance(info.value, GaneditError) and isinstance(info.value, FileNotFoundError)
    assert "vgg19-dcbb9e9d.pth" in message and sr_losses.VGG19_URL in message
    assert str(tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "--vgg-weights FILE" in message


def test_vgg_weights_load_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    source, shell = tiny_vgg19(width=2, seed=5), tiny_vgg19(width=2, seed=9)
    monkeypatch.setattr(sr_losses, "vgg19_features", lambda: shell)  # VGG19's layout, small
    state = {f"features.{k}": v for k, v in source.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / "vgg19-dcbb9e9d.pth")
    loss = PerceptualLoss()
    torch.testing.assert_close(loss.vgg[0].weight, source[0].weight)


def test_foreign_vgg_weights_file_is_rejected(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(GaneditError, match="not torchvision's VGG19"):
        PerceptualLoss(weights_path=path)


# --------------------------------------------------------------------------- discriminator
@pytest.mark.parametrize(("h", "w"), [(32, 32), (64, 48)])
@pytest.mark.parametrize("skip", [True, False])
def test_unet_discriminator_gives_a_logit_per_pixel(h, w, skip):
    net = UNetDiscriminatorSN(num_feat=4, skip_connection=skip)
    assert net(torch.rand(2, 3, h, w)).shape == (2, 1, h, w)


def test_unet_discriminator_has_basicsr_names_and_spectral_norm():
    net = UNetDiscriminatorSN(num_feat=4)
    assert [name for name, _ in net.named_children()] == [f"conv{i}" for i in range(10)]
    normed = [
        f"conv{i}" for i in range(10) if parametrize.is_parametrized(getattr(net, f"conv{i}"))
    ]
    assert normed == [f"conv{i}" for i in range(1, 9)]
    assert {"conv0.weight", "conv0.bias", "conv9.weight", "conv9.bias"} <= set(net.state_dict())


def test_unet_discriminator_loads_legacy_spectral_norm_checkpoints():
    legacy = UNetDiscriminatorSN(num_feat=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(1, 9):
            old = getattr(legacy, f"conv{i}")
            conv = nn.Conv2d(
                old.in_channels, old.out_channels, old.kernel_size, old.stride, 1, bias=False
            )
            setattr(legacy, f"conv{i}", nn.utils.spectral_norm(conv))
    legacy(torch.rand(1, 3, 16, 16))  # one power iteration, as a trained checkpoint has
    state = legacy.state_dict()
    assert "conv1.weight_orig" in state and "conv1.weight_u" in state
    net = UNetDiscriminatorSN(num_feat=4)
    net.load_state_dict(state, strict=True)
    x = torch.rand(2, 3, 16, 16)
    torch.testing.assert_close(net.eval()(x), legacy.eval()(x))


# --------------------------------------------------------------------------------------- EMA
def test_ema_is_a_moving_average_of_the_parameters():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = ModelEMA(model, decay=0.9)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.tensor([[0.1]]))
    ema.update(model)
    torch.testing.assert_close(ema.module.weight, torch.tensor([[0.19]]))


def test_ema_copies_buffers_and_stays_frozen():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).train()
    ema = ModelEMA(nn.DataParallel(model), decay=0.5)
    model(torch.rand(2, 3, 8, 8))
    ema.update(model)
    torch.testing.assert_close(ema.module[1].running_mean, model[1].running_mean)
    assert not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())


def test_ema_state_round_trip():
    ema = ModelEMA(nn.Linear(2, 2), decay=0.5)
    ema.update(nn.Linear(2, 2))
    other = ModelEMA(nn.Linear(2, 2))
    other.load_state_dict(ema.state_dict())
    for key, value in ema.state_dict().items():
        assert torch.equal(other.state_dict()[key], value)


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_ema_rejects_decay_outside_unit_interval(decay):
    with pytest.raises(ValueError, match="decay"):
        ModelEMA(nn.Linear(1, 1), decay=decay)


def test_ema_rejects_another_network():
    ema = ModelEMA(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="another network"):
        ema.update(nn.Sequential(nn.Linear(1, 1)))
