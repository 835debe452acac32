"""The super-resolution trainer: steps against Real-ESRGAN's order by hand, EMA, exact resume,
``ganedit train sr`` with export and upscale, and the high-resolution dataset.

The reference steps below are written out on fresh copies of the recipe's initial networks, as
Real-ESRGAN's ``RealESRNetModel`` / ``RealESRGANModel.optimize_parameters`` run them; the
recipe's weights after its own steps must equal the hand-computed ones.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from sr_train_helpers import CROP, TINY_SR_ARGS, tiny_sr_config, write_photos  # noqa: E402
from torch import nn  # noqa: E402
from train_helpers import (  # noqa: E402
    Crash,
    checkpoint_contents,
    crash_at,
    differences,
    with_run,
)

import ganedit  # noqa: E402
from ganedit.cli import main  # noqa: E402
from ganedit.errors import GaneditError  # noqa: E402
from ganedit.export import run_generator  # noqa: E402
from ganedit.train import loop, sr_losses  # noqa: E402
from ganedit.train import sr as sr_recipe  # noqa: E402
from ganedit.train.config import OptimOptions, SRLoss, SRNetworkOptions  # noqa: E402
from ganedit.train.data_layout import DatasetError  # noqa: E402
from ganedit.train.degradations import DegradationConfig, degrade, usm_sharp  # noqa: E402
from ganedit.train.recipe import Precision  # noqa: E402
from ganedit.train.run_state import latest_checkpoint  # noqa: E402
from ganedit.train.sr import SuperResolution  # noqa: E402
from ganedit.train.sr_data import HighResDataset  # noqa: E402
from ganedit.train.sr_losses import PerceptualLoss, VGGWeightsNotFoundError, tiny_vgg19  # noqa: E402

CPU = torch.device("cpu")
SRVGG = SRNetworkOptions(arch="srvgg", scale=2, num_feat=4, num_conv=2, d_num_feat=4)
RRDB = SRNetworkOptions(arch="rrdb", scale=2, num_feat=8, num_block=1, num_grow_ch=4, d_num_feat=4)
SR_OPTIM = OptimOptions(lr=2e-4, beta1=0.9, beta2=0.99)
ATOL = 1e-6


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Iterator[None]:
    """train() switches deterministic algorithms on for the process; leave it as found."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = benchmark


@pytest.fixture
def tiny_vgg(monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe's perceptual loss on a VGG19 of width 4 with fixed random weights."""

    def make(*, weights_path: str | None = None) -> PerceptualLoss:
        return PerceptualLoss(vgg=tiny_vgg19(width=4))

    monkeypatch.setattr(sr_recipe, "PerceptualLoss", make)


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """torch hub's cache is an empty folder: no VGG19 weights on this machine."""
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    return hub


# ------------------------------------------------------------------------------ reference steps
def _recipe(loss: SRLoss, net: SRNetworkOptions = SRVGG) -> SuperResolution:
    return SuperResolution(
        net=net, optim=SR_OPTIM, loss=loss, device=CPU, precision=Precision(device=CPU), seed=0
    )


def _double(recipe: SuperResolution) -> SuperResolution:
    """The recipe in float64 (in place: the optimisers keep the same parameters), so that the
    hand-written steps, which add the losses in another order, agree to far below ``ATOL``."""
    for net in recipe.nets.values():
        net.double()
    if hasattr(recipe, "perceptual"):
        recipe.perceptual.double()
    return recipe


def _hr_batches(count: int, *, size: int = CROP, seed: int = 0) -> list[torch.Tensor]:
    """``(2, 3, size, size)`` float64 crops in [0, 1]: gradients plus texture (USM has edges)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(
        torch.linspace(0, 1, size, dtype=torch.float64),
        torch.linspace(0, 1, size, dtype=torch.float64),
        indexing="ij",
    )
    base = torch.stack([xx, yy, (xx + yy) / 2])
    noise = [torch.rand(2, 3, size, size, generator=g, dtype=torch.float64) for _ in range(count)]
    return [(0.6 * base + 0.4 * n).clamp(0, 1) for n in noise]


def _bicubic(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """Classic ESRGAN inputs: antialiased bicubic downscaling, rounded to 8 bits."""
    size = (hr.shape[2] // scale, hr.shape[3] // scale)
    small = F.interpolate(hr, size=size, mode="bicubic", align_corners=False, antialias=True)
    return (small * 255).round().clamp(0, 255) / 255


def _bce(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.full_like(prediction, 1.0 if real else 0.0)
    return F.binary_cross_entropy_with_logits(prediction, target)


def _adam(net: nn.Module, lr: float = 2e-4) -> torch.optim.Adam:
    """Real-ESRGAN's optimiser: Adam with betas (0.9, 0.99)."""
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))


