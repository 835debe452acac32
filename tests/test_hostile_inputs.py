"""Hostile and clumsy inputs to the folder commands: nothing lost, nothing hangs, no traceback.

Each test reproduces one finding of a probe of the CLI, played as an attacker and as a careless
user would play it, and checks what must happen instead: an input of the job is never written,
a usage mistake is a clear error with exit code 2, and a bad file is named with its reason
while the good ones are done (exit code 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganedit.cli import main


def _run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def _photo(path: Path, size: tuple[int, int] = (24, 32), seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path.read_bytes()


# --- an input is never written ----------------------------------------------------------------


def test_an_output_that_is_another_input_is_refused_and_the_input_kept(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    # p0.jpg's result would be imgs/p0.png, which is the other input.
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    jpg, png = imgs / "p0.jpg", imgs / "p0.png"
    jpg_bytes, png_bytes = _photo(jpg, seed=1), _photo(png, seed=2)

    code, out, _ = _run(
        "translate", resnet_onnx, jpg, png, "-o", imgs, "--ext", "png", "--overwrite", "--json"
    )

    assert code == 1
    assert (jpg.read_bytes(), png.read_bytes()) == (jpg_bytes, png_bytes)
    failed = {Path(f["file"]).name: f["reason"] for f in json.loads(out)["failures"]}
    assert failed == {
        "p0.jpg": f"output would overwrite the input {png}",
        "p0.png": "output would overwrite the input",
    }


def test_an_output_that_is_a_mask_is_refused_and_the_mask_kept(
    tmp_path: Path,
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _photo(imgs / "a.png", size=(32, 32))
    mask = tmp_path / "out" / "a.png"  # the mask lies where a's result would go
    mask.parent.mkdir()
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(mask)
    mask_bytes = mask.read_bytes()

    code, out, _ = _run(
        "inpaint", "cv2-telea", imgs, "--mask", mask, "-o", tmp_path / "out", "--overwrite",
        "--json",
    )  # fmt: skip

    assert code == 1
    assert mask.read_bytes() == mask_bytes
    (failure,) = json.loads(out)["failures"]
    assert failure["reason"] == f"output would overwrite the input {mask}"


def test_the_output_folder_equal_to_an_input_folder_is_a_usage_error(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    before = _photo(imgs / "a.png")

    code, _, err = _run("translate", resnet_onnx, imgs, "-o", imgs, "--ext", "jpg")

    assert code == 2
    assert f"the output folder {imgs} is the input folder {imgs}" in err
    assert [p.name for p in imgs.iterdir()] == ["a.png"]
    assert (imgs / "a.png").read_bytes() == before


# --- nothing hangs ----------------------------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    import os

    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    return path


@pytest.mark.timeout(60, method="thread")
def test_a_named_pipe_given_as_an_input_fails_without_blocking(
    resnet_onnx: Path, fifo: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.png"
    _photo(good)

    code, out, _ = _run("translate", resnet_onnx, fifo, good, "-o", tmp_path / "out", "--json")

    assert code == 1
    report = json.loads(out)
    assert report["done"] == 1
    assert report["failures"] == [
        {"file": str(fifo), "reason": "not a regular file (a named pipe)"}
    ]


@pytest.mark.timeout(60, method="thread")
def test_a_named_pipe_given_as_the_mask_is_a_usage_error(fifo: Path, tmp_path: Path) -> None:
    _photo(tmp_path / "a.png")

    code, _, err = _run(
        "inpaint", "cv2-telea", tmp_path / "a.png", "--mask", fifo, "-o", tmp_path / "out"
    )

    assert code == 2
    assert f"mask {fifo} is neither a file nor a folder" in err


# --- no raw Python warning reaches a user ---------------------------------------------------------


def test_a_corrupt_exif_block_is_one_warning_line_and_the_image_is_done(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    import struct

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    # One IFD entry whose 1000 bytes of data lie past the end of the block.
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010F, 2, 1000, 5000)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(imgs / "a.jpg", exif=b"Exif\0\0" + tiff)

    code, _, err = _run("translate", resnet_onnx, imgs, "-o", tmp_path / "out")

    assert code == 0
    assert "warning: Corrupt EXIF data. Expecting to read 4 bytes but only got 0." in err
    assert "UserWarning" not in err and "warnings.warn" not in err
    assert (tmp_path / "out" / "a.jpg").is_file()


# --- model files and the cache: a clear error, exit 2 -------------------------------------------


def test_a_cache_folder_that_cannot_be_created_is_a_usage_error(
    resnet_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder's parent should be")
    monkeypatch.setenv("GANEDIT_HOME", str(blocker / "home"))
    _photo(tmp_path / "a.png")

    code, _, err = _run("translate", resnet_checkpoint, tmp_path / "a.png", "-o", tmp_path / "o")

    assert code == 2
    assert f"cannot create ganedit's cache folder {blocker / 'home'} (Not a directory)" in err


def test_an_onnx_model_needs_no_cache_folder(
    resnet_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("GANEDIT_HOME", str(blocker / "home"))
    _photo(tmp_path / "a.png")

    code, _, _ = _run("translate", resnet_onnx, tmp_path / "a.png", "-o", tmp_path / "o")

    assert code == 0


@pytest.mark.parametrize("kind", ["folder", "pipe"])
def test_a_model_path_that_is_not_a_file_is_a_usage_error(kind: str, tmp_path: Path) -> None:
    import os

    model = tmp_path / "model.pth"
    if kind == "folder":
        model.mkdir()
    else:
        os.mkfifo(model)
    _photo(tmp_path / "a.png")

    code, _, err = _run("translate", model, tmp_path / "a.png", "-o", tmp_path / "o")

    assert code == 2
    assert f"model file {model} is not a regular file" in err


# --- nothing skipped in silence -----------------------------------------------------------------


def _gif(path: Path, frames: int) -> None:
    images = [Image.new("RGB", (16, 16), (40 * i, 90, 200)) for i in range(frames)]
    images[0].save(path, save_all=frames > 1, append_images=images[1:])


def test_gifs_in_a_folder_run_with_ext_and_are_named_without_it(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _gif(imgs / "still.gif", 1)
    _gif(imgs / "moving.gif", 3)

    code, out, _ = _run(
        "translate", resnet_onnx, imgs, "-o", tmp_path / "png", "--ext", "png", "--json"
    )

    assert code == 1
    report = json.loads(out)
    assert report["outputs"] == [str(tmp_path / "png" / "still.png")]
    assert report["failures"] == [
        {
            "file": str(imgs / "moving.gif"),
            "reason": "an animation (3 frames); ganedit edits still images, so that no frame is "
            "lost: extract the frames first",
        }
    ]

    code, out, _ = _run("translate", resnet_onnx, imgs, "-o", tmp_path / "same", "--json")

    assert code == 1
    reasons = {Path(f["file"]).name: f["reason"] for f in json.loads(out)["failures"]}
    assert reasons == dict.fromkeys(
        ["moving.gif", "still.gif"],
        "unsupported file type '.gif'; use --ext to pick an output format",
    )


# --- interruptions: Ctrl-C and SIGTERM stop cleanly, with the summary --------------------------


@pytest.mark.timeout(120, method="thread")
@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_a_stopped_job_finishes_the_files_in_flight_and_prints_its_report(
    resnet_onnx: Path, tmp_path: Path, signum: str
) -> None:
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "in"
    root.mkdir()
    names = [f"img{i:03d}.png" for i in range(150)]
    for seed, name in enumerate(names):
        _photo(root / name, size=(96, 96), seed=seed)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ganedit.cli", "translate", str(resnet_onnx), str(root)]
    command += ["-o", str(out), "--workers", "1", "--threads", "1", "--json"]

    def default_sigint() -> None:
        # A shell runs background commands with SIGINT ignored, and a child inherits that;
        # an interactive user's ganedit has Python's handler.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(out.glob("*.png")):
            process.send_signal(getattr(signal, signum))
            break
        time.sleep(0.001)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130, stderr
    report = json.loads(stdout)
    assert report["interrupted"] is True
    assert report["failed"] == 0  # a file stopped before it was written is not a failure
    assert report["done"] + report["not_done"] == len(names)
    assert report["done"] > 0 and report["not_done"] > 0
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    assert "interrupted: " in stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted(Path(p).name for p in report["outputs"])  # no temporaries
    for name in written:
        with Image.open(out / name) as image:
            image.load()  # complete
    code, rerun, _ = _run("translate", resnet_onnx, root, "-o", out, "--json")
    assert code == 0
    assert json.loads(rerun)["done"] == report["not_done"]


# --- memory: estimated from the header, refused before decoding ---------------------------------


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares ``width`` × ``height`` RGB pixels and holds none: a few bytes that
    a decoder would need gigabytes for."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_an_image_too_big_for_memory_is_refused_from_its_header(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _png_header_only(imgs / "bomb.png", 20000, 20000)  # 400 MP: under the pixel limit
    _photo(imgs / "fine.png")

    code, out, _ = _run("translate", resnet_onnx, imgs, "-o", tmp_path / "out", "--json")

    assert code == 1
    report = json.loads(out)
    assert report["done"] == 1
    (failure,) = report["failures"]
    assert failure["file"] == str(imgs / "bomb.png")
    assert failure["reason"].startswith("a 20000x20000 image needs about ")
    assert "raise it with --max-memory (0: no limit)" in failure["reason"]


def test_max_memory_sets_the_limit_per_image(resnet_onnx: Path, tmp_path: Path) -> None:
    _photo(tmp_path / "a.png", size=(64, 64))

    code, out, _ = _run(
        "translate", resnet_onnx, tmp_path / "a.png", "-o", tmp_path / "o", "--max-memory", "1M",
        "--json",
    )  # fmt: skip

    assert code == 1
    (failure,) = json.loads(out)["failures"]
    assert "more than the limit of 1.0 MiB" in failure["reason"]
    code, _, _ = _run(
        "translate", resnet_onnx, tmp_path / "a.png", "-o", tmp_path / "o", "--max-memory", "0"
    )
    assert code == 0


def test_a_bad_memory_size_is_a_usage_error(resnet_onnx: Path, tmp_path: Path) -> None:
    _photo(tmp_path / "a.png")
    code, _, err = _run(
        "translate", resnet_onnx, tmp_path / "a.png", "-o", tmp_path / "o", "--max-memory", "lots"
    )
    assert code == 2
    assert "not a memory size: 'lots'" in err


# --- folders: nothing skipped in silence under -r ----------------------------------------------


def _cli_without_root_override(*args: object) -> tuple[int, str, str]:
    """The CLI in a subprocess that file permissions apply to: as root, with the capabilities
    that override them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) dropped by ``setpriv``."""
    import os
    import shutil
    import subprocess
    import sys

    command = [sys.executable, "-m", "ganedit.cli", *map(str, args)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be made to apply")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def test_unreadable_and_linked_folders_and_files_are_each_reported(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    import os

    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    _photo(root / "good.png")
    _photo(root / "sub" / "deep.png", seed=1)
    locked = root / "locked"
    locked.mkdir()
    _photo(locked / "hidden.png", seed=2)
    _photo(root / "secret.png", seed=3)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _photo(elsewhere / "far.png", seed=4)
    (root / "link").symlink_to(elsewhere, target_is_directory=True)
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    os.chmod(locked, 0)
    os.chmod(root / "secret.png", 0)
    try:
        code, out, err = _cli_without_root_override(
            "translate", resnet_onnx, root, "-o", tmp_path / "out", "-r", "--json"
        )
    finally:
        os.chmod(locked, 0o755)
        os.chmod(root / "secret.png", 0o644)

    assert code == 1, err
    report = json.loads(out)
    assert sorted(Path(p).relative_to(tmp_path / "out").as_posix() for p in report["outputs"]) == [
        "good.png",
        "sub/deep.png",
    ]
    reasons = {
        Path(f["file"]).relative_to(root).as_posix(): f["reason"] for f in report["failures"]
    }
    linked = "a link to a folder, not followed (give the folder itself as an input)"
    assert reasons == {
        "locked": "cannot list this folder: Permission denied",
        "secret.png": "cannot read file: Permission denied",
        "link": linked,
        "sub/loop": linked,
    }


def test_a_full_disk_fails_the_file_and_leaves_no_partial_output(
    resnet_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    import ganedit._files

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(3):
        _photo(imgs / f"p{i}.png", seed=i)
    real_fsync = ganedit._files.os.fsync
    calls = []

    def fsync(fd: int) -> None:  # the second file's data does not fit
        import stat

        if stat.S_ISREG(os.fstat(fd).st_mode):
            calls.append(fd)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(ganedit._files.os, "fsync", fsync)

    code, out, _ = _run(
        "translate", resnet_onnx, imgs, "-o", tmp_path / "out", "--workers", "1", "--json"
    )

    assert code == 1
    report = json.loads(out)
    assert report["done"] == 2
    (failure,) = report["failures"]
    assert "No space left on device" in failure["reason"]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(Path(p).name for p in report["outputs"])  # no temporary, no partial


# --- the Python API: odd pixel types get a clear error or a right result ------------------------


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.full((16, 16, 3), 200.0, np.float32), "a float image must hold values in 0..1 as "
         "floats, got 200..200; divide by 255"),
        (np.full((16, 16, 3), -0.5, np.float64), "got -0.5..-0.5"),
        (np.full((16, 16, 3), np.nan, np.float32), "a float image holds NaN or infinite values"),
        (Image.fromarray(np.full((16, 16), 128.0, np.float32), mode="F"),
         "a PIL image of mode F \\(32-bit float\\) must hold values in 0..1"),
    ],
    ids=["0..255-as-float", "negative", "nan", "pil-F-0..255"],
)  # fmt: skip
def test_float_pixels_outside_0_to_1_are_refused(
    resnet_translator, image: object, message: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        resnet_translator(image)


def test_a_pil_float_image_in_0_to_1_comes_back_as_an_8_bit_image(resnet_translator) -> None:  # type: ignore[no-untyped-def]
    grey = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    out = resnet_translator(Image.fromarray(grey, mode="F"))
    assert out.mode == "RGB" and out.size == (16, 16)
    expected = resnet_translator(np.repeat(grey[:, :, None], 3, axis=2))
    assert np.abs(np.asarray(out).astype(int) - np.rint(expected * 255)).max() <= 1


# --- a run folder's files are data, not paths to follow -----------------------------------------


@pytest.mark.parametrize(
    ("config", "latest", "message"),
    [
        ("{broken", None, "config.json: not a readable run configuration"),
        ('["not", "an", "object"]', None, "config.json: unknown recipe None"),
        ('{"recipe": "cyclegan"}', "../../elsewhere", "does not name a checkpoint of this run"),
        ('{"recipe": "cyclegan"}', "/etc", "does not name a checkpoint of this run"),
    ],
    ids=["broken-json", "not-an-object", "pointer-out-of-the-run", "absolute-pointer"],
)
def test_export_of_a_damaged_run_folder_is_a_usage_error(
    tmp_path: Path, config: str, latest: str | None, message: str
) -> None:
    pytest.importorskip("torch")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(config)
    if latest is not None:
        (run / "latest").write_text(latest)

    code, _, err = _run("export", run, "-o", tmp_path / "m.onnx")

    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_external_data_outside_the_models_folder_is_refused(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(16))
    weight = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", "16")):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [
            helper.make_node("Identity", ["image"], ["output"]),
            helper.make_node("Identity", ["w"], ["w2"]),
        ],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["b", 3, "h", "w"])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, ["b", 3, "h", "w"]),
            helper.make_tensor_value_info("w2", TensorProto.FLOAT, [4]),
        ],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    card = model.metadata_props.add()
    card.key = "ganedit"
    card.value = json.dumps(
        {
            "name": "ext",
            "task": "translate",
            "arch": "x",
            "input_range": [0, 1],
            "output_range": [0, 1],
        }
    )
    (tmp_path / "models").mkdir()
    onnx.save(model, tmp_path / "models" / "ext.onnx")
    _photo(tmp_path / "a.png")

    code, _, err = _run(
        "translate", tmp_path / "models" / "ext.onnx", tmp_path / "a.png", "-o", tmp_path / "o"
    )

    assert code == 2
    assert "External data path escapes model directory" in err
    assert not (tmp_path / "o").exists()


# --- a corpus of bad and odd inputs, made here --------------------------------------------------


def _corpus(root: Path) -> dict[str, tuple[int, int] | str | None]:
    """Write the corpus into ``root``; returns each file's expectation: the output's (width,
    height) for a file that must be done, a piece of the reason for one that must fail, or
    ``None`` for damaged data a decoder may or may not get through (a flipped bit)."""
    import io

    rng = np.random.default_rng(7)

    def photo(height: int = 24, width: int = 32) -> Image.Image:
        return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))

    def encoded(image: Image.Image, fmt: str) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        return buffer.getvalue()

    expect: dict[str, tuple[int, int] | str | None] = {}
    for fmt, ext in [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tif")]:
        data = encoded(photo(), fmt)
        (root / f"trunc.{ext}").write_bytes(data[: len(data) // 2])
        expect[f"trunc.{ext}"] = "truncated or corrupt image data"
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0xFF
        (root / f"flip.{ext}").write_bytes(bytes(flipped))
        expect[f"flip.{ext}"] = None
    (root / "zero.png").write_bytes(b"")
    (root / "text.jpg").write_text("hello, I am not a JPEG\n")
    expect |= dict.fromkeys(["zero.png", "text.jpg"], "not an image file")
    photo().convert("CMYK").save(root / "cmyk.jpg")
    photo().convert("P").save(root / "palette.png", transparency=0)
    grey = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    Image.fromarray(np.dstack([grey, grey[::-1]]), "LA").save(root / "la.png")
    Image.fromarray(rng.integers(0, 65536, (24, 32)).astype(np.uint16)).save(root / "grey16.png")
    Image.fromarray(rng.random((24, 32)).astype(np.float32), "F").save(root / "float.tif")
    names = ["ünïcödé.png", "with space.png", "new\nline.png", "-dash.png"]
    for name in names:
        photo().save(root / name)
    expect |= dict.fromkeys(
        ["cmyk.jpg", "palette.png", "la.png", "grey16.png", "float.tif", *names], (32, 24)
    )
    photo(1, 1).save(root / "one.png")
    photo(1, 10000).save(root / "thin.png")
    expect |= {"one.png": (1, 1), "thin.png": (10000, 1)}
    frames = [photo() for _ in range(3)]
    frames[0].save(root / "anim.webp", save_all=True, append_images=frames[1:])
    expect["anim.webp"] = "an animation (3 frames)"
    _png_header_only(root / "bomb.png", 30000, 30000)
    expect["bomb.png"] = "a 30000x30000 image needs about"
    return expect


def test_a_corpus_of_bad_and_odd_files_finishes_with_each_named(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    expect = _corpus(root)
    out = tmp_path / "out"

    code, stdout, err = _run("translate", resnet_onnx, root, "-o", out, "--json")

    assert code == 1
    assert "Traceback" not in err
    report = json.loads(stdout)
    done = {Path(p).name for p in report["outputs"]}
    failed = {Path(f["file"]).name: f["reason"] for f in report["failures"]}
    assert done | set(failed) == set(expect)
    for name, expected in expect.items():
        if isinstance(expected, tuple):
            assert name in done, failed.get(name)
            with Image.open(out / name) as image:
                image.load()
                assert image.size == expected, name
                has_alpha = name in ("palette.png", "la.png")
                assert ("A" in image.getbands()) == has_alpha, name
        elif isinstance(expected, str):
            assert expected in failed[name], (name, failed.get(name))
        else:  # a flipped bit: decoded, or failed with a reason
            assert name in done or "corrupt" in failed[name], failed.get(name)
    assert sorted(p.name for p in out.iterdir()) == sorted(done)  # nothing else written


@pytest.mark.slow
@pytest.mark.timeout(300, method="thread")
def test_a_conversion_killed_midway_leaves_nothing_and_the_rerun_converts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import signal
    import subprocess
    import sys
    import time

    import torch

    from ganedit.archs import ResnetGenerator

    torch.manual_seed(0)
    net = ResnetGenerator(
        in_channels=3, out_channels=3, ngf=64, n_blocks=9, norm="instance", use_dropout=False
    )
    checkpoint = tmp_path / "r9.pth"
    torch.save(net.state_dict(), checkpoint)
    home = tmp_path / "home"
    monkeypatch.setenv("GANEDIT_HOME", str(home))
    _photo(tmp_path / "a.png")
    command = [sys.executable, "-m", "ganedit.cli", "translate", str(checkpoint)]
    command += [str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-q"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if any(home.glob("converted/.*.ganedit-*.tmp")):  # the export is being written
            time.sleep(0.2)
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the conversion ended before it was killed"
    assert list(home.glob("converted/.*.ganedit-*.tmp"))  # what the killed run left
    assert not list(home.glob("converted/*.onnx"))  # no converted file, half or whole

    code, _, err = _run("translate", checkpoint, tmp_path / "a.png", "-o", tmp_path / "out")

    assert code == 0, err
    assert not list(home.glob("converted/.*"))  # the leftovers are gone
    (onnx_file,) = home.glob("converted/*.onnx")
    import onnx

    onnx.checker.check_model(str(onnx_file))
    assert (tmp_path / "out" / "a.png").is_file()


def test_a_newline_in_a_failed_file_name_is_escaped_in_the_summary(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "evil\nfailed: forged.png").write_bytes(b"not an image")

    code, _, err = _run("translate", resnet_onnx, imgs, "-o", tmp_path / "out")

    assert code == 1
    failed_lines = [line for line in err.splitlines() if "failed: " in line]
    assert failed_lines == [
        f"  failed: {imgs}/evil\\nfailed: forged.png: not an image file (cannot identify image "
        "format)"
    ]


def test_an_unreadable_checkpoint_is_a_usage_error(
    resnet_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import shutil

    model = tmp_path / "locked.pth"
    shutil.copy(resnet_checkpoint, model)
    _photo(tmp_path / "a.png")
    os.chmod(model, 0)
    monkeypatch.setenv("GANEDIT_HOME", str(tmp_path / "home"))
    try:
        code, _, err = _cli_without_root_override(
            "translate", model, tmp_path / "a.png", "-o", tmp_path / "o"
        )
    finally:
        os.chmod(model, 0o644)

    assert code == 2, err
    assert "Traceback" not in err
    assert f"locked.pth: cannot read or write {model}: Permission denied" in err


@pytest.mark.parametrize("suffix", [".onnx", ".safetensors", ".pth"])
def test_a_broken_model_file_is_a_usage_error(suffix: str, tmp_path: Path) -> None:
    model = tmp_path / f"broken{suffix}"
    model.write_bytes(b"\x00garbage" * 8)
    _photo(tmp_path / "a.png")

    code, _, err = _run("translate", model, tmp_path / "a.png", "-o", tmp_path / "o")

    assert code == 2
    expected = {
        ".onnx": "onnxruntime cannot load this model",
        ".safetensors": "not a safetensors file",
        ".pth": "not a PyTorch checkpoint (neither a pickle nor a zip archive)",
    }[suffix]
    assert f"Error: {model}: {expected}" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bench_on_a_card_without_an_architecture_is_a_usage_error(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(resnet_onnx))
    for prop in model.metadata_props:
        if prop.key == "ganedit":
            card = json.loads(prop.value)
            card["arch"] = None
            prop.value = json.dumps(card)
    onnx.save(model, str(tmp_path / "null.onnx"))

    code, _, err = _run("bench", tmp_path / "null.onnx")

    assert code == 2
    assert "invalid model card: arch must be a string" in err


def test_an_output_folder_inside_the_input_folder_is_not_read_back(
    resnet_onnx: Path, tmp_path: Path
) -> None:
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    _photo(imgs / "a.png")
    out = imgs / "results"

    for _ in range(2):  # the second run must not take the first run's results as inputs
        code, stdout, _ = _run("translate", resnet_onnx, imgs, "-o", out, "-r", "--json")
        assert code == 0
    report = json.loads(stdout)
    assert (report["done"], report["skipped"]) == (0, 1)
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]
