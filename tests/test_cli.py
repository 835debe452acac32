"""The ``ganedit`` command line: help, exit codes, output modes, the models commands."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image
from upscale_helpers import exported_models

import ganedit.zoo
from ganedit.cli import main
from ganedit.session import OrtSession
from ganedit.zoo import ModelCache, ModelRegistry, ZooEntry


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """Three readable images of two sizes."""
    root = tmp_path / "in"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.png": (20, 20), "b.png": (37, 53), "c.jpg": (20, 20)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / name)
    return root


@pytest.fixture(scope="session")
def srvgg_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny x4 upscaling model (SRVGGNetCompact) as .onnx."""
    return exported_models(tmp_path_factory)["srvgg_x4"]


@pytest.fixture
def hole(tmp_path: Path) -> Path:
    """A 20x20 mask with a small white hole (for inpainting the 20x20 images)."""
    mask = np.zeros((20, 20), np.uint8)
    mask[8:12, 8:12] = 255
    path = tmp_path / "hole.png"
    Image.fromarray(mask).save(path)
    return path


@pytest.fixture
def unreachable_zoo(monkeypatch: pytest.MonkeyPatch) -> str:
    """A zoo whose one model would download from a refusing loopback port (nothing reachable)."""
    entry = ZooEntry(name="far", task="upscale", family="esr", url="http://127.0.0.1:1/far.pth")
    monkeypatch.setattr(ganedit.zoo, "default_registry", lambda: ModelRegistry([entry]))
    return entry.name


@pytest.fixture
def images_with_a_bad_one(images: Path) -> Path:
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after")
    return images


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", _command_paths(main), ids=lambda p: " ".join(p) or "ganedit")
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_works_for_every_command(path: tuple[str, ...], flag: str) -> None:
    result = _invoke(*path, flag)
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_command_list_covers_the_documented_commands() -> None:
    paths = {" ".join(p) for p in _command_paths(main)}
    assert {"translate", "export", "models list", "models info", "models pull"} <= paths


def test_version_is_printed() -> None:
    result = _invoke("--version")
    assert result.exit_code == 0
    assert ganedit.__version__ in result.output


# --- exit codes -------------------------------------------------------------------------------


