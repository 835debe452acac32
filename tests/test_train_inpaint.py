"""The inpainting trainer: dataset, the step's losses by hand, learning a flat fill, exact
resume, ``ganedit train inpaint`` and the export of its runs.

Tiny means a generator with ngf 4, an SN-PatchGAN with ndf 4 and 3 layers, and 32-px crops.
"""

from __future__ import annotations

import copy
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from sr_train_helpers import write_photos  # noqa: E402
from train_helpers import Crash, checkpoint_contents, crash_at, differences  # noqa: E402

from ganedit.card import METADATA_KEY, ModelCard  # noqa: E402
from ganedit.cli import main  # noqa: E402
from ganedit.train import loop  # noqa: E402
from ganedit.train.config import (  # noqa: E402
    DataOptions,
    InpaintLoss,
    InpaintNetworkOptions,
    MaskOptions,
    OptimOptions,
    RunOptions,
    TrainConfig,
)
from ganedit.train.data_layout import DatasetError  # noqa: E402
from ganedit.train.inpaint import (  # noqa: E402
    Inpainting,
    hinge_d_loss,
    hinge_g_loss,
    weighted_l1,
)
from ganedit.train.inpaint_data import InpaintDataset  # noqa: E402
from ganedit.train.recipe import Precision  # noqa: E402
from ganedit.train.run_state import latest_checkpoint  # noqa: E402

CPU = torch.device("cpu")
CROP = 32
TINY_NET = InpaintNetworkOptions(ngf=4, ndf=4, n_layers_d=3)
OPTIM = OptimOptions(lr=1e-4, beta1=0.5, beta2=0.999, epochs=1000, epochs_decay=0)

# CLI options that make an inpaint run tiny and quick (append --data/--out and the stopping point).
TINY_INPAINT_ARGS = [
    "--ngf", "4", "--ndf", "4", "--n-layers-d", "3", "--crop-size", str(CROP),
    "--batch-size", "2", "--device", "cpu", "--workers", "0", "--log-every", "1",
    "--deterministic",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Iterator[None]:
    """train() switches deterministic algorithms on for the process; leave it as found."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    yield
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three photos, one smaller than the crop, one not square."""
    return write_photos(tmp_path_factory.mktemp("photos"), [(48, 40), (24, 28), (40, 40)], seed=0)


def tiny_config(data: Path, out: Path, *, run=None, loss=None, optim=None, masks=None):
    run_defaults = {
        "out": str(out),
        "device": "cpu",
        "log_every": 1000,
        "sample_every": 1000,
        "save_every": 1000,
        "keep": 0,
        "deterministic": True,
    }
    return TrainConfig(
        recipe="inpaint",
        data=DataOptions(root=str(data), crop_size=CROP, load_size=CROP, batch_size=2, workers=0),
        net=TINY_NET,
        optim=OptimOptions(**{**OPTIM.__dict__, **(optim or {})}),
        loss=InpaintLoss(**(loss or {})),
        run=RunOptions(**{**run_defaults, **(run or {})}),
        masks=MaskOptions(**(masks or {})),
    )


def _train(config: TrainConfig, **kwargs: Any) -> Path:
    return loop.train(config, stream=io.StringIO(), **kwargs)


# -------------------------------------------------------------------------------------- dataset
class TestDataset:
    def test_items_are_crops_in_the_signed_range_with_binary_masks(self, photos: Path):
        item = InpaintDataset(photos, crop_size=CROP, seed=0, masks=MaskOptions())[0]
        assert item["image"].shape == (3, CROP, CROP) and item["image"].dtype == torch.float32
        assert item["image"].min() >= -1 and item["image"].max() <= 1
        assert item["mask"].shape == (1, CROP, CROP) and item["mask"].dtype == torch.float32
        assert set(item["mask"].unique().tolist()) == {0.0, 1.0}
        assert 0.05 <= item["mask"].mean() <= 0.5

    def test_items_are_a_function_of_seed_epoch_and_index(self, photos: Path):
        a = InpaintDataset(photos, crop_size=CROP, seed=3, masks=MaskOptions())
        b = InpaintDataset(photos, crop_size=CROP, seed=3, masks=MaskOptions())
        assert differences(a[(2, 1)], b[(2, 1)]) == []

    def test_other_epochs_give_other_masks(self, photos: Path):
        data = InpaintDataset(photos, crop_size=CROP, seed=0, masks=MaskOptions())
        assert not torch.equal(data[(0, 0)]["mask"], data[(1, 0)]["mask"])

    def test_set_epoch_selects_the_epoch_of_plain_indices(self, photos: Path):
        data = InpaintDataset(photos, crop_size=CROP, seed=0, masks=MaskOptions())
        data.set_epoch(4)
        assert torch.equal(data[1]["mask"], data[(4, 1)]["mask"])

    def test_coverage_and_kind_follow_the_options(self, photos: Path):
        masks = MaskOptions(kind="boxes", min_coverage=0.3, max_coverage=0.35)
        data = InpaintDataset(photos, crop_size=CROP, seed=0, masks=masks)
        for epoch in range(4):
            assert 0.3 <= data[(epoch, 0)]["mask"].mean() <= 0.35

    def test_masks_from_a_folder(self, photos: Path, tmp_path: Path):
        (tmp_path / "masks").mkdir()
        band = np.zeros((10, 10), np.uint8)
        band[:5] = 255
        Image.fromarray(band).save(tmp_path / "masks" / "half.png")
        masks = MaskOptions(folder=str(tmp_path / "masks"))
        item = InpaintDataset(photos, crop_size=CROP, seed=0, masks=masks)[0]
        assert item["mask"].mean() == 0.5
        assert set(item["mask"].mean(dim=2).unique().tolist()) == {0.0, 1.0}  # whole rows

    def test_build_dataset_uses_the_configured_crop_and_masks(self, photos: Path, tmp_path: Path):
        config = tiny_config(photos, tmp_path / "run", masks={"kind": "strokes"})
        data = Inpainting.build_dataset(config, seed=0)
        assert isinstance(data, InpaintDataset)
        assert data.crop_size == CROP and data.masks.kind == "strokes"

    def test_missing_mask_folder_is_a_dataset_error(self, photos: Path, tmp_path: Path):
        with pytest.raises(DatasetError, match="mask images"):
            InpaintDataset(
                photos, crop_size=CROP, seed=0, masks=MaskOptions(folder=str(tmp_path / "no"))
            )


# ----------------------------------------------------------------------------------- the recipe
def _recipe(loss: InpaintLoss | None = None, optim: OptimOptions = OPTIM) -> Inpainting:
    return Inpainting(
        net=TINY_NET,
        optim=optim,
        loss=loss or InpaintLoss(),
        device=CPU,
        precision=Precision(device=CPU),
        seed=0,
    )


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, CROP, CROP, generator=generator) * 2 - 1
    mask = torch.zeros(2, 1, CROP, CROP)
    mask[:, :, 8:20, 4:24] = 1
    return {"image": image, "mask": mask}


