"""State-dict helpers shared by the detectors and the loader: tensor shapes and key previews."""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["PREVIEW", "conv_shape", "preview", "shape"]

#: How many names an error message lists before it writes "…".
PREVIEW = 4


def shape(state_dict: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    """The shape of ``state_dict[key]``, or ``None`` when there is no such key.

    Example:
        >>> shape({"conv.weight": torch.zeros(8, 3, 3, 3)}, "conv.weight")
        (8, 3, 3, 3)
    """
    tensor = state_dict.get(key)
    return None if tensor is None else tuple(tensor.shape)


def conv_shape(state_dict: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...] | None:
    """The shape of ``state_dict[key]`` if it is a 4-D (convolution) weight, else ``None``."""
    found = shape(state_dict, key)
    return found if found is not None and len(found) == 4 else None


def preview(names: list[str]) -> str:
    """The first :data:`PREVIEW` names, comma-separated, with ``", …"`` when there are more.

    Example:
        >>> preview(["a", "b", "c", "d", "e"])
        'a, b, c, d, …'
    """
    return ", ".join(names[:PREVIEW]) + (", …" if len(names) > PREVIEW else "")
