"""Training run directory -> the generator of one direction -> verified ONNX file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from ganedit.errors import GaneditError

from .from_checkpoint import checkpoint_to_onnx
from .to_onnx import ExportResult

__all__ = ["export_run", "run_generator"]


def run_generator(run_dir: Path, direction: Literal["AtoB", "BtoA"] = "AtoB") -> Path:
    """The ``.safetensors`` generator of a run's latest checkpoint for ``direction``.

    Raises:
        GaneditError: Not a run directory, no checkpoint yet, or no generator that direction.
    """
    config_file = run_dir / "config.json"
    if not config_file.is_file():
        raise GaneditError(f"{run_dir} is not a training run (no config.json)")
    from ganedit.train import RECIPES

    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise GaneditError(f"{config_file}: not a readable run configuration ({exc})") from None
    recipe = config.get("recipe") if isinstance(config, dict) else None
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise GaneditError(f"{config_file}: unknown recipe {recipe!r}")
    directions = RECIPES[recipe].generators
    if direction not in directions:
        raise GaneditError(
            f"a {recipe} run has generators for {sorted(directions)}, not {direction}"
        )
    pointer = run_dir / "latest"
    if not pointer.is_file():
        raise GaneditError(f"{run_dir} has no checkpoint yet (no 'latest' file)")
    checkpoint = pointer.read_text(encoding="utf-8", errors="replace").strip()
    checkpoints = (run_dir / "checkpoints").resolve()
    path = (checkpoints / checkpoint / f"{directions[direction]}.safetensors").resolve()
    if not checkpoint or checkpoints not in path.parents:
        # The pointer names one folder under checkpoints/; anything else (a path out of the
        # run, an absolute path) is refused, whatever it points at.
        raise GaneditError(f"{pointer} does not name a checkpoint of this run: {checkpoint!r}")
    if not path.is_file():
        raise GaneditError(f"{pointer} points at a checkpoint without {path.name}: {path.parent}")
    return path


def export_run(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    direction: Literal["AtoB", "BtoA"] = "AtoB",
    name: str | None = None,
    source: str | None = None,
    license: str = "",
    norm_stats: Literal["image", "running"] = "image",
) -> ExportResult:
    """Export the latest generator of a training run for ``direction``.

    The card's name defaults to ``<run name>`` (``<run name>_BtoA`` for the reverse
    direction) and its source to the checkpoint's absolute path.
    """
    run_dir = Path(run_dir)
    generator = run_generator(run_dir, direction)
    default_name = run_dir.resolve().name + ("" if direction == "AtoB" else "_BtoA")
    return checkpoint_to_onnx(
        generator,
        out,
        name=name or default_name,
        source=source if source is not None else str(generator.resolve()),
        license=license,
        norm_stats=norm_stats,
    )
