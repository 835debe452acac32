"""``ganedit upscale`` and process_folder on a mixed folder; named models with ``--denoise``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner, Result
from http_helpers import serve_folder
from PIL import Image, ImageCms, ImageOps

torch = pytest.importorskip("torch")

from upscale_helpers import (  # noqa: E402
    exported_models,
    levels,
    photo,
    save_realesrgan,
    tiny_network,
    to_uint8,
)

import ganedit  # noqa: E402
import ganedit.export.variants  # noqa: E402
from ganedit import FolderSettings, GaneditError, Upscaler, process_folder, zoo  # noqa: E402
from ganedit.cli import main  # noqa: E402
from ganedit.resize import resize_float  # noqa: E402

ORIENTATION = 0x0112
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="session")
def sr_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return exported_models(tmp_path_factory)


@pytest.fixture(scope="session")
def srvgg_onnx(sr_models: dict[str, Path]) -> Path:
    return sr_models["srvgg_x4"]


@pytest.fixture(scope="session")
def srvgg(srvgg_onnx: Path) -> Upscaler:
    return ganedit.load(srvgg_onnx, device="cpu")


# --- a mixed folder -----------------------------------------------------------------------------


def _alpha_disc(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    distance = np.hypot(yy - height / 2, xx - width / 2)
    return to_uint8(np.clip((min(height, width) / 2.5 - distance) / 3, 0, 1))


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """One of each awkward input, plus a broken file.

    ====================  ============================  =========================
    file                  stored                        comes out
    ====================  ============================  =========================
    photo.jpg             RGB JPEG 30x40, sRGB ICC      RGB JPEG 120x160, ICC
    logo.png              RGBA PNG 28x24                RGBA PNG, resized alpha
    deep.png              16-bit RGB PNG 20x26 (cv2)    16-bit RGB PNG
    grey.png              L PNG 22x18                   L PNG
    rotated.jpg           50x30 stored, EXIF 6          upright 30x50 -> 120x200
    broken.png            PNG signature, nothing else   reported, exit code 1
    ====================  ============================  =========================
    """
    root = tmp_path / "in"
    root.mkdir()
    Image.fromarray(to_uint8(photo(40, 30))).save(
        root / "photo.jpg", quality=95, icc_profile=SRGB_ICC
    )
    Image.fromarray(np.dstack([to_uint8(photo(24, 28)), _alpha_disc(24, 28)])).save(
        root / "logo.png"
    )
    deep = np.rint(photo(20, 26) * 65535).astype(np.uint16)
    cv2.imwrite(str(root / "deep.png"), deep[:, :, ::-1])  # OpenCV writes BGR
    grey = to_uint8(photo(18, 22) @ np.array([0.299, 0.587, 0.114], np.float32))
    Image.fromarray(grey, mode="L").save(root / "grey.png")
    stored = Image.fromarray(to_uint8(photo(30, 50)))  # 50 wide, 30 high as stored
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # displayed rotated 90° clockwise: 30 wide, 50 high
    stored.save(root / "rotated.jpg", quality=95, exif=exif.tobytes())
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")
    return root


def _read16(path: Path) -> np.ndarray:
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert data is not None, path
    return data[:, :, ::-1] if data.ndim == 3 else data


def _check_mixed_outputs(model: Upscaler, root: Path, out: Path) -> None:
    s = model.card.scale
    assert sorted(p.name for p in out.iterdir()) == [
        "deep.png",
        "grey.png",
        "logo.png",
        "photo.jpg",
        "rotated.jpg",
    ]
    with Image.open(out / "photo.jpg") as im:
        assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (30 * s, 40 * s))
        assert im.info.get("icc_profile") == SRGB_ICC
    with Image.open(out / "logo.png") as im, Image.open(root / "logo.png") as src:
        assert (im.mode, im.size) == ("RGBA", (28 * s, 24 * s))
        alpha = np.asarray(src)[:, :, 3] / np.float32(255)
        expected = to_uint8(resize_float(alpha, 24 * s, 28 * s))
        assert levels(np.asarray(im)[:, :, 3], expected) <= 1
    deep = _read16(out / "deep.png")
    assert deep.dtype == np.uint16 and deep.shape == (20 * s, 26 * s, 3)
    assert np.any(deep % 257 != 0)  # the full 16-bit range, not 8-bit values times 257
    # Same pixels (and channel order) as the Python API on the decoded 16-bit input.
    direct = model(_read16(root / "deep.png"))
    assert np.abs(deep.astype(np.int64) - direct).max() <= 1
    with Image.open(out / "grey.png") as im:
        assert (im.mode, im.size) == ("L", (22 * s, 18 * s))
    with Image.open(out / "rotated.jpg") as im, Image.open(root / "rotated.jpg") as src:
        assert im.size == (30 * s, 50 * s)
        assert im.getexif().get(ORIENTATION, 1) == 1
        upright = model(ImageOps.exif_transpose(src))
        assert levels(np.asarray(im), np.asarray(upright)) < 40  # JPEG-level agreement
        assert np.abs(np.asarray(im, np.float32) - np.asarray(upright)).mean() < 3


def test_process_folder_upscales_a_mixed_folder(srvgg: Upscaler, mixed: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = process_folder(srvgg, [mixed], out, settings=FolderSettings(workers=2))
    assert [f.source.name for f in report.failed] == ["broken.png"]
    assert report.exit_code == 1
    assert report.done == 5
    _check_mixed_outputs(srvgg, mixed, out)


def test_cli_upscales_a_mixed_folder_and_exits_one_for_the_broken_file(
    srvgg_onnx: Path, srvgg: Upscaler, mixed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = _invoke("upscale", srvgg_onnx, mixed, "-o", out)
    assert result.exit_code == 1, result.output
    assert "5 done, 0 skipped (output exists), 1 failed" in result.stderr
    assert "broken.png" in result.stderr
    _check_mixed_outputs(srvgg, mixed, out)


def test_cli_outscale_and_ext_png(srvgg_onnx: Path, mixed: Path, tmp_path: Path) -> None:
    (mixed / "broken.png").unlink()
    out = tmp_path / "out"
    result = _invoke("upscale", srvgg_onnx, mixed, "-o", out, "--outscale", 2.5, "--ext", "png")
    assert result.exit_code == 0, result.output
    sizes = {}
    for path in sorted(out.iterdir()):
        with Image.open(path) as im:
            assert im.format == "PNG"
            sizes[path.name] = im.size
    assert sizes == {
        "deep.png": (65, 50),
        "grey.png": (55, 45),
        "logo.png": (70, 60),
        "photo.png": (75, 100),
        "rotated.png": (75, 125),
    }
    assert _read16(out / "deep.png").dtype == np.uint16


def test_cli_tile_options_match_the_api(sr_models: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    image = to_uint8(photo(90, 70))
    Image.fromarray(image).save(folder / "big.png")
    out = tmp_path / "out"
    result = _invoke(
        "upscale", sr_models["rrdb_x4"], folder, "-o", out, "--tile", 40, "--tile-overlap", 16,
        "--tile-batch", 3, "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = ganedit.load(sr_models["rrdb_x4"], device="cpu")
    with Image.open(out / "big.png") as im:
        got = np.asarray(im)
    assert levels(got, model.with_options(tile=40, tile_overlap=16)(image)) == 0
    assert levels(got, model.with_options(tile=0)(image)) <= 2


@pytest.mark.parametrize(("mode", "other"), [("resize", "network"), ("network", "resize")])
def test_cli_alpha_mode_matches_the_api(
    srvgg_onnx: Path, srvgg: Upscaler, tmp_path: Path, mode: str, other: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    rgba = np.dstack([to_uint8(photo(24, 28)), _alpha_disc(24, 28)])
    Image.fromarray(rgba).save(folder / "logo.png")
    out = tmp_path / "out"
    result = _invoke("upscale", srvgg_onnx, folder, "-o", out, "--alpha-mode", mode, "-q")
    assert result.exit_code == 0, result.output
    with Image.open(out / "logo.png") as im:
        got = np.asarray(im)
    assert levels(got, srvgg.with_options(alpha_mode=mode)(rgba)) == 0
    assert levels(got[:, :, 3], srvgg.with_options(alpha_mode=other)(rgba)[:, :, 3]) > 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tile", "20", "--tile-overlap", "16"], "too small for overlap"),
        (["--tile", "-1"], "--tile"),
        (["--outscale", "0"], "--outscale"),
        (["--alpha-mode", "magic"], "--alpha-mode"),
        (["--denoise", "1.5"], "--denoise"),
    ],
    ids=["tile-vs-overlap", "negative-tile", "zero-outscale", "bad-alpha-mode", "denoise-range"],
)
def test_cli_bad_upscale_options_exit_two(
    srvgg_onnx: Path, mixed: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    result = _invoke("upscale", srvgg_onnx, mixed, "-o", out, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not out.exists()


def test_cli_upscale_help_lists_its_options() -> None:
    result = _invoke("upscale", "--help")
    assert result.exit_code == 0, result.output
    for option in (
        "--outscale", "--tile", "--tile-overlap", "--tile-batch", "--alpha-mode", "--denoise",
        "--ext", "--output",
    ):  # fmt: skip
        assert option in result.output


def test_cli_upscale_accepts_a_checkpoint(tmp_path: Path) -> None:
    # A Real-ESRGAN-style .pth is converted once and then used like an .onnx.
    net = tiny_network("srvgg", scale=2, seed=5, spread=0.05)
    checkpoint = save_realesrgan(net, tmp_path / "tiny_x2.pth")
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(to_uint8(photo(16, 20))).save(folder / "a.png")
    result = _invoke("upscale", checkpoint, folder, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "converting" in result.stderr
    with Image.open(tmp_path / "out" / "a.png") as im:
        assert im.size == (40, 32)


# --- named models and --denoise -----------------------------------------------------------------

GENERAL = "realesr-general-x4v3"
WDN = "realesr-general-wdn-x4v3"
PLAIN = "tiny-x4"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str], Path]]:
    """A loopback HTTP server over two tiny SRVGG checkpoints of one shape, and a plain one."""
    folder = tmp_path / "served"
    for name, seed in ((GENERAL, 10), (WDN, 11), (PLAIN, 12)):
        net = tiny_network("srvgg", scale=4, seed=seed, spread=0.05)
        save_realesrgan(net, folder / f"{name}.pth")
    with serve_folder(folder) as (base, hits):
        yield base, hits, folder


@pytest.fixture
def registry(
    served: tuple[str, list[str], Path], monkeypatch: pytest.MonkeyPatch
) -> zoo.ModelRegistry:
    base = served[0]

    def entry(name: str, blend_with: str | None = None) -> zoo.ZooEntry:
        return zoo.ZooEntry(
            name=name,
            task="upscale",
            family="realesrgan",
            url=f"{base}/{name}.pth",
            license="test",
            blend_with=blend_with,
        )

    registry = zoo.ModelRegistry([entry(GENERAL, WDN), entry(WDN), entry(PLAIN)])
    monkeypatch.setattr(zoo, "default_registry", lambda: registry)
    return registry


def _hand_blended(folder: Path, weight: float, out: Path) -> Upscaler:
    """general × weight + wdn × (1 − weight), blended and exported here, by hand."""
    from ganedit.archs import blend_state_dicts, read_state_dict
    from ganedit.export import checkpoint_to_onnx

    general = read_state_dict(folder / f"{GENERAL}.pth")
    wdn = read_state_dict(folder / f"{WDN}.pth")
    blended = blend_state_dicts(general, wdn, weight)
    checkpoint = out.with_suffix(".pth")
    torch.save({"params_ema": blended}, checkpoint)
    checkpoint_to_onnx(checkpoint, out)
    return ganedit.load(out, device="cpu")


@pytest.fixture(scope="module")
def denoise_image() -> np.ndarray:
    return photo(24, 20)


def test_denoise_blends_the_twins_like_a_hand_blend(
    registry: zoo.ModelRegistry,
    served: tuple[str, list[str], Path],
    denoise_image: np.ndarray,
    tmp_path: Path,
) -> None:
    _, hits, folder = served
    model = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=0.3), device="cpu")
    assert isinstance(model, Upscaler)
    assert sorted(hits) == sorted([f"/{GENERAL}.pth", f"/{WDN}.pth"])
    reference = _hand_blended(folder, 0.3, tmp_path / "hand.onnx")
    got, expected = model(denoise_image), reference(denoise_image)
    assert np.abs(got - expected).max() < 1e-5
    # ... and the blend is neither end.
    plain = ganedit.load(GENERAL, device="cpu")(denoise_image)
    wdn = ganedit.load(WDN, device="cpu")(denoise_image)
    assert np.abs(got - plain).max() > 1e-3 and np.abs(got - wdn).max() > 1e-3


def test_denoise_one_is_the_plain_model(
    registry: zoo.ModelRegistry, served: tuple[str, list[str], Path], denoise_image: np.ndarray
) -> None:
    _, hits, _ = served
    full = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=1.0), device="cpu")
    assert hits == [f"/{GENERAL}.pth"]  # no twin needed
    plain = ganedit.load(GENERAL, device="cpu")
    assert full.path == plain.path
    assert np.array_equal(full(denoise_image), plain(denoise_image))


def test_denoise_zero_is_the_twin(registry: zoo.ModelRegistry, denoise_image: np.ndarray) -> None:
    none = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=0.0), device="cpu")(denoise_image)
    wdn = ganedit.load(WDN, device="cpu")(denoise_image)
    assert np.abs(none - wdn).max() < 1e-5


def test_blended_model_is_cached_no_download_no_reconversion(
    registry: zoo.ModelRegistry,
    served: tuple[str, list[str], Path],
    denoise_image: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, hits, _ = served
    first = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=0.3), device="cpu")
    downloads = list(hits)
    mtime = first.path.stat().st_mtime_ns

    def no_conversion(*args: object, **kwargs: object) -> Path:
        raise AssertionError("converted again")

    monkeypatch.setattr(ganedit.export.variants, "_convert", no_conversion)
    again = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=0.3), device="cpu")
    assert hits == downloads
    assert again.path == first.path and again.path.stat().st_mtime_ns == mtime
    assert np.array_equal(again(denoise_image), first(denoise_image))


def test_each_denoise_strength_gets_its_own_cached_model(
    registry: zoo.ModelRegistry,
    served: tuple[str, list[str], Path],
    denoise_image: np.ndarray,
    tmp_path: Path,
) -> None:
    _, hits, folder = served
    paths = set()
    for weight in (0.3, 0.304, 0.7):
        model = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=weight), device="cpu")
        paths.add(model.path)
        expected = _hand_blended(folder, weight, tmp_path / f"hand{weight}.onnx")
        assert np.abs(model(denoise_image) - expected(denoise_image)).max() < 1e-5, weight
    assert len(paths) == 3
    assert sorted(hits) == sorted([f"/{GENERAL}.pth", f"/{WDN}.pth"])  # each fetched once


def test_denoise_on_a_model_without_twin_is_a_clear_error(registry: zoo.ModelRegistry) -> None:
    with pytest.raises(GaneditError, match=f"--denoise applies to .*{GENERAL}.*not to {PLAIN}"):
        ganedit.load(PLAIN, variant=ganedit.Variant(denoise=0.5), device="cpu")


def test_denoise_on_a_model_file_is_a_clear_error(srvgg_onnx: Path) -> None:
    with pytest.raises(GaneditError, match="--denoise"):
        ganedit.load(srvgg_onnx, variant=ganedit.Variant(denoise=0.5), device="cpu")


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_denoise_out_of_range_raises_value_error(weight: float) -> None:
    with pytest.raises(ValueError, match=r"denoise must be in \[0, 1\]"):
        ganedit.Variant(denoise=weight)


def test_cli_denoise_by_name(
    registry: zoo.ModelRegistry, denoise_image: np.ndarray, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    image = to_uint8(denoise_image)
    Image.fromarray(image).save(folder / "a.png")
    out = tmp_path / "out"
    result = _invoke("upscale", GENERAL, folder, "-o", out, "--denoise", 0.3)
    assert result.exit_code == 0, result.output
    assert f"downloading {GENERAL}" in result.stderr and f"downloading {WDN}" in result.stderr
    assert "mixing" in result.stderr
    with Image.open(out / "a.png") as im:
        got = np.asarray(im)
    blended = ganedit.load(GENERAL, variant=ganedit.Variant(denoise=0.3), device="cpu")
    assert levels(got, blended(image)) == 0


@pytest.mark.parametrize("model", [PLAIN, "{onnx}"], ids=["zoo-name", "onnx-file"])
def test_cli_denoise_without_twin_exits_two(
    registry: zoo.ModelRegistry, srvgg_onnx: Path, tmp_path: Path, model: str
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(to_uint8(photo(16, 16))).save(folder / "a.png")
    out = tmp_path / "out"
    name = model.format(onnx=srvgg_onnx)
    result = _invoke("upscale", name, folder, "-o", out, "--denoise", 0.5)
    assert result.exit_code == 2, result.output
    assert "--denoise" in result.output and GENERAL in result.output
    assert not out.exists()
