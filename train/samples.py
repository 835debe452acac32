"""Sample grids: the first image of each visual side by side, written as PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganedit._files import atomic_write

__all__ = ["save_sample_grid"]


def save_sample_grid(visuals: dict[str, torch.Tensor], folder: Path, step: int) -> torch.Tensor:
    """Write ``folder/step_<step>.png`` with one column per visual (first batch item each).

    Args:
        visuals: Name -> ``(B, C, H, W)`` in ``[-1, 1]``, C in {1, 3}.
        folder: Where the PNG goes (created if needed).
        step: The training step, for the file name.

    Returns:
        The grid as ``(3, H, W * len(visuals))`` in ``[0, 1]`` (for TensorBoard).
    """
    from PIL import Image

    tiles = []
    for image in visuals.values():
        tile = (image[0].detach().float().cpu().clamp(-1, 1) + 1) / 2
        tiles.append(tile.expand(3, -1, -1) if tile.shape[0] == 1 else tile)
    height = max(t.shape[1] for t in tiles)
    tiles = [torch.nn.functional.pad(t, (0, 0, 0, height - t.shape[1]), value=1.0) for t in tiles]
    grid = torch.cat(tiles, dim=2)
    pixels = np.rint(grid.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"step_{step:07d}.png"
    atomic_write(target, lambda f: Image.fromarray(pixels).save(f, format="PNG"))
    return grid