def _freeze(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def _ema_update(ema: dict[str, torch.Tensor], net: nn.Module, decay: float) -> None:
    for name, p in net.named_parameters():
        ema[name] = decay * ema[name] + (1 - decay) * p.detach()


def _assert_same_weights(ours: nn.Module, reference: nn.Module | dict[str, torch.Tensor]) -> None:
    expected = reference if isinstance(reference, dict) else reference.state_dict()
    got = ours.state_dict()
    assert set(expected) <= set(got)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, atol=ATOL, rtol=0, msg=key)


def _assert_weights_moved(before: nn.Module, after: nn.Module) -> None:
    moved = [
        not torch.equal(p, q) for p, q in zip(before.parameters(), after.parameters(), strict=True)
    ]
    assert all(moved), f"{moved.count(False)} parameter tensors did not change"


PSNR_CASES = {
    "bicubic-usm": ("bicubic", True, SRVGG),
    "bicubic-plain": ("bicubic", False, SRVGG),
    "realesrgan-usm": ("realesrgan", True, SRVGG),
    "bicubic-rrdb": ("bicubic", True, RRDB),
}


@pytest.mark.parametrize("case", sorted(PSNR_CASES))
def test_psnr_steps_equal_the_reference_l1_steps(case: str) -> None:
    degradation, usm_gt, net = PSNR_CASES[case]
    recipe = _double(_recipe(SRLoss(degradation=degradation, usm_gt=usm_gt), net))
    reference, initial = copy.deepcopy(recipe.nets["G"]), copy.deepcopy(recipe.nets["G"])
    optimizer = _adam(reference)
    rng = torch.Generator()
    rng.set_state(recipe.rng.get_state())
    for hr in _hr_batches(2):
        losses = recipe.step({"B": hr})
        sharpened = usm_sharp(hr)
        if degradation == "bicubic":
            lr = _bicubic(hr, net.scale)
        else:  # Real-ESRGAN degrades the sharpened ground truth
            lr = degrade(sharpened, scale=net.scale, config=DegradationConfig(), generator=rng)
        target = sharpened if usm_gt else hr
        optimizer.zero_grad()
        loss = F.l1_loss(reference(lr), target)
        loss.backward()
        optimizer.step()
        assert losses == pytest.approx({"l1": loss.item()}, abs=1e-9)
    _assert_weights_moved(initial, recipe.nets["G"])
    _assert_same_weights(recipe.nets["G"], reference)


def test_usm_target_differs_from_the_plain_one_on_these_crops() -> None:
    """Otherwise the usm/plain cases above would not tell the targets apart."""
    hr = _hr_batches(1)[0]
    assert (usm_sharp(hr) - hr).abs().max() > 0.05


def test_ema_follows_the_trajectory_of_g() -> None:
    recipe = _double(_recipe(SRLoss(degradation="bicubic", ema_decay=0.5)))
    expected = {k: v.clone() for k, v in recipe.nets["G"].named_parameters()}
    for hr in _hr_batches(3):
        recipe.step({"B": hr})
        _ema_update(expected, recipe.nets["G"], 0.5)
    assert recipe.nets["G_ema"] is recipe.ema.module
    _assert_same_weights(recipe.nets["G_ema"], expected)
    g_state = recipe.nets["G"].state_dict()
    assert all(not torch.equal(v, g_state[k]) for k, v in expected.items()), "EMA is not G"


def test_ema_stays_frozen_in_eval_mode_while_g_trains() -> None:
    recipe = _recipe(SRLoss(degradation="bicubic"))
    recipe.train()
    recipe.step({"B": _hr_batches(1)[0].float()})
    assert recipe.nets["G"].training and not recipe.nets["G_ema"].training
    assert not any(p.requires_grad for p in recipe.nets["G_ema"].parameters())


