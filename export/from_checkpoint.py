"""Checkpoint file -> generator module and model card -> verified ONNX file.

:func:`inference_module` is the first half (load, choose the batch-norm statistics, write the
card), shared by :func:`checkpoint_to_onnx` and the runtime's torch backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from torch import nn

from ganedit.archs import ModelSpec, default_arch_registry, load_generator, use_running_statistics
from ganedit.card import ModelCard

from .to_onnx import ExportError, ExportResult, export_onnx

__all__ = [
    "NormStats",
    "NotExportable",
    "checkpoint_to_onnx",
    "generator_card",
    "inference_module",
]


class NotExportable(ExportError):
    """The network cannot be exported to ONNX correctly; it runs on the torch backend.

    The message names the checkpoint, the architecture and why.
    """


NormStats = Literal["image", "running"]


def generator_card(
    spec: ModelSpec,
    *,
    name: str,
    source: str = "",
    license: str = "",
    norm_stats: NormStats = "image",
) -> ModelCard:
    """The model card of a loaded network, from its spec (task, ranges, sizes, scale, and the
    mask channel of an inpainting network)."""
    batch_norm = spec.norm_stats is not None
    tiling = spec.tiling
    if batch_norm and norm_stats == "running":
        tiling = "ok"  # running statistics do not depend on the rest of the image
    return ModelCard(
        name=name,
        task=spec.task,
        arch=spec.arch,
        scale=spec.scale,
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        input_range=spec.input_range,
        output_range=spec.output_range,
        size_multiple=spec.size_multiple,
        min_size=spec.min_size,
        tiling=tiling,
        mask=spec.mask,
        max_batch=spec.max_batch,
        norm_stats=norm_stats if batch_norm else None,
        source=source,
        license=license,
        extra=spec.card_extra(),
    )


def _load(
    checkpoint: Path,
    *,
    name: str,
    source: str,
    license: str,
    norm_stats: NormStats,
    allow_noncommercial: bool | None,
) -> tuple[nn.Module, ModelCard, ModelSpec]:
    if norm_stats not in ("image", "running"):
        raise ValueError(f"norm_stats must be 'image' or 'running', got {norm_stats!r}")
    registry = default_arch_registry(allow_noncommercial=allow_noncommercial)
    loaded = load_generator(checkpoint, registry=registry)
    module = loaded.module
    if norm_stats == "running":
        module = use_running_statistics(module)
    card = generator_card(
        loaded.spec, name=name, source=source, license=license, norm_stats=norm_stats
    )
    return module.eval(), card, loaded.spec


def inference_module(
    checkpoint: str | os.PathLike[str],
    *,
    name: str,
    source: str,
    license: str = "",
    norm_stats: NormStats = "image",
    allow_noncommercial: bool | None = None,
) -> tuple[nn.Module, ModelCard]:
    """Load a generator checkpoint for inference, with the card its ONNX export carries.

    Args:
        checkpoint: A ``.pth``/``.pt``/``.bin``/``.safetensors`` generator checkpoint; its
            architecture is detected from its keys (:func:`ganedit.archs.load_generator`).
        name: Model name for the card.
        source: Where the weights came from, for the card.
        license: The weights' licence, for the card.
        norm_stats: Batch-norm models only: ``"image"`` (per-image statistics, the pix2pix
            test-time behaviour) or ``"running"`` (stored running statistics, which also
            makes tiling safe). Ignored for networks without batch norm.
        allow_noncommercial: Load architectures whose code is licensed for non-commercial use
            only (``None``: the ``GANEDIT_ALLOW_NONCOMMERCIAL`` environment variable decides).

    Returns:
        ``(module, card)``: the network in eval mode, taking and returning the tensors the card
        describes (``(B, C, H, W)`` in ``card.input_range``, see
        :class:`~ganedit.archs.LoadedGenerator`), and its model card.

    Raises:
        ValueError: ``norm_stats`` is neither ``"image"`` nor ``"running"``.
        CheckpointError: The file cannot be read, matches no supported architecture, or is one
            ganedit refuses (the message says why).

    Example:
        >>> module, card = inference_module("latest_net_G.pth", name="facades",
        ...                                 source="runs/facades")  # doctest: +SKIP
        >>> card.arch, card.norm_stats  # doctest: +SKIP
        ('unet_256', 'image')
    """
    module, card, _spec = _load(
        Path(checkpoint),
        name=name,
        source=source,
        license=license,
        norm_stats=norm_stats,
        allow_noncommercial=allow_noncommercial,
    )
    return module, card


def checkpoint_to_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    name: str | None = None,
    source: str | None = None,
    license: str = "",
    norm_stats: NormStats = "image",
    verify: bool = True,
    allow_noncommercial: bool | None = None,
) -> ExportResult:
    """Detect a checkpoint's architecture, load it strictly and export it with its card.

    Args:
        checkpoint: A ``.pth``/``.pt``/``.bin``/``.safetensors`` generator checkpoint.
        out: The ``.onnx`` file to write.
        name: Model name for the card (default: the checkpoint's stem).
        source: Where the weights came from (default: the checkpoint path).
        license: The weights' licence.
        norm_stats: Batch-norm models only: ``"image"`` (per-image statistics, the pix2pix
            test-time behaviour) or ``"running"`` (stored running statistics).
        verify: Compare onnxruntime with torch after export.
        allow_noncommercial: As for :func:`inference_module`.

    Raises:
        CheckpointError: The file matches no supported architecture, or one ganedit refuses.
        NotExportable: The architecture runs on the torch backend only (the message says why).
        ExportError: Export or verification failed.
    """
    checkpoint = Path(checkpoint)
    module, card, spec = _load(
        checkpoint,
        name=name or checkpoint.stem,
        source=source if source is not None else str(checkpoint),
        license=license,
        norm_stats=norm_stats,
        allow_noncommercial=allow_noncommercial,
    )
    if spec.export_note is not None:
        raise NotExportable(
            f"{checkpoint}: {spec.describe()} is not exported to ONNX: {spec.export_note}; "
            "it runs on the torch backend"
        )
    return export_onnx(module, card, out, verify=verify)
