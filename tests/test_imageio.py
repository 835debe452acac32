"""Tests for ganedit.imageio (decoding, encoding, metadata) and ganedit._files' atomic writes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from ganedit import _files
from ganedit._files import atomic_write
from ganedit.codec import quantise
from ganedit.errors import ImageError
from ganedit.imageio import (
    IMAGE_SUFFIXES,
    _deepcolor,
    decode,
    decode_image,
    encode_image,
    format_for_suffix,
)

LOSSLESS = {".png", ".tif", ".bmp"}
SUFFIXES = [".png", ".tif", ".bmp", ".jpg", ".webp"]
ORIENT_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _smooth(h: int, w: int, c: int, dtype: type, seed: int = 0) -> np.ndarray:
    """A smooth gradient image (lossy codecs keep it well) with some low-byte detail."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = [
        0.5 + 0.4 * np.sin(x / w * np.pi * (k + 1) + rng.uniform(0, 3)) * np.cos(y / h * np.pi)
        for k in range(c)
    ]
    return quantise(np.stack(chans, axis=2), dtype)


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "ganedit-test-camera"  # Make
    return exif


def _orientation_of(exif: bytes | None) -> int | None:
    assert exif is not None
    parsed = Image.Exif()
    parsed.load(exif)
    return parsed.get(0x0112)


# --------------------------------------------------------------------------- small helpers