def test_gan_steps_follow_the_realesrgan_order(tiny_vgg: None) -> None:
    """G first with D frozen (L1 + perceptual + 0.1 GAN on sharpened targets), then D on the
    unsharpened target as real and the detached output as fake, then the EMA."""
    recipe = _double(_recipe(SRLoss(stage="gan", degradation="bicubic", ema_decay=0.5)))
    g, d = copy.deepcopy(recipe.nets["G"]), copy.deepcopy(recipe.nets["D"])
    perceptual = PerceptualLoss(vgg=tiny_vgg19(width=4)).double()
    opt_g, opt_d = _adam(g), _adam(d)
    ema = {k: v.clone() for k, v in g.named_parameters()}
    for hr in _hr_batches(2):
        losses = recipe.step({"B": hr})
        sharpened = usm_sharp(hr)
        lr = _bicubic(hr, SRVGG.scale)
        _freeze(d, False)
        opt_g.zero_grad()
        out = g(lr)
        expected = {
            "l1": F.l1_loss(out, sharpened),
            "percep": perceptual(out, sharpened),
            "gan": _bce(d(out), True) * 0.1,
        }
        sum(expected.values()).backward()
        opt_g.step()
        _freeze(d, True)
        opt_d.zero_grad()
        expected["d_real"] = _bce(d(hr), True)
        expected["d_real"].backward()
        expected["d_fake"] = _bce(d(out.detach()), False)
        expected["d_fake"].backward()
        opt_d.step()
        _ema_update(ema, g, 0.5)
        assert losses == pytest.approx({k: v.item() for k, v in expected.items()}, abs=1e-9)
    _assert_same_weights(recipe.nets["G"], g)
    _assert_same_weights(recipe.nets["D"], d)  # spectral-norm power-iteration vectors included
    _assert_same_weights(recipe.nets["G_ema"], ema)


def test_gan_generator_update_sends_no_gradient_into_d(tiny_vgg: None) -> None:
    recipe = _recipe(SRLoss(stage="gan", degradation="bicubic"))
    d_params = list(recipe.nets["D"].parameters())
    g_step = recipe.optimizers["G"].step
    seen: list[list[bool]] = []

    def spy(*args, **kwargs):
        assert all(p.grad is None for p in d_params)
        seen.append([p.requires_grad for p in d_params])
        return g_step(*args, **kwargs)

    recipe.optimizers["G"].step = spy  # type: ignore[method-assign]
    recipe.step({"B": _hr_batches(1)[0].float()})
    assert seen and not any(seen[0]), "D must be frozen during the generator update"
    assert all(p.requires_grad for p in d_params), "D must be unfrozen after"
    assert all(p.grad is not None for p in d_params)


def test_gan_stage_without_vgg_weights_names_the_file_and_the_option(empty_hub: Path) -> None:
    with pytest.raises(VGGWeightsNotFoundError, match=r"vgg19-dcbb9e9d\.pth") as info:
        _recipe(SRLoss(stage="gan"))
    message = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in message and "--vgg-weights" in message
    assert str(empty_hub / "checkpoints" / "vgg19-dcbb9e9d.pth") in message


def test_psnr_stage_needs_no_vgg_weights(empty_hub: Path) -> None:
    recipe = _recipe(SRLoss(stage="psnr"))
    assert sorted(recipe.nets) == ["G", "G_ema"] and sorted(recipe.optimizers) == ["G"]


