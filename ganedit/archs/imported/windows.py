"""Shifted-window masks computed for every input size, for DAT's and RGT's ONNX export.

DAT and RGT blocks keep the attention masks of their shifted windows for one size (the
training ``img_size``) as buffers, and compute them for other sizes with ``calculate_mask``,
choosing with a Python ``if``. An export traced at the stored size freezes the buffers, whose
window count is then wrong at every other size. The masks ``calculate_mask`` builds (from slices
counted from the ends) follow the input's shape in an exported graph, and equal the buffers at
the stored size; so every block is made to compute them.
"""

from __future__ import annotations

from torch import nn

__all__ = ["use_computed_masks"]


def use_computed_masks(module: nn.Module) -> int:
    """Make every block of ``module`` that keeps stored window masks compute them for each
    input instead; returns how many blocks were changed."""
    changed = 0
    for layer in module.modules():
        if hasattr(layer, "attn_mask_0") and hasattr(layer, "patches_resolution"):
            layer.patches_resolution = -1  # never an input's size
            changed += 1
    return changed
