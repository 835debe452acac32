"""train(): the learning-rate schedule, exact resume after a crash, and learning a known mapping."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from train_helpers import (  # noqa: E402
    Crash,
    checkpoint_contents,
    crash_at,
    differences,
    paired_data,
    tiny_config,
    unaligned_data,
    with_run,
)

from ganedit.train import loop  # noqa: E402
from ganedit.train.config import DataOptions, OptimOptions, RunOptions, TrainConfig  # noqa: E402
from ganedit.train.cyclegan import CycleGAN  # noqa: E402
from ganedit.train.run_state import latest_checkpoint  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Iterator[None]:
    """train() switches deterministic algorithms on for the process; leave it as found."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = benchmark


def _train(config, **kwargs) -> Path:
    return loop.train(config, stream=io.StringIO(), **kwargs)


# -------------------------------------------------------------------- learning-rate schedule
@pytest.fixture
def lr_log(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """(G lr, D lr) of every step that train() runs, read off the optimisers as it steps."""
    seen: list[tuple[float, float]] = []

    class Recording(CycleGAN):
        def step(self, batch):
            seen.append(tuple(self.optimizers[n].param_groups[0]["lr"] for n in ("G", "D")))
            return super().step(batch)

    monkeypatch.setitem(loop.RECIPES, "cyclegan", Recording)
    return seen


LR = 2e-4
# epochs 2 + epochs_decay 2 over a 2-image dataset (2 steps per epoch).
LR_PER_STEP = [LR] * 4 + [LR * 2 / 3] * 2 + [LR / 3] * 2


def _schedule_config(tmp_path: Path):
    return tiny_config(
        "cyclegan",
        unaligned_data(tmp_path / "data", count=2),
        tmp_path / "run",
        optim={"epochs": 2, "epochs_decay": 2},
        loss={"pool_size": 0},
        run={"deterministic": False},
    )


def test_linear_schedule_gives_full_then_decaying_rates_per_epoch(
    tmp_path: Path, lr_log: list[tuple[float, float]]
) -> None:
    run_dir = _train(_schedule_config(tmp_path))
    assert [g for g, _ in lr_log] == pytest.approx(LR_PER_STEP, rel=1e-12)
    assert [d for _, d in lr_log] == pytest.approx(LR_PER_STEP, rel=1e-12)
    assert latest_checkpoint(run_dir).name == "step_0000008"


@pytest.mark.parametrize("stop", [3, 4, 5], ids=["mid-epoch", "epoch-end", "first-decay"])
def test_schedule_is_unchanged_by_a_stop_and_resume(
    tmp_path: Path, lr_log: list[tuple[float, float]], stop: int
) -> None:
    config = _schedule_config(tmp_path)
    _train(with_run(config, max_steps=stop))
    assert len(lr_log) == stop
    _train(with_run(config, max_steps=None), resume=True)
    assert [g for g, _ in lr_log] == pytest.approx(LR_PER_STEP, rel=1e-12)
    assert [d for _, d in lr_log] == pytest.approx(LR_PER_STEP, rel=1e-12)


# ---------------------------------------------------------------------------- crash and resume
def test_a_crash_saves_nothing_and_resume_starts_from_the_last_checkpoint(tmp_path: Path) -> None:
    config = tiny_config(
        "cyclegan",
        unaligned_data(tmp_path / "data"),
        tmp_path / "run",
        run={"max_steps": 6, "save_every": 2, "deterministic": False},
        loss={"pool_size": 0},
    )
    with pytest.raises(Crash, match="killed at step 5"):
        _train(config, callbacks=(crash_at(5),))
    run_dir = tmp_path / "run"
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "step_0000002",
        "step_0000004",
    ]
    assert latest_checkpoint(run_dir).name == "step_0000004"
    steps: list[int] = []
    _train(config, resume=True, callbacks=(lambda p, _l: steps.append(p.step),))
    assert steps == [5, 6]


RESUME_CASES = {
    # 3 images, batch 1: epochs end at steps 3 and 6; the crash at step 5 resumes from step 4,
    # mid-epoch, and the run crosses the boundary at step 6. The pool of 2 is full by then.
    "cyclegan": {
        "data": unaligned_data,
        "loss": {"pool_size": 2},
        "net": {},
        "data_options": {"workers": 2},
    },
    # Dropout on (unet_32 has no dropout block; unet_64 has one): the resumed run must draw
    # the same dropout masks, from the global RNG restored from the checkpoint.
    "pix2pix": {
        "data": paired_data,
        "loss": {},
        "net": {"dropout": True, "net_g": "unet_64"},
        "data_options": {"workers": 2, "load_size": 64, "crop_size": 64},
    },
}


