"""Checkpoint file -> generator module -> model card -> verified ONNX file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from torch import nn

from ganedit.archs import ImageStatsBatchNorm2d, ModelSpec, load_generator
from ganedit.card import ModelCard

from .to_onnx import ExportResult, export_onnx

__all__ = ["checkpoint_to_onnx", "generator_card", "use_running_statistics"]

NormStats = Literal["image", "running"]


def use_running_statistics(module: nn.Module) -> nn.Module:
    """Swap per-image batch norm back to plain batch norm (running statistics in eval mode)."""
    for name, child in module.named_children():
        if isinstance(child, ImageStatsBatchNorm2d):
            plain = nn.BatchNorm2d(
                child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine
            )
            plain.load_state_dict(child.state_dict())
            setattr(module, name, plain)
        else:
            use_running_statistics(child)
    return module


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
    if norm_stats not in ("image", "running"):
        raise ValueError(f"norm_stats must be 'image' or 'running', got {norm_stats!r}")
    checkpoint = Path(checkpoint)
    loaded = load_generator(checkpoint)
    module = loaded.module
    if norm_stats == "running":
        module = use_running_statistics(module)
    card = generator_card(
        loaded.spec,
        name=name or checkpoint.stem,
        source=source if source is not None else str(checkpoint),
        license=license,
        norm_stats=norm_stats,
    )
    return export_onnx(module.eval(), card, out, verify=verify)
