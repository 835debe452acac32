"""Training data: layouts, preprocessing, determinism, the epoch sampler, dataset downloads.

Offline and on the CPU: tiny synthetic images in ``tmp_path``, archives served from loopback.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from http_helpers import serve_folder
from PIL import Image

torch = pytest.importorskip("torch")

from ganedit.errors import DownloadError, ImageError  # noqa: E402
from ganedit.train.data import (  # noqa: E402
    AlignedDataset,
    DatasetError,
    EpochSampler,
    PairedDataset,
    PreprocessConfig,
    UnalignedDataset,
    detect_layout,
    make_dataset,
)
from ganedit.train.datasets_download import (  # noqa: E402
    ArchiveError,
    DatasetExistsError,
    UnknownDatasetError,
    download_dataset,
    list_datasets,
    resolve_dataset,
)

SMALL = PreprocessConfig(load_size=20, crop_size=16)
RNG = np.random.default_rng(0)


def _write(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _noise(h: int, w: int, c: int = 3) -> np.ndarray:
    shape = (h, w, c) if c > 1 else (h, w)
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def _make_layout(root: Path, layout: str, *, n: int = 4, size: tuple[int, int] = (24, 32)) -> Path:
    """A dataset folder; A images are dark (< 128), B images bright (>= 128)."""
    h, w = size
    for i in range(n):
        dark, bright = _noise(h, w) // 2, _noise(h, w) // 2 + 128
        if layout == "unaligned":
            _write(root / "trainA" / f"{i}.png", dark)
            _write(root / "trainB" / f"{i}.png", bright)
        elif layout == "paired":
            _write(root / "train" / "A" / f"{i}.png", dark)
            _write(root / "train" / "B" / f"{i}.png", bright)
        else:
            _write(root / "train" / f"{i}.png", np.concatenate([dark, bright], axis=1))
    return root


LAYOUTS = ["unaligned", "aligned", "paired"]


# --- layouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_loads_with_shapes_and_range(tmp_path: Path, layout: str) -> None:
    ds = make_dataset(_make_layout(tmp_path, layout), preprocess=SMALL, seed=0)
    assert detect_layout(tmp_path) == layout
    assert len(ds) == 4
    item = ds[1]
    for side in "AB":
        assert item[side].shape == (3, 16, 16)
        assert item[side].dtype == torch.float32
        assert item[side].min() >= -1.0 and item[side].max() <= 1.0
        assert isinstance(item[f"{side}_path"], str)
    assert item["A"].mean() < 0 < item["B"].mean()  # dark A, bright B


@pytest.mark.parametrize(
    ("layout", "cls"),
    [("unaligned", UnalignedDataset), ("aligned", AlignedDataset), ("paired", PairedDataset)],
)
def test_explicit_mode_gives_its_dataset_class(tmp_path: Path, layout: str, cls: type) -> None:
    ds = make_dataset(_make_layout(tmp_path, layout), mode=layout, preprocess=SMALL, seed=0)
    assert isinstance(ds, cls)


def test_missing_folder_error_says_what_was_looked_for_and_found(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(DatasetError, match="trainA/ and trainB/") as info:
        make_dataset(tmp_path, preprocess=SMALL, seed=0)
    message = str(info.value)
    assert "trainA/ and trainB/" in message and "train/A/" in message and "photos/" in message


def test_missing_folder_of_an_explicit_mode_names_that_layout(tmp_path: Path) -> None:
    _make_layout(tmp_path, "aligned")
    with pytest.raises(DatasetError, match="trainA/ and trainB/"):
        make_dataset(tmp_path, mode="unaligned", preprocess=SMALL, seed=0)


def test_nonexistent_root_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        detect_layout(tmp_path / "nope")


def test_two_layouts_under_auto_ask_for_a_mode(tmp_path: Path) -> None:
    _make_layout(tmp_path, "unaligned")
    _make_layout(tmp_path, "aligned")
    with pytest.raises(DatasetError, match="more than one layout"):
        detect_layout(tmp_path)
    assert len(make_dataset(tmp_path, mode="aligned", preprocess=SMALL, seed=0)) == 4


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "notes.txt").write_text("no images here")
    with pytest.raises(DatasetError, match="no images in"):
        make_dataset(tmp_path, preprocess=SMALL, seed=0)


def test_unreadable_image_error_names_the_file(tmp_path: Path) -> None:
    _make_layout(tmp_path, "aligned", n=1)
    bad = tmp_path / "train" / "9_broken.png"
    bad.write_bytes(b"not a png")
    ds = make_dataset(tmp_path, preprocess=SMALL, seed=0)
    with pytest.raises(ImageError, match=r"9_broken\.png"):
        ds[1]


def test_images_are_found_recursively_sorted_and_hidden_files_skipped(tmp_path: Path) -> None:
    for name in ("b/2.png", "a/1.png", "0.jpg", ".hidden/3.png", "._4.png"):
        _write(tmp_path / "train" / name, _noise(8, 16))
    ds = make_dataset(tmp_path, preprocess=PreprocessConfig(preprocess="none"), seed=0)
    names = [Path(p).relative_to(tmp_path / "train").as_posix() for p in ds.ab_paths]
    assert names == ["0.jpg", "a/1.png", "b/2.png"]


def test_max_size_keeps_the_first_images(tmp_path: Path) -> None:
    ds = make_dataset(
        _make_layout(tmp_path, "unaligned", n=5), preprocess=SMALL, seed=0, max_size=2
    )
    assert len(ds) == 2 and [p.name for p in ds.a_paths] == ["0.png", "1.png"]


def test_unaligned_length_is_the_larger_side(tmp_path: Path) -> None:
    _make_layout(tmp_path, "unaligned", n=2)
    for i in range(2, 5):
        _write(tmp_path / "trainB" / f"{i}.png", _noise(24, 32))
    assert len(make_dataset(tmp_path, preprocess=SMALL, seed=0)) == 5


def test_serial_batches_pairs_b_by_index(tmp_path: Path) -> None:
    _make_layout(tmp_path, "unaligned", n=3)
    _write(tmp_path / "trainA" / "3.png", _noise(24, 32))
    ds = make_dataset(tmp_path, preprocess=SMALL, seed=0, serial_batches=True)
    assert [Path(ds[i]["B_path"]).name for i in range(4)] == ["0.png", "1.png", "2.png", "0.png"]


def test_paired_files_match_by_name_across_suffixes(tmp_path: Path) -> None:
    for name in ("x", "y", "sub/z"):
        _write(tmp_path / "train" / "A" / f"{name}.png", _noise(16, 16))
        _write(tmp_path / "train" / "B" / f"{name}.bmp", _noise(16, 16))
    ds = make_dataset(tmp_path, preprocess=SMALL, seed=0)
    stems = [(Path(ds[i]["A_path"]).stem, Path(ds[i]["B_path"]).stem) for i in range(3)]
    assert stems == [("z", "z"), ("x", "x"), ("y", "y")]


def test_paired_mismatch_lists_the_unmatched_files(tmp_path: Path) -> None:
    _make_layout(tmp_path, "paired", n=2)
    _write(tmp_path / "train" / "A" / "only_a.png", _noise(8, 8))
    _write(tmp_path / "train" / "B" / "only_b.png", _noise(8, 8))
    with pytest.raises(DatasetError, match=r"only_a.*only_b"):
        make_dataset(tmp_path, preprocess=SMALL, seed=0)


# --- preprocessing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preprocess", "load", "crop", "size_hw", "expected_hw"),
    [
        ("resize_and_crop", 20, 16, (30, 40), (16, 16)),
        ("crop", 99, 16, (30, 40), (16, 16)),
        ("scale_width", 24, 8, (20, 40), (12, 24)),
        ("scale_width", 20, 16, (10, 40), (16, 20)),  # height kept at least crop_size
        ("scale_width_and_crop", 24, 8, (20, 40), (8, 8)),
        ("none", 1, 1, (13, 22), (12, 24)),  # rounded to multiples of 4
        ("none", 1, 1, (16, 20), (16, 20)),
    ],
)
def test_preprocess_output_sizes(
    tmp_path: Path,
    preprocess: str,
    load: int,
    crop: int,
    size_hw: tuple[int, int],
    expected_hw: tuple[int, int],
) -> None:
    _write(tmp_path / "trainA" / "a.png", _noise(*size_hw))
    _write(tmp_path / "trainB" / "b.png", _noise(*size_hw))
    cfg = PreprocessConfig(load_size=load, crop_size=crop, preprocess=preprocess)  # type: ignore[arg-type]
    item = make_dataset(tmp_path, preprocess=cfg, seed=0)[0]
    assert item["A"].shape[1:] == expected_hw and item["B"].shape[1:] == expected_hw


def test_crop_larger_than_the_image_is_an_error(tmp_path: Path) -> None:
    _make_layout(tmp_path, "unaligned", n=1, size=(8, 8))
    ds = make_dataset(
        tmp_path, preprocess=PreprocessConfig(crop_size=16, preprocess="crop"), seed=0
    )
    with pytest.raises(DatasetError, match="smaller than crop_size 16"):
        ds[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preprocess": "stretch"}, r"preprocess must be one of .*; got 'stretch'"),
        ({"load_size": 8, "crop_size": 16}, r"crop_size \(16\) must not exceed load_size \(8\)"),
        ({"crop_size": 0}, "load_size and crop_size must be positive; got 286, 0"),
    ],
)
def test_invalid_preprocess_config_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PreprocessConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("preprocess", ["resize_and_crop", "crop", "scale_width_and_crop", "none"])
def test_aligned_halves_get_the_same_crop_and_flip(tmp_path: Path, preprocess: str) -> None:
    half = _noise(24, 32)
    _write(tmp_path / "train" / "ab.png", np.concatenate([half, half], axis=1))
    cfg = PreprocessConfig(load_size=20, crop_size=12, preprocess=preprocess)  # type: ignore[arg-type]
    ds = make_dataset(tmp_path, preprocess=cfg, seed=3)
    for epoch in range(6):
        item = ds[(epoch, 0)]
        torch.testing.assert_close(item["A"], item["B"], rtol=0, atol=0)


def test_flip_happens_about_half_the_time_and_can_be_turned_off(tmp_path: Path) -> None:
    image = _noise(8, 12)
    _write(tmp_path / "train" / "A" / "x.png", image)
    _write(tmp_path / "train" / "B" / "x.png", image)
    plain = torch.from_numpy(image).permute(2, 0, 1).float() / 127.5 - 1
    for no_flip, expected in ((False, {True, False}), (True, {False})):
        cfg = PreprocessConfig(preprocess="none", no_flip=no_flip)
        ds = make_dataset(tmp_path, preprocess=cfg, seed=0)
        flipped = {not torch.allclose(ds[(e, 0)]["A"], plain, atol=1e-6) for e in range(16)}
        assert flipped == expected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_direction_btoa_swaps_a_and_b(tmp_path: Path, layout: str) -> None:
    _make_layout(tmp_path, layout, n=2)
    forward = make_dataset(tmp_path, preprocess=SMALL, seed=0, serial_batches=True)[0]
    backward = make_dataset(
        tmp_path, preprocess=SMALL, seed=0, direction="BtoA", serial_batches=True
    )[0]
    assert forward["A"].mean() < 0 < backward["A"].mean()
    assert backward["B"].mean() < 0 < forward["B"].mean()
    assert (backward["A_path"], backward["B_path"]) == (forward["B_path"], forward["A_path"])


@pytest.mark.parametrize(("in_channels", "out_channels"), [(1, 3), (3, 1), (1, 1)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_channel_counts(tmp_path: Path, layout: str, in_channels: int, out_channels: int) -> None:
    _make_layout(tmp_path, layout, n=1)
    ds = make_dataset(
        tmp_path, preprocess=SMALL, seed=0, in_channels=in_channels, out_channels=out_channels
    )
    item = ds[0]
    assert item["A"].shape == (in_channels, 16, 16) and item["B"].shape == (out_channels, 16, 16)


def test_grey_source_images_become_rgb_and_alpha_is_dropped(tmp_path: Path) -> None:
    _write(tmp_path / "trainA" / "grey.png", _noise(16, 16, c=1))
    _write(tmp_path / "trainB" / "rgba.png", _noise(16, 16, c=4))
    item = make_dataset(tmp_path, preprocess=PreprocessConfig(preprocess="none"), seed=0)[0]
    assert item["A"].shape == (3, 16, 16) and item["B"].shape == (3, 16, 16)
    torch.testing.assert_close(item["A"][0], item["A"][2])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "train" / "A" / "r.jpg"
    path.parent.mkdir(parents=True)
    Image.fromarray(_noise(8, 16)).save(path, exif=exif)
    _write(tmp_path / "train" / "B" / "r.png", _noise(16, 8))
    item = make_dataset(tmp_path, preprocess=PreprocessConfig(preprocess="none"), seed=0)[0]
    assert item["A"].shape == (3, 16, 8)


# --- determinism ------------------------------------------------------------------------------

CROP = PreprocessConfig(crop_size=12, preprocess="crop")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_seed_epoch_and_index_give_the_same_tensors(tmp_path: Path, layout: str) -> None:
    _make_layout(tmp_path, layout)
    one = make_dataset(tmp_path, preprocess=CROP, seed=7)
    two = make_dataset(tmp_path, preprocess=CROP, seed=7)
    two.set_epoch(3)
    for index in range(len(one)):
        a, b = one[(3, index)], two[index]
        assert a["B_path"] == b["B_path"]
        torch.testing.assert_close(a["A"], b["A"], rtol=0, atol=0)
        torch.testing.assert_close(a["B"], b["B"], rtol=0, atol=0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_different_epochs_give_different_crops(tmp_path: Path, layout: str) -> None:
    ds = make_dataset(_make_layout(tmp_path, layout, n=1), preprocess=CROP, seed=0)
    crops = {tuple(ds[(epoch, 0)]["A"].flatten().tolist()) for epoch in range(8)}
    assert len(crops) > 1


def test_numpy_and_torch_integer_keys_match_python_ints(tmp_path: Path) -> None:
    ds = make_dataset(_make_layout(tmp_path, "unaligned"), preprocess=CROP, seed=0)
    expected = ds[(1, 2)]["A"]
    for key in ((np.int64(1), np.int64(2)), (torch.tensor(1), torch.tensor(2))):
        torch.testing.assert_close(ds[key]["A"], expected, rtol=0, atol=0)


def test_the_global_rng_is_untouched(tmp_path: Path) -> None:
    ds = make_dataset(_make_layout(tmp_path, "unaligned"), preprocess=CROP, seed=0)
    state = torch.get_rng_state()
    ds[0]
    assert torch.equal(torch.get_rng_state(), state)


def _batches(ds: object, sampler: EpochSampler, workers: int) -> list[dict[str, object]]:
    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=sampler, num_workers=workers)
    return list(loader)


def test_dataloader_batches_do_not_depend_on_the_number_of_workers(tmp_path: Path) -> None:
    ds = make_dataset(_make_layout(tmp_path, "unaligned", n=6), preprocess=CROP, seed=1)
    sampler = EpochSampler(len(ds), seed=1, yield_epoch=True)
    sampler.set_epoch(2)
    serial, parallel = _batches(ds, sampler, 0), _batches(ds, sampler, 2)
    assert len(serial) == len(parallel) == 3
    for one, two in zip(serial, parallel, strict=True):
        assert one["B_path"] == two["B_path"]
        torch.testing.assert_close(one["A"], two["A"], rtol=0, atol=0)
        torch.testing.assert_close(one["B"], two["B"], rtol=0, atol=0)


# --- EpochSampler -----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [10, 11])
def test_two_ranks_cover_every_index_once(length: int) -> None:
    shards = [EpochSampler(length, seed=0, rank=r, world_size=2) for r in range(2)]
    for shard in shards:
        shard.set_epoch(4)
    seen = [i for shard in shards for i in shard]
    assert len(shards[0]) == len(shards[1]) == (length + 1) // 2
    assert sorted(set(seen)) == list(range(length))
    assert len(seen) - len(set(seen)) == length % 2  # one index repeated as padding


def test_drop_last_drops_the_tail_instead_of_padding() -> None:
    shards = [EpochSampler(11, seed=0, rank=r, world_size=2, drop_last=True) for r in range(2)]
    seen = [i for shard in shards for i in shard]
    assert len(seen) == len(set(seen)) == 10


def test_set_epoch_changes_the_order_and_is_reproducible() -> None:
    sampler = EpochSampler(20, seed=5)
    orders = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
    assert orders[0] == orders[2] != orders[1]
    assert sorted(orders[1]) == list(range(20))


def test_skip_resumes_mid_epoch() -> None:
    sampler = EpochSampler(13, seed=2, rank=1, world_size=3)
    sampler.set_epoch(6)
    full = list(sampler)
    sampler.set_epoch(6, skip=2)
    assert list(sampler) == full[2:] and len(sampler) == len(full) - 2
    sampler.set_epoch(7)
    assert len(sampler) == len(full)  # skip applies to one epoch only


def test_unshuffled_sampler_keeps_dataset_order() -> None:
    assert list(EpochSampler(5, seed=0, shuffle=False)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"length": 0}, "length must be at least 1; got 0"),
        ({"length": 4, "rank": 2, "world_size": 2}, "need 0 <= rank < world_size; got rank 2"),
        ({"length": 4, "world_size": 0}, "need 0 <= rank < world_size; got rank 0, world 0"),
    ],
)
def test_invalid_sampler_arguments_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EpochSampler(seed=0, **kwargs)


def test_skip_beyond_the_epoch_is_refused() -> None:
    with pytest.raises(ValueError, match="skip"):
        EpochSampler(4, seed=0).set_epoch(0, skip=5)


# --- downloads --------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A folder served over loopback HTTP, and its base URL."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "served"
    root.mkdir()
    with serve_folder(root) as (base, _):
        yield root, base


def _png_bytes(h: int = 8, w: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(_noise(h, w)).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_cyclegan_zip_downloads_and_unpacks(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    members = {
        f"horse2zebra/{side}/{i}.png": _png_bytes()
        for side in ("trainA", "trainB")
        for i in range(2)
    }
    _zip(root / "horse2zebra.zip", members)
    calls: list[tuple[int, int | None]] = []
    dest = tmp_path / "datasets"
    folder = download_dataset(
        "horse2zebra", dest, base_url=base, progress=lambda d, t: calls.append((d, t))
    )
    assert folder == dest / "horse2zebra"
    assert detect_layout(folder) == "unaligned"
    assert sorted(p.name for p in dest.iterdir()) == ["horse2zebra"]  # no temporaries left
    assert calls and calls[-1][0] == (root / "horse2zebra.zip").stat().st_size
    assert len(make_dataset(folder, preprocess=PreprocessConfig(preprocess="none"), seed=0)) == 2


def test_pix2pix_tarball_downloads_and_unpacks(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    _tar(
        root / "facades.tar.gz",
        [_file(f"facades/train/{i}.png", _png_bytes(8, 16)) for i in range(3)],
    )
    folder = download_dataset("pix2pix/facades", tmp_path / "d", base_url=base)
    assert detect_layout(folder) == "aligned"
    assert len(list((folder / "train").iterdir())) == 3


def test_existing_target_is_not_overwritten(served: tuple[Path, str], tmp_path: Path) -> None:
    _, base = served
    (tmp_path / "horse2zebra").mkdir()
    with pytest.raises(DatasetExistsError, match="already exists"):
        download_dataset("horse2zebra", tmp_path, base_url=base)


def test_missing_archive_leaves_nothing(served: tuple[Path, str], tmp_path: Path) -> None:
    _, base = served
    dest = tmp_path / "d"
    with pytest.raises(DownloadError, match="404"):
        download_dataset("apple2orange", dest, base_url=base)
    assert list(dest.iterdir()) == []


def _malicious(root: Path, outside: Path) -> dict[str, object]:
    """Archives that try to write ``outside`` (a path beside the destination folder)."""
    up = "../" * 6
    return {
        "zip_dotdot": ("horse2zebra.zip", {"horse2zebra/a.png": b"x", f"{up}evil.txt": b"x"}),
        "zip_absolute": ("horse2zebra.zip", {str(outside / "evil.txt"): b"x"}),
        "tar_dotdot": ("facades.tar.gz", [_file(f"facades/{up}evil.txt", b"x")]),
        "tar_absolute": ("facades.tar.gz", [_file(str(outside / "evil.txt"), b"x")]),
        "tar_symlink_escape": (
            "facades.tar.gz",
            [_link("facades/out", str(outside)), _file("facades/out/evil.txt", b"x")],
        ),
        "tar_relative_symlink_escape": (
            "facades.tar.gz",
            [_link("facades/out", up + "outside"), _file("facades/out/evil.txt", b"x")],
        ),
        "tar_chained_symlink_escape": (  # each link stays inside alone; together they leave
            "facades.tar.gz",
            [
                _link("facades/a/b", ".."),
                _link("facades/a/b/c", "../.."),
                _file("facades/a/b/c/evil.txt", b"x"),
            ],
        ),
        "tar_hardlink_escape": ("facades.tar.gz", [_link("facades/h", up + "x", tarfile.LNKTYPE)]),
        "tar_device": ("facades.tar.gz", [_link("facades/dev", "", tarfile.CHRTYPE)]),
    }


@pytest.mark.parametrize(
    "case",
    [
        "zip_dotdot",
        "zip_absolute",
        "tar_dotdot",
        "tar_absolute",
        "tar_symlink_escape",
        "tar_relative_symlink_escape",
        "tar_chained_symlink_escape",
        "tar_hardlink_escape",
        "tar_device",
    ],
)
def test_malicious_archives_are_refused(
    served: tuple[Path, str], tmp_path: Path, case: str
) -> None:
    root, base = served
    outside = tmp_path / "outside"
    outside.mkdir()
    file_name, members = _malicious(root, outside)[case]  # type: ignore[misc]
    if file_name.endswith(".zip"):
        _zip(root / file_name, members)
    else:
        _tar(root / file_name, members)
    dest = tmp_path / "work" / "datasets"
    name = "horse2zebra" if file_name.endswith(".zip") else "pix2pix/facades"
    with pytest.raises(ArchiveError, match="refusing"):
        download_dataset(name, dest, base_url=base)
    assert list(dest.iterdir()) == []
    assert list(outside.iterdir()) == []
    assert not list(tmp_path.rglob("evil.txt"))


def test_zip_symlinks_are_refused(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    info = zipfile.ZipInfo("horse2zebra/link")
    info.external_attr = 0o120777 << 16  # S_IFLNK
    with zipfile.ZipFile(root / "horse2zebra.zip", "w") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="symbolic link"):
        download_dataset("horse2zebra", tmp_path / "d", base_url=base)


def test_corrupt_archive_is_an_archive_error(served: tuple[Path, str], tmp_path: Path) -> None:
    root, base = served
    (root / "maps.tar.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 20)
    with pytest.raises(ArchiveError, match=r"maps\.tar\.gz is neither a zip nor a tar archive"):
        download_dataset("pix2pix/maps", tmp_path / "d", base_url=base)
    assert list((tmp_path / "d").iterdir()) == []


def test_registry_names_and_urls() -> None:
    ids = {entry.id for entry in list_datasets()}
    assert {"cyclegan/horse2zebra", "pix2pix/facades", "pix2pix/edges2shoes"} <= ids
    assert resolve_dataset("horse2zebra").url() == (
        "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    )
    assert resolve_dataset("edges2shoes").url() == (
        "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/edges2shoes.tar.gz"
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("horse2cat", "known datasets: .*horse2zebra"),
        ("facades", "ambiguous.*cyclegan/facades.*pix2pix/facades"),
        ("cityscapes", "license"),
    ],
)
def test_unknown_or_ambiguous_names_explain(name: str, message: str) -> None:
    with pytest.raises(UnknownDatasetError, match=message):
        resolve_dataset(name)