def test_hinge_losses() -> None:
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert hinge_d_loss(real, fake) == pytest.approx(0.5 * 0.25 + 0.5 * 0.5)
    assert hinge_g_loss(fake) == pytest.approx(1.0)


def test_step_losses_equal_the_hand_computed_ones() -> None:
    recipe = _recipe(InpaintLoss(lambda_l1=1.5, lambda_gan=0.3, hole_weight=4.0))
    recipe.train()
    generator, disc = copy.deepcopy(recipe.nets["G"]), copy.deepcopy(recipe.nets["D"])
    batch = _batch()
    losses = recipe.step(batch)

    target, mask = batch["image"], batch["mask"]
    masked = target * (1 - mask)
    with torch.no_grad():
        coarse, refined = generator.forward_stages(torch.cat([masked, mask], 1))
        composite = masked + refined * mask
        scores = disc(torch.cat([torch.cat([target, mask], 1), torch.cat([composite, mask], 1)]))
        real, fake = scores.chunk(2)
    weights = 1 + 3 * mask  # hole pixels count 4 times
    expect_coarse = float(((coarse - target).abs() * weights).mean())
    expect_refined = float(((refined - target).abs() * weights).mean())
    assert losses["G_L1_coarse"] == pytest.approx(1.5 * expect_coarse, rel=1e-5)
    assert losses["G_L1_refined"] == pytest.approx(1.5 * expect_refined, rel=1e-5)
    assert losses["D"] == pytest.approx(float(hinge_d_loss(real, fake)), rel=1e-5)
    assert set(losses) == {"G_L1_coarse", "G_L1_refined", "G_GAN", "D"}
    assert all(np.isfinite(v) for v in losses.values())