def test_all_done_exits_zero(resnet_onnx: Path, images: Path, tmp_path: Path) -> None:
    result = _invoke("translate", str(resnet_onnx), str(images), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "3 done, 0 skipped (output exists), 0 failed" in result.stderr


def test_a_failed_file_exits_one(
    resnet_onnx: Path, images_with_a_bad_one: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _invoke("translate", str(resnet_onnx), str(images_with_a_bad_one), "-o", str(out))
    assert result.exit_code == 1
    assert f"failed: {images_with_a_bad_one / 'broken.png'}: " in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.jpg"]


@pytest.mark.parametrize(
    ("command", "task", "refusal"),
    [
        ("translate", "upscale", "is an upscale model, not translate: use `ganedit upscale`"),
        ("translate", "inpaint", "is an inpaint model, not translate: use `ganedit inpaint`"),
        ("upscale", "translate", "is a translate model, not upscale: use `ganedit translate`"),
        ("upscale", "inpaint", "is an inpaint model, not upscale: use `ganedit inpaint`"),
        ("inpaint", "translate", "is a translate model, not inpaint: use `ganedit translate`"),
        ("inpaint", "upscale", "is an upscale model, not inpaint: use `ganedit upscale`"),
    ],
)
def test_a_model_of_another_task_exits_two_naming_its_command(
    resnet_onnx: Path,
    srvgg_onnx: Path,
    images: Path,
    hole: Path,
    tmp_path: Path,
    command: str,
    task: str,
    refusal: str,
) -> None:
    model = {"translate": str(resnet_onnx), "upscale": str(srvgg_onnx), "inpaint": "cv2-telea"}
    extra = ["--mask", str(hole)] if command == "inpaint" else []
    out = tmp_path / "out"
    result = _invoke(command, model[task], str(images), "-o", str(out), *extra)
    assert result.exit_code == 2, result.output
    assert f"Error: {model[task]} {refusal}" in result.stderr
    assert not out.exists()


@pytest.fixture
def squares(tmp_path: Path) -> Path:
    """Three 20x20 images, the size of ``hole``."""
    root = tmp_path / "squares"
    root.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png", "c.jpg"):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / name)
    return root


@pytest.mark.parametrize("command", ["translate", "upscale", "inpaint"])
def test_every_folder_command_takes_a_batch_size(
    resnet_onnx: Path, srvgg_onnx: Path, squares: Path, hole: Path, tmp_path: Path, command: str
) -> None:
    model, extra = {
        "translate": (str(resnet_onnx), []),
        "upscale": (str(srvgg_onnx), []),
        "inpaint": ("cv2-telea", ["--mask", str(hole)]),
    }[command]
    out = tmp_path / "out"
    result = _invoke(command, model, str(squares), "-o", str(out), "--batch-size", "2", *extra)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.jpg"]


def test_upscale_tile_options_are_checked_before_the_model_loads(
    unreachable_zoo: str, images: Path, tmp_path: Path, ganedit_home: Path
) -> None:
    args = [unreachable_zoo, str(images), "-o", str(tmp_path / "out")]
    result = _invoke("upscale", *args, "--tile", "20", "--tile-overlap", "16")
    assert result.exit_code == 2, result.output
    assert "tile 20 is too small for overlap 16" in result.output
    assert list(ganedit_home.iterdir()) == []  # nothing downloaded
    assert not (tmp_path / "out").exists()


def test_a_missing_mask_path_is_refused_before_the_model_loads(
    unreachable_zoo: str, images: Path, tmp_path: Path, ganedit_home: Path
) -> None:
    args = [unreachable_zoo, str(images), "-o", str(tmp_path / "out")]
    result = _invoke("inpaint", *args, "--mask", str(tmp_path / "no-masks"))
    assert result.exit_code == 2, result.output
    assert "'--mask': Path" in result.output and "does not exist" in result.output
    assert list(ganedit_home.iterdir()) == []


@pytest.mark.parametrize(("flags", "per_output"), [((), 2), (("--no-fsync",), 0)])
def test_no_fsync_writes_the_outputs_without_fsync(
    resnet_onnx: Path,
    images: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[str, ...],
    per_output: int,
) -> None:
    from ganedit import _files

    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(_files.os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    out = tmp_path / "out"
    result = _invoke("translate", str(resnet_onnx), str(images), "-o", str(out), *flags)
    assert result.exit_code == 0, result.output
    outputs = sorted(p.name for p in out.iterdir())
    assert outputs == ["a.png", "b.png", "c.jpg"]
    assert len(calls) == per_output * len(outputs)  # the file's data and its folder entry


def test_bucket_runs_two_sizes_in_one_batch_and_keeps_sizes(
    resnet_onnx: Path, images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[tuple[int, ...]] = []
    run = OrtSession.run

    def spy(self: OrtSession, batch: np.ndarray) -> np.ndarray:
        batches.append(batch.shape)
        return run(self, batch)

    monkeypatch.setattr(OrtSession, "run", spy)
    out = tmp_path / "out"
    args = ("translate", str(resnet_onnx), str(images), "-o", str(out), "--batch-size", "3")
    result = _invoke(*args, "--bucket", "64")
    assert result.exit_code == 0, result.output
    assert batches == [(3, 3, 64, 64)]  # 20x20 and 37x53 share the 64x64 bucket
    for name, size in {"a.png": (20, 20), "b.png": (53, 37), "c.jpg": (20, 20)}.items():
        with Image.open(out / name) as image:
            assert image.size == size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["horse2zebr", "{images}"], "Did you mean: horse2zebra"),
        (["{model}", "{images}/missing"], "does not exist"),
        (["{model}", "{images}", "--ext", "gif"], "unsupported image suffix"),
        (["{model}", "{images}", "--ext", "tiff.bak"], "unsupported image suffix"),
        (["{model}", "{images}", "--batch-size", "0"], "--batch-size"),
        (["{model}", "{images}", "--batch-size", "two"], "--batch-size"),
        (["{model}", "{images}", "--device", "tpu"], "--device"),
        (["{model}", "{images}", "--bucket", "-8"], "--bucket"),
        (["{images}/a.png", "{images}"], "cannot load a .png file"),
        (["{images}/nothing.onnx", "{images}"], "does not exist"),
    ],
    ids=[
        "unknown-model",
        "missing-input",
        "bad-ext",
        "bad-ext-double",
        "zero-batch-size",
        "text-batch-size",
        "bad-device",
        "negative-bucket",
        "image-as-model",
        "missing-model-file",
    ],
)
def test_usage_errors_exit_two(
    resnet_onnx: Path, images: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    filled = [a.format(model=resnet_onnx, images=images) for a in args]
    result = _invoke("translate", *filled, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_missing_output_option_exits_two(resnet_onnx: Path, images: Path) -> None:
    result = _invoke("translate", str(resnet_onnx), str(images))
    assert result.exit_code == 2
    assert "Missing option '-o' / '--output'" in result.output


def test_onnx_without_card_exits_two(resnet_onnx: Path, images: Path, tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(resnet_onnx))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    result = _invoke("translate", str(bare), str(images), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "no ganedit model card" in result.stderr


# --- output modes -----------------------------------------------------------------------------


def test_json_summary_parses_and_lists_failures(
    resnet_onnx: Path, images_with_a_bad_one: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = [str(resnet_onnx), str(images_with_a_bad_one), "-o", str(out), "--json", "-q"]
    result = _invoke("translate", *args)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["done"], data["skipped"], data["failed"]) == (3, 0, 1)
    (failure,) = data["failures"]
    assert failure["file"] == str(images_with_a_bad_one / "broken.png")
    assert failure["reason"]
    assert sorted(data["outputs"]) == sorted(str(out / n) for n in ("a.png", "b.png", "c.jpg"))


def test_quiet_prints_nothing_on_success(resnet_onnx: Path, images: Path, tmp_path: Path) -> None:
    result = _invoke("translate", str(resnet_onnx), str(images), "-o", str(tmp_path / "o"), "-q")
    assert result.exit_code == 0
    assert (result.stdout, result.stderr) == ("", "")


def test_quiet_still_names_failures(
    resnet_onnx: Path, images_with_a_bad_one: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _invoke(
        "translate", str(resnet_onnx), str(images_with_a_bad_one), "-o", str(out), "-q"
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"failed: {images_with_a_bad_one / 'broken.png'}: ")
    assert len(result.stderr.splitlines()) == 1


def test_json_without_quiet_keeps_stdout_parseable(
    resnet_onnx: Path, images: Path, tmp_path: Path
) -> None:
    result = _invoke(
        "translate", str(resnet_onnx), str(images), "-o", str(tmp_path / "o"), "--json"
    )
    assert json.loads(result.stdout)["done"] == 3
    assert "3 done" in result.stderr


# --- models list / info -----------------------------------------------------------------------


def test_models_list_names_the_builtin_models() -> None:
    result = _invoke("models", "list")
    assert result.exit_code == 0
    names = {line[2:].split()[0] for line in result.stdout.splitlines()}
    assert {"horse2zebra", "zebra2horse", "style_monet", "facades_label2photo"} <= names


def test_models_list_json_marks_nothing_cached_in_an_empty_home() -> None:
    result = _invoke("models", "list", "--json")
    rows = json.loads(result.stdout)
    assert {row["name"] for row in rows} >= {"horse2zebra", "edges2shoes"}
    assert not any(row["cached"] for row in rows)
    assert {row["name"] for row in rows if row["builtin"]} == {"cv2-telea", "cv2-ns"}


def test_models_list_marks_downloaded_models() -> None:
    entry = ganedit.zoo.default_registry().get("horse2zebra")
    weights = ModelCache().weights_path(entry)
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    lines = _invoke("models", "list").stdout.splitlines()
    marked = {line.split()[1] for line in lines if line.startswith("*")}
    assert marked == {"horse2zebra"}


def test_models_list_filters_by_task() -> None:
    rows = json.loads(_invoke("models", "list", "--task", "translate", "--json").stdout)
    assert rows and all(row["task"] == "translate" for row in rows)


def test_models_info_reads_the_registry(ganedit_home: Path) -> None:
    result = _invoke("models", "info", "horse2zebra")
    assert result.exit_code == 0
    fields = dict(
        (key.strip(), value.strip())
        for key, value in (line.split(":", 1) for line in result.stdout.splitlines())
    )
    assert fields["name"] == "horse2zebra"
    assert fields["task"] == "translate"
    assert fields["url"].endswith(".pth")
    assert fields["weights"].startswith(str(ganedit_home))
    assert fields["weights"].endswith("(not downloaded)")


def test_models_info_of_a_builtin_baseline_says_there_is_nothing_to_download() -> None:
    result = _invoke("models", "info", "cv2-telea")
    assert result.exit_code == 0, result.output
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    assert (fields["name"], fields["task"], fields["family"]) == ("cv2-telea", "inpaint", "opencv")
    assert fields["weights"] == "built in (nothing to download)"
    assert "sha256" not in fields and "onnx" not in fields


def test_models_pull_of_a_builtin_baseline_downloads_nothing(ganedit_home: Path) -> None:
    result = _invoke("models", "pull", "cv2-telea", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "cv2-telea: built in, nothing to download"
    assert list(ganedit_home.iterdir()) == []


def test_models_info_on_an_onnx_prints_its_card(resnet_onnx: Path) -> None:
    result = _invoke("models", "info", str(resnet_onnx))
    assert result.exit_code == 0
    card = json.loads(result.stdout)
    assert (card["name"], card["arch"], card["format"]) == ("tiny_resnet", "resnet_1blocks", 1)


def test_models_info_of_an_unknown_name_exits_two() -> None:
    result = _invoke("models", "info", "zebra2hors")
    assert result.exit_code == 2
    assert "Did you mean: zebra2horse" in result.stderr


# --- models pull and zoo names, from a loopback server ----------------------------------------


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def zoo_server(resnet_checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A loopback server holding the tiny ResNet checkpoint, and a registry pointing at it."""
    payload = resnet_checkpoint.read_bytes()
    handler = type("Files", (_Files,), {"files": {"/tiny.pth": payload, "/bad.pth": b"evil"}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    registry = ModelRegistry(
        [
            ZooEntry(
                name="tiny",
                task="translate",
                family="cyclegan",
                url=f"{base}/tiny.pth",
                sha256=hashlib.sha256(payload).hexdigest(),
            ),
            ZooEntry(name="gone", task="translate", family="cyclegan", url=f"{base}/gone.pth"),
            ZooEntry(
                name="tampered",
                task="translate",
                family="cyclegan",
                url=f"{base}/bad.pth",
                sha256=hashlib.sha256(b"good").hexdigest(),
            ),
        ]
    )
    monkeypatch.setattr(ganedit.zoo, "default_registry", lambda: registry)
    yield base
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_models_pull_downloads_into_ganedit_home(
    zoo_server: str, resnet_checkpoint: Path, ganedit_home: Path
) -> None:
    result = _invoke("models", "pull", "tiny", "-q")
    assert result.exit_code == 0, result.output
    weights = ganedit_home / "weights" / "cyclegan" / "tiny.pth"
    assert result.stdout.strip() == f"tiny: {weights}"
    assert weights.read_bytes() == resnet_checkpoint.read_bytes()


def test_models_pull_of_a_cached_model_downloads_nothing(zoo_server: str) -> None:
    _invoke("models", "pull", "tiny", "-q")
    weights = ModelCache().weights_path(ganedit.zoo.default_registry().get("tiny"))
    mtime = weights.stat().st_mtime_ns
    result = _invoke("models", "pull", "tiny", "-q")
    assert result.exit_code == 0
    assert weights.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("name", "message"), [("gone", "404"), ("tampered", "sha256")], ids=["missing", "checksum"]
)
def test_models_pull_failure_exits_one(zoo_server: str, name: str, message: str) -> None:
    result = _invoke("models", "pull", name, "-q")
    assert result.exit_code == 1
    assert message in result.stderr
    assert not ModelCache().is_cached(ganedit.zoo.default_registry().get(name))


def test_models_pull_goes_on_after_a_failed_name(zoo_server: str) -> None:
    result = _invoke("models", "pull", "gone", "tiny", "-q")
    assert result.exit_code == 1
    assert "tiny: " in result.stdout
    assert ModelCache().is_cached(ganedit.zoo.default_registry().get("tiny"))


def test_models_pull_of_an_unknown_name_exits_two(zoo_server: str) -> None:
    result = _invoke("models", "pull", "tiyn")
    assert result.exit_code == 2
    assert "Did you mean: tiny" in result.stderr


def test_translate_with_a_zoo_name_downloads_and_converts_once(
    zoo_server: str, images: Path, tmp_path: Path, ganedit_home: Path
) -> None:
    first = _invoke("translate", "tiny", str(images), "-o", str(tmp_path / "one"), "-q")
    assert first.exit_code == 0, first.output
    converted = ganedit_home / "onnx" / "tiny.onnx"
    mtime = converted.stat().st_mtime_ns
    second = _invoke("translate", "tiny", str(images), "-o", str(tmp_path / "two"), "-q")
    assert second.exit_code == 0, second.output
    assert converted.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["a.png", "b.png", "c.jpg"]
