"""Blending the weights of two networks of one architecture (deep network interpolation).

Real-ESRGAN's realesr-general-x4v3 ships with a companion, realesr-general-wdn-x4v3, trained
without denoising; blending the two trades noise removal against detail (``--denoise``).
"""

from __future__ import annotations

import math

import torch

from ..errors import CheckpointError
from ._keys import preview
from .registry import StateDict

__all__ = ["blend_state_dicts"]


def blend_state_dicts(a: StateDict, b: StateDict, weight: float) -> dict[str, torch.Tensor]:
    """``weight * a + (1 - weight) * b``, key by key, for two state dicts of one network.

    Floating-point tensors are blended (in float32 at least, returned in ``a``'s dtype); other
    tensors (counters) must be equal and are taken from ``a``.

    Args:
        a: The state dict given ``weight``, e.g. realesr-general-x4v3.
        b: The state dict given ``1 - weight``, e.g. realesr-general-wdn-x4v3.
        weight: In ``[0, 1]``; 1 gives ``a``, 0 gives ``b``.

    Returns:
        A new state dict with ``a``'s keys; neither input is changed.

    Raises:
        ValueError: ``weight`` is not a number in ``[0, 1]``.
        CheckpointError: The two have different keys, shapes or dtypes, or unequal non-float
            tensors; the message lists them.

    Example:
        >>> general = read_state_dict("realesr-general-x4v3.pth")  # doctest: +SKIP
        >>> wdn = read_state_dict("realesr-general-wdn-x4v3.pth")  # doctest: +SKIP
        >>> blended = blend_state_dicts(general, wdn, 0.5)  # doctest: +SKIP
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float)):
        raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
    if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
        raise ValueError(f"weight must be in [0, 1], got {weight!r}")
    only_a = [key for key in a if key not in b]
    only_b = [key for key in b if key not in a]
    mismatched = [
        f"{key}: {tuple(a[key].shape)} {a[key].dtype} vs {tuple(b[key].shape)} {b[key].dtype}"
        for key in a
        if key in b and (a[key].shape != b[key].shape or a[key].dtype != b[key].dtype)
    ]
    unequal = [
        key
        for key in a
        if key in b
        and not a[key].is_floating_point()
        and a[key].shape == b[key].shape
        and a[key].dtype == b[key].dtype
        and not torch.equal(a[key], b[key])
    ]
    problems = [
        f"{len(names)} {what} ({preview(names)})"
        for names, what in (
            (only_a, "keys only in the first"),
            (only_b, "keys only in the second"),
            (mismatched, "tensors of other shapes or dtypes"),
            (unequal, "unequal non-float tensors"),
        )
        if names
    ]
    if problems:
        raise CheckpointError(
            "cannot blend state dicts of different networks: " + "; ".join(problems)
        )
    blended: dict[str, torch.Tensor] = {}
    for key, first in a.items():
        if not first.is_floating_point():
            blended[key] = first.clone()
            continue
        work = torch.promote_types(first.dtype, torch.float32)
        mixed = weight * first.to(work) + (1.0 - weight) * b[key].to(work)
        blended[key] = mixed.to(first.dtype)
    return blended
