"""Imported architectures through the command line, end to end, against spandrel's own forward.

Random-weight files in the layouts their releases use (SwinIR's ``params_ema`` wrapper, LaMa's
TorchScript ``big-lama.pt``) are served from a loopback HTTP server as the zoo's entries, or
given as checkpoint files; the CLI downloads, converts, verifies and runs them over real
photographs (crops of scikit-image's, odd sizes), an RGBA image and a 16-bit one. Every output's
colour matches what spandrel's model descriptor gives for the same image within one grey level
(at 16 bits, one 8-bit level: 257), and outside an inpainting hole it is the input itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from http_helpers import serve_folder
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("spandrel")
skimage_data = pytest.importorskip("skimage.data")

from ganedit import zoo  # noqa: E402
from ganedit.cli import main  # noqa: E402

#: Odd sizes, neither square nor a multiple of any window.
SIZE = (45, 59)


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _photos(folder: Path, size: tuple[int, int] = SIZE) -> dict[str, np.ndarray]:
    """Three inputs cut from real photographs: RGB 8-bit, RGBA 8-bit, RGB 16-bit PNGs."""
    height, width = size
    rgb = skimage_data.astronaut()[100 : 100 + height, 150 : 150 + width]
    coffee = skimage_data.coffee()[50 : 50 + height, 200 : 200 + width]
    # No fully transparent pixel: ganedit bleeds colour into those (no dark fringes when the
    # alpha is resized), where spandrel's forward sees whatever colour the file holds.
    alpha = np.linspace(32, 255, width, dtype=np.float32)[None].repeat(height, 0).astype(np.uint8)
    rgba = np.dstack([coffee, alpha])
    chelsea = skimage_data.chelsea()[80 : 80 + height, 120 : 120 + width].astype(np.uint16)
    deep = chelsea * 257 + np.arange(width, dtype=np.uint16)[None, :, None] % 200
    images = {"rgb": rgb, "rgba": rgba, "deep": deep}
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        mode = "RGBA" if image.shape[2] == 4 else "RGB"
        if image.dtype == np.uint16:
            import cv2

            cv2.imwrite(str(folder / f"{name}.png"), image[:, :, ::-1])
        else:
            Image.fromarray(image, mode=mode).save(folder / f"{name}.png")
    return images


def _read(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    if image.ndim == 3:
        order = [2, 1, 0, 3][: image.shape[2]]
        image = image[:, :, order]
    return image


def _spandrel(path: Path):  # type: ignore[no-untyped-def]
    """What spandrel loads from the file itself (TorchScript through torch.jit.load), in eval
    mode, as ComfyUI and chaiNNer run it."""
    from spandrel import ModelLoader

    return ModelLoader().load_from_file(path).eval()


def _reference(descriptor, image: np.ndarray, hole: np.ndarray | None = None) -> np.ndarray:  # type: ignore[no-untyped-def]
    """spandrel's forward on an image's colour planes, quantised to the image's depth."""
    full = float(np.iinfo(image.dtype).max)
    x = torch.from_numpy(image[:, :, :3].astype(np.float32) / full).permute(2, 0, 1)[None]
    with torch.no_grad():
        if hole is None:
            y = descriptor(x)
        else:
            y = descriptor(x, torch.from_numpy(hole.astype(np.float32))[None, None])
    out = y[0].permute(1, 2, 0).clamp(0, 1).numpy() * full
    return np.rint(out).astype(image.dtype)


def _assert_matches(out: np.ndarray, expected: np.ndarray) -> None:
    assert out.shape == expected.shape and out.dtype == expected.dtype
    level = 257 if expected.dtype == np.uint16 else 1
    worst = int(np.abs(out.astype(np.int64) - expected.astype(np.int64)).max())
    assert worst <= level, f"{worst} > {level}"