class TestFormatForSuffix:
    @pytest.mark.parametrize(
        ("suffix", "fmt"),
        [(".jpg", "JPEG"), (".JPEG", "JPEG"), ("png", "PNG"), (".tif", "TIFF"), (".webp", "WEBP")],
    )
    def test_known_suffixes(self, suffix: str, fmt: str) -> None:
        assert format_for_suffix(suffix) == fmt

    def test_unknown_suffix_lists_supported(self) -> None:
        with pytest.raises(ImageError, match=r"'\.xyz'.*\.jpg.*\.png"):
            format_for_suffix(".xyz")

    def test_image_suffixes_all_have_a_format(self) -> None:
        assert {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"} <= IMAGE_SUFFIXES
        for suffix in IMAGE_SUFFIXES:
            format_for_suffix(suffix)


# --------------------------------------------------------------------------- round trips


# What each format stores, written out: (suffix, dtype given) -> (dtype stored, alpha kept,
# channels of a grey image without alpha, channels of a grey image with alpha).
STORED = {
    (".png", np.uint8): (np.uint8, True, 1, 1),
    (".png", np.uint16): (np.uint16, True, 1, 3),  # 16-bit grey + alpha is written as RGBA
    (".tif", np.uint8): (np.uint8, True, 1, 1),
    (".tif", np.uint16): (np.uint16, True, 1, 3),
    (".bmp", np.uint8): (np.uint8, False, 1, 1),
    (".bmp", np.uint16): (np.uint8, False, 1, 1),
    (".jpg", np.uint8): (np.uint8, False, 1, 1),
    (".jpg", np.uint16): (np.uint8, False, 1, 1),
    (".webp", np.uint8): (np.uint8, True, 3, 3),  # WebP stores colour only
    (".webp", np.uint16): (np.uint8, True, 3, 3),
}


def _eight_bit(a: np.ndarray) -> np.ndarray:
    """16-bit values to the nearest 8-bit level, in integer arithmetic (v / 257 is never a tie)."""
    return ((a.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)


@pytest.mark.parametrize(("suffix", "dtype"), list(STORED), ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_round_trip(
    tmp_path: Path, suffix: str, dtype: type, channels: int, with_alpha: bool
) -> None:
    color = _smooth(24, 32, channels, dtype)
    alpha = _smooth(24, 32, 1, dtype, seed=1)[:, :, 0] if with_alpha else None
    path = tmp_path / f"img{suffix}"
    encode_image(path, color, alpha)
    out = decode_image(path)

    stored, keeps_alpha, grey, grey_with_alpha = STORED[suffix, dtype]
    expect_channels = 3 if channels == 3 else (grey_with_alpha if with_alpha else grey)
    assert out.color.dtype == stored
    assert out.color.shape == (24, 32, expect_channels)
    assert (out.alpha is not None) == (with_alpha and keeps_alpha)

    narrowed = stored == np.uint8 and dtype == np.uint16
    want = _eight_bit(color) if narrowed else color
    if expect_channels == 3 and channels == 1:
        want = np.repeat(want, 3, axis=2)
    if suffix in LOSSLESS:
        np.testing.assert_array_equal(out.color, want)
        if out.alpha is not None:
            assert alpha is not None
            np.testing.assert_array_equal(out.alpha, _eight_bit(alpha) if narrowed else alpha)
    else:
        diff = np.abs(out.color.astype(np.int32) - want.astype(np.int32))
        assert diff.mean() < 3


def test_16bit_rgb_png_keeps_low_byte(tmp_path: Path) -> None:
    color = np.zeros((4, 4, 3), np.uint16)
    color[..., 0] = 0x1201
    color[..., 1] = 0x1202
    color[..., 2] = 0x12FF
    path = tmp_path / "deep.png"
    encode_image(path, color)
    with Image.open(path) as im:  # really a 48-bit PNG on disk
        assert im.format == "PNG"
    assert path.read_bytes()[24] == 16
    out = decode_image(path)
    assert out.mode == "RGB;16"
    np.testing.assert_array_equal(out.color, color)


def test_16bit_rgb_tiff_read_from_other_writer(tmp_path: Path) -> None:
    import cv2

    color = _smooth(10, 12, 3, np.uint16) | 1  # odd values: the low byte matters
    path = tmp_path / "scan.tif"
    cv2.imwrite(str(path), cv2.cvtColor(color, cv2.COLOR_RGB2BGR))
    out = decode_image(path)
    np.testing.assert_array_equal(out.color, color)


def test_astronaut_jpeg_psnr(tmp_path: Path) -> None:
    from skimage.data import astronaut

    photo = astronaut()
    path = tmp_path / "astronaut.jpg"
    encode_image(path, photo)
    out = decode_image(path)
    mse = np.mean((out.color.astype(np.float64) - photo.astype(np.float64)) ** 2)
    psnr = 10 * np.log10(255**2 / mse)
    assert psnr > 35, psnr


def test_jpeg_keeps_full_chroma_at_high_quality(tmp_path: Path) -> None:
    path = tmp_path / "q.jpg"
    encode_image(path, _smooth(16, 16, 3, np.uint8), jpeg_quality=95)
    with Image.open(path) as im:
        assert im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)  # no subsampling: 4:4:4


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, suffix: str) -> None:
    stored = _smooth(12, 20, 3, np.uint8)
    path = tmp_path / f"o{orientation}{suffix}"
    params: dict[str, object] = {"exif": _exif_with(orientation)}
    if suffix == ".jpg":
        params.update(quality=100, subsampling=0)
    elif suffix == ".webp":
        params.update(lossless=True)
    Image.fromarray(stored).save(path, **params)

    out = decode_image(path)
    with Image.open(path) as im:
        expect = np.asarray(im.convert("RGB").transpose(ORIENT_TRANSPOSE[orientation]))
    if suffix == ".tif":  # Pillow already uprights TIFF when loading; compare with the raw data.
        expect = np.asarray(Image.fromarray(stored).transpose(ORIENT_TRANSPOSE[orientation]))
    np.testing.assert_array_equal(out.color, expect)
    assert _orientation_of(out.exif) == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillow_exif_transpose(orientation: int) -> None:
    a = _smooth(5, 7, 3, np.uint8)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    expect = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(decode._orient(a, orientation), expect)


def test_orientation_applied_to_16bit_png(tmp_path: Path) -> None:
    color = _smooth(6, 10, 3, np.uint16) | 1
    alpha = np.full((6, 10), 40000, np.uint16)
    alpha[0, 0] = 1
    path = tmp_path / "o.png"
    encode_image(path, color, alpha, exif=_exif_with(6).tobytes())
    out = decode_image(path)
    np.testing.assert_array_equal(out.color, np.rot90(color, -1))
    assert out.alpha is not None
    np.testing.assert_array_equal(out.alpha, np.rot90(alpha, -1))
    assert _orientation_of(out.exif) == 1


def _tiff_with_orientation(tiff: bytes, orientation: int) -> bytes:
    """Append a copy of IFD0 with an Orientation entry (little-endian classic TIFF)."""
    (off,) = struct.unpack("<I", tiff[4:8])
    (count,) = struct.unpack("<H", tiff[off : off + 2])
    entries = [tiff[off + 2 + 12 * i : off + 14 + 12 * i] for i in range(count)]
    entries.append(struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0))
    entries.sort(key=lambda e: struct.unpack("<H", e[:2])[0])
    out = bytearray(tiff)
    out[4:8] = struct.pack("<I", len(out))
    out += struct.pack("<H", len(entries)) + b"".join(entries) + b"\0\0\0\0"
    return bytes(out)


