"""Checkpoint file -> generator module and model card -> verified ONNX file.

:func:`inference_module` is the first half (load, choose the batch-norm statistics, write the
card), shared by :func:`checkpoint_to_onnx` and the runtime's torch backend.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from torch import nn

from ganedit.archs import ModelSpec, load_generator, use_running_statistics
from ganedit.card import ModelCard

from .to_onnx import ExportResult, export_onnx

__all__ = ["NormStats", "checkpoint_to_onnx", "generator_card", "inference_module"]

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
        norm_stats=norm_stats if batch_norm else None,
        source=source,
        license=license,
        extra=spec.card_extra(),
    )


def inference_module(
    checkpoint: str | os.PathLike[str],
    *,
    name: str,
    source: str,
    license: str = "",
    norm_stats: NormStats = "image",
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

    Returns:
        ``(module, card)``: the network in eval mode, taking and returning the tensors the card
        describes (``(B, C, H, W)`` in ``card.input_range``, see
        :class:`~ganedit.archs.LoadedGenerator`), and its model card.

    Raises:
        ValueError: ``norm_stats`` is neither ``"image"`` nor ``"running"``.
        CheckpointError: The file cannot be read or matches no supported architecture.

    Example:
        >>> module, card = inference_module("latest_net_G.pth", name="facades",
        ...                                 source="runs/facades")  # doctest: +SKIP
        >>> card.arch, card.norm_stats  # doctest: +SKIP
        ('unet_256', 'image')
    """
    if norm_stats not in ("image", "running"):
        raise ValueError(f"norm_stats must be 'image' or 'running', got {norm_stats!r}")
    loaded = load_generator(Path(checkpoint))
    module = loaded.module
    if norm_stats == "running":
        module = use_running_statistics(module)
    card = generator_card(
        loaded.spec, name=name, source=source, license=license, norm_stats=norm_stats
    )
    return module.eval(), card


def checkpoint_to_onnx(
    checkpoint: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    name: str | None = None,
    source: str | None = None,
    license: str = "",
    norm_stats: NormStats = "image",
    verify: bool = True,
) -> ExportResult:
    """Detect a checkpoint's architecture, load it strictly and export it with its card.

    Args:
        checkpoint: A ``.pth``/``.pt``/``.safetensors`` generator checkpoint (reference layout).
        out: The ``.onnx`` file to write.
        name: Model name for the card (default: the checkpoint's stem).
        source: Where the weights came from (default: the checkpoint path).
        license: The weights' licence.
        norm_stats: Batch-norm models only: ``"image"`` (per-image statistics, the pix2pix
            test-time behaviour) or ``"running"`` (stored running statistics).
        verify: Compare onnxruntime with torch after export.

    Raises:
        CheckpointError: The file matches no supported architecture.
        ExportError: Export or verification failed.
    """
    checkpoint = Path(checkpoint)
    module, card = inference_module(
        checkpoint,
        name=name or checkpoint.stem,
        source=source if source is not None else str(checkpoint),
        license=license,
        norm_stats=norm_stats,
    )
    return export_onnx(module, card, out, verify=verify)
