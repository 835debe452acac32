"""``ganedit bench``: how fast a model's network runs here, and how busy the device is."""

from __future__ import annotations

import json
import sys

import click

from ..errors import GaneditError
from ._shared import (
    CONTEXT,
    device_option,
    fail,
    half_option,
    load_model,
    option_group,
    runtime_group,
)

__all__ = ["bench"]


def _variant(half: bool) -> object:
    from ..resolve import Variant

    return Variant(half=half)


def _shapes(sizes: str, batches: str) -> tuple[list[tuple[int, int]], list[int]]:
    from ..bench import parse_size

    shapes = [parse_size(part) for part in sizes.split(",")]
    try:
        counts = [int(part) for part in batches.split(",")]
    except ValueError:
        raise ValueError(f"batch sizes must be integers, got {batches!r}") from None
    if min(counts) < 1:
        raise ValueError(f"batch sizes must be >= 1, got {batches}")
    return shapes, counts


@click.command(context_settings=CONTEXT)
@click.argument("model")
@option_group(
    "grid",
    _shapes,
    [
        click.option(
            "--size",
            "sizes",
            default="256",
            show_default=True,
            help="Input size N or WIDTHxHEIGHT; several comma-separated sizes are each measured.",
        ),
        click.option(
            "--batch",
            "batches",
            default="1",
            show_default=True,
            help="Images per call; several comma-separated values (1,4,8) are each measured.",
        ),
    ],
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Timed wall-clock budget of each measurement.",
)
@device_option
@click.option("-q", "--quiet", is_flag=True, help="Only the results.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@option_group("variant", _variant, [half_option])
@runtime_group()
def bench(
    model: str,
    grid: tuple[list[tuple[int, int]], list[int]],
    seconds: float,
    device: str,
    quiet: bool,
    as_json: bool,
    variant: object,
    runtime: object,
) -> None:
    """Measure MODEL's images/s (the network alone) and how busy the GPU or CPU is.

    Example:

        ganedit bench horse2zebra --size 256,512 --batch 1,4,16 --device cuda
    """
    from ..bench import bench_model

    loaded = load_model(model, device=device, variant=variant, runtime=runtime, quiet=quiet)
    if not loaded.session.is_network:
        fail(GaneditError(f"{model} is not a network; there is nothing to benchmark"))
    if not quiet and not as_json:
        click.echo(f"{loaded.card.name} on {', '.join(loaded.providers)}", err=True)
    shapes, counts = grid
    results = []
    for height, width in shapes:
        for count in counts:
            try:
                result = bench_model(
                    loaded, height=height, width=width, batch=count, seconds=seconds
                )
            except Exception as exc:  # out of memory, or a size the model cannot take
                click.echo(f"batch {count} at {width}x{height}: failed: {exc}", err=True)
                continue
            results.append(result)
            if not as_json:
                click.echo(result.summary())
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    sys.exit(0 if results else 1)