@pytest.mark.parametrize("orientation", range(2, 9))
def test_orientation_applied_to_16bit_tiff(tmp_path: Path, orientation: int) -> None:
    import cv2

    color = _smooth(6, 10, 3, np.uint16) | 1
    ok, buf = cv2.imencode(".tiff", cv2.cvtColor(color, cv2.COLOR_RGB2BGR))
    assert ok
    path = tmp_path / "o16.tif"
    path.write_bytes(_tiff_with_orientation(buf.tobytes(), orientation))
    out = decode_image(path)
    np.testing.assert_array_equal(out.color, decode._orient(color, orientation))


def test_16bit_grey_alpha_png_stays_grey(tmp_path: Path) -> None:
    grey = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 4099 + 7).astype(np.uint16)
    alpha = np.full((3, 4), 30001, np.uint16)
    rows = [b"\0" + np.stack([grey[y], alpha[y]], 1).astype(">u2").tobytes() for y in range(3)]
    ihdr = struct.pack(">IIBBBBB", 4, 3, 16, 4, 0, 0, 0)  # colour type 4: grey + alpha
    png = b"\x89PNG\r\n\x1a\n" + b"".join(
        _deepcolor._png_chunk(kind, data)
        for kind, data in [
            (b"IHDR", ihdr),
            (b"IDAT", zlib.compress(b"".join(rows))),
            (b"IEND", b""),
        ]
    )
    path = tmp_path / "ga16.png"
    path.write_bytes(png)
    out = decode_image(path)
    assert out.mode == "LA;16"
    np.testing.assert_array_equal(out.color[:, :, 0], grey)
    assert out.alpha is not None
    np.testing.assert_array_equal(out.alpha, alpha)


@pytest.mark.parametrize("value", [0, 9, 300])
def test_invalid_orientation_is_ignored(tmp_path: Path, value: int) -> None:
    stored = _smooth(4, 6, 3, np.uint8)
    path = tmp_path / "bad.png"
    Image.fromarray(stored).save(path, exif=_exif_with(value))
    np.testing.assert_array_equal(decode_image(path).color, stored)


def test_exif_carried_through_encode(tmp_path: Path) -> None:
    src = tmp_path / "src.jpg"
    Image.fromarray(_smooth(8, 8, 3, np.uint8)).save(src, exif=_exif_with(3))
    decoded = decode_image(src)
    dst = tmp_path / "dst.jpg"
    encode_image(dst, decoded.color, exif=decoded.exif)
    with Image.open(dst) as im:
        assert im.getexif()[0x010F] == "ganedit-test-camera"
        assert im.getexif()[0x0112] == 1


# --------------------------------------------------------------------------- ICC profiles


@pytest.mark.parametrize(
    ("suffix", "dtype", "channels"),
    [
        (".png", np.uint8, 3),
        (".png", np.uint16, 3),
        (".png", np.uint16, 1),
        (".jpg", np.uint8, 3),
        (".tif", np.uint8, 3),
        (".tif", np.uint16, 3),
        (".webp", np.uint8, 3),
    ],
)
def test_icc_profile_survives(tmp_path: Path, suffix: str, dtype: type, channels: int) -> None:
    icc = _srgb_icc()
    path = tmp_path / f"icc{suffix}"
    encode_image(path, _smooth(8, 8, channels, dtype), icc_profile=icc)
    assert decode_image(path).icc_profile == icc
    with Image.open(path) as im:  # other readers see it too
        assert im.info.get("icc_profile") == icc


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg", ".webp"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_metadata_carried(
    tmp_path: Path, suffix: str, dtype: type, channels: int, with_alpha: bool
) -> None:
    icc = _srgb_icc()
    alpha = np.full((5, 6), 7, dtype) if with_alpha else None
    path = tmp_path / f"meta{suffix}"
    exif = _exif_with(1).tobytes()
    encode_image(path, np.full((5, 6, channels), 99, dtype), alpha, exif=exif, icc_profile=icc)
    out = decode_image(path)
    assert out.icc_profile == icc
    # Documented gap: OpenCV writes 16-bit colour TIFF, and only the ICC profile is added back.
    if not (suffix == ".tif" and dtype == np.uint16 and (channels == 3 or with_alpha)):
        assert out.exif is not None
        parsed = Image.Exif()
        parsed.load(out.exif)
        assert parsed[0x010F] == "ganedit-test-camera"


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg", ".bmp"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_dpi_carried(tmp_path: Path, suffix: str, dtype: type) -> None:
    path = tmp_path / f"dpi{suffix}"
    encode_image(path, np.zeros((4, 4, 3), dtype), dpi=(300.0, 150.0))
    out = decode_image(path)
    assert out.dpi == pytest.approx((300.0, 150.0), abs=0.1)