def _randomised(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in net.parameters():
            if not param.abs().max() > 0:
                param.normal_(0, 0.02)
    return net.eval()


@dataclasses.dataclass
class Site:
    """The served folder and the paths requested from it."""

    folder: Path
    hits: list[str]

    def file(self, name: str) -> Path:
        """Where the zoo entry ``name``'s weights are served from."""
        return self.folder / zoo.default_registry().get(name).filename


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """A served folder standing in for the zoo's download sites: the real entries, each
    pointed at a file of its own name here (and with no checksum: the weights are random)."""
    folder = tmp_path / "site"
    folder.mkdir()
    with serve_folder(folder) as (base, hits):
        entries = [
            entry
            if entry.builtin
            else dataclasses.replace(entry, url=f"{base}/{entry.filename}", sha256=None)
            for entry in zoo.default_registry()
        ]
        registry = zoo.ModelRegistry(entries)
        monkeypatch.setattr(zoo, "default_registry", lambda: registry)
        yield Site(folder, hits)


# --- a windowed transformer from the zoo: SwinIR-M x4 (GAN), params_ema layout ---------------


def _tiny_swinir() -> torch.nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    net = SwinIR(
        img_size=16,
        embed_dim=12,
        depths=[1, 1],
        num_heads=[2, 2],
        window_size=4,
        upscale=4,
        upsampler="nearest+conv",
        mlp_ratio=2.0,
        resi_connection="1conv",
    )
    return _randomised(net, seed=3)


@pytest.mark.filterwarnings("ignore")
def test_upscale_a_swinir_zoo_model_matches_spandrel(site: Site, tmp_path: Path) -> None:
    weights = site.file("swinir-m-x4-gan")
    torch.save({"params_ema": _tiny_swinir().state_dict()}, weights)
    images = _photos(tmp_path / "in")

    result = _invoke("upscale", "swinir-m-x4-gan", tmp_path / "in", "-o", tmp_path / "out", "-q")

    assert result.exit_code == 0, result.output
    descriptor = _spandrel(weights)
    for name, image in images.items():
        out = _read(tmp_path / "out" / f"{name}.png")
        assert out.shape[:2] == (SIZE[0] * 4, SIZE[1] * 4)
        _assert_matches(out[:, :, :3], _reference(descriptor, image))
        if image.shape[2] == 4:
            assert out.shape[2] == 4  # alpha kept (resized)
    assert site.hits == [f"/{weights.name}"]


# --- a cascaded U-Net from the zoo: Real-CUGAN x2, odd sizes cropped in its forward ----------


@pytest.mark.filterwarnings("ignore")
def test_upscale_a_realcugan_zoo_model_matches_spandrel(site: Site, tmp_path: Path) -> None:
    from spandrel.architectures.RealCUGAN import UpCunet2x

    weights = site.file("realcugan-x2-no-denoise")
    torch.save(_randomised(UpCunet2x(in_channels=3, out_channels=3), seed=6).state_dict(), weights)
    images = _photos(tmp_path / "in")  # 45 x 59: odd both ways

    result = _invoke(
        "upscale", "realcugan-x2-no-denoise", tmp_path / "in", "-o", tmp_path / "out", "-q"
    )

    assert result.exit_code == 0, result.output
    descriptor = _spandrel(weights)
    for name, image in images.items():
        out = _read(tmp_path / "out" / f"{name}.png")
        assert out.shape[:2] == (SIZE[0] * 2, SIZE[1] * 2)
        _assert_matches(out[:, :, :3], _reference(descriptor, image))


# --- a compact net given as a file; a x1 restoration model through `restore` ----------------


@pytest.mark.filterwarnings("ignore")
def test_upscale_a_span_checkpoint_matches_spandrel(tmp_path: Path) -> None:
    from spandrel.architectures.SPAN import SPAN

    weights = tmp_path / "4x-span.pth"
    net = _randomised(SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4), seed=4)
    torch.save(net.state_dict(), weights)
    images = _photos(tmp_path / "in")

    result = _invoke("upscale", weights, tmp_path / "in", "-o", tmp_path / "out", "-q")

    assert result.exit_code == 0, result.output
    descriptor = _spandrel(weights)
    for name, image in images.items():
        out = _read(tmp_path / "out" / f"{name}.png")
        _assert_matches(out[:, :, :3], _reference(descriptor, image))


@pytest.mark.filterwarnings("ignore")
def test_restore_runs_a_x1_denoiser_like_spandrel(tmp_path: Path) -> None:
    from spandrel.architectures.DnCNN import DnCNN

    weights = tmp_path / "1x-dncnn.pth"
    net = _randomised(DnCNN(in_nc=3, out_nc=3, nc=8, nb=8, act_mode="R"), seed=5)
    torch.save(net.state_dict(), weights)
    images = _photos(tmp_path / "in")

    result = _invoke("restore", weights, tmp_path / "in", "-o", tmp_path / "out", "-q")

    assert result.exit_code == 0, result.output
    descriptor = _spandrel(weights)
    for name, image in images.items():
        out = _read(tmp_path / "out" / f"{name}.png")
        assert out.shape[:2] == SIZE
        _assert_matches(out[:, :, :3], _reference(descriptor, image))


# --- non-commercial weights -----------------------------------------------------------------


