"""The CycleGAN and pix2pix recipes step for step against hand-written reference steps.

Each reference step below is the sequence of junyanz/pytorch-CycleGAN-and-pix2pix's
``optimize_parameters``, written out on fresh copies of the recipe's initial networks; the
recipe's weights after its own steps must equal the hand-computed ones.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from ganedit.archs import ResnetGenerator, UnetGenerator  # noqa: E402
from ganedit.train.config import (  # noqa: E402
    CycleGANLoss,
    NetworkOptions,
    OptimOptions,
    Pix2PixLoss,
)
from ganedit.train.cyclegan import CycleGAN  # noqa: E402
from ganedit.train.losses import gradient_penalty  # noqa: E402
from ganedit.train.pix2pix import Pix2Pix  # noqa: E402
from ganedit.train.pool import ImagePool  # noqa: E402
from ganedit.train.recipe import Precision  # noqa: E402

CPU = torch.device("cpu")
CYCLEGAN_NET = NetworkOptions(ngf=4, ndf=4, net_g="resnet_1blocks", norm="instance")
PIX2PIX_NET = NetworkOptions(ngf=4, ndf=4, net_g="unet_32", norm="batch", dropout=False)
ATOL = 1e-6
R = TypeVar("R", CycleGAN, Pix2Pix)


def _double(recipe: R) -> R:
    """The recipe in float64, for comparisons with hand-written steps.

    Biases before instance norm get gradients that are rounding noise; Adam's first step turns
    noise of the size of its ``eps`` into visible updates in float32, but not in float64.
    """
    for net in recipe.nets.values():
        net.double()  # in place: the optimisers keep the same parameters
    return recipe


def _cyclegan(loss: CycleGANLoss | None = None, seed: int = 0) -> CycleGAN:
    return CycleGAN(
        net=CYCLEGAN_NET,
        optim=OptimOptions(),
        loss=loss or CycleGANLoss(),
        device=CPU,
        precision=Precision(device=CPU),
        seed=seed,
    )


def _pix2pix(loss: Pix2PixLoss | None = None, net: NetworkOptions = PIX2PIX_NET) -> Pix2Pix:
    return Pix2Pix(
        net=net,
        optim=OptimOptions(),
        loss=loss or Pix2PixLoss(),
        device=CPU,
        precision=Precision(device=CPU),
        seed=0,
    )


def _batches(
    count: int, batch_size: int = 1, seed: int = 0, dtype: torch.dtype = torch.float32
) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    shape = (batch_size, 3, 32, 32)
    return [
        {
            "A": (torch.rand(shape, generator=g, dtype=dtype) * 2 - 1),
            "B": (torch.rand(shape, generator=g, dtype=dtype) * 2 - 1),
        }
        for _ in range(count)
    ]


def _adam(*nets: nn.Module) -> torch.optim.Adam:
    """The reference's optimiser: Adam, lr 2e-4, betas (0.5, 0.999)."""
    return torch.optim.Adam([p for net in nets for p in net.parameters()], 2e-4, (0.5, 0.999))