def test_tiff_source_exif_has_no_tiff_structure_tags(tmp_path: Path) -> None:
    path = tmp_path / "src.tif"
    Image.fromarray(_smooth(6, 6, 3, np.uint8)).save(path, exif=_exif_with(1))
    out = decode_image(path)
    parsed = Image.Exif()
    assert out.exif is not None
    parsed.load(out.exif)
    assert parsed[0x010F] == "ganedit-test-camera"
    assert not {256, 257, 258, 273, 279} & set(parsed)


def test_16bit_png_chunks_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "meta.png"
    encode_image(
        path,
        _smooth(8, 8, 3, np.uint16),
        icc_profile=_srgb_icc(),
        exif=_exif_with(1).tobytes(),
        dpi=(300, 300),
    )
    data = path.read_bytes()
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        kinds.append(kind)
        pos += 12 + length
    assert kinds.index(b"iCCP") < kinds.index(b"IDAT")
    assert kinds[-1] == b"IEND"
    out = decode_image(path)
    assert out.dpi is not None and out.dpi == pytest.approx((300, 300), abs=0.1)
    assert out.exif is not None
    parsed = Image.Exif()
    parsed.load(out.exif)
    assert parsed[0x010F] == "ganedit-test-camera"


def test_cmyk_jpeg_decodes_to_rgb_without_cmyk_profile(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, quality=100)
    out = decode_image(path)
    assert out.mode == "CMYK" and out.color.shape == (8, 8, 3)
    assert out.color[4, 4, 0] > 200 and out.color[4, 4, 1] < 60  # red


# --------------------------------------------------------------------------- modes


def test_palette_with_transparency_gives_alpha(tmp_path: Path) -> None:
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 1), 1)
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    out = decode_image(path)
    assert out.color.shape == (4, 4, 3)
    assert out.alpha is not None
    assert out.alpha[0, 0] == 0 and out.alpha[1, 1] == 255
    assert out.color[1, 1].tolist() == [0, 0, 255]


def test_palette_without_transparency_gives_rgb(tmp_path: Path) -> None:
    path = tmp_path / "pal.gif"
    Image.fromarray(_smooth(8, 8, 3, np.uint8)).convert("P").save(path)
    out = decode_image(path)
    assert out.alpha is None and out.color.shape == (8, 8, 3) and out.format == "GIF"


@pytest.mark.parametrize(
    ("mode", "expect_shape", "expect_dtype"),
    [
        ("1", (6, 5, 1), np.uint8),
        ("L", (6, 5, 1), np.uint8),
        ("LA", (6, 5, 1), np.uint8),
        ("RGB", (6, 5, 3), np.uint8),
        ("RGBA", (6, 5, 3), np.uint8),
        ("I;16", (6, 5, 1), np.uint16),
        ("I", (6, 5, 1), np.uint16),
        ("F", (6, 5, 1), np.uint16),
        ("CMYK", (6, 5, 3), np.uint8),
        ("YCbCr", (6, 5, 3), np.uint8),
    ],
)
def test_tiff_modes(tmp_path: Path, mode: str, expect_shape: tuple, expect_dtype: type) -> None:
    path = tmp_path / f"m_{mode.replace(';', '')}.tif"
    Image.new(mode, (5, 6)).save(path)
    out = decode_image(path)
    assert out.color.shape == expect_shape and out.color.dtype == expect_dtype
    assert (out.alpha is not None) == (mode in ("LA", "RGBA"))


def test_float_image_is_clipped_unit_range(tmp_path: Path) -> None:
    a = np.array([[-0.5, 0.0, 0.5, 1.0, 3.0]], np.float32)
    path = tmp_path / "f.tif"
    Image.fromarray(a, mode="F").save(path)
    assert decode_image(path).color[0, :, 0].tolist() == [0, 0, 32768, 65535, 65535]


