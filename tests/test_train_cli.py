"""`ganedit train`, `ganedit data`, `ganedit export RUN`: options, run folders, errors, DDP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

torch = pytest.importorskip("torch")

from train_helpers import (  # noqa: E402
    SIZE,
    TINY_CYCLEGAN_ARGS,
    TINY_PIX2PIX_ARGS,
    checkpoint_contents,
    differences,
    paired_data,
    unaligned_data,
)

import ganedit  # noqa: E402
from ganedit.archs import ResnetGenerator, load_generator  # noqa: E402
from ganedit.cli import main  # noqa: E402
from ganedit.train.cli_options import in_help_order  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_torch_globals() -> Iterator[None]:
    """train() switches deterministic algorithms on for the process; leave it as found."""
    deterministic = torch.are_deterministic_algorithms_enabled()
    benchmark = torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = benchmark


def _invoke(*args: str | os.PathLike[str]) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _train(recipe: str, data: Path, out: Path, *extra: str) -> Result:
    tiny = TINY_CYCLEGAN_ARGS if recipe == "cyclegan" else TINY_PIX2PIX_ARGS
    return _invoke("train", recipe, "--data", data, "--out", out, *tiny, *extra)


@pytest.fixture(scope="module")
def cyclegan_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unaligned_data(tmp_path_factory.mktemp("unaligned"), count=2)


@pytest.fixture(scope="module")
def pix2pix_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return paired_data(tmp_path_factory.mktemp("paired"), count=2)


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory: pytest.TempPathFactory, cyclegan_data: Path) -> Path:
    """A 4-step CycleGAN run, a checkpoint every step keeping 2, a sample every 2 steps."""
    out = tmp_path_factory.mktemp("runs") / "tiny_h2z"
    extra = ["--max-steps", "4", "--save-every", "1", "--keep", "2", "--sample-every", "2"]
    result = _train("cyclegan", cyclegan_data, out, *extra)
    assert result.exit_code == 0, result.output
    (out / "cli_output.txt").write_text(result.output)
    return out


@pytest.fixture(scope="module")
def pix2pix_run(tmp_path_factory: pytest.TempPathFactory, pix2pix_data: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny_facades"
    result = _train("pix2pix", pix2pix_data, out, "--max-steps", "1")
    assert result.exit_code == 0, result.output
    return out


# -------------------------------------------------------------------------------------- help
@pytest.mark.parametrize(
    "path",
    [
        ("train",),
        ("train", "cyclegan"),
        ("train", "pix2pix"),
        ("data",),
        ("data", "list"),
        ("data", "download"),
    ],
    ids=" ".join,
)
def test_help_works(path: tuple[str, ...]) -> None:
    result = _invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_train_help_lists_both_recipes() -> None:
    output = _invoke("train", "--help").output
    assert "cyclegan" in output and "pix2pix" in output


@pytest.mark.parametrize(
    ("recipe", "defaults"),
    [
        ("cyclegan", ["resnet_9blocks", "--gan-mode", "lsgan", "--pool-size", "--lambda-identity"]),
        ("pix2pix", ["unet_256", "--gan-mode", "vanilla", "--lambda-l1", "batch"]),
    ],
)
def test_recipe_help_shows_the_reference_defaults(recipe: str, defaults: list[str]) -> None:
    output = _invoke("train", recipe, "--help").output
    for text in [*defaults, "--resume", "--max-steps", "--keep", "--amp"]:
        assert text in output


def _two_options() -> click.Command:
    @click.command()
    @click.option("--a")
    @click.option("--b")
    def command(a: str | None, b: str | None) -> None:
        pass

    return command


def test_help_order_puts_the_options_in_its_order() -> None:
    command = in_help_order("--b", "--a")(_two_options())
    assert [param.opts[0] for param in command.params] == ["--b", "--a"]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("--a", r"missing \['--b'\]"),
        ("--a --b --c", r"unknown \['--c'\]"),
        ("--a --b --a", "given 3 names"),
    ],
    ids=["missing", "unknown", "twice"],
)
def test_help_order_must_name_each_option_once(layout: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        in_help_order(layout)(_two_options())


def test_data_list_names_the_reference_datasets_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("`ganedit data list` must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    result = _invoke("data", "list")
    assert result.exit_code == 0, result.output
    assert "cyclegan/horse2zebra" in result.output
    assert "unaligned" in result.output


def test_data_download_unpacks_from_a_mirror_with_its_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    from ganedit.train import datasets_download

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    with zipfile.ZipFile(mirror / "horse2zebra.zip", "w") as zf:
        for side in ("trainA", "trainB"):
            zf.write(png, f"horse2zebra/{side}/0.png")
    monkeypatch.setitem(datasets_download.BASE_URLS, "cyclegan", mirror.as_uri())
    result = _invoke("data", "download", "horse2zebra", "-o", tmp_path / "datasets")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "datasets" / "horse2zebra" / "trainB" / "0.png").is_file()


# ------------------------------------------------------------------------------- usage errors
@pytest.mark.parametrize("recipe", ["cyclegan", "pix2pix"])
@pytest.mark.parametrize("given", ["nothing", "data", "out"])
def test_data_and_out_are_required(
    recipe: str, given: str, cyclegan_data: Path, tmp_path: Path
) -> None:
    args = {"nothing": [], "data": ["--data", cyclegan_data], "out": ["--out", tmp_path / "r"]}
    result = _invoke("train", recipe, *args[given])
    assert result.exit_code == 2
    assert "--data and --out are required" in result.output
    assert not (tmp_path / "r").exists()


def test_out_that_holds_a_run_is_refused_with_a_pointer_to_resume(
    cyclegan_run: Path, cyclegan_data: Path
) -> None:
    before = sorted(p.name for p in (cyclegan_run / "checkpoints").iterdir())
    result = _train("cyclegan", cyclegan_data, cyclegan_run, "--max-steps", "1")
    assert result.exit_code == 2
    assert "already holds a run" in result.output and "--resume" in result.output
    assert sorted(p.name for p in (cyclegan_run / "checkpoints").iterdir()) == before


def test_resume_of_a_folder_that_is_not_a_run_fails_clearly(tmp_path: Path) -> None:
    result = _invoke("train", "cyclegan", "--resume", tmp_path)
    assert result.exit_code == 2
    assert "cannot resume" in result.output and "config.json" in result.output


def test_resume_as_the_other_recipe_fails_clearly(pix2pix_run: Path) -> None:
    result = _invoke("train", "cyclegan", "--resume", pix2pix_run)
    assert result.exit_code == 2
    assert "it is a pix2pix run" in result.output


def test_amp_on_the_cpu_fails_clearly(cyclegan_data: Path, tmp_path: Path) -> None:
    # TINY_CYCLEGAN_ARGS name --device cpu, so this holds on a CUDA machine too.
    result = _train("cyclegan", cyclegan_data, tmp_path / "r", "--amp")
    assert result.exit_code == 2
    assert "--amp" in result.output and "needs a CUDA device" in result.output
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------------------ run directory
def test_run_prints_its_directory_and_how_to_export_it(cyclegan_run: Path) -> None:
    output = (cyclegan_run / "cli_output.txt").read_text()
    assert output.count("run directory:") == 1
    assert f"run directory: {cyclegan_run}" in output
    assert f"ganedit export {cyclegan_run}" in output
    assert "step 4 epoch 2" in output  # --log-every 1, 2 images: epoch 2 holds steps 3 and 4


def test_config_json_holds_the_resolved_options(cyclegan_run: Path, cyclegan_data: Path) -> None:
    config = json.loads((cyclegan_run / "config.json").read_text())
    assert config["recipe"] == "cyclegan"
    assert config["data"]["root"] == str(cyclegan_data)
    assert config["data"]["crop_size"] == SIZE and config["data"]["mode"] == "auto"
    assert config["net"]["net_g"] == "resnet_1blocks"  # from --n-blocks 1
    assert config["net"]["ngf"] == 4 and config["net"]["norm"] == "instance"
    assert config["optim"] == {
        "lr": 2e-4,
        "beta1": 0.5,
        "beta2": 0.999,
        "epochs": 100,
        "epochs_decay": 100,
        "lr_policy": "linear",
    }
    assert config["loss"] == {
        "gan_mode": "lsgan",
        "lambda_a": 10.0,
        "lambda_b": 10.0,
        "lambda_identity": 0.5,
        "pool_size": 50,
        "gp_weight": 10.0,
    }
    assert config["run"]["max_steps"] == 4 and config["run"]["out"] == str(cyclegan_run)


def test_checkpoints_hold_every_network_and_the_state(cyclegan_run: Path) -> None:
    latest = (cyclegan_run / "latest").read_text().strip()
    assert latest == "step_0000004"
    files = sorted(p.name for p in (cyclegan_run / "checkpoints" / latest).iterdir())
    assert files == [f"{n}.safetensors" for n in ("D_A", "D_B", "G_A", "G_B")] + ["state.pt"]


def test_keep_prunes_older_checkpoints(cyclegan_run: Path) -> None:
    kept = sorted(p.name for p in (cyclegan_run / "checkpoints").iterdir())
    assert kept == ["step_0000003", "step_0000004"]  # saved at 1, 2, 3, 4; --keep 2


def test_samples_are_written_every_sample_every_steps(cyclegan_run: Path) -> None:
    samples = sorted(p.name for p in (cyclegan_run / "samples").iterdir())
    assert samples == ["step_0000002.png", "step_0000004.png"]
    with Image.open(cyclegan_run / "samples" / samples[0]) as grid:
        assert grid.size == (6 * SIZE, SIZE)  # real, fake, rec for A, then for B


def test_logs_hold_a_tensorboard_event_file(cyclegan_run: Path) -> None:
    assert list((cyclegan_run / "logs").glob("events.out.tfevents.*"))


def test_resume_through_the_cli_continues_to_the_new_max_steps(
    cyclegan_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    assert _train("cyclegan", cyclegan_data, out, "--max-steps", "1").exit_code == 0
    result = _invoke("train", "cyclegan", "--resume", out, "--max-steps", "3")
    assert result.exit_code == 0, result.output
    assert "resumed" in result.output and "at step 1" in result.output
    assert (out / "latest").read_text() == "step_0000003"


# ------------------------------------------------------------------ generators and export
def test_checkpoint_generator_is_in_the_reference_layout(cyclegan_run: Path) -> None:
    from safetensors.torch import load_file

    weights = cyclegan_run / "checkpoints" / "step_0000004" / "G_A.safetensors"
    loaded = load_generator(weights)  # strict
    assert loaded.spec.arch == "resnet_1blocks"
    # The reference's own network class takes the file strictly, and computes the same thing.
    reference = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=4, n_blocks=1, norm="instance", use_dropout=False
    )
    reference.load_state_dict(load_file(str(weights)), strict=True)
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        assert torch.equal(reference.eval()(x), loaded.module(x))


def test_pix2pix_checkpoint_generator_loads_as_a_unet(pix2pix_run: Path) -> None:
    loaded = load_generator(pix2pix_run / "checkpoints" / "step_0000001" / "G.safetensors")
    assert loaded.spec.arch == "unet_32" and loaded.spec.norm == "batch"


def _images(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)).save(folder / name)
    return folder


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_export_of_a_run_makes_a_model_that_translate_runs(
    cyclegan_run: Path, tmp_path: Path, direction: str
) -> None:
    onnx_file = tmp_path / "x.onnx"
    result = _invoke("export", cyclegan_run, "-o", onnx_file, "--direction", direction)
    assert result.exit_code == 0, result.output
    card = ganedit.load(onnx_file, device="cpu").card
    assert card.name == "tiny_h2z" + ("_BtoA" if direction == "BtoA" else "")
    expected = "G_A" if direction == "AtoB" else "G_B"
    assert card.source.endswith(f"step_0000004/{expected}.safetensors")
    result = _invoke("translate", onnx_file, _images(tmp_path / "in"), "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]


def test_export_of_a_run_takes_the_source_given(cyclegan_run: Path, tmp_path: Path) -> None:
    args = ("export", cyclegan_run, "-o", tmp_path / "x.onnx", "--source", "https://example.org")
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    assert ganedit.load(tmp_path / "x.onnx", device="cpu").card.source == "https://example.org"


def test_export_btoa_of_a_pix2pix_run_is_refused(pix2pix_run: Path, tmp_path: Path) -> None:
    result = _invoke("export", pix2pix_run, "-o", tmp_path / "x.onnx", "--direction", "BtoA")
    assert result.exit_code == 2
    assert "pix2pix run has generators for ['AtoB'], not BtoA" in result.output
    assert not (tmp_path / "x.onnx").exists()


def test_export_of_a_pix2pix_run(pix2pix_run: Path, tmp_path: Path) -> None:
    result = _invoke("export", pix2pix_run, "-o", tmp_path / "x.onnx")
    assert result.exit_code == 0, result.output
    assert ganedit.load(tmp_path / "x.onnx", device="cpu").card.arch == "unet_32"


def test_export_of_a_folder_that_is_not_a_run_fails_clearly(tmp_path: Path) -> None:
    result = _invoke("export", tmp_path, "-o", tmp_path / "x.onnx")
    assert result.exit_code == 2
    assert "is not a training run" in result.output


# ------------------------------------------------------------------------------------ SIGKILL
def _train_process(*args: str | Path) -> list[str]:
    return [
        sys.executable, "-m", "ganedit.train", "cyclegan", *TINY_CYCLEGAN_ARGS,
        "--save-every", "2", "--keep", "0", "--deterministic", "--pool-size", "2",
        *[str(a) for a in args],
    ]  # fmt: skip


@pytest.mark.slow  # subprocesses training for several seconds
def test_sigkilled_run_resumes_to_the_uninterrupted_weights(
    cyclegan_data: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    command = _train_process("--data", cyclegan_data, "--out", killed)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (killed / "latest").is_file() and process.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    step = int((killed / "latest").read_text().removeprefix("step_"))
    until = str(step + 3)  # resumes mid-epoch (2 images a epoch) and crosses a boundary

    resume = _train_process("--resume", killed, "--max-steps", until)
    subprocess.run(resume, env=env, check=True, capture_output=True, timeout=120)
    straight = tmp_path / "straight"
    command = _train_process("--data", cyclegan_data, "--out", straight, "--max-steps", until)
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)

    name = (straight / "latest").read_text()
    assert (killed / "latest").read_text() == name == f"step_{int(until):07d}"
    expected = checkpoint_contents(straight / "checkpoints" / name)
    assert differences(checkpoint_contents(killed / "checkpoints" / name), expected) == []


# ----------------------------------------------------------------------------------------- DDP
def _torchrun(recipe: str, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    tiny = TINY_CYCLEGAN_ARGS if recipe == "cyclegan" else TINY_PIX2PIX_ARGS
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "ganedit.train", recipe, "--data", str(data), "--out", str(out),
        *tiny, "--max-steps", "2", *extra,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.slow  # subprocesses training for several seconds
@pytest.mark.parametrize(("recipe", "generator"), [("cyclegan", "G_A"), ("pix2pix", "G")])
def test_two_process_ddp_run_writes_one_loadable_checkpoint(
    recipe: str, generator: str, tmp_path: Path, cyclegan_data: Path, pix2pix_data: Path
) -> None:
    data = cyclegan_data if recipe == "cyclegan" else pix2pix_data
    out = tmp_path / "ddp"
    done = _torchrun(recipe, data, out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("run directory:") == 1, done.stdout
    assert "2 processes" in done.stdout
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000002"]
    load_generator(out / "checkpoints" / "step_0000002" / f"{generator}.safetensors")
    result = _invoke("export", out, "-o", tmp_path / "x.onnx")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------------- import weight
@pytest.mark.parametrize(
    "argv", [["--help"], ["translate", "--help"], ["export", "--help"], ["models", "--help"]]
)
def test_cli_help_does_not_import_torch(argv: list[str]) -> None:
    code = (
        "import sys, ganedit\n"
        "from ganedit.cli import main\n"
        f"code = main({argv!r}, standalone_mode=False)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
