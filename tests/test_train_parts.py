"""Reference-faithful training parts: GAN losses, gradient penalty, image pool, schedules, init."""

from __future__ import annotations

import io
import math
import random

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from ganedit.archs import NLayerDiscriminator  # noqa: E402
from ganedit.train.init import init_weights  # noqa: E402
from ganedit.train.losses import GANLoss, gradient_penalty  # noqa: E402
from ganedit.train.pool import ImagePool  # noqa: E402
from ganedit.train.schedule import LinearDecay, linear_decay, make_scheduler  # noqa: E402

PATCH_SHAPES = [(1, 1, 6, 6), (2, 1, 30, 30), (4, 1, 14, 14)]


def _roundtrip(obj: object) -> object:
    """``obj`` through ``torch.save`` and the restricted ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _logits(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --------------------------------------------------------------------------------------- GANLoss
class TestGANLoss:
    @pytest.mark.parametrize("shape", PATCH_SHAPES)
    @pytest.mark.parametrize(("target_is_real", "label"), [(True, 1.0), (False, 0.0)])
    def test_lsgan_is_mean_squared_distance_to_label(self, shape, target_is_real, label):
        p = _logits(shape)
        expected = ((p - label) ** 2).mean()
        torch.testing.assert_close(GANLoss("lsgan")(p, target_is_real), expected)

    @pytest.mark.parametrize("shape", PATCH_SHAPES)
    def test_vanilla_real_is_minus_log_sigmoid(self, shape):
        p = _logits(shape)
        expected = -torch.log(torch.sigmoid(p)).mean()
        torch.testing.assert_close(GANLoss("vanilla")(p, True), expected)

    @pytest.mark.parametrize("shape", PATCH_SHAPES)
    def test_vanilla_fake_is_minus_log_one_minus_sigmoid(self, shape):
        p = _logits(shape)
        expected = -torch.log(1.0 - torch.sigmoid(p)).mean()
        torch.testing.assert_close(GANLoss("vanilla")(p, False), expected)

    @pytest.mark.parametrize("shape", PATCH_SHAPES)
    @pytest.mark.parametrize(("target_is_real", "sign"), [(True, -1.0), (False, 1.0)])
    def test_wgangp_is_signed_mean(self, shape, target_is_real, sign):
        p = _logits(shape)
        torch.testing.assert_close(GANLoss("wgangp")(p, target_is_real), sign * p.mean())

    @pytest.mark.parametrize(("mode", "reference"), [("lsgan", F.mse_loss), ("vanilla", None)])
    def test_custom_labels_are_the_targets(self, mode, reference):
        p = _logits((2, 1, 6, 6))
        loss = GANLoss(mode, real_label=0.9, fake_label=0.1)
        target = torch.full_like(p, 0.9)
        expected = (
            F.mse_loss(p, target)
            if reference is not None
            else -(0.9 * F.logsigmoid(p) + 0.1 * F.logsigmoid(-p)).mean()
        )
        torch.testing.assert_close(loss(p, True), expected)

    def test_patchgan_output_gives_scalar_with_gradient(self):
        net_d = NLayerDiscriminator(in_channels=3, ndf=4, norm="instance")
        pred = net_d(torch.randn(2, 3, 64, 64))
        loss = GANLoss("lsgan")(pred, True)
        loss.backward()
        assert loss.shape == ()
        assert net_d.model[0].weight.grad is not None

    def test_labels_move_with_module_and_stay_out_of_state_dict(self):
        loss = GANLoss("lsgan", real_label=0.9).to(torch.float64)
        assert loss.real_label.dtype == torch.float64
        assert {name for name, _ in loss.named_buffers()} == {"real_label", "fake_label"}
        assert loss.state_dict() == {}

    def test_follows_prediction_dtype(self):
        p = torch.zeros(2, 1, 4, 4, dtype=torch.bfloat16)
        assert GANLoss("lsgan")(p, True).dtype == torch.bfloat16

    def test_unknown_mode_raises(self):
        with pytest.raises(ValueError, match="hinge"):
            GANLoss("hinge")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ gradient penalty
class _LinearCritic(nn.Module):
    """``D(x) = <w, x>`` per sample, so ``∇ₓD = w`` everywhere."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.w = nn.Parameter(_logits(shape, seed=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


def _half_square_norm(x: torch.Tensor) -> torch.Tensor:
    """``D(x) = ‖x‖²/2`` per sample, so ``∇ₓD = x``."""
    return 0.5 * (x**2).flatten(1).sum(1)


