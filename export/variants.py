"""Every cached conversion, keyed by a :class:`~ganedit.resolve.Variant`.

What a backend runs is made from a resolved :class:`~ganedit.resolve.Source` once and kept in
the cache (``$GANEDIT_HOME``):

=================================  ===============================================================
conversion                          cached as
=================================  ===============================================================
checkpoint file -> ONNX             ``converted/<stem>-<sha256[:16]><variant.cache_suffix>.onnx``
zoo weights -> ONNX                 ``onnx/<name><variant.cache_suffix>.onnx``
zoo weights + twin -> blend         inside the ONNX above (the blended ``.pth`` is deleted), or
(``denoise``)                       ``onnx/<name><variant.cache_suffix>.pth`` for the torch backend
ONNX -> float16 ONNX (``half``)     ``converted/<stem>-<sha256[:16]>.fp16.onnx``
=================================  ===============================================================

Checkpoint conversions need PyTorch (``pip install 'ganedit[train]'``), which is imported only
when one runs; the float16 conversion needs only onnx. Files are written atomically, so an
interrupted conversion leaves nothing under the final name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganedit._files import atomic_write
from ganedit.resolve import Source, Variant
from ganedit.zoo import ModelCache, ZooEntry, sha256_file

__all__ = ["checkpoint_file", "half_file", "onnx_file"]

log = logging.getLogger("ganedit")

Progress = Callable[[int, int | None], None]


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "converting a checkpoint to ONNX needs PyTorch and onnx: "
            f"pip install 'ganedit[train]' ({exc})"
        ) from exc


def _converted_path(cache: ModelCache, source: Path, suffix: str) -> Path:
    """Where a conversion of the file ``source`` is cached: under its name and content hash."""
    digest = sha256_file(source)[:16]
    return cache.home / "converted" / f"{source.stem}-{digest}{suffix}.onnx"


def _fetch(cache: ModelCache, entry: ZooEntry, progress: Progress | None) -> Path:
    if not cache.is_cached(entry):
        log.info("downloading %s from %s", entry.name, entry.url)
    return cache.fetch(entry, progress=progress)


def _blend(weights: Path, twin: Path, weight: float, out: Path) -> Path:
    """``weight × weights + (1 − weight) × twin`` saved as a checkpoint (upstream's "dni")."""
    _require_torch()
    import torch

    from ganedit.archs import blend_state_dicts, read_state_dict

    log.info("mixing %s and %s at %.2f : %.2f", weights.name, twin.name, weight, 1 - weight)
    blended = blend_state_dicts(read_state_dict(weights), read_state_dict(twin), weight)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda f: torch.save(blended, f))
    return out


def _weights(
    source: Source, variant: Variant, cache: ModelCache, progress: Progress | None, out: Path
) -> Path:
    """The zoo source's downloaded weights, or their blend with the twin written to ``out``."""
    assert source.entry is not None  # a zoo source
    weights = _fetch(cache, source.entry, progress)
    if source.twin is None:
        return weights
    twin = _fetch(cache, source.twin, progress)
    return _blend(weights, twin, float(variant.denoise or 0.0), out)


def _convert(
    checkpoint: Path,
    out: Path,
    source: Source,
    variant: Variant,
    *,
    allow_noncommercial: bool | None = None,
) -> Path:
    _require_torch()
    from .from_checkpoint import checkpoint_to_onnx

    log.info("converting %s to ONNX (once; cached as %s)", checkpoint, out)
    result = checkpoint_to_onnx(
        checkpoint,
        out,
        name=source.name,
        source=source.origin,
        license=source.license,
        norm_stats=variant.norm_stats,
        allow_noncommercial=allow_noncommercial,
    )
    log.info("verified against torch: max abs diff %.3g", result.max_abs_diff)
    return out


def onnx_file(
    source: Source,
    variant: Variant = Variant(),
    *,
    cache: ModelCache | None = None,
    progress: Progress | None = None,
    allow_noncommercial: bool | None = None,
) -> Path:
    """The float32 ``.onnx`` file of ``source`` for ``variant``, made once and cached.

    An ``.onnx`` source is its own file. A checkpoint file is converted (architecture detected
    from its keys, verified against torch). A zoo model is downloaded (and blended with its
    twin for ``denoise``) and converted.

    ``allow_noncommercial`` lets a conversion load an architecture whose code is licensed for
    non-commercial use only (``None``: the ``GANEDIT_ALLOW_NONCOMMERCIAL`` variable decides).

    Raises:
        ImportError: A conversion is needed and PyTorch is not installed.
        NotExportable: The architecture runs on the torch backend only (the message says why).
        GaneditError: The source cannot be downloaded or converted (the message says why).
    """
    cache = cache if cache is not None else ModelCache()
    if source.kind == "onnx":
        assert source.path is not None
        return source.path
    if source.kind == "checkpoint":
        assert source.path is not None
        out = _converted_path(cache, source.path, variant.cache_suffix)
        if not out.exists():
            _convert(source.path, out, source, variant, allow_noncommercial=allow_noncommercial)
        return out
    if source.kind != "zoo" or source.entry is None:
        raise ValueError(f"{source.name} is {source.kind}: it has no ONNX file")
    out = cache.onnx_path(source.entry, variant=variant.cache_suffix)
    if not out.exists():
        weights = _weights(source, variant, cache, progress, out.with_suffix(".blend.pth"))
        try:
            _convert(weights, out, source, variant, allow_noncommercial=allow_noncommercial)
        finally:
            if source.twin is not None:  # the ONNX file is what is kept
                weights.unlink(missing_ok=True)
    return out


def checkpoint_file(
    source: Source,
    variant: Variant = Variant(),
    *,
    cache: ModelCache | None = None,
    progress: Progress | None = None,
) -> Path:
    """The weights file the torch backend runs for ``source``: a checkpoint file as it is, or a
    zoo model's downloaded weights (blended with its twin for ``denoise``, the blend cached).

    Raises:
        GaneditError: The source cannot be downloaded or blended.
    """
    cache = cache if cache is not None else ModelCache()
    if source.kind == "checkpoint":
        assert source.path is not None
        return source.path
    if source.kind != "zoo" or source.entry is None:
        raise ValueError(f"{source.name} is {source.kind}: it has no checkpoint")
    out = cache.onnx_path(source.entry, variant=variant.cache_suffix).with_suffix(".pth")
    if source.twin is not None and out.exists():
        return out
    return _weights(source, variant, cache, progress, out)


def half_file(onnx_path: Path, *, cache: ModelCache | None = None) -> Path:
    """The float16 variant of the ``.onnx`` file ``onnx_path``, converted once and cached.

    See :func:`ganedit.export.half.to_half` for what is converted.

    Raises:
        ImportError: The ``onnx`` package is missing (``pip install 'ganedit[gpu]'``).
        GaneditError: The model cannot be converted.
    """
    cache = cache if cache is not None else ModelCache()
    out = _converted_path(cache, onnx_path, ".fp16")
    if not out.exists():
        from .half import require_onnx, to_half

        onnx: Any = require_onnx()
        log.info("converting %s to float16 (once; cached as %s)", onnx_path.name, out)
        data = to_half(onnx.load(str(onnx_path))).SerializeToString()
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda f: f.write(data))
    return out