# -------------------------------------------------------------------------------- exact resume
def _train(config, **kwargs) -> Path:
    return loop.train(config, stream=io.StringIO(), **kwargs)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three photos, one smaller than the crop, one not square."""
    return write_photos(tmp_path_factory.mktemp("photos"), [(48, 40), (24, 28), (40, 40)], seed=0)


@pytest.mark.parametrize("stage", ["psnr", "gan"])
def test_crash_and_resume_ends_with_exactly_the_uninterrupted_state(
    tmp_path: Path, photos: Path, stage: str, tiny_vgg: None
) -> None:
    # 3 images, batch 2: epochs end at steps 2 and 4; the crash at step 3 resumes from step 2.
    def config(name: str):
        return tiny_sr_config(
            photos,
            tmp_path / name,
            run={"max_steps": 5, "save_every": 2},
            loss={"stage": stage, "degradation": "realesrgan"},
        )

    straight = _train(config("straight"))
    with pytest.raises(Crash, match="killed at step 3"):
        _train(config("crashed"), callbacks=(crash_at(3),))
    assert latest_checkpoint(tmp_path / "crashed").name == "step_0000002"
    resumed = _train(config("crashed"), resume=True)

    final = latest_checkpoint(straight)
    assert final.name == latest_checkpoint(resumed).name == "step_0000005"
    expected, got = checkpoint_contents(final), checkpoint_contents(latest_checkpoint(resumed))
    networks = {"psnr": {"G", "G_ema"}, "gan": {"D", "G", "G_ema"}}[stage]
    assert set(expected) == networks | {"state"}
    assert "degradation_rng" in expected["state"]["extra"]
    assert differences(got, expected) == []
    first = checkpoint_contents(tmp_path / "straight" / "checkpoints" / "step_0000002")
    assert all(differences(first[k], expected[k]) for k in networks)


def test_resume_without_the_degradation_state_would_differ(
    tmp_path: Path, photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control of the test above: the saved generator state is what makes resume exact."""
    config = tiny_sr_config(
        photos, tmp_path / "run", run={"max_steps": 4, "save_every": 2}, loss={"ema_decay": 0.5}
    )
    straight = checkpoint_contents(latest_checkpoint(_train(config)))
    crashed = with_run(config, out=str(tmp_path / "crashed"))
    with pytest.raises(Crash, match="killed at step 3"):
        _train(crashed, callbacks=(crash_at(3),))
    monkeypatch.setattr(SuperResolution, "load_extra_state", lambda self, state: None)
    resumed = checkpoint_contents(latest_checkpoint(_train(crashed, resume=True)))
    assert differences(resumed["G"], straight["G"])


