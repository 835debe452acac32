"""The folder job (process_folder and ``ganedit translate``) on a mixed folder made here."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from folder_helpers import (
    MAKE,
    ORIENTATION,
    SRGB_ICC,
    Mixed,
    files,
    hashes,
    make_mixed_folder,
    noise,
)
from PIL import Image

import ganedit
from ganedit import FolderSettings, ModelCard, Report, Translator, process_folder
from ganedit._files import TEMP_GLOB
from ganedit.cli import main
from ganedit.model import WorkItem
from ganedit.pipeline import auto_workers


def _pixels(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


@dataclasses.dataclass(frozen=True)
class Run:
    mixed: Mixed
    out: Path
    report: Report
    before: dict[str, str]


def _run(
    model: Translator, mixed: Mixed, out: Path, **settings: object
) -> tuple[Report, dict[str, str]]:
    before = hashes(mixed.root)
    report = process_folder(model, [mixed.root], out, settings=FolderSettings(**settings))
    return report, before


@pytest.fixture(scope="module")
def recursive_run(tmp_path_factory: pytest.TempPathFactory, resnet_translator: Translator) -> Run:
    """The mixed folder translated once with --recursive; tests only read the result."""
    base = tmp_path_factory.mktemp("recursive")
    mixed = make_mixed_folder(base / "in")
    report, before = _run(resnet_translator, mixed, base / "out", recursive=True)
    return Run(mixed, base / "out", report, before)


@pytest.fixture
def mixed(tmp_path: Path) -> Mixed:
    return make_mixed_folder(tmp_path / "in")


@pytest.fixture
def clean_folder(tmp_path: Path) -> Path:
    """Six readable images, three sizes, two formats: a job with no failures."""
    root = tmp_path / "clean"
    root.mkdir()
    for seed, (h, w) in enumerate([(20, 20), (37, 53), (20, 20), (37, 53), (20, 20), (17, 31)]):
        Image.fromarray(noise(h, w, seed=seed)).save(root / f"img{seed}.png")
    Image.fromarray(noise(30, 30, seed=9)).save(root / "photo.jpg")
    return root


# --- the report -------------------------------------------------------------------------------


def test_failures_are_named_with_reasons(recursive_run: Run) -> None:
    reasons = {r.source.name: r.reason for r in recursive_run.report.failed}
    assert set(reasons) == set(recursive_run.mixed.bad)
    for name, words in recursive_run.mixed.bad.items():
        assert words in reasons[name]


def test_every_other_file_is_done(recursive_run: Run) -> None:
    report = recursive_run.report
    done = {str(r.source.relative_to(recursive_run.mixed.root)) for r in report.results}
    done -= set(recursive_run.mixed.bad)
    assert done == set(recursive_run.mixed.good_all)
    assert report.done == len(recursive_run.mixed.good_all)
    assert report.skipped == 0


def test_any_failure_makes_exit_code_one(recursive_run: Run) -> None:
    assert recursive_run.report.exit_code == 1


def test_summary_lists_each_failure(recursive_run: Run) -> None:
    summary = recursive_run.report.summary()
    assert f"{recursive_run.report.done} done, 0 skipped" in summary
    for name in recursive_run.mixed.bad:
        assert f"failed: {recursive_run.mixed.root / name}: " in summary


def test_report_dict_is_json_ready(recursive_run: Run) -> None:
    data = json.loads(json.dumps(recursive_run.report.to_dict()))
    assert data["failed"] == len(recursive_run.mixed.bad)
    assert len(data["outputs"]) == data["done"]


# --- outputs ----------------------------------------------------------------------------------


def test_outputs_mirror_relative_paths(recursive_run: Run) -> None:
    assert files(recursive_run.out) == set(recursive_run.mixed.good_all)


@pytest.mark.parametrize(
    "name",
    [
        "odd.png",
        "rgba.png",
        "deep.png",
        "deepgrey.png",
        "grey.jpg",
        "rotated.jpg",
        "photo.jpg",
        "sub/nested.png",
        "sub/deeper/leaf.jpg",
    ],
)
def test_output_has_the_upright_input_size(recursive_run: Run, name: str) -> None:
    with Image.open(recursive_run.out / name) as out:
        assert out.size == recursive_run.mixed.good_all[name]


def test_rotated_output_is_stored_upright(recursive_run: Run) -> None:
    with Image.open(recursive_run.out / "rotated.jpg") as out:
        assert out.getexif().get(ORIENTATION, 1) == 1


def test_output_keeps_the_input_format(recursive_run: Run) -> None:
    with (
        Image.open(recursive_run.out / "photo.jpg") as jpeg,
        Image.open(recursive_run.out / "odd.png") as png,
    ):
        assert (jpeg.format, png.format) == ("JPEG", "PNG")


def test_alpha_is_kept(recursive_run: Run) -> None:
    source = _pixels(recursive_run.mixed.root / "rgba.png")
    out = _pixels(recursive_run.out / "rgba.png")
    assert out.shape == (33, 41, 4)
    np.testing.assert_array_equal(out[:, :, 3], source[:, :, 3])


@pytest.mark.parametrize("name", ["deep.png", "deepgrey.png"])
def test_sixteen_bit_png_stays_sixteen_bit(recursive_run: Run, name: str) -> None:
    out = _pixels(recursive_run.out / name)
    assert out.dtype == np.uint16
    assert np.any(out % 257 != 0)  # real 16-bit values, not 8-bit ones widened


def test_exif_and_icc_are_carried(recursive_run: Run) -> None:
    with Image.open(recursive_run.out / "photo.jpg") as out:
        assert out.info.get("icc_profile") == SRGB_ICC
        assert out.getexif().get(MAKE) == "ganedit-test-camera"


def test_inputs_are_unchanged(recursive_run: Run) -> None:
    assert hashes(recursive_run.mixed.root) == recursive_run.before


def test_hidden_files_are_ignored(recursive_run: Run) -> None:
    sources = {r.source.name for r in recursive_run.report.results}
    assert ".hidden.png" not in sources
    assert not (recursive_run.out / ".hidden.png").exists()


def test_files_without_an_image_suffix_are_ignored(recursive_run: Run) -> None:
    assert "readme.txt" not in {r.source.name for r in recursive_run.report.results}


def test_subfolders_are_ignored_without_recursive(
    resnet_translator: Translator, mixed: Mixed, tmp_path: Path
) -> None:
    report, _ = _run(resnet_translator, mixed, tmp_path / "out")
    assert files(tmp_path / "out") == set(mixed.good_top)
    assert report.done == len(mixed.good_top)


def test_pixels_match_the_python_api(resnet_translator: Translator, recursive_run: Run) -> None:
    source = np.asarray(Image.open(recursive_run.mixed.root / "odd.png"))
    out = np.asarray(Image.open(recursive_run.out / "odd.png"))
    np.testing.assert_array_equal(out, resnet_translator(source))


# --- options ----------------------------------------------------------------------------------


def test_ext_changes_the_output_format(
    resnet_translator: Translator, mixed: Mixed, tmp_path: Path
) -> None:
    report, _ = _run(resnet_translator, mixed, tmp_path / "out", ext="png")
    expected = {str(Path(name).with_suffix(".png")) for name in mixed.good_top}
    assert files(tmp_path / "out") == expected
    with Image.open(tmp_path / "out" / "photo.png") as out:
        assert (out.format, out.size) == ("PNG", (45, 21))
    assert report.done == len(mixed.good_top)


def test_rerun_skips_existing_outputs(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = process_folder(resnet_translator, [clean_folder], out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    second = process_folder(resnet_translator, [clean_folder], out)
    assert (first.done, first.exit_code) == (7, 0)
    assert (second.done, second.skipped, second.exit_code) == (0, 7, 0)
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_rerun_does_only_the_missing_outputs(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / "img3.png").unlink()
    second = process_folder(resnet_translator, [clean_folder], out)
    assert (second.done, second.skipped) == (1, 6)
    assert (out / "img3.png").is_file()


def test_rerun_redoes_empty_outputs(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    # What a power cut after a --no-fsync write can leave: the name, without the data.
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / "img3.png").write_bytes(b"")
    second = process_folder(resnet_translator, [clean_folder], out)
    assert (second.done, second.skipped) == (1, 6)
    with Image.open(out / "img3.png") as redone:
        redone.load()


def test_overwrite_redoes_existing_outputs(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / "img0.png").write_bytes(b"stale")
    again = process_folder(
        resnet_translator, [clean_folder], out, settings=FolderSettings(overwrite=True)
    )
    assert (again.done, again.skipped) == (7, 0)
    with Image.open(out / "img0.png") as redone:
        redone.load()


def test_batch_size_three_gives_identical_pixels(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    process_folder(resnet_translator, [clean_folder], tmp_path / "one")
    process_folder(
        resnet_translator, [clean_folder], tmp_path / "three", settings=FolderSettings(batch_size=3)
    )
    names = sorted(files(tmp_path / "one"))
    assert names == sorted(files(tmp_path / "three"))
    for name in names:
        np.testing.assert_array_equal(
            _pixels(tmp_path / "three" / name), _pixels(tmp_path / "one" / name)
        )


def test_output_inside_the_input_folder_is_never_read_back(
    resnet_translator: Translator, clean_folder: Path
) -> None:
    out = clean_folder / "results"
    before = files(clean_folder)
    settings = FolderSettings(recursive=True)
    first = process_folder(resnet_translator, [clean_folder], out, settings=settings)
    second = process_folder(resnet_translator, [clean_folder], out, settings=settings)
    assert (first.done, second.skipped, second.done) == (7, 7, 0)
    assert {r.source.parent for r in first.results + second.results} == {clean_folder}
    assert files(clean_folder) == before | {f"results/{name}" for name in before}


def test_two_inputs_with_one_output_name_are_reported(
    resnet_translator: Translator, tmp_path: Path
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    Image.fromarray(noise(20, 20)).save(root / "a.png")
    Image.fromarray(noise(20, 20, seed=1)).save(root / "a.jpg")
    report = process_folder(
        resnet_translator, [root], tmp_path / "out", settings=FolderSettings(ext="png")
    )
    assert report.done == 1
    (failure,) = report.failed
    assert failure.source.name in {"a.png", "a.jpg"}
    assert "is also the output of" in failure.reason
    assert report.exit_code == 1


def test_stale_temporary_files_are_removed_on_rerun(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / "img3.png").unlink()
    stale = out / ".img3.png.ganedit-k1ll3d.tmp"
    stale.write_bytes(b"half a png")
    assert list(out.glob(TEMP_GLOB)) == [stale]
    process_folder(resnet_translator, [clean_folder], out)
    assert list(out.glob(TEMP_GLOB)) == []


def test_stale_temporary_files_are_removed_when_every_output_exists(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    # An interrupted --overwrite run leaves a temporary beside an output that exists.
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / ".img3.png.ganedit-k1ll3d.tmp").write_bytes(b"half a png")
    report = process_folder(resnet_translator, [clean_folder], out)
    assert report.skipped == 7
    assert list(out.glob(TEMP_GLOB)) == []


def test_missing_input_raises_ganedit_error(resnet_translator: Translator, tmp_path: Path) -> None:
    with pytest.raises(ganedit.GaneditError, match="does not exist"):
        process_folder(resnet_translator, [tmp_path / "nowhere"], tmp_path / "out")


def test_file_inputs_go_directly_under_out(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    report = process_folder(
        resnet_translator, [clean_folder / "img1.png", clean_folder / "photo.jpg"], tmp_path / "o"
    )
    assert report.done == 2
    assert files(tmp_path / "o") == {"img1.png", "photo.jpg"}


def test_progress_sees_the_total_and_every_file(
    resnet_translator: Translator, mixed: Mixed, tmp_path: Path
) -> None:
    seen: list[object] = []

    class Recorder:
        def start(self, total: int) -> None:
            seen.append(total)

        def advance(self, result: object) -> None:
            seen.append(result)

    process_folder(resnet_translator, [mixed.root], tmp_path / "out", progress=Recorder())
    total = len(mixed.good_top) + len(mixed.bad)
    assert seen[0] == total
    assert len(seen) == 1 + total


def test_a_model_failure_fails_only_its_batch(
    resnet_onnx: Path, clean_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ganedit.load(resnet_onnx, device="cpu")
    real = model.run_items

    def fail_on_wide(items: list[WorkItem]) -> list[object]:
        if items[0].image.width == 53:
            raise RuntimeError("out of memory")
        return real(items)

    monkeypatch.setattr(model, "run_items", fail_on_wide)
    report = process_folder(model, [clean_folder], tmp_path / "out")
    assert {r.source.name for r in report.failed} == {"img1.png", "img3.png"}
    assert all(r.reason == "model failed on this image: out of memory" for r in report.failed)
    assert report.done == 5


def test_a_write_failure_fails_only_its_file(
    resnet_translator: Translator,
    clean_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno

    import ganedit.pipeline

    real = ganedit.pipeline.atomic_write

    def refuse_photo(path: Path, *args: object, **kwargs: object) -> None:
        if path.name == "photo.jpg":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ganedit.pipeline, "atomic_write", refuse_photo)
    report = process_folder(resnet_translator, [clean_folder], tmp_path / "out")
    (failure,) = report.failed
    assert failure.source.name == "photo.jpg"
    output = tmp_path / "out" / "photo.jpg"
    assert failure.reason == f"{output}: cannot write file: No space left on device"
    assert report.done == 6
    assert not (tmp_path / "out" / "photo.jpg").exists()


# --- the CLI on the mixed folder --------------------------------------------------------------


def _translate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["translate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_reports_failures_and_exits_one(
    resnet_onnx: Path, mixed: Mixed, tmp_path: Path
) -> None:
    code, _, err = _translate(str(resnet_onnx), str(mixed.root), "-o", str(tmp_path / "out"))
    assert code == 1
    assert f"{len(mixed.good_top)} done, 0 skipped" in err
    for name, words in mixed.bad.items():
        assert f"failed: {mixed.root / name}: " in err
        assert words in err
    assert files(tmp_path / "out") == set(mixed.good_top)


def test_cli_recursive_descends_into_subfolders(
    resnet_onnx: Path, mixed: Mixed, tmp_path: Path
) -> None:
    code, _, _ = _translate(str(resnet_onnx), str(mixed.root), "-o", str(tmp_path / "out"), "-r")
    assert code == 1
    assert files(tmp_path / "out") == set(mixed.good_all)


def test_cli_rerun_without_failures_skips_everything_and_exits_zero(
    resnet_onnx: Path, clean_folder: Path, tmp_path: Path
) -> None:
    args = [str(resnet_onnx), str(clean_folder), "-o", str(tmp_path / "out"), "--json"]
    first_code, first, _ = _translate(*args)
    second_code, second, _ = _translate(*args)
    assert (first_code, second_code) == (0, 0)
    assert json.loads(first)["done"] == 7
    assert (json.loads(second)["skipped"], json.loads(second)["done"]) == (7, 0)


def test_cli_overwrite_redoes_everything(
    resnet_onnx: Path, clean_folder: Path, tmp_path: Path
) -> None:
    args = [str(resnet_onnx), str(clean_folder), "-o", str(tmp_path / "out"), "--json"]
    _translate(*args)
    code, out, _ = _translate(*args, "--overwrite")
    assert code == 0
    assert json.loads(out)["done"] == 7


def test_cli_batch_size_three_gives_identical_pixels(
    resnet_onnx: Path, clean_folder: Path, tmp_path: Path
) -> None:
    _translate(str(resnet_onnx), str(clean_folder), "-o", str(tmp_path / "one"), "--ext", "png")
    _translate(
        str(resnet_onnx), str(clean_folder), "-o", str(tmp_path / "three"), "--ext", "png",
        "--batch-size", "3",
    )  # fmt: skip
    for name in sorted(files(tmp_path / "one")):
        np.testing.assert_array_equal(
            _pixels(tmp_path / "three" / name), _pixels(tmp_path / "one" / name)
        )


# --- an interrupted run -----------------------------------------------------------------------


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes_to_complete_outputs(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    root = tmp_path / "in"
    root.mkdir()
    names = [f"img{i:02d}.png" for i in range(30)]
    for seed, name in enumerate(names):
        Image.fromarray(noise(96, 96, seed=seed)).save(root / name)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ganedit.cli", "translate", str(resnet_onnx), str(root)]
    command += ["-o", str(out), "--workers", "1", "--threads", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(out.glob("*.png")):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    written = {p.name for p in out.glob("*.png")}
    assert 0 < len(written) < len(names)

    code, _, err = _translate(str(resnet_onnx), str(root), "-o", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == names  # no temporaries left either
    for name in names:
        with Image.open(out / name) as image:
            image.load()  # decodes fully: nothing truncated
            assert image.size == (96, 96)


def test_temporaries_of_a_live_concurrent_job_are_left_alone(
    resnet_translator: Translator, clean_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    process_folder(resnet_translator, [clean_folder], out)
    (out / "img3.png").unlink()
    # Written by a process that is still running (this one): another job's work in progress.
    live = out / f".img5.png.ganedit-{os.getpid()}-abc123.tmp"
    live.write_bytes(b"being written")
    process_folder(resnet_translator, [clean_folder], out)
    assert live.exists()


# --- worker threads ----------------------------------------------------------------------------


class _Device:
    """A Session that only says where it runs (the worker count reads nothing else)."""

    providers: ClassVar[list[str]] = ["stub"]
    is_network = True

    def __init__(self, on_gpu: bool):
        self.on_gpu = on_gpu

    def run(self, batch: np.ndarray) -> np.ndarray:
        return batch


def _model_on(*, gpu: bool) -> Translator:
    card = ModelCard(name="stub", task="translate", arch="stub")
    return Translator(_Device(gpu), card, Path("stub"))


def test_workers_default_to_auto() -> None:
    assert FolderSettings().workers is None


@pytest.mark.parametrize("cores", [1, 2, 4, 16, 64, None])
def test_workers_are_two_on_the_cpu_whatever_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int | None
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert auto_workers(_model_on(gpu=False)) == 2


def test_the_tiny_exported_model_runs_on_the_cpu_with_two_workers(
    resnet_translator: Translator,
) -> None:
    assert not resnet_translator.on_gpu
    assert auto_workers(resnet_translator) == 2


@pytest.mark.parametrize(
    ("cores", "expected"),
    [(1, 2), (2, 2), (3, 2), (4, 2), (5, 3), (6, 4), (10, 8), (16, 8), (64, 8), (None, 2)],
)
def test_workers_on_a_gpu_grow_with_the_cores_within_two_to_eight(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, expected: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    workers = auto_workers(_model_on(gpu=True))
    assert workers == expected
    assert 2 <= workers <= 8
    if cores is not None and cores >= 4:
        assert workers <= cores - 2  # two cores stay free for the runner and the device feed


def test_zero_workers_is_rejected() -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"):
        FolderSettings(workers=0)
