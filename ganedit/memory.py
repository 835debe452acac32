"""How much memory one image will take, estimated before it is decoded, and the job's limit.

A 1 MB PNG can declare 20000×20000 pixels; decoding it and running a network over it would
need tens of gigabytes. The folder job reads each image's header first and refuses an image
whose estimate exceeds the limit, with the figure and the option that raises it, instead of
letting the machine swap or the kernel kill the job.

The estimate (:func:`image_bytes`) adds what is known exactly — the decoded pixels, their float
copies on the way into the network, the float result and the encoded-side copy — to the
network's working memory, which depends on the architecture and is taken as
``card.extra["bytes_per_pixel"]`` (when an exporter recorded it) or
:data:`NETWORK_BYTES_PER_PIXEL` per pixel the network sees at once (a whole image, or a tile
batch for a tiled upscale). It is an estimate: its purpose is to refuse the absurd before it
starts, not to pack memory tightly.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .errors import GaneditError

if TYPE_CHECKING:
    from .model import Model

__all__ = [
    "NETWORK_BYTES_PER_PIXEL",
    "default_limit",
    "format_size",
    "image_bytes",
    "parse_size",
]

#: The network's working memory per input pixel it sees at once, when the card does not say:
#: CycleGAN's ResNet-9 (ngf 64) on onnxruntime's CPU provider peaked at 1.45 KiB per pixel at
#: 512² and 1024² (RESULTS.md); smaller networks take less, and say so on their card.
NETWORK_BYTES_PER_PIXEL = 1536
#: Share of the memory available when the job starts that one image may take by default.
DEFAULT_SHARE = 0.5

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """``"8G"``, ``"512M"``, ``"1.5g"``, ``"123456"`` (bytes) -> bytes; ``"0"``: no limit.

    Raises:
        GaneditError: Not a size.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, flags=re.IGNORECASE)
    if match is None:
        raise GaneditError(f"not a memory size: {text!r} (examples: 8G, 512M, 0 for no limit)")
    return int(float(match[1]) * _UNITS[match[2].upper()])


def format_size(size: float) -> str:
    """Bytes as ``"1.2 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def available_memory() -> int | None:
    """Memory available to new allocations (Linux ``MemAvailable``), else physical memory,
    else ``None`` when the platform tells neither."""
    available = _linux_available()
    if available is not None:
        return available
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _linux_available() -> int | None:
    """``MemAvailable`` of /proc/meminfo; ``None`` off Linux or for an unreadable file (the
    caller then falls back to the physical memory: a looser limit, never a wrong refusal)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_limit() -> int:
    """The default per-image limit: half the memory available now (0, no limit, when the
    platform does not say how much there is)."""
    available = available_memory()
    return 0 if available is None else int(available * DEFAULT_SHARE)


def image_bytes(model: Model, height: int, width: int, channels: int, itemsize: int) -> int:
    """Estimated peak memory of running ``model`` on one ``height`` × ``width`` image of
    ``channels`` channels (alpha included) of ``itemsize`` bytes each."""
    pixels = height * width
    scale = model.card.scale
    out_pixels = pixels * scale * scale
    decoded = pixels * channels * itemsize
    into_network = pixels * max(channels, model.card.in_channels) * 4 * 2  # unit + network range
    result = out_pixels * max(channels, model.card.out_channels) * (4 * 2 + itemsize)
    per_pixel = model.card.extra.get("bytes_per_pixel", NETWORK_BYTES_PER_PIXEL)
    if not isinstance(per_pixel, int | float) or not 0 < per_pixel < 1 << 20:
        per_pixel = NETWORK_BYTES_PER_PIXEL
    network = int(model.working_pixels(height, width) * per_pixel)
    return decoded + into_network + result + network