# ------------------------------------------------------------------------------------------ CLI
def _invoke(*args: str | os.PathLike[str]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _train_cli(data: Path, out: Path, *extra: str | os.PathLike[str]) -> Result:
    return _invoke("train", "sr", "--data", data, "--out", out, *TINY_SR_ARGS, *extra)


@pytest.fixture(scope="module")
def psnr_run(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Path:
    """Two bicubic psnr steps, x2; a large rate so that G and G_ema clearly part."""
    out = tmp_path_factory.mktemp("runs") / "tiny_sr"
    extra = ["--max-steps", "2", "--degradation", "bicubic", "--lr", "0.01", "--save-every", "1"]
    result = _train_cli(photos, out, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("path", [("train",), ("train", "sr")], ids=" ".join)
def test_help_works(path: tuple[str, ...]) -> None:
    result = _invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


HELP_TEXTS = [
    "--stage", "psnr", "gan", "--init-from", "--degradation", "realesrgan",
    "--vgg-weights", "vgg19-dcbb9e9d.pth", "--ema-decay", "0.999", "--resume",
]  # fmt: skip


def test_sr_help_shows_the_stages_and_the_realesrgan_options() -> None:
    output = _invoke("train", "sr", "--help").output
    missing = [text for text in HELP_TEXTS if text not in output]
    assert missing == []


def test_cli_run_writes_g_and_g_ema_checkpoints(psnr_run: Path) -> None:
    checkpoint = latest_checkpoint(psnr_run)
    assert checkpoint.name == "step_0000002"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "G.safetensors",
        "G_ema.safetensors",
        "state.pt",
    ]
    g, g_ema = (load_file(str(checkpoint / f"{n}.safetensors")) for n in ("G", "G_ema"))
    assert g.keys() == g_ema.keys() and differences(g, g_ema)


def test_cli_run_stores_the_realesrgan_optimiser(psnr_run: Path) -> None:
    config = json.loads((psnr_run / "config.json").read_text())
    assert config["recipe"] == "sr"
    assert (config["optim"]["beta1"], config["optim"]["beta2"]) == (0.9, 0.99)
    assert config["optim"]["epochs_decay"] == 0
    assert config["net"]["scale"] == 2 and config["loss"]["degradation"] == "bicubic"


@pytest.fixture(scope="module")
def psnr_onnx(psnr_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "x.onnx"
    result = _invoke("export", psnr_run, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def test_export_of_an_sr_run_is_an_upscale_model_of_its_scale(psnr_onnx: Path) -> None:
    card = ganedit.load(psnr_onnx, device="cpu").card
    assert card.task == "upscale" and card.scale == 2
    assert card.name == "tiny_sr"


def test_export_of_an_sr_run_holds_g_ema_not_g(psnr_run: Path, psnr_onnx: Path) -> None:
    import onnxruntime as ort

    from ganedit.archs import load_generator

    assert run_generator(psnr_run).name == "G_ema.safetensors"
    x = np.random.default_rng(0).uniform(0, 1, (1, 3, 12, 12)).astype(np.float32)
    session = ort.InferenceSession(str(psnr_onnx), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x})
    checkpoint = latest_checkpoint(psnr_run)
    with torch.no_grad():
        outs = {
            name: load_generator(checkpoint / f"{name}.safetensors").module(torch.from_numpy(x))
            for name in ("G", "G_ema")
        }
    assert onnx_out.shape == (1, 3, 24, 24)
    np.testing.assert_allclose(onnx_out, outs["G_ema"].numpy(), atol=1e-4)
    assert np.abs(onnx_out - outs["G"].numpy()).max() > 1e-2


def test_upscale_runs_the_exported_model(psnr_onnx: Path, tmp_path: Path) -> None:
    inputs = write_photos(tmp_path / "in", [(20, 12)], seed=5)
    result = _invoke("upscale", psnr_onnx, inputs, "-o", tmp_path / "out", "-q")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "out" / "000.png") as image:
        assert image.size == (40, 24)


def test_crop_size_not_a_multiple_of_the_scale_exits_2(photos: Path, tmp_path: Path) -> None:
    result = _train_cli(photos, tmp_path / "run", "--scale", "3", "--max-steps", "1")
    assert result.exit_code == 2
    assert "--crop-size must be a multiple of --scale" in result.output
    assert not (tmp_path / "run").exists()


@pytest.fixture
def first_weights(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, torch.Tensor]]:
    """The recipe's G and G_ema as they are when its first step starts."""
    seen: dict[str, dict[str, torch.Tensor]] = {}

    class Recording(SuperResolution):
        def step(self, batch):
            if not seen:
                seen.update({n: copy.deepcopy(self.nets[n].state_dict()) for n in ("G", "G_ema")})
            return super().step(batch)

    monkeypatch.setitem(loop.RECIPES, "sr", Recording)
    return seen


@pytest.mark.parametrize("stage", ["psnr", "gan"])
def test_init_from_a_run_starts_from_its_g_ema(
    psnr_run: Path,
    photos: Path,
    tmp_path: Path,
    stage: str,
    tiny_vgg: None,
    first_weights: dict[str, dict[str, torch.Tensor]],
) -> None:
    out = tmp_path / stage
    result = _train_cli(photos, out, "--init-from", psnr_run, "--stage", stage, "--max-steps", "1")
    assert result.exit_code == 0, result.output
    g_ema = load_file(str(latest_checkpoint(psnr_run) / "G_ema.safetensors"))
    assert differences(first_weights["G"], g_ema) == []
    assert differences(first_weights["G_ema"], g_ema) == []
    networks = {"psnr": ["G", "G_ema"], "gan": ["D", "G", "G_ema"]}[stage]
    assert sorted(p.stem for p in latest_checkpoint(out).glob("*.safetensors")) == networks
    config = json.loads((out / "config.json").read_text())
    assert config["loss"]["init_from"] == str(psnr_run)
    assert config["optim"]["lr"] == {"psnr": 2e-4, "gan": 1e-4}[stage]


def test_init_from_a_run_of_another_shape_fails_clearly(
    psnr_run: Path, photos: Path, tmp_path: Path
) -> None:
    result = _train_cli(
        photos, tmp_path / "run", "--init-from", psnr_run, "--num-feat", "8", "--max-steps", "1"
    )
    assert result.exit_code == 2, result.output
    assert "--init-from" in result.output and str(psnr_run) in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "config.json").exists(), "the fixed command must be accepted"


def test_gan_stage_without_vgg_weights_exits_2_naming_the_file(
    photos: Path, tmp_path: Path, empty_hub: Path
) -> None:
    result = _train_cli(photos, tmp_path / "run", "--stage", "gan", "--max-steps", "1")
    assert result.exit_code == 2
    assert "vgg19-dcbb9e9d.pth" in result.output and "--vgg-weights" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / "config.json").exists()


