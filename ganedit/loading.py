"""``ganedit.load``: a zoo name, an ``.onnx`` file or a checkpoint -> a runnable model.

Three steps, each in its own place: :func:`~ganedit.resolve.resolve` says what the name or
path is (no download, no torch); :mod:`ganedit.export.variants` makes the file a backend runs
(download, blend, convert, float16 — once, cached; only this step may need PyTorch or onnx); a
session (:class:`~ganedit.session.OrtSession`, :class:`~ganedit.torch_backend.TorchSession`, or
an OpenCV baseline) runs it inside the task's :class:`~ganedit.model.Model`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from .card import ModelCard, Task
from .errors import GaneditError
from .inpaint import Inpainter
from .model import Model
from .resolve import (
    CHECKPOINT_SUFFIXES,
    NONCOMMERCIAL_ENV,
    Source,
    Variant,
    noncommercial_allowed,
    resolve,
)
from .session import Device, OrtSession, Session, check_fp16_providers, select_providers
from .translate import Translator
from .upscale import Upscaler

__all__ = ["TASK_CLASSES", "Backend", "LoadRecipe", "Runtime", "choose_backend", "load"]

Backend = Literal["onnxruntime", "torch", "auto"]
Progress = Callable[[int, int | None], None]

log = logging.getLogger("ganedit")

#: The model class of each task: one explicit table, no registration by import.
TASK_CLASSES: dict[Task, type[Model]] = {
    "translate": Translator,
    "upscale": Upscaler,
    "inpaint": Inpainter,
}


@dataclasses.dataclass(frozen=True)
class Runtime:
    """How a model runs on this machine, besides its device.

    Attributes:
        threads: CPU threads for the network (default: all cores).
        backend: ``"onnxruntime"``; ``"torch"`` runs a checkpoint or named model with PyTorch
            (channels-last, fp16 autocast with ``Variant(half=True)``) behind the same
            interface; ``"auto"`` takes torch only where onnxruntime has no CUDA provider but
            torch has CUDA. Architectures that cannot be exported to ONNX correctly run on
            torch whatever is asked (a note says so).
        allow_noncommercial: Use architectures whose code is licensed for non-commercial use
            only (MAT, SRFormer, Restormer, ...; their licence is on the model card). Off, they
            are refused with the licence named, unless ``GANEDIT_ALLOW_NONCOMMERCIAL=1``.

    Raises:
        ValueError: An unknown backend, or fewer than one thread.
    """

    threads: int | None = None
    backend: Backend = "onnxruntime"
    allow_noncommercial: bool = False

    @property
    def noncommercial_allowed(self) -> bool:
        """``allow_noncommercial``, or the environment variable set to anything but 0."""
        return self.allow_noncommercial or noncommercial_allowed()

    def __post_init__(self) -> None:
        if self.backend not in ("onnxruntime", "torch", "auto"):
            raise ValueError(
                f"backend must be 'onnxruntime', 'torch' or 'auto', got {self.backend!r}"
            )
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")


@dataclasses.dataclass(frozen=True)
class LoadRecipe:
    """How a model was loaded: the arguments of :func:`load`, so that another process (a Ray
    actor, a worker of another machine) can load the same model. A loaded model carries its
    own as ``model.recipe``; a local path in it is absolute.

    Example:
        >>> twin = model.recipe.load().with_options(model.options)  # doctest: +SKIP
    """

    name: str
    device: Device = "auto"
    providers: tuple[str, ...] | None = None
    variant: Variant = Variant()
    runtime: Runtime = Runtime()

    def load(self, **changes: Any) -> Model:
        """:func:`load` with these arguments (``changes`` replace some, e.g. ``runtime``)."""
        recipe = dataclasses.replace(self, **changes) if changes else self
        return load(
            recipe.name,
            device=recipe.device,
            providers=recipe.providers,
            variant=recipe.variant,
            runtime=recipe.runtime,
        )


def choose_backend(source: Source, device: Device, providers: Sequence[str] | None) -> Backend:
    """``auto``: onnxruntime, except on a CUDA machine whose onnxruntime lacks the CUDA provider
    while torch has CUDA (then torch, for checkpoints and named models)."""
    import onnxruntime as ort

    if device == "cpu" or providers is not None or source.kind == "onnx":
        return "onnxruntime"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return "onnxruntime"
    from .torch_backend import torch_cuda_available

    return "torch" if torch_cuda_available() else "onnxruntime"


def _variants() -> Any:
    """:mod:`ganedit.export.variants`, or an ImportError naming the extra to install."""
    try:
        from ganedit.export import variants
    except ImportError as exc:
        raise ImportError(
            "converting a model needs ganedit's export package: pip install 'ganedit[train]' "
            f"({exc})"
        ) from exc
    return variants


def _open_onnxruntime(
    source: Source,
    variant: Variant,
    *,
    device: Device,
    providers: Sequence[str] | None,
    runtime: Runtime,
    progress: Progress | None,
) -> tuple[Session, ModelCard, Path]:
    if variant.half:  # before any download or conversion
        check_fp16_providers(select_providers(device, providers))
    if source.kind == "onnx" and source.path is not None and not variant.half:
        path = source.path  # nothing to convert: ganedit.export is not even imported
    else:
        variants = _variants()
        try:
            path = variants.onnx_file(
                source,
                variant,
                progress=progress,
                allow_noncommercial=runtime.noncommercial_allowed,
            )
        except _not_exportable() as exc:
            log.info("%s", exc)
            return _open_torch(
                source,
                variant,
                device=device,
                providers=None,
                runtime=runtime,
                progress=progress,
            )
        if variant.half:
            path = variants.half_file(path)
    session = OrtSession(path, device=device, providers=providers, threads=runtime.threads)
    return session, session.card, path


def _not_exportable() -> type[Exception]:
    from ganedit.export import NotExportable

    return NotExportable


def _open_torch(
    source: Source,
    variant: Variant,
    *,
    device: Device,
    providers: Sequence[str] | None,
    runtime: Runtime,
    progress: Progress | None,
) -> tuple[Session, ModelCard, Path]:
    if providers is not None:
        raise GaneditError("providers are for the onnxruntime backend, not torch")
    if source.kind == "onnx":
        suffix = source.path.suffix if source.path is not None else ".onnx"
        raise GaneditError(
            f"{source.path}: the torch backend runs checkpoints "
            f"({', '.join(sorted(CHECKPOINT_SUFFIXES))}) and named models, not "
            f"{suffix} files; use --backend onnxruntime"
        )
    from .torch_backend import open_torch

    return open_torch(
        source,
        variant,
        device=device,
        threads=runtime.threads,
        progress=progress,
        allow_noncommercial=runtime.noncommercial_allowed,
    )


def _open_builtin(source: Source) -> tuple[Session, ModelCard, Path]:
    from .baselines import OpenCVInpaint, opencv_card

    return OpenCVInpaint(source.name), opencv_card(source.name), Path(source.name)


def load(
    name_or_path: str | os.PathLike[str],
    *,
    device: Device = "auto",
    providers: Sequence[str] | None = None,
    variant: Variant = Variant(),
    runtime: Runtime = Runtime(),
    progress: Progress | None = None,
) -> Model:
    """Load a model by zoo name or path.

    Args:
        name_or_path: A zoo name (``"horse2zebra"``, ``"cyclegan/horse2zebra"``; see
            ``ganedit models list``), one of the OpenCV inpainting baselines ``"cv2-telea"``
            and ``"cv2-ns"``, an ``.onnx`` file made by ``ganedit export``, a checkpoint
            (``.pth``, ``.pt``, ``.bin``, ``.safetensors``) of a supported architecture,
            detected from its keys, or a model on a ``ganedit serve``
            (``"http://127.0.0.1:8765/v1/models/NAME"``: a :class:`~ganedit.remote.RemoteModel`
            called the same way; the other arguments are then the server's business).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        providers: Explicit onnxruntime providers; overrides ``device``.
        variant: Which numbers to run: batch-norm statistics, ``denoise`` strength, float16
            (see :class:`~ganedit.resolve.Variant`). Each is converted once and cached.
        runtime: Threads and backend (see :class:`Runtime`).
        progress: Called as ``progress(bytes_done, total_or_None)`` while a zoo model's
            weights download (first use only).

    Returns:
        A :class:`~ganedit.Translator`, :class:`~ganedit.Upscaler` or
        :class:`~ganedit.Inpainter`, by the model's task.

    Raises:
        UnknownModelError: ``name_or_path`` is neither a file nor a zoo name.
        ModelCardError: An ``.onnx`` file without a ganedit card.
        CheckpointError: A checkpoint of no supported architecture.
        GaneditError: ``half`` without a CUDA (or TensorRT) provider to run on; a variant the
            model does not have (``denoise`` without a twin).
        ImportError: A conversion needs PyTorch or onnx, which is not installed.

    Example:
        >>> t = ganedit.load("horse2zebra")
        >>> zebra = t(Image.open("horse.jpg"))
        >>> up = ganedit.load("realesr-general-x4v3", variant=Variant(denoise=0.5))
    """
    if str(name_or_path).startswith(("http://", "https://")):
        from .remote import RemoteModel

        return RemoteModel.from_url(str(name_or_path))  # type: ignore[return-value]
    source = resolve(name_or_path, variant)
    _check_weights_license(source, runtime)
    if source.kind == "builtin":
        session, card, path = _open_builtin(source)
    else:
        backend = runtime.backend
        if backend == "auto":
            backend = choose_backend(source, device, providers)
        opener = _open_torch if backend == "torch" else _open_onnxruntime
        session, card, path = opener(
            source,
            variant,
            device=device,
            providers=providers,
            runtime=runtime,
            progress=progress,
        )
    _check_license(card, runtime)
    model = TASK_CLASSES[card.task](session, card, path)
    given = os.fspath(name_or_path)
    model.recipe = LoadRecipe(
        name=str(Path(given).resolve()) if os.path.exists(given) else given,
        device=device,
        providers=None if providers is None else tuple(providers),
        variant=variant,
        runtime=runtime,
    )
    return model


_OPT_IN = (
    f"--allow-noncommercial, {NONCOMMERCIAL_ENV}=1 or ganedit.Runtime(allow_noncommercial=True)"
)


def _check_weights_license(source: Source, runtime: Runtime) -> None:
    """Refuse a zoo model whose weights are licensed for non-commercial use only, unless the
    user opted in; before anything is downloaded."""
    entry = source.entry
    if entry is not None and entry.noncommercial and not runtime.noncommercial_allowed:
        raise GaneditError(
            f"{entry.name}'s weights are licensed {entry.license}, which does not allow "
            f"commercial use; ganedit uses them only when you opt in: {_OPT_IN}"
        )


def _check_license(card: ModelCard, runtime: Runtime) -> None:
    """Refuse a model whose architecture's code is licensed for non-commercial use only, unless
    the user opted in (the card says so; a cached conversion is checked again each load)."""
    if card.extra.get("noncommercial") is True and not runtime.noncommercial_allowed:
        raise GaneditError(
            f"{card.name} is a {card.extra.get('spandrel_arch', card.arch)} model, whose code is "
            f"licensed {card.extra.get('arch_license', 'for non-commercial use only')}, which "
            f"does not allow commercial use; ganedit uses it only when you opt in: {_OPT_IN}"
        )