@pytest.mark.parametrize("recipe", sorted(RESUME_CASES))
def test_crash_and_resume_ends_with_exactly_the_uninterrupted_state(
    tmp_path: Path, recipe: str
) -> None:
    case = RESUME_CASES[recipe]
    data = case["data"](tmp_path / "data")

    def config(name: str):
        return tiny_config(
            recipe,
            data,
            tmp_path / name,
            run={"max_steps": 7, "save_every": 2},
            loss=case["loss"],
            net=case["net"],
            data_options=case["data_options"],
        )

    straight = _train(config("straight"))
    with pytest.raises(Crash, match="killed at step 5"):
        _train(config("crashed"), callbacks=(crash_at(5),))
    assert latest_checkpoint(tmp_path / "crashed").name == "step_0000004"
    resumed = _train(config("crashed"), resume=True)

    final = latest_checkpoint(straight)
    assert final.name == latest_checkpoint(resumed).name == "step_0000007"
    expected, got = checkpoint_contents(final), checkpoint_contents(latest_checkpoint(resumed))
    assert set(expected) == set(got) and len(expected) == {"cyclegan": 5, "pix2pix": 3}[recipe]
    assert differences(got, expected) == []
    # The comparison is not vacuous: training moved the weights away from the first save.
    first = checkpoint_contents(tmp_path / "straight" / "checkpoints" / "step_0000002")
    assert all(differences(first[k], expected[k]) for k in expected if k != "state")


def test_resume_keeps_the_stored_options_and_only_changes_max_steps(tmp_path: Path) -> None:
    config = tiny_config(
        "cyclegan",
        unaligned_data(tmp_path / "data", count=2),
        tmp_path / "run",
        run={"max_steps": 1, "deterministic": False},
        loss={"pool_size": 0},
    )
    _train(config)
    other = tiny_config(
        "cyclegan",
        tmp_path / "elsewhere",
        tmp_path / "run",
        run={"max_steps": 2, "seed": 99},
        loss={"pool_size": 0, "lambda_a": 1.0},
    )
    steps: list[int] = []
    _train(other, resume=True, callbacks=(lambda p, _l: steps.append(p.step),))
    assert steps == [2]
    stored = (tmp_path / "run" / "config.json").read_text()
    assert '"seed": 0' in stored and '"lambda_a": 10.0' in stored


# ------------------------------------------------------------------------- learning a mapping
def test_pix2pix_learns_day_to_night_on_held_out_scenes(tmp_path: Path) -> None:
    """A short CPU run learns the known colour transform of train.synthetic."""
    import ganedit
    from ganedit.export import export_run
    from ganedit.train.synthetic import day_scene, make_day_night, to_night

    data = make_day_night(tmp_path / "data", count=16, size=32, paired=True)
    config = tiny_config(
        "pix2pix",
        data,
        tmp_path / "day2night",
        net={"dropout": False},
        run={"max_steps": 300, "deterministic": False},
    )
    run_dir = _train(config)
    result = export_run(run_dir, tmp_path / "day2night.onnx")
    assert result.card.name == "day2night"
    model = ganedit.load(result.path, device="cpu")

    held_out = [day_scene(32, 32, seed=900_000 + i) for i in range(8)]
    night = [to_night(day).astype(np.float32) for day in held_out]
    output = [np.asarray(model(day), dtype=np.float32) for day in held_out]
    error = np.mean([np.abs(o - n).mean() for o, n in zip(output, night, strict=True)])
    identity = np.mean([np.abs(d - n).mean() for d, n in zip(held_out, night, strict=True)])
    assert error < 0.5 * identity, f"mean abs error {error:.1f}, identity {identity:.1f}"


def test_train_gives_back_the_callers_determinism_setting(tmp_path: Path) -> None:
    before = torch.are_deterministic_algorithms_enabled()
    data = unaligned_data(tmp_path / "data")
    config = tiny_config(
        "cyclegan", data, tmp_path / "run", run={"max_steps": 1, "deterministic": not before}
    )
    loop.train(config, stream=io.StringIO())
    assert torch.are_deterministic_algorithms_enabled() == before


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_a_progress_line_with_losses_rate_and_eta(tmp_path: Path) -> None:
    data = unaligned_data(tmp_path / "data")
    stream = _Terminal()
    loop.train(tiny_config("cyclegan", data, tmp_path / "run", run={"max_steps": 3}), stream=stream)
    ticks = [part for part in stream.getvalue().split("\r") if part.startswith(("1/", "2/", "3/"))]
    assert [t.split(" ")[0] for t in ticks] == ["1/3", "2/3", "3/3"]
    assert "cycle_A" in ticks[-1] and "images/s" in ticks[-1] and "ETA 0:00:00" in ticks[-1]


# ---------------------------------------------------------------------------- recipe identity
@pytest.mark.parametrize("name", sorted(loop.RECIPES))
def test_a_config_round_trips_with_its_recipes_option_types(name: str) -> None:
    recipe = loop.RECIPES[name]
    assert recipe.name == name
    config = TrainConfig(
        recipe=name,
        data=DataOptions(root="data"),
        net=recipe.net_type(),
        optim=OptimOptions(),
        loss=recipe.loss_type(),
        run=RunOptions(out="run"),
    )
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert (type(again.net), type(again.loss)) == (recipe.net_type, recipe.loss_type)


def test_a_config_of_an_unknown_recipe_is_refused() -> None:
    data = {"recipe": "stylegan", "data": {}, "net": {}, "optim": {}, "loss": {}, "run": {}}
    with pytest.raises(KeyError, match="stylegan"):
        TrainConfig.from_dict(data)