def test_weighted_l1_weighs_hole_pixels_and_reduces_to_plain_l1() -> None:
    output, target = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert float(weighted_l1(output, target, mask, 1.0)) == pytest.approx(
        float(F.l1_loss(output, target))
    )
    # (6·1 + 2 + 3 + 4) / 4: the hole pixel's error of 1 counts six times.
    assert float(weighted_l1(output, target, mask, 6.0)) == pytest.approx(15 / 4)
    # A hole weight under 1 favours the known pixels.
    assert float(weighted_l1(output, target, mask, 0.5)) == pytest.approx(9.5 / 4)


def test_generator_update_sends_no_gradient_into_d() -> None:
    recipe = _recipe()
    recipe.train()
    d_params = list(recipe.nets["D"].parameters())
    after_d_step: list[torch.Tensor] = []
    step_d = recipe.optimizers["D"].step

    def record(*args: Any, **kwargs: Any) -> Any:
        after_d_step.extend(p.grad.clone() for p in d_params)
        return step_d(*args, **kwargs)

    recipe.optimizers["D"].step = record  # type: ignore[method-assign]
    recipe.step(_batch())
    assert len(after_d_step) == len(d_params)
    assert all(torch.equal(p.grad, g) for p, g in zip(d_params, after_d_step, strict=True))
    assert all(p.requires_grad for p in recipe.nets["G"].parameters())


def test_samples_show_the_masked_input_the_output_and_the_target() -> None:
    recipe = _recipe()
    recipe.train()
    batch = _batch()
    recipe.step(batch)
    assert list(recipe.visuals) == ["input", "output", "target"]
    hole = batch["mask"].expand(2, 3, CROP, CROP) == 1
    assert (recipe.visuals["input"][hole] == 1).all()  # holes shown white
    known = ~hole
    torch.testing.assert_close(recipe.visuals["output"][known], batch["image"][known])


def test_recipe_uses_the_deepfill_optimiser() -> None:
    recipe = _recipe()
    for optimizer in recipe.optimizers.values():
        group = optimizer.param_groups[0]
        assert group["lr"] == 1e-4 and group["betas"] == (0.5, 0.999)


def test_a_flat_colour_is_learnt(tmp_path: Path) -> None:
    """The holes of a uniformly coloured photo are filled with its colour after a short run."""
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (40, 40), (200, 60, 30)).save(tmp_path / "flat" / "a.png")
    Image.new("RGB", (40, 40), (200, 60, 30)).save(tmp_path / "flat" / "b.png")
    config = tiny_config(
        tmp_path / "flat",
        tmp_path / "run",
        run={"max_steps": 60},
        loss={"lambda_gan": 0.0},
        optim={"lr": 1e-2, "beta1": 0.9},
    )
    refined: list[float] = []
    _train(config, callbacks=(lambda _p, losses: refined.append(losses["G_L1_refined"]),))
    assert refined[-1] < 0.15 * refined[0]


# --------------------------------------------------------------------------------- exact resume
def test_crash_and_resume_ends_with_exactly_the_uninterrupted_state(
    tmp_path: Path, photos: Path
) -> None:
    # 3 photos, batch 2: epochs end at steps 2 and 4; the crash at step 3 resumes from step 2.
    def config(name: str) -> TrainConfig:
        return tiny_config(photos, tmp_path / name, run={"max_steps": 5, "save_every": 2})

    straight = _train(config("straight"))
    with pytest.raises(Crash, match="killed at step 3"):
        _train(config("crashed"), callbacks=(crash_at(3),))
    assert latest_checkpoint(tmp_path / "crashed").name == "step_0000002"
    resumed = _train(config("crashed"), resume=True)

    final = latest_checkpoint(straight)
    assert final.name == latest_checkpoint(resumed).name == "step_0000005"
    expected, got = checkpoint_contents(final), checkpoint_contents(latest_checkpoint(resumed))
    assert set(expected) == {"G", "D", "state"}
    assert differences(got, expected) == []
    first = checkpoint_contents(tmp_path / "straight" / "checkpoints" / "step_0000002")
    assert differences(first["G"], expected["G"]) and differences(first["D"], expected["D"])


def test_config_round_trips_with_its_mask_options(tmp_path: Path, photos: Path) -> None:
    config = tiny_config(photos, tmp_path / "run", masks={"kind": "boxes", "folder": "m/"})
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_configs_of_other_recipes_hold_no_mask_options(tmp_path: Path) -> None:
    from sr_train_helpers import tiny_sr_config

    data = tiny_sr_config(tmp_path, tmp_path / "run").to_dict()
    assert "masks" not in data and TrainConfig.from_dict(data).masks is None


