"""16-bit colour PNG and TIFF encoding (Pillow cannot write them): OpenCV plus the metadata.

OpenCV writes the pixels; ICC profile, dpi and (PNG only) EXIF are added to its output here.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["encode_16bit_color"]

_ICC_TAG = 34675


def encode_16bit_color(
    fmt: str,
    color: np.ndarray,
    alpha: np.ndarray | None,
    exif: bytes | None,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
) -> bytes:
    """16-bit RGB/RGBA (grey+alpha widened to RGBA) through OpenCV, metadata added afterwards."""
    import cv2

    rgb = np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color
    if alpha is None:
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    else:
        rgba = np.concatenate([rgb, alpha[:, :, None]], axis=2)
        bgr = cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2BGRA)
    if fmt == "PNG":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise ValueError("OpenCV could not encode the PNG")
        return _png_add_chunks(buf.tobytes(), exif=exif, icc=icc, dpi=dpi)
    ok, buf = cv2.imencode(".tiff", bgr)
    if not ok:
        raise ValueError("OpenCV could not encode the TIFF")
    return _tiff_set_tags(buf.tobytes(), icc=icc, dpi=dpi)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_add_chunks(
    png: bytes, *, exif: bytes | None, icc: bytes | None, dpi: tuple[float, float] | None
) -> bytes:
    """Insert iCCP, pHYs and eXIf chunks right after IHDR (before any IDAT, as the spec wants)."""
    ihdr_end = 8 + 8 + 13 + 4
    if png[12:16] != b"IHDR":
        raise ValueError("unexpected PNG layout from OpenCV")
    chunks = b""
    if icc:
        chunks += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if dpi is not None:
        ppm = [round(d / 0.0254) for d in dpi]
        chunks += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if exif:
        raw = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif  # eXIf holds bare TIFF data
        chunks += _png_chunk(b"eXIf", raw)
    return png[:ihdr_end] + chunks + png[ihdr_end:]


def _tiff_set_tags(tiff: bytes, *, icc: bytes | None, dpi: tuple[float, float] | None) -> bytes:
    """Set the ICC profile and resolution of a classic TIFF's first IFD, by appending a new IFD.

    The old IFD stays in the file unreferenced; strip data does not move. Resolution tags the
    writer put in (OpenCV writes a meaningless 1x1 "no unit") are replaced, or removed if no dpi.
    """
    endian = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if endian is None or struct.unpack(endian + "H", tiff[2:4])[0] != 42:
        raise ValueError("unexpected TIFF layout from OpenCV")
    (ifd_offset,) = struct.unpack(endian + "I", tiff[4:8])
    (count,) = struct.unpack(endian + "H", tiff[ifd_offset : ifd_offset + 2])
    entries_end = ifd_offset + 2 + 12 * count
    entries = [tiff[ifd_offset + 2 + 12 * i : ifd_offset + 14 + 12 * i] for i in range(count)]
    next_ifd = tiff[entries_end : entries_end + 4]
    replaced = {_ICC_TAG, 282, 283, 296}
    entries = [e for e in entries if struct.unpack(endian + "H", e[:2])[0] not in replaced]

    out = bytearray(tiff)

    def append(data: bytes) -> int:
        if len(out) % 2:
            out.extend(b"\x00")
        offset = len(out)
        out.extend(data)
        return offset

    if icc:
        entries.append(struct.pack(endian + "HHII", _ICC_TAG, 7, len(icc), append(icc)))
    if dpi is not None:
        for tag, value in ((282, dpi[0]), (283, dpi[1])):
            num, den = round(value * 1000), 1000
            offset = append(struct.pack(endian + "II", num, den))
            entries.append(struct.pack(endian + "HHII", tag, 5, 1, offset))
        entries.append(struct.pack(endian + "HHIHH", 296, 3, 1, 2, 0))  # unit: inch
    entries.sort(key=lambda e: struct.unpack(endian + "H", e[:2])[0])
    new_ifd = append(struct.pack(endian + "H", len(entries)) + b"".join(entries) + next_ifd)
    out[4:8] = struct.pack(endian + "I", new_ifd)
    return bytes(out)
