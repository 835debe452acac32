"""``ganedit export``: a checkpoint or a training run -> a verified, self-describing ONNX file."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import GaneditError
from ._shared import CONTEXT, allow_noncommercial_option, fail, norm_stats_option

__all__ = ["export"]


@click.command(context_settings=CONTEXT)
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .onnx file to write.",
)
@click.option(
    "--direction",
    type=click.Choice(["AtoB", "BtoA"]),
    default="AtoB",
    show_default=True,
    help="For a training run directory: which generator to export.",
)
@click.option("--name", default=None, help="Model name for the card (default: file or run name).")
@click.option("--source", default=None, help="Where the weights came from (default: the path).")
@click.option("--license", "license_", default="", help="Licence of the weights.")
@norm_stats_option
@allow_noncommercial_option
def export(
    checkpoint: Path,
    output: Path,
    direction: str,
    name: str | None,
    source: str | None,
    license_: str,
    norm_stats: str,
    allow_noncommercial: bool,
) -> None:
    """Convert a checkpoint or a training run to a self-describing, verified ONNX model.

    CHECKPOINT is a .pth/.pt/.bin/.safetensors generator (CycleGAN, pix2pix, ESRGAN family,
    ganedit's inpainting network, or any architecture spandrel loads: SwinIR, HAT, DAT, SPAN,
    LaMa, ...) or a run directory made by `ganedit train` (its latest
    checkpoint, generator for --direction).
    """
    try:
        from ganedit.export import checkpoint_to_onnx, export_run
    except ImportError as exc:
        fail(ImportError(f"export needs PyTorch and onnx: pip install 'ganedit[train]' ({exc})"))
    try:
        if checkpoint.is_dir():
            result = export_run(
                checkpoint,
                output,
                direction=direction,  # type: ignore[arg-type]
                name=name,
                source=source,
                license=license_,
                norm_stats=norm_stats,  # type: ignore[arg-type]
            )
        else:
            result = checkpoint_to_onnx(
                checkpoint,
                output,
                name=name,
                source=source,
                license=license_,
                norm_stats=norm_stats,  # type: ignore[arg-type]
                allow_noncommercial=allow_noncommercial or None,
            )
    except (GaneditError, ImportError) as exc:
        fail(exc)
    card = result.card
    click.echo(
        f"exported {card.arch} ({card.in_channels}->{card.out_channels} channels, size multiple "
        f"{card.size_multiple}) to {result.path}"
    )
    click.echo(f"verified against torch: max abs diff {result.max_abs_diff:.3g}")