def test_16bit_grey_png_keeps_16_bits(tmp_path: Path) -> None:
    a = (np.arange(20, dtype=np.uint16) * 3001 + 1).reshape(4, 5)
    path = tmp_path / "g16.png"
    Image.fromarray(a).save(path)
    out = decode_image(path)
    np.testing.assert_array_equal(out.color[:, :, 0], a)


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    out = decode_image(path)
    assert out.n_frames == 2 and out.color[0, 0].tolist() == [255, 0, 0]


# --------------------------------------------------------------------------- errors


def _write_truncated(path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    Image.fromarray(_smooth(64, 64, 3, np.uint8)).save(buf, format=fmt)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(("name", "fmt"), [("cut.jpg", "JPEG"), ("cut.png", "PNG")])
def test_truncated_file_raises_naming_file(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    _write_truncated(path, fmt)
    with pytest.raises(ImageError, match=rf"{name}: truncated or corrupt image data"):
        decode_image(path)


def test_truncated_16bit_png_raises(tmp_path: Path) -> None:
    path = tmp_path / "cut16.png"
    encode_image(path, _smooth(64, 64, 3, np.uint16))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ImageError, match=r"cut16\.png: truncated or corrupt"):
        decode_image(path)


def test_text_file_named_jpg_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image file"):
        decode_image(path)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"gone\.png: no such file"):
        decode_image(tmp_path / "gone.png")


def test_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    Image.new("L", (40, 30)).save(path)
    monkeypatch.setattr(decode, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError, match=r"big\.png: image is 40x30 = 1200 pixels"):
        decode_image(path)


def test_pillow_limit_is_raised_only_while_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mid.png"
    Image.new("L", (40, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # the host program's own, lower limit
    assert decode_image(path).color.shape == (30, 40, 1)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize(
    ("color", "alpha", "match"),
    [
        (np.zeros((4, 4, 2), np.uint8), None, r"shape \(H, W, 1\|3\)"),
        (np.zeros((4, 4, 3), np.float32), None, "convert floats with ganedit.codec.quantise"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5), np.uint8), "alpha shape"),
        (np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.uint16), "alpha dtype"),
    ],
)
def test_encode_rejects_bad_arrays(
    tmp_path: Path, color: np.ndarray, alpha: np.ndarray | None, match: str
) -> None:
    with pytest.raises(ImageError, match=match):
        encode_image(tmp_path / "x.png", color, alpha)
    assert list(tmp_path.iterdir()) == []


def test_encode_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="unsupported image suffix"):
        encode_image(tmp_path / "x.xyz", np.zeros((2, 2, 3), np.uint8))


def test_encode_into_missing_directory_raises_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"x\.png: cannot write file"):
        encode_image(tmp_path / "nope" / "x.png", np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_dropped_where_format_has_none(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    encode_image(path, _smooth(8, 8, 3, np.uint8), np.zeros((8, 8), np.uint8))
    assert decode_image(path).alpha is None


# --------------------------------------------------------------------------- atomic_write


def test_atomic_write_success_leaves_only_the_file(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    atomic_write(path, lambda f: f.write(b"hello"))
    assert path.read_bytes() == b"hello"
    assert list(tmp_path.iterdir()) == [path]
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_files._umask()


@pytest.mark.parametrize(("fsync", "expected"), [(True, 2), (False, 0)])
def test_atomic_write_fsyncs_file_and_folder_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fsync: bool, expected: int
) -> None:
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(_files.os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    atomic_write(path, lambda f: f.write(b"new"), fsync=fsync)
    assert len(calls) == expected  # the file's data, then the folder's entry
    assert path.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [path]  # still a rename over the old file


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")

    def fail(f: io.BufferedWriter) -> None:
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, fail)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_encode_failure_keeps_existing_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keep.png"
    path.write_bytes(b"previous result")

    def broken_save(*args: object, **kwargs: object) -> None:
        raise ValueError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageError, match=r"keep\.png: cannot encode as PNG.*encoder exploded"):
        encode_image(path, np.zeros((2, 2, 3), np.uint8))
    assert path.read_bytes() == b"previous result"
    assert list(tmp_path.iterdir()) == [path]