def _freeze(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def _assert_same_weights(recipe_nets: dict[str, nn.Module], reference: dict[str, nn.Module]):
    for name, net in reference.items():
        ours = recipe_nets[name].state_dict()
        for key, value in net.state_dict().items():
            torch.testing.assert_close(ours[key], value, atol=ATOL, rtol=0, msg=f"{name}.{key}")


def _assert_weights_moved(before: dict[str, nn.Module], after: dict[str, nn.Module]) -> None:
    for name, net in before.items():
        moved = [
            not torch.equal(p, q)
            for p, q in zip(net.parameters(), after[name].parameters(), strict=True)
        ]
        assert all(moved), f"{name}: {moved.count(False)} parameter tensors did not change"


def _lsgan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    return F.mse_loss(prediction, torch.full_like(prediction, 1.0 if real else 0.0))


def _bce(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.full_like(prediction, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(prediction, target)


# -------------------------------------------------------------------------------------- CycleGAN
class TestCycleGAN:
    def test_optimizers_hold_exactly_the_generators_and_the_discriminators(self) -> None:
        recipe = _cyclegan()

        def ids(*names: str) -> set[int]:
            return {id(p) for n in names for p in recipe.nets[n].parameters()}

        held = {
            name: [id(p) for group in opt.param_groups for p in group["params"]]
            for name, opt in recipe.optimizers.items()
        }
        assert sorted(held) == ["D", "G"]
        assert len(held["G"]) == len(set(held["G"])) and set(held["G"]) == ids("G_A", "G_B")
        assert len(held["D"]) == len(set(held["D"])) and set(held["D"]) == ids("D_A", "D_B")

    def test_one_step_changes_every_parameter_of_all_four_networks(self) -> None:
        recipe = _cyclegan()
        before = copy.deepcopy(recipe.nets)
        recipe.step(_batches(1)[0])
        _assert_weights_moved(before, recipe.nets)

    def test_generator_update_sends_no_gradient_into_the_discriminators(self) -> None:
        recipe = _cyclegan()
        d_params = [p for n in ("D_A", "D_B") for p in recipe.nets[n].parameters()]
        g_step = recipe.optimizers["G"].step
        seen: list[tuple[list[torch.Tensor | None], list[bool]]] = []

        def spy(*args, **kwargs):
            grads = [None if p.grad is None else p.grad.clone() for p in d_params]
            seen.append((grads, [p.requires_grad for p in d_params]))
            return g_step(*args, **kwargs)

        recipe.optimizers["G"].step = spy  # type: ignore[method-assign]
        for batch in _batches(2):
            left_over = [None if p.grad is None else p.grad.clone() for p in d_params]
            recipe.step(batch)
            grads, flags = seen[-1]
            assert not any(flags), "discriminators must be frozen during the generator update"
            # The first step: no gradient at all; later: the previous D update's, untouched.
            for grad, old in zip(grads, left_over, strict=True):
                assert (grad is None and old is None) or torch.equal(grad, old)
        assert all(p.requires_grad for p in d_params), "discriminators must be unfrozen after"

    @pytest.mark.parametrize("identity", [0.5, 0.0], ids=["identity", "no-identity"])
    def test_steps_equal_the_reference_sequence(self, identity: float) -> None:
        recipe = _double(_cyclegan(CycleGANLoss(lambda_identity=identity)))
        ref = copy.deepcopy(recipe.nets)
        g_a, g_b, d_a, d_b = ref["G_A"], ref["G_B"], ref["D_A"], ref["D_B"]
        opt_g, opt_d = _adam(g_a, g_b), _adam(d_a, d_b)
        pool_a, pool_b = ImagePool(50, seed=0), ImagePool(50, seed=1)
        for batch in _batches(3, dtype=torch.float64):
            losses = recipe.step(batch)
            real_a, real_b = batch["A"], batch["B"]
            fake_b, fake_a = g_a(real_a), g_b(real_b)
            rec_a, rec_b = g_b(fake_b), g_a(fake_a)
            _freeze([d_a, d_b], False)
            opt_g.zero_grad()
            expected = {
                "G_A": _lsgan(d_a(fake_b), True),
                "G_B": _lsgan(d_b(fake_a), True),
                "cycle_A": F.l1_loss(rec_a, real_a) * 10,
                "cycle_B": F.l1_loss(rec_b, real_b) * 10,
            }
            if identity:
                expected["idt_A"] = F.l1_loss(g_a(real_b), real_b) * 10 * identity
                expected["idt_B"] = F.l1_loss(g_b(real_a), real_a) * 10 * identity
            sum(expected.values()).backward()
            opt_g.step()
            _freeze([d_a, d_b], True)
            opt_d.zero_grad()
            pooled_b = pool_b.query(fake_b.detach())
            expected["D_A"] = (_lsgan(d_a(real_b), True) + _lsgan(d_a(pooled_b), False)) * 0.5
            expected["D_A"].backward()
            pooled_a = pool_a.query(fake_a.detach())
            expected["D_B"] = (_lsgan(d_b(real_a), True) + _lsgan(d_b(pooled_a), False)) * 0.5
            expected["D_B"].backward()
            opt_d.step()
            # Adam hardly sees a constant factor on a whole loss; the reported losses do.
            assert losses == pytest.approx({k: v.item() for k, v in expected.items()}, abs=1e-9)
        _assert_same_weights(recipe.nets, ref)

    def test_losses_are_reported_by_name(self) -> None:
        losses = _cyclegan().step(_batches(1)[0])
        assert set(losses) == {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"}
        assert all(isinstance(v, float) and v >= 0 for v in losses.values())

    def test_discriminator_sees_stored_images_once_the_pool_is_full(self) -> None:
        recipe = _cyclegan(CycleGANLoss(pool_size=2))
        shown: list[torch.Tensor] = []
        recipe.nets["D_A"].register_forward_pre_hook(lambda _m, args: shown.append(args[0]))
        expected_pool = ImagePool(2, seed=1)  # the recipe's fake_B pool seed for seed 0, rank 0
        fakes, from_history = [], 0
        for batch in _batches(8):
            shown.clear()
            recipe.step(batch)
            fake_b = recipe.visuals["fake_B"]
            # D_A runs on fake_B (generator loss), on real_B, then on the pooled fake.
            assert len(shown) == 3 and torch.equal(shown[1], batch["B"])
            pooled = shown[2]
            assert torch.equal(pooled, expected_pool.query(fake_b))
            if not torch.equal(pooled, fake_b):
                assert any(torch.equal(pooled, old) for old in fakes)
                from_history += 1
            fakes.append(fake_b)
        assert from_history >= 1, "a full pool of 2 never returned a stored image in 6 draws"

    def test_pool_state_round_trips_through_a_weights_only_load(self) -> None:
        recipe = _cyclegan(CycleGANLoss(pool_size=2))
        batches = _batches(5)
        for batch in batches[:3]:
            recipe.step(batch)
        buffer = io.BytesIO()
        torch.save(recipe.extra_state(), buffer)
        buffer.seek(0)
        restored = _cyclegan(CycleGANLoss(pool_size=2), seed=7)
        restored.load_extra_state(torch.load(buffer, weights_only=True))
        probes = _batches(4, seed=9)
        for name in ("fake_A", "fake_B"):
            for probe in probes:
                expected = recipe.pools[name].query(probe["A"])
                assert torch.equal(restored.pools[name].query(probe["A"]), expected)

    def test_wgangp_adds_the_gradient_penalty_to_the_discriminator_loss(self) -> None:
        recipe = _cyclegan(CycleGANLoss(gan_mode="wgangp"))
        ref = copy.deepcopy(recipe.nets)  # D is untouched until the D update: same weights
        batch = _batches(1)[0]
        torch.manual_seed(5)
        losses = recipe.step(batch)
        with torch.no_grad():
            fake_b, fake_a = ref["G_A"](batch["A"]), ref["G_B"](batch["B"])
        torch.manual_seed(5)  # the penalties' interpolation weights: D_A's first, then D_B's
        for name, real, fake in (("D_A", batch["B"], fake_b), ("D_B", batch["A"], fake_a)):
            disc = ref[name]
            plain = (-disc(real).mean() + disc(fake).mean()) * 0.5
            penalty = gradient_penalty(disc, real, fake, weight=10.0)
            assert float(penalty.detach()) > 1e-3, "the penalty must be large enough to be seen"
            assert losses[name] == pytest.approx(float((plain + penalty).detach()), abs=1e-5)
            difference = abs(losses[name] - float(plain.detach()))
            assert difference == pytest.approx(float(penalty.detach()), abs=1e-5)


# --------------------------------------------------------------------------------------- pix2pix
def _pix2pix_reference_steps(
    recipe: Pix2Pix, batches: list[dict[str, torch.Tensor]], gan: str = "vanilla"
) -> dict[str, nn.Module]:
    """Run ``recipe`` and the reference sequence side by side; return the reference networks."""
    ref = copy.deepcopy(recipe.nets)
    g, d = ref["G"], ref["D"]
    opt_g, opt_d = _adam(g), _adam(d)
    for i, batch in enumerate(batches):
        torch.manual_seed(100 + i)  # dropout masks (when on): the same for both
        losses = recipe.step(batch)
        torch.manual_seed(100 + i)
        real_a, real_b = batch["A"], batch["B"]
        fake_b = g(real_a)
        _freeze([d], True)
        opt_d.zero_grad()
        fake_ab = torch.cat((real_a, fake_b), 1).detach()
        real_ab = torch.cat((real_a, real_b), 1)
        if gan == "vanilla":
            loss_d = (_bce(d(fake_ab), False) + _bce(d(real_ab), True)) * 0.5
        else:  # wgangp
            loss_d = (d(fake_ab).mean() - d(real_ab).mean()) * 0.5
            loss_d = loss_d + gradient_penalty(d, real_ab, fake_ab, weight=10.0)
        loss_d.backward()
        opt_d.step()
        _freeze([d], False)
        opt_g.zero_grad()
        pred = d(torch.cat((real_a, fake_b), 1))
        loss_gan = _bce(pred, True) if gan == "vanilla" else -pred.mean()
        loss_l1 = F.l1_loss(fake_b, real_b) * 100
        (loss_gan + loss_l1).backward()
        opt_g.step()
        # Adam hardly sees a constant factor on a whole loss; the reported losses do.
        expected = {"D": loss_d.item(), "G_GAN": loss_gan.item(), "G_L1": loss_l1.item()}
        assert losses == pytest.approx(expected, abs=1e-9)
    return ref


class TestPix2Pix:
    def test_optimizers_hold_exactly_g_and_d(self) -> None:
        recipe = _pix2pix()
        for name in ("G", "D"):
            groups = recipe.optimizers[name].param_groups
            held = [id(p) for group in groups for p in group["params"]]
            assert held == [id(p) for p in recipe.nets[name].parameters()]

    def test_one_step_changes_every_parameter_of_g_and_d(self) -> None:
        recipe = _pix2pix()
        before = copy.deepcopy(recipe.nets)
        recipe.step(_batches(1, batch_size=2)[0])
        _assert_weights_moved(before, recipe.nets)

    @pytest.mark.parametrize("dropout", [False, True], ids=["no-dropout", "dropout"])
    def test_steps_equal_the_reference_sequence(self, dropout: bool) -> None:
        net = NetworkOptions(ngf=4, ndf=4, net_g="unet_32", norm="batch", dropout=dropout)
        recipe = _double(_pix2pix(net=net))
        ref = _pix2pix_reference_steps(recipe, _batches(3, batch_size=2, dtype=torch.float64))
        _assert_same_weights(recipe.nets, ref)  # batch-norm running statistics included

    def test_wgangp_steps_equal_the_reference_with_the_penalty(self) -> None:
        recipe = _double(_pix2pix(Pix2PixLoss(gan_mode="wgangp")))
        batches = _batches(2, batch_size=2, dtype=torch.float64)
        ref = _pix2pix_reference_steps(recipe, batches, gan="wgangp")
        _assert_same_weights(recipe.nets, ref)

    def test_wgangp_discriminator_loss_includes_the_penalty(self) -> None:
        recipe = _pix2pix(Pix2PixLoss(gan_mode="wgangp"))
        ref = copy.deepcopy(recipe.nets)
        batch = _batches(1, batch_size=2)[0]
        torch.manual_seed(3)
        losses = recipe.step(batch)
        torch.manual_seed(3)
        real_ab = torch.cat((batch["A"], batch["B"]), 1)
        fake_ab = torch.cat((batch["A"], ref["G"](batch["A"])), 1).detach()
        disc = ref["D"]
        plain = (disc(fake_ab).mean() - disc(real_ab).mean()) * 0.5
        penalty = gradient_penalty(disc, real_ab, fake_ab, weight=10.0)
        assert float(penalty.detach()) > 1e-3
        assert losses["D"] == pytest.approx(float((plain + penalty).detach()), abs=1e-5)

    def test_losses_are_reported_by_name(self) -> None:
        losses = _pix2pix().step(_batches(1, batch_size=2)[0])
        assert set(losses) == {"G_GAN", "G_L1", "D"}

    def test_pool_state_round_trips(self) -> None:
        recipe = _pix2pix(Pix2PixLoss(pool_size=2))
        for batch in _batches(3, batch_size=1):
            recipe.step(batch)
        buffer = io.BytesIO()
        torch.save(recipe.extra_state(), buffer)
        buffer.seek(0)
        restored = _pix2pix(Pix2PixLoss(pool_size=2))
        restored.load_extra_state(torch.load(buffer, weights_only=True))
        for probe in _batches(4, seed=9):
            assert torch.equal(restored.pool.query(probe["A"]), recipe.pool.query(probe["A"]))


# ---------------------------------------------------------------------- reference key layouts
def _reference_resnet() -> ResnetGenerator:
    torch.manual_seed(0)
    return ResnetGenerator(
        in_channels=3, out_channels=3, ngf=4, n_blocks=1, norm="instance", use_dropout=False
    )


def _reference_unet() -> UnetGenerator:
    torch.manual_seed(0)
    return UnetGenerator(
        in_channels=3, out_channels=3, num_downs=5, ngf=4, norm="batch", use_dropout=False
    )


@pytest.mark.parametrize(
    ("make_recipe", "net_name", "make_reference"),
    [
        (_cyclegan, "G_A", _reference_resnet),
        (_cyclegan, "G_B", _reference_resnet),
        (_pix2pix, "G", _reference_unet),
    ],
    ids=["cyclegan-G_A", "cyclegan-G_B", "pix2pix-G"],
)
def test_reference_pth_generator_loads_strictly_into_the_recipe(
    tmp_path: Path, make_recipe, net_name: str, make_reference
) -> None:
    reference = make_reference()
    torch.save(reference.state_dict(), tmp_path / "latest_net_G.pth")
    state = torch.load(tmp_path / "latest_net_G.pth", weights_only=True)
    recipe = make_recipe()
    recipe.nets[net_name].load_state_dict(state, strict=True)
    for key, value in recipe.nets[net_name].state_dict().items():
        assert torch.equal(value, reference.state_dict()[key]), key


def _iter_norm_layers(net: nn.Module) -> Iterator[nn.Module]:
    return (m for m in net.modules() if isinstance(m, nn.InstanceNorm2d | nn.BatchNorm2d))


def test_recipe_norm_layers_match_the_reference_settings() -> None:
    # Reference: InstanceNorm2d(affine=False, track_running_stats=False), BatchNorm2d(affine).
    for m in _iter_norm_layers(_cyclegan().nets["G_A"]):
        assert isinstance(m, nn.InstanceNorm2d)
        assert not m.affine and not m.track_running_stats
    for m in _iter_norm_layers(_pix2pix().nets["G"]):
        assert isinstance(m, nn.BatchNorm2d) and m.affine and m.track_running_stats