# ------------------------------------------------------------------------------------------ CLI
def _invoke(*args: str | os.PathLike[str]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _train_cli(data: Path, out: Path, *extra: str | os.PathLike[str]) -> Result:
    return _invoke("train", "inpaint", "--data", data, "--out", out, *TINY_INPAINT_ARGS, *extra)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, photos: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny_inpaint"
    result = _train_cli(photos, out, "--max-steps", "2", "--sample-every", "2")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def cli_onnx(cli_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    result = _invoke("export", cli_run, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def test_help_shows_the_inpainting_options() -> None:
    result = _invoke("train", "inpaint", "--help")
    assert result.exit_code == 0, result.output
    texts = [
        "--masks",
        "--mask-coverage",
        "--mask-kind",
        "--lambda-l1",
        "--lambda-gan",
        "--hole-weight",
        "--ngf",
    ]
    assert [text for text in texts if text not in result.output] == []


def test_cli_run_writes_g_and_d_checkpoints_and_samples(cli_run: Path) -> None:
    checkpoint = latest_checkpoint(cli_run)
    assert checkpoint.name == "step_0000002"
    assert sorted(p.name for p in checkpoint.iterdir()) == [
        "D.safetensors",
        "G.safetensors",
        "state.pt",
    ]
    with Image.open(cli_run / "samples" / "step_0000002.png") as grid:
        assert grid.size == (3 * CROP, CROP)  # masked input | output | target


def test_cli_run_stores_the_resolved_options(cli_run: Path) -> None:
    config = json.loads((cli_run / "config.json").read_text())
    assert config["recipe"] == "inpaint"
    assert config["net"] == {"ngf": 4, "ndf": 4, "n_layers_d": 3, "in_channels": 3}
    assert config["loss"] == {"lambda_l1": 1.0, "lambda_gan": 0.1, "hole_weight": 6.0}
    assert (config["optim"]["lr"], config["optim"]["beta1"], config["optim"]["beta2"]) == (
        1e-4,
        0.5,
        0.999,
    )
    assert config["masks"] == {
        "kind": "mixed",
        "min_coverage": 0.05,
        "max_coverage": 0.5,
        "folder": None,
    }


def test_export_of_a_run_is_an_inpaint_model_with_its_mask(cli_onnx: Path) -> None:
    import onnx

    model = onnx.load(str(cli_onnx))
    (entry,) = [p for p in model.metadata_props if p.key == METADATA_KEY]
    card = ModelCard.from_json(entry.value)
    assert (card.task, card.arch, card.name) == ("inpaint", "gated_inpaint", "tiny_inpaint")
    assert card.to_dict()["mask"] == {"channel": 3, "hole": 1}


def test_exported_run_matches_its_generator(cli_run: Path, cli_onnx: Path) -> None:
    import onnxruntime as ort

    from ganedit.archs import load_generator

    batch = _batch()
    x = torch.cat([batch["image"] * (1 - batch["mask"]), batch["mask"]], 1)
    session = ort.InferenceSession(str(cli_onnx), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"image": x.numpy()})
    generator = load_generator(latest_checkpoint(cli_run) / "G.safetensors").module
    with torch.no_grad():
        expected = generator(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_resume_continues_the_cli_run(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "run"
    assert _train_cli(photos, out, "--max-steps", "1").exit_code == 0
    result = _invoke("train", "inpaint", "--resume", out, "--max-steps", "2", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert latest_checkpoint(out).name == "step_0000002"


def test_mask_folder_option_is_stored(tmp_path: Path, photos: Path) -> None:
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "masks" / "all.png")
    result = _train_cli(photos, tmp_path / "run", "--max-steps", "1", "--masks", tmp_path / "masks")
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["masks"]["folder"] == str(tmp_path / "masks")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--crop-size", "30"], "multiple of 4"),
        (["--ngf", "5"], "must be even"),
        (["--mask-coverage", "0.6", "0.2"], "MIN <= MAX"),
        (["--crop-size", "8"], "--crop-size"),
    ],
)
def test_bad_options_exit_2_with_a_reason(
    photos: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    result = _train_cli(photos, tmp_path / "run", "--max-steps", "1", *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "run" / "config.json").exists()
