"""Run checkpoints: networks as safetensors (reference key layout) plus the resumable state.

::

    RUN/checkpoints/step_0001000/G_A.safetensors ... state.pt
    RUN/latest                     # "step_0001000"

``state.pt`` holds the step, epoch, position in the epoch, optimiser, scheduler and gradient-scaler
states, the recipe's image pools and the random number generators; it is read back with
``torch.load(weights_only=True)``. A checkpoint is written into a temporary folder and renamed, so
an interrupted save never replaces a good one.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ganedit._files import atomic_write
from ganedit.errors import GaneditError

from .recipe import Recipe

__all__ = ["Progress", "checkpoint_dir", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

LATEST = "latest"


@dataclasses.dataclass
class Progress:
    """Where a run is: steps done, the current epoch, and batches done within it."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:07d}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint the ``latest`` pointer names, or ``None`` when the run has none."""
    pointer = run_dir / LATEST
    if not pointer.is_file():
        return None
    path = run_dir / "checkpoints" / pointer.read_text().strip()
    if not path.is_dir():
        raise GaneditError(f"{pointer} names {path.name}, which does not exist in {path.parent}")
    return path


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    run_dir: Path,
    recipe: Recipe,
    schedulers: dict[str, Any],
    progress: Progress,
    *,
    keep: int = 3,
) -> Path:
    """Write a checkpoint for ``progress.step`` and point ``latest`` at it.

    Args:
        run_dir: The run directory.
        recipe: Networks, optimisers and extra state to save.
        schedulers: Learning-rate schedulers by optimiser name.
        progress: Where the run is.
        keep: Keep this many newest checkpoints (0: all).

    Returns:
        The checkpoint folder.
    """
    final = checkpoint_dir(run_dir, progress.step)
    staging = final.with_name(final.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, net in recipe.nets.items():
        tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
        save_file(tensors, str(staging / f"{name}.safetensors"), metadata={"format": "pt"})
    state = {
        "progress": dataclasses.asdict(progress),
        "optimizers": {k: opt.state_dict() for k, opt in recipe.optimizers.items()},
        "schedulers": {k: sch.state_dict() for k, sch in schedulers.items()},
        "precision": recipe.precision.state_dict(),
        "extra": recipe.extra_state(),
        "rng": _rng_state(),
    }
    torch.save(state, staging / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    atomic_write(run_dir / LATEST, lambda f: f.write(final.name.encode()))
    if keep > 0:
        older = sorted(p for p in final.parent.glob("step_*") if p.is_dir() and p.suffix == "")
        for stale in older[:-keep]:
            shutil.rmtree(stale, ignore_errors=True)
    return final


def load_checkpoint(
    path: Path, recipe: Recipe, schedulers: dict[str, Any], *, restore_rng: bool = True
) -> Progress:
    """Restore a checkpoint written by :func:`save_checkpoint` into ``recipe`` and ``schedulers``.

    Raises:
        GaneditError: A file is missing or does not fit the recipe.
    """
    for name, net in recipe.nets.items():
        file = path / f"{name}.safetensors"
        if not file.is_file():
            raise GaneditError(f"{path}: missing {file.name}; is this a {recipe.name} run?")
        try:
            net.load_state_dict(load_file(str(file), device="cpu"), strict=True)
        except RuntimeError as exc:
            raise GaneditError(f"{file}: does not fit the configured network: {exc}") from exc
    state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    for name, opt in recipe.optimizers.items():
        opt.load_state_dict(state["optimizers"][name])
    for name, sch in schedulers.items():
        sch.load_state_dict(state["schedulers"][name])
    recipe.precision.load_state_dict(state.get("precision", {}))
    recipe.load_extra_state(state.get("extra", {}))
    if restore_rng:
        _set_rng_state(state["rng"])
    return Progress(**state["progress"])