def test_noncommercial_zoo_weights_are_refused_before_download(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GANEDIT_ALLOW_NONCOMMERCIAL", raising=False)
    _photos(tmp_path / "in")
    result = _invoke("upscale", "4x-ultrasharp", tmp_path / "in", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert (
        "4x-ultrasharp's weights are licensed CC BY-NC-SA 4.0, which does not allow commercial "
        "use; ganedit uses them only when you opt in: --allow-noncommercial" in result.output
    )
    assert site.hits == []


@pytest.mark.filterwarnings("ignore")
def test_noncommercial_zoo_weights_run_with_the_opt_in(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from upscale_helpers import save_realesrgan, tiny_network

    monkeypatch.delenv("GANEDIT_ALLOW_NONCOMMERCIAL", raising=False)
    net = tiny_network("rrdb", scale=4, seed=6, spread=0.05)
    save_realesrgan(net, site.file("4x-ultrasharp"))
    _photos(tmp_path / "in")
    args = ["upscale", "4x-ultrasharp", tmp_path / "in", "-o", tmp_path / "out", "-q"]
    result = _invoke(*args, "--allow-noncommercial")
    assert result.exit_code == 0, result.output
    assert _read(tmp_path / "out" / "rgb.png").shape == (SIZE[0] * 4, SIZE[1] * 4, 3)


# --- LaMa: big-lama.pt, a TorchScript file, through `ganedit inpaint big-lama` ---------------


class _LamaRelease(torch.nn.Module):
    """big-lama.pt's layout: a module whose ``generator`` is LaMa's FFC ResNet, traced."""

    def __init__(self, generator: torch.nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.generator(image, mask)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")
def test_inpaint_big_lama_from_the_zoo_matches_spandrel(site: Site, tmp_path: Path) -> None:
    from spandrel.architectures.LaMa import LaMa

    weights = site.file("big-lama")
    release = _LamaRelease(_randomised(LaMa(in_nc=4, out_nc=3), seed=7).model).eval()
    example = (torch.rand(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))
    torch.jit.trace(release, example, check_trace=False).save(str(weights))
    size = (121, 187)  # odd; under the crop trigger, so the whole image is the network's
    images = _photos(tmp_path / "in", size)
    hole = np.zeros(size, dtype=bool)
    hole[30:70, 50:120] = True
    hole[100:, 160:] = True  # touching the bottom-right corner, where padding goes
    Image.fromarray(np.where(hole, 255, 0).astype(np.uint8)).save(tmp_path / "mask.png")

    result = _invoke(
        "inpaint", "big-lama", tmp_path / "in", "--mask", tmp_path / "mask.png",
        "-o", tmp_path / "out", "-q",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    descriptor = _spandrel(weights)
    for name, image in images.items():
        out = _read(tmp_path / "out" / f"{name}.png")
        _assert_matches(out[:, :, :3], _reference(descriptor, image, hole))
        assert np.array_equal(out[~hole], image[~hole])  # outside the hole: the input itself
        assert not np.array_equal(out[hole][:, :3], image[hole][:, :3])


# --- non-commercial architectures and the listing -------------------------------------------


@pytest.mark.filterwarnings("ignore")
def test_a_noncommercial_architecture_needs_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("spandrel_extra_arches")
    from spandrel_extra_arches.architectures.SRFormer import SRFormer

    monkeypatch.delenv("GANEDIT_ALLOW_NONCOMMERCIAL", raising=False)
    weights = tmp_path / "srformer.pth"
    net = SRFormer(
        img_size=16,
        embed_dim=24,
        depths=(1, 1),
        num_heads=(2, 2),
        window_size=4,
        upscale=2,
        upsampler="pixelshuffle",
    )
    torch.save(_randomised(net, seed=8).state_dict(), weights)
    _photos(tmp_path / "in", (21, 27))
    refused = _invoke("upscale", weights, tmp_path / "in", "-o", tmp_path / "no", "-q")
    assert refused.exit_code == 2
    assert "SRFormer model, whose code is licensed CC BY-NC 4.0" in refused.output
    assert "--allow-noncommercial" in refused.output
    assert not (tmp_path / "no").exists()
    args = ["upscale", weights, tmp_path / "in", "-o", tmp_path / "yes", "-q"]
    allowed = _invoke(*args, "--allow-noncommercial")
    assert allowed.exit_code == 0, allowed.output
    assert _read(tmp_path / "yes" / "rgb.png").shape == (42, 54, 3)


def test_models_list_shows_architecture_and_licence() -> None:
    result = _invoke("models", "list", "--task", "inpaint")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert "LaMa" in rows["big-lama"] and "Apache-2.0" in rows["big-lama"]
    assert "MAT" in rows["mat-places512"] and "CC BY-NC 4.0 (NC)" in rows["mat-places512"]
    upscale = _invoke("models", "list", "--task", "upscale").output
    swinir = next(line for line in upscale.splitlines() if line.split()[0] == "swinir-m-x4-gan")
    assert "SwinIR-M" in swinir and "Apache-2.0" in swinir