def test_following_the_vgg_advice_with_the_same_out_works(
    photos: Path, tmp_path: Path, empty_hub: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error says to pass --vgg-weights: doing so with the same --out must not be refused
    as an existing run."""
    out = tmp_path / "run"
    args = ["--stage", "gan", "--max-steps", "1"]
    assert _train_cli(photos, out, *args).exit_code == 2
    # A VGG19-layout file with few channels stands for torchvision's 548 MB download.
    weights = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save({f"features.{k}": v for k, v in tiny_vgg19(width=2).state_dict().items()}, weights)
    shell = tiny_vgg19(width=2, seed=9)
    monkeypatch.setattr(sr_losses, "vgg19_features", lambda: shell)
    result = _train_cli(photos, out, *args, "--vgg-weights", weights)
    assert result.exit_code == 0, result.output
    assert latest_checkpoint(out).name == "step_0000001"


# ------------------------------------------------------------------------------ HighResDataset
@pytest.fixture(scope="module")
def big_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photos(tmp_path_factory.mktemp("big"), [(64, 48), (56, 64)], seed=1)


def _dataset(root: Path, *, crop: int = 16, seed: int = 0, flip: bool = True) -> HighResDataset:
    return HighResDataset(root, crop_size=crop, seed=seed, flip=flip)


def test_items_are_a_function_of_seed_epoch_and_index(big_photos: Path) -> None:
    first, again = _dataset(big_photos), _dataset(big_photos)
    again.set_epoch(3)
    for index in range(2):
        assert torch.equal(first[(3, index)]["B"], again[index]["B"])
        assert first[(3, index)]["B_path"] == again[index]["B_path"]


def test_other_epochs_give_other_crops(big_photos: Path) -> None:
    dataset = _dataset(big_photos)
    crops = [dataset[(epoch, 0)]["B"] for epoch in range(4)]
    assert not all(torch.equal(crop, crops[0]) for crop in crops[1:])


def test_other_seeds_give_other_crops(big_photos: Path) -> None:
    one, other = _dataset(big_photos, seed=0), _dataset(big_photos, seed=1)
    assert not all(torch.equal(one[(e, 0)]["B"], other[(e, 0)]["B"]) for e in range(4))


@pytest.mark.parametrize("crop", [16, 32, 48])
def test_items_are_float_crops_in_the_unit_range(big_photos: Path, crop: int) -> None:
    item = _dataset(big_photos, crop=crop)[1]
    image = item["B"]
    assert image.shape == (3, crop, crop) and image.dtype == torch.float32
    assert image.min() >= 0 and image.max() <= 1 and image.std() > 0


def test_crop_is_a_window_of_the_image_or_its_mirror(big_photos: Path) -> None:
    pixels = torch.from_numpy(np.array(Image.open(big_photos / "000.png"))).permute(2, 0, 1)
    image = pixels.float() / 255
    windows = image.unfold(1, 16, 1).unfold(2, 16, 1)  # (3, rows, cols, 16, 16)
    flips = set()
    for epoch in range(8):
        crop = _dataset(big_photos)[(epoch, 0)]["B"]
        plain = (windows == crop[:, None, None]).flatten(3).all(-1).all(0).any()
        mirrored = (windows == crop.flip(-1)[:, None, None]).flatten(3).all(-1).all(0).any()
        assert plain or mirrored
        flips.add(bool(mirrored and not plain))
    assert flips == {True, False}, "flips should happen about half the time"


def test_no_flip_gives_unmirrored_crops(big_photos: Path) -> None:
    flipped, plain = _dataset(big_photos), _dataset(big_photos, flip=False)
    crops = [(flipped[(e, 0)]["B"], plain[(e, 0)]["B"]) for e in range(8)]
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in crops)
    assert any(not torch.equal(a, b) for a, b in crops)


@pytest.mark.parametrize("size", [(10, 20), (20, 10), (8, 8)])
def test_images_smaller_than_the_crop_are_scaled_up(tmp_path: Path, size: tuple[int, int]) -> None:
    root = write_photos(tmp_path / "small", [size], seed=2)
    for epoch in range(3):
        image = _dataset(root, crop=24)[(epoch, 0)]["B"]
        assert image.shape == (3, 24, 24)
        assert image.min() >= 0 and image.max() <= 1


def test_build_dataset_uses_the_configured_crop(photos: Path, tmp_path: Path) -> None:
    dataset = SuperResolution.build_dataset(tiny_sr_config(photos, tmp_path / "run"), seed=0)
    assert isinstance(dataset, HighResDataset) and len(dataset) == 3
    assert all(dataset[i]["B"].shape == (3, CROP, CROP) for i in range(3))


def test_missing_folder_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such folder"):
        _dataset(tmp_path / "nowhere")


def test_folder_without_images_is_a_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(DatasetError, match="no images") as info:
        _dataset(tmp_path)
    assert isinstance(info.value, GaneditError)