class TestGradientPenalty:
    IMAGE = (3, 4, 4)

    def _batch(self, seed: int) -> torch.Tensor:
        return _logits((2, *self.IMAGE), seed=seed)

    @pytest.mark.parametrize("kind", ["mixed", "real", "fake"])
    @pytest.mark.parametrize(("constant", "weight"), [(1.0, 10.0), (0.5, 1.0)])
    def test_linear_critic_is_exact(self, kind, constant, weight):
        critic = _LinearCritic(self.IMAGE)
        gp = gradient_penalty(
            critic, self._batch(2), self._batch(3), kind=kind, constant=constant, weight=weight
        )
        expected = weight * (critic.w.detach().norm() - constant) ** 2
        torch.testing.assert_close(gp, expected)

    def test_zero_when_constant_matches_gradient_norm(self):
        critic = _LinearCritic(self.IMAGE)
        norm = critic.w.detach().norm().item()
        gp = gradient_penalty(critic, self._batch(2), self._batch(3), constant=norm)
        assert gp.item() == pytest.approx(0.0, abs=1e-12)

    def test_backpropagates_into_critic(self):
        critic = _LinearCritic(self.IMAGE)
        gradient_penalty(critic, self._batch(2), self._batch(3), weight=10.0).backward()
        w = critic.w.detach()
        expected = 10.0 * 2.0 * (w.norm() - 1.0) * w / w.norm()
        torch.testing.assert_close(critic.w.grad, expected)

    @pytest.mark.parametrize("kind", ["real", "fake"])
    def test_real_or_fake_kind_evaluates_there(self, kind):
        real, fake = self._batch(2), self._batch(3)
        points = real if kind == "real" else fake
        expected = ((points.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
        gp = gradient_penalty(_half_square_norm, real, fake, kind=kind, weight=1.0)
        torch.testing.assert_close(gp, expected)

    def test_mixed_interpolates_with_one_alpha_per_sample(self):
        real, fake = self._batch(2), self._batch(3)
        alpha = torch.rand(2, 1, 1, 1, generator=torch.Generator().manual_seed(7), dtype=real.dtype)
        points = alpha * real + (1 - alpha) * fake
        expected = ((points.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
        gp = gradient_penalty(
            _half_square_norm, real, fake, weight=1.0, generator=torch.Generator().manual_seed(7)
        )
        torch.testing.assert_close(gp, expected)

    def test_patchgan_critic_gets_parameter_gradients(self):
        net_d = NLayerDiscriminator(in_channels=3, ndf=4, norm="instance")
        real, fake = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
        gp = gradient_penalty(net_d, real, fake)
        gp.backward()
        assert torch.isfinite(gp)
        assert net_d.model[0].weight.grad.abs().sum() > 0

    def test_inputs_are_not_modified(self):
        real, fake = self._batch(2), self._batch(3)
        gradient_penalty(_LinearCritic(self.IMAGE), real, fake, kind="real")
        assert not real.requires_grad
        assert not fake.requires_grad

    def test_zero_weight_returns_zero(self):
        gp = gradient_penalty(_LinearCritic(self.IMAGE), self._batch(2), self._batch(3), weight=0)
        assert gp.item() == 0.0

    def test_shape_mismatch_raises(self):
        with pytest.raises(ValueError, match="same shape"):
            gradient_penalty(_half_square_norm, torch.zeros(2, 3, 4, 4), torch.zeros(1, 3, 4, 4))

    def test_unknown_kind_raises(self):
        with pytest.raises(ValueError, match="kind"):
            gradient_penalty(_half_square_norm, self._batch(2), self._batch(3), kind="both")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ image pool
def _tagged(start: int, count: int) -> torch.Tensor:
    """``count`` images ``(1, 2, 2)`` whose every pixel holds its tag ``start, start+1, …``."""
    return (
        torch.arange(start, start + count, dtype=torch.float32)
        .view(-1, 1, 1, 1)
        .expand(-1, 1, 2, 2)
        .clone()
    )


def _tags(images: torch.Tensor) -> list[int]:
    return [int(v) for v in images[:, 0, 0, 0]]


def _run(pool: ImagePool, queries: int, start: int = 1000, batch: int = 3) -> list[int]:
    out: list[int] = []
    for q in range(queries):
        out += _tags(pool.query(_tagged(start + q * batch, batch)))
    return out


class TestImagePool:
    def test_size_zero_returns_input(self):
        images = _tagged(0, 3)
        assert ImagePool(0, seed=0).query(images) is images

    def test_fill_phase_stores_and_returns_inputs_in_order(self):
        pool = ImagePool(5, seed=0)
        assert _tags(pool.query(_tagged(0, 3))) == [0, 1, 2]
        assert len(pool) == 3

    def test_full_pool_returns_only_new_or_stored_images(self):
        pool = ImagePool(4, seed=0)
        pool.query(_tagged(0, 4))
        stored = set(range(4))
        for q in range(20):
            new = _tags(_tagged(100 + 3 * q, 3))
            out = _tags(pool.query(_tagged(100 + 3 * q, 3)))
            # Images are processed in batch order, so an earlier image of this batch may
            # already be stored when a later one is handled.
            for tag_in, tag_out in zip(new, out, strict=True):
                if tag_out != tag_in:
                    assert tag_out in stored
                    stored = (stored - {tag_out}) | {tag_in}
        assert sorted(_tags(torch.stack(pool.state_dict()["images"]))) == sorted(stored)

    def test_history_is_returned_about_half_the_time(self):
        pool = ImagePool(10, seed=123)
        pool.query(_tagged(0, 10))
        queries = 2000
        from_history = sum(
            _tags(pool.query(_tagged(100 + q, 1)))[0] != 100 + q for q in range(queries)
        )
        assert abs(from_history / queries - 0.5) < 0.05

    def test_same_seed_same_outputs(self):
        assert _run(ImagePool(4, seed=7), 10) == _run(ImagePool(4, seed=7), 10)

    def test_different_seeds_differ(self):
        assert _run(ImagePool(4, seed=7), 10) != _run(ImagePool(4, seed=8), 10)

    def test_state_dict_roundtrip_continues_identically(self):
        pool = ImagePool(4, seed=3)
        _run(pool, 5)
        resumed = ImagePool(4, seed=999)
        resumed.load_state_dict(_roundtrip(pool.state_dict()))
        assert len(resumed) == len(pool)
        assert _run(resumed, 10, start=5000) == _run(pool, 10, start=5000)

    def test_load_rejects_other_size(self):
        with pytest.raises(ValueError, match="size 4"):
            ImagePool(8, seed=0).load_state_dict(ImagePool(4, seed=0).state_dict())

    def test_global_random_untouched(self):
        random.seed(42)
        before = random.getstate()
        _run(ImagePool(2, seed=0), 10)
        assert random.getstate() == before

    def test_output_detached_and_stored_copies_independent(self):
        pool = ImagePool(2, seed=0)
        images = _tagged(0, 2).requires_grad_(True)
        assert not pool.query(images).requires_grad
        with torch.no_grad():
            images.zero_()
        assert sorted(_tags(torch.stack(pool.state_dict()["images"]))) == [0, 1]

    def test_negative_size_raises(self):
        with pytest.raises(ValueError, match=">= 0"):
            ImagePool(-1, seed=0)


# ------------------------------------------------------------------------------------ schedules
def _optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=lr)


def _epoch_lrs(scheduler, optimizer, epochs: int) -> list[float]:
    """Learning rate each epoch trains at, stepping at the end of every epoch."""
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


class TestSchedules:
    def test_linear_decay_factors(self):
        factor = LinearDecay(epochs=3, epochs_decay=2)
        assert [factor(e) for e in range(5)] == pytest.approx([1, 1, 1, 2 / 3, 1 / 3])

    def test_linear_decay_trains_each_epoch_at_factor(self):
        optimizer = _optimizer(lr=2e-4)
        scheduler = linear_decay(optimizer, epochs=3, epochs_decay=2)
        lrs = _epoch_lrs(scheduler, optimizer, 5)
        assert lrs == pytest.approx([2e-4 * f for f in (1, 1, 1, 2 / 3, 1 / 3)])

    def test_linear_decay_resume_continues_schedule(self):
        optimizer = _optimizer()
        scheduler = linear_decay(optimizer, epochs=3, epochs_decay=4)
        full = _epoch_lrs(scheduler, optimizer, 7)

        optimizer = _optimizer()
        scheduler = linear_decay(optimizer, epochs=3, epochs_decay=4)
        first = _epoch_lrs(scheduler, optimizer, 4)
        saved = _roundtrip({"opt": optimizer.state_dict(), "sched": scheduler.state_dict()})
        optimizer = _optimizer()
        scheduler = linear_decay(optimizer, epochs=3, epochs_decay=4)
        optimizer.load_state_dict(saved["opt"])
        scheduler.load_state_dict(saved["sched"])
        assert first + _epoch_lrs(scheduler, optimizer, 3) == pytest.approx(full)

    @pytest.mark.parametrize(
        ("policy", "expected_type"),
        [
            ("linear", torch.optim.lr_scheduler.LambdaLR),
            ("step", torch.optim.lr_scheduler.StepLR),
            ("plateau", torch.optim.lr_scheduler.ReduceLROnPlateau),
            ("cosine", torch.optim.lr_scheduler.CosineAnnealingLR),
        ],
    )
    def test_policy_builds_reference_scheduler(self, policy, expected_type):
        scheduler = make_scheduler(_optimizer(), policy=policy, epochs=10, epochs_decay=10)
        assert type(scheduler) is expected_type

    def test_step_policy_divides_by_ten_every_lr_decay_iters(self):
        optimizer = _optimizer()
        scheduler = make_scheduler(
            optimizer, policy="step", epochs=10, epochs_decay=10, lr_decay_iters=2
        )
        assert _epoch_lrs(scheduler, optimizer, 5) == pytest.approx([1, 1, 0.1, 0.1, 0.01])

    def test_plateau_policy_uses_reference_settings(self):
        scheduler = make_scheduler(_optimizer(), policy="plateau", epochs=10, epochs_decay=10)
        assert (scheduler.factor, scheduler.patience, scheduler.threshold) == (0.2, 5, 0.01)
        assert scheduler.mode == "min"

    def test_cosine_policy_reaches_zero_after_epochs(self):
        optimizer = _optimizer()
        scheduler = make_scheduler(optimizer, policy="cosine", epochs=4, epochs_decay=10)
        lrs = _epoch_lrs(scheduler, optimizer, 5)
        assert lrs == pytest.approx([0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(5)])

    def test_unknown_policy_raises(self):
        with pytest.raises(ValueError, match="policy"):
            make_scheduler(_optimizer(), policy="exp", epochs=1, epochs_decay=1)  # type: ignore[arg-type]

    def test_negative_epochs_raise(self):
        with pytest.raises(ValueError, match=">= 0"):
            linear_decay(_optimizer(), epochs=-1, epochs_decay=1)


# ---------------------------------------------------------------------------------------- init
def _seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TestInitWeights:
    @pytest.mark.parametrize(
        ("init_type", "gain", "expected_std"),
        [
            ("normal", 0.02, 0.02),
            ("normal", 0.1, 0.1),
            # fan_in = fan_out = 64·3·3
            ("xavier", 0.5, 0.5 * math.sqrt(2 / (2 * 576))),
            ("kaiming", 0.02, math.sqrt(2 / 576)),  # gain ignored, as in the reference
        ],
    )
    def test_conv_weight_std(self, init_type, gain, expected_std):
        conv = nn.Conv2d(64, 64, 3)
        init_weights(conv, init_type=init_type, gain=gain, generator=_seeded())
        assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.03)
        assert conv.weight.mean().item() == pytest.approx(0.0, abs=expected_std * 0.03)

    def test_orthogonal_rows_are_orthonormal_times_gain(self):
        linear = nn.Linear(16, 8)
        init_weights(linear, init_type="orthogonal", gain=0.5, generator=_seeded())
        w = linear.weight.detach()
        torch.testing.assert_close(w @ w.T, 0.25 * torch.eye(8), atol=1e-5, rtol=0)

    @pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
    def test_biases_are_zero(self, init_type):
        net = NLayerDiscriminator(in_channels=3, ndf=4, norm="batch")
        init_weights(net, init_type=init_type, generator=_seeded())
        for name, param in net.named_parameters():
            if name.endswith("bias"):
                assert torch.count_nonzero(param) == 0, name

    def test_batch_norm_weight_around_one(self):
        bn = nn.BatchNorm2d(4096)
        init_weights(bn, gain=0.02, generator=_seeded())
        assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.002)
        assert bn.weight.std().item() == pytest.approx(0.02, rel=0.05)
        assert torch.count_nonzero(bn.bias) == 0

    def test_transposed_conv_is_initialised(self):
        deconv = nn.ConvTranspose2d(64, 64, 3)
        init_weights(deconv, gain=0.02, generator=_seeded())
        assert deconv.weight.std().item() == pytest.approx(0.02, rel=0.03)

    def test_same_generator_seed_same_weights(self):
        nets = [NLayerDiscriminator(in_channels=3, ndf=4) for _ in range(2)]
        for net in nets:
            init_weights(net, generator=_seeded(5))
        for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    def test_generator_leaves_global_rng_untouched(self):
        net = NLayerDiscriminator(in_channels=3, ndf=4)
        before = torch.random.get_rng_state()
        init_weights(net, generator=_seeded())
        assert torch.equal(torch.random.get_rng_state(), before)

    def test_unknown_init_type_raises(self):
        with pytest.raises(ValueError, match="init_type"):
            init_weights(nn.Linear(2, 2), init_type="uniform")  # type: ignore[arg-type]
