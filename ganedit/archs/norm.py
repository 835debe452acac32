"""Normalisation layers of the reference networks, and the two batch-norm modes for inference:
per-image statistics (:func:`use_image_statistics`, the pix2pix test-time behaviour) and the
stored running statistics (:func:`use_running_statistics`, its inverse)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .cyclegan.spec import NORM_TYPES, NormType

__all__ = [
    "ImageStatsBatchNorm2d",
    "make_norm",
    "norm_uses_bias",
    "use_image_statistics",
    "use_running_statistics",
]


def make_norm(norm: NormType, channels: int) -> nn.Module:
    """The reference's norm layer for ``channels`` feature maps.

    Args:
        norm: ``"instance"`` (``InstanceNorm2d``, no affine parameters, no running
            statistics), ``"batch"`` (``BatchNorm2d`` with affine parameters) or ``"none"``
            (``Identity``; it still takes a slot in the ``Sequential``, as in the reference).
        channels: Number of channels ``C`` of the ``(B, C, H, W)`` input.

    Raises:
        ValueError: ``norm`` is not one of the three.
    """
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if norm == "batch":
        return nn.BatchNorm2d(channels, affine=True)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORM_TYPES}, got {norm!r}")


def norm_uses_bias(norm: NormType) -> bool:
    """Whether convolutions before this norm carry a bias.

    The reference gives them one only with instance norm: batch norm's own shift makes a bias
    redundant, and with no norm the reference's test (``norm_layer == InstanceNorm2d``) is false.
    """
    return norm == "instance"


class ImageStatsBatchNorm2d(nn.BatchNorm2d):
    """Batch norm that always normalises each image with its own statistics.

    The pix2pix reference runs its test script with the networks in train mode and a batch of
    one, so batch norm uses the statistics of the one image, not the running ones. This layer
    does exactly that for every image of a batch separately: mean and biased variance per
    sample and channel over ``H×W``, the layer's ``eps``, then its affine ``weight`` and
    ``bias``. Results do not depend on what else is in the batch, are deterministic, and the
    running statistics are neither used nor updated. The state dict keys are those of
    ``BatchNorm2d``, so reference checkpoints load strictly. It exports to ONNX as
    ``InstanceNormalization``.

    Input: ``(B, C, H, W)`` float with ``H*W > 1``. Output: same shape.

    Example:
        >>> bn = ImageStatsBatchNorm2d(8)
        >>> bn(torch.randn(2, 8, 16, 16)).shape
        torch.Size([2, 8, 16, 16])
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(input)
        return F.instance_norm(
            input,
            running_mean=None,
            running_var=None,
            weight=self.weight,
            bias=self.bias,
            use_input_stats=True,
            momentum=0.0,
            eps=self.eps,
        )


def _to_image_stats(bn: nn.BatchNorm2d) -> ImageStatsBatchNorm2d:
    layer = ImageStatsBatchNorm2d(
        bn.num_features,
        eps=bn.eps,
        momentum=bn.momentum,
        affine=bn.affine,
        track_running_stats=bn.track_running_stats,
        device=bn.weight.device if bn.weight is not None else None,
        dtype=bn.weight.dtype if bn.weight is not None else None,
    )
    layer.load_state_dict(bn.state_dict())
    layer.train(bn.training)
    return layer


def use_image_statistics(module: nn.Module) -> nn.Module:
    """Swap every ``BatchNorm2d`` in ``module`` for an :class:`ImageStatsBatchNorm2d`.

    Weights and buffers are copied, so the state dict is unchanged. Submodules are replaced in
    place; the return value is ``module`` itself, or the new layer when ``module`` is a bare
    ``BatchNorm2d``.

    Example:
        >>> net = use_image_statistics(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)))
        >>> type(net[1]).__name__
        'ImageStatsBatchNorm2d'
    """
    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, ImageStatsBatchNorm2d):
        return _to_image_stats(module)
    for name, child in list(module.named_children()):
        replaced = use_image_statistics(child)
        if replaced is not child:
            setattr(module, name, replaced)
    return module


def use_running_statistics(module: nn.Module) -> nn.Module:
    """Swap per-image batch norm back to plain batch norm (running statistics in eval mode).

    The inverse of :func:`use_image_statistics`: every :class:`ImageStatsBatchNorm2d` in
    ``module`` becomes a ``BatchNorm2d`` with the same weights and buffers, so the state dict
    is unchanged. Submodules are replaced in place and ``module`` is returned.

    Example:
        >>> net = use_image_statistics(nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)))
        >>> type(use_running_statistics(net)[1]).__name__
        'BatchNorm2d'
    """
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
