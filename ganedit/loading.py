"""``ganedit.load``: a zoo name, an ``.onnx`` file or a checkpoint -> a runnable model."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ._files import atomic_write
from .errors import GaneditError
from .model import Model, model_for_card
from .session import Device, check_fp16_providers, create_session, read_card, select_providers

if TYPE_CHECKING:
    from .zoo import ModelCache, ZooEntry

__all__ = [
    "CHECKPOINT_SUFFIXES",
    "convert_checkpoint",
    "half_model_file",
    "load",
    "resolve_model_file",
]

log = logging.getLogger("ganedit")

CHECKPOINT_SUFFIXES = frozenset({".pth", ".pt", ".bin", ".safetensors", ".ckpt"})
NormStats = Literal["image", "running"]
Backend = Literal["onnxruntime", "torch"]


def _require_export() -> object:
    try:
        from ganedit import export
    except ImportError as exc:
        raise ImportError(
            "converting a checkpoint to ONNX needs PyTorch and onnx: "
            f"pip install 'ganedit[train]' ({exc})"
        ) from exc
    return export


def convert_checkpoint(
    checkpoint: Path,
    out: Path,
    *,
    name: str,
    source: str,
    license: str = "",
    norm_stats: NormStats = "image",
) -> Path:
    """Convert a checkpoint to a verified ``.onnx`` at ``out`` (needs ``ganedit[train]``)."""
    _require_export()
    from ganedit.export import checkpoint_to_onnx

    log.info("converting %s to ONNX (once; cached as %s)", checkpoint, out)
    result = checkpoint_to_onnx(
        checkpoint, out, name=name, source=source, license=license, norm_stats=norm_stats
    )
    log.info("verified against torch: max abs diff %.3g", result.max_abs_diff)
    return out


def _converted_path(home: Path, source: Path, variant: str) -> Path:
    """Where a conversion of ``source`` is cached: under its name and content hash."""
    from .zoo import sha256_file

    digest = sha256_file(source)[:16]
    return home / "converted" / f"{source.stem}-{digest}{variant}.onnx"


def half_model_file(source: Path, *, home: Path | None = None) -> Path:
    """The float16 variant of the ``.onnx`` file ``source``, converted once and cached.

    Cached in ``$GANEDIT_HOME/converted/`` under the source's content hash and ``.fp16``,
    written atomically. See :func:`ganedit.half.to_half` for what is converted.

    Raises:
        ImportError: The ``onnx`` package is missing (``pip install 'ganedit[gpu]'``).
        GaneditError: The model cannot be converted.
    """
    from .zoo import ModelCache

    cache = ModelCache(home) if home is not None else ModelCache()
    out = _converted_path(cache.home, source, ".fp16")
    if not out.exists():
        from .half import _require_onnx, to_half

        onnx = _require_onnx()
        log.info("converting %s to float16 (once; cached as %s)", source.name, out)
        data = to_half(onnx.load(str(source))).SerializeToString()
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda f: f.write(data))
    return out


def _fetch(cache: ModelCache, entry: ZooEntry, progress: Any) -> Path:
    if not cache.is_cached(entry):
        log.info("downloading %s from %s", entry.name, entry.url)
    return cache.fetch(entry, progress=progress)


def _blend(weights: Path, twin: Path, weight: float, out: Path) -> Path:
    """``weight × weights + (1 − weight) × twin`` saved as a checkpoint (upstream's "dni")."""
    _require_export()
    import torch

    from ganedit.archs import blend_state_dicts, read_state_dict

    log.info("mixing %s and %s at %.2f : %.2f", weights.name, twin.name, weight, 1 - weight)
    blended = blend_state_dicts(read_state_dict(weights), read_state_dict(twin), weight)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(blended, out)
    return out


def resolve_model_file(
    name_or_path: str | os.PathLike[str],
    *,
    norm_stats: NormStats = "image",
    denoise: float | None = None,
    home: Path | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """The ``.onnx`` file behind a name or path, downloading and converting once if needed.

    - an ``.onnx`` path is used as it is;
    - a checkpoint path (``.pth``, ``.pt``, ``.safetensors``…) is converted once and cached in
      ``$GANEDIT_HOME/converted/`` under its content hash;
    - anything else is looked up in the zoo, downloaded into the cache and converted once;
      ``denoise`` (0..1) blends a model with its no-denoise twin first (realesr-general-x4v3).

    Raises:
        UnknownModelError: Not a file and not a zoo name.
        GaneditError: ``denoise`` (other than 1) for a file or a model without a twin.
    """
    from .zoo import ModelCache, default_registry

    if denoise is not None and not 0.0 <= denoise <= 1.0:
        raise ValueError(f"denoise must be in [0, 1], got {denoise}")
    cache = ModelCache(home) if home is not None else ModelCache()
    path = Path(name_or_path)
    blending = denoise is not None and denoise != 1.0
    if path.is_file():
        if blending:
            raise GaneditError(
                f"--denoise applies to zoo models with a no-denoise twin "
                f"({', '.join(e.name for e in default_registry().entries() if e.blend_with)}), "
                f"not to the file {path}"
            )
        suffix = path.suffix.lower()
        if suffix == ".onnx":
            return path
        if suffix not in CHECKPOINT_SUFFIXES:
            raise GaneditError(
                f"{path}: cannot load a {suffix or 'suffix-less'} file; expected .onnx or a "
                f"checkpoint ({', '.join(sorted(CHECKPOINT_SUFFIXES))})"
            )
        variant = "" if norm_stats == "image" else f".{norm_stats}"
        out = _converted_path(cache.home, path, variant)
        if not out.exists():
            convert_checkpoint(
                path, out, name=path.stem, source=str(path.resolve()), norm_stats=norm_stats
            )
        return out
    if path.suffix.lower() in CHECKPOINT_SUFFIXES | {".onnx"} or os.sep in str(name_or_path):
        raise GaneditError(f"model file {path} does not exist")
    registry = default_registry()
    entry = registry.get(str(name_or_path))
    variant = "" if norm_stats == "image" else f".{norm_stats}"
    if blending:
        if entry.blend_with is None:
            raise GaneditError(
                f"--denoise applies to models with a no-denoise twin "
                f"({', '.join(e.name for e in registry.entries() if e.blend_with)}), "
                f"not to {entry.name}"
            )
        # Six significant digits: close strengths (0.3, 0.304) must not share a cached blend.
        variant += f".denoise{denoise:.6g}"
    out = cache.onnx_path(entry, variant=variant)
    if not out.exists():
        weights = _fetch(cache, entry, progress)
        blended = None
        if ".denoise" in variant:
            twin = _fetch(cache, registry.get(entry.blend_with or ""), progress)
            blended = _blend(weights, twin, float(denoise or 0.0), out.with_suffix(".blend.pth"))
        try:
            convert_checkpoint(
                blended or weights,
                out,
                name=entry.name,
                source=entry.url,
                license=entry.license,
                norm_stats=norm_stats,
            )
        finally:
            if blended is not None:  # the ONNX file is what is kept
                blended.unlink(missing_ok=True)
    return out


@dataclasses.dataclass(frozen=True)
class _Checkpoint:
    path: Path
    name: str
    source: str
    license: str


def resolve_checkpoint(
    name_or_path: str | os.PathLike[str],
    *,
    denoise: float | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> _Checkpoint:
    """The weights file behind a name or path, for the torch backend (which runs checkpoints,
    not ONNX files): a checkpoint path as it is, or a zoo model's downloaded weights (blended
    with its no-denoise twin first when ``denoise`` is below 1).

    Raises:
        GaneditError: An ``.onnx`` file, which the torch backend cannot run.
        UnknownModelError: Not a file and not a zoo name.
    """
    from .zoo import ModelCache, default_registry

    path = Path(name_or_path)
    blending = denoise is not None and denoise != 1.0
    if path.is_file() or path.suffix.lower() == ".onnx":
        if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
            raise GaneditError(
                f"{path}: the torch backend runs checkpoints "
                f"({', '.join(sorted(CHECKPOINT_SUFFIXES))}) and named models, not "
                f"{path.suffix or 'suffix-less'} files; use --backend onnxruntime"
            )
        if blending:
            raise GaneditError(f"--denoise applies to zoo models with a twin, not to {path}")
        return _Checkpoint(path, path.stem, str(path.resolve()), "")
    cache = ModelCache()
    registry = default_registry()
    entry = registry.get(str(name_or_path))
    weights = _fetch(cache, entry, progress)
    if blending:
        if entry.blend_with is None:
            raise GaneditError(
                f"--denoise applies to models with a no-denoise twin, not {entry.name}"
            )
        twin = _fetch(cache, registry.get(entry.blend_with), progress)
        out = cache.onnx_path(entry, variant=f".denoise{denoise:.6g}").with_suffix(".pth")
        if not out.exists():
            _blend(weights, twin, float(denoise or 0.0), out)
        weights = out
    return _Checkpoint(weights, entry.name, entry.url, entry.license)


def choose_backend(
    name_or_path: str | os.PathLike[str], device: Device, providers: Sequence[str] | None
) -> Backend:
    """``auto``: onnxruntime, except on a CUDA machine whose onnxruntime lacks the CUDA provider
    while torch has CUDA (then torch, for checkpoints and named models)."""
    import onnxruntime as ort

    if device == "cpu" or providers is not None or Path(name_or_path).suffix.lower() == ".onnx":
        return "onnxruntime"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return "onnxruntime"
    from .torch_backend import torch_cuda_available

    return "torch" if torch_cuda_available() else "onnxruntime"


def _load_torch(
    name_or_path: str | os.PathLike[str],
    *,
    device: Device,
    norm_stats: NormStats,
    threads: int | None,
    progress: Callable[[int, int | None], None] | None,
    denoise: float | None,
    half: bool,
) -> Model:
    from .torch_backend import torch_cuda_available, torch_session

    if device == "cuda" and not torch_cuda_available():
        raise GaneditError("device 'cuda' was requested but PyTorch sees no CUDA device")
    torch_device = "cuda" if device != "cpu" and torch_cuda_available() else "cpu"
    if half and torch_device != "cuda":
        raise GaneditError("--half needs a CUDA device; fp16 is never used on the CPU")
    checkpoint = resolve_checkpoint(name_or_path, denoise=denoise, progress=progress)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    session, card = torch_session(
        checkpoint.path,
        name=checkpoint.name,
        source=checkpoint.source,
        license=checkpoint.license,
        device=torch_device,
        half="fp16" if half else None,
        norm_stats=norm_stats,
    )
    return model_for_card(card)(session, card, checkpoint.path)  # type: ignore[arg-type]


def load(
    name_or_path: str | os.PathLike[str],
    *,
    device: Device = "auto",
    providers: Sequence[str] | None = None,
    norm_stats: NormStats = "image",
    threads: int | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    denoise: float | None = None,
    half: bool = False,
    backend: Backend | Literal["auto"] = "onnxruntime",
) -> Model:
    """Load a model by zoo name or path.

    Args:
        name_or_path: A zoo name (``"horse2zebra"``; see ``ganedit models list``), one of the
            OpenCV inpainting baselines ``"cv2-telea"`` and ``"cv2-ns"``, an
            ``.onnx`` file made by ``ganedit export``, or a checkpoint (``.pth``, ``.pt``,
            ``.safetensors``) of a supported architecture, detected from its keys.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        providers: Explicit onnxruntime providers; overrides ``device``.
        norm_stats: For batch-norm models (pix2pix): ``"image"`` normalises each image with its
            own statistics, as the reference does at test time; ``"running"`` uses the stored
            running statistics.
        threads: CPU threads for onnxruntime (default: all cores).
        progress: Called as ``progress(bytes_done, total_or_None)`` while a zoo model's
            weights download (first use only).
        denoise: For realesr-general-x4v3: 1 is the model's own denoising, 0 its no-denoise
            twin, values between mix the weights (upstream's ``--denoise_strength``).
        half: Run a float16 variant of the model (converted once and cached, see
            :func:`half_model_file`). CUDA only: fp16 is never used on the CPU.
        backend: ``"onnxruntime"``; ``"torch"`` runs a checkpoint or named model with PyTorch
            (channels-last, fp16 autocast with ``half``) behind the same interface; ``"auto"``
            takes torch only where onnxruntime has no CUDA provider but torch has CUDA.

    Returns:
        A :class:`~ganedit.Translator`, :class:`~ganedit.Upscaler` or
        :class:`~ganedit.Inpainter`, by the model's task.

    Raises:
        UnknownModelError: ``name_or_path`` is neither a file nor a zoo name.
        ModelCardError: An ``.onnx`` file without a ganedit card.
        CheckpointError: A checkpoint of no supported architecture.
        GaneditError: ``half`` without a CUDA (or TensorRT) provider to run on.

    Example:
        >>> t = ganedit.load("horse2zebra")
        >>> zebra = t(Image.open("horse.jpg"))
    """
    if norm_stats not in ("image", "running"):
        raise ValueError(f"norm_stats must be 'image' or 'running', got {norm_stats!r}")
    from .inpaint import BASELINES, OpenCVInpainter

    if str(name_or_path) in BASELINES and not Path(name_or_path).exists():
        return OpenCVInpainter(str(name_or_path))
    if backend == "auto":
        backend = choose_backend(name_or_path, device, providers)
    if backend == "torch":
        if providers is not None:
            raise GaneditError("providers are for the onnxruntime backend, not torch")
        return _load_torch(
            name_or_path,
            device=device,
            norm_stats=norm_stats,
            threads=threads,
            progress=progress,
            denoise=denoise,
            half=half,
        )
    if backend != "onnxruntime":
        raise ValueError(f"backend must be 'onnxruntime', 'torch' or 'auto', got {backend!r}")
    if half:  # before any download or conversion
        check_fp16_providers(select_providers(device, providers))
    path = resolve_model_file(
        name_or_path, norm_stats=norm_stats, progress=progress, denoise=denoise
    )
    if half:
        path = half_model_file(path)
    session = create_session(path, device=device, providers=providers, threads=threads)
    card = read_card(session, path)
    return model_for_card(card)(session, card, path)
