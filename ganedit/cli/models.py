"""``ganedit models list|info|pull``: the named models, their cards and the cache."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import DownloadError, GaneditError
from ._shared import CONTEXT, download_bar, fail

__all__ = ["models"]


@click.group(context_settings=CONTEXT)
def models() -> None:
    """List, describe and download named models."""


@models.command("list", context_settings=CONTEXT)
@click.option("--task", type=click.Choice(["translate", "upscale", "inpaint"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(task: str | None, as_json: bool) -> None:
    """List the named models (* downloaded)."""
    from ..zoo import ModelCache, default_registry

    cache = ModelCache()
    rows = [
        {
            "name": e.name,
            "task": e.task,
            "family": e.family,
            "arch": e.arch,
            "license": e.license,
            "noncommercial": e.noncommercial,
            "cached": not e.builtin and cache.is_cached(e),
            "builtin": e.builtin,
            "description": e.description,
        }
        for e in default_registry().entries(task=task)  # type: ignore[arg-type]
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [
        (
            "*" if row["cached"] else " ",
            str(row["name"]),
            str(row["task"]),
            str(row["arch"]),
            _short(row),
            str(row["description"]),
        )
        for row in rows
    ]
    widths = [max((len(cells[i]) for cells in table), default=0) for i in range(6)]
    for cells in table:
        click.echo("  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip())
    click.echo(
        "(* downloaded; NC: weights for non-commercial use only, run with "
        "--allow-noncommercial; `ganedit models info NAME` describes one)",
        err=True,
    )


def _short(row: dict[str, object]) -> str:
    """The licence without the project it comes from: ``Apache-2.0``, ``CC BY-NC 4.0 (NC)``."""
    license_ = str(row["license"]).split(" (")[0] or "?"
    return f"{license_} (NC)" if row["noncommercial"] else license_


@models.command("info", context_settings=CONTEXT)
@click.argument("name")
def models_info(name: str) -> None:
    """Describe a named model, or the card of an .onnx file."""
    from ..session import OrtSession
    from ..zoo import ModelCache, default_registry

    path = Path(name)
    try:
        if path.suffix.lower() == ".onnx" and path.is_file():
            card = OrtSession(path, device="cpu").card
            click.echo(json.dumps(card.to_dict(), indent=2))
            return
        entry = default_registry().get(name)
    except GaneditError as exc:
        fail(exc)
    cache = ModelCache()
    if entry.builtin:
        weights, onnx = "built in (nothing to download)", ""
    else:
        state = "cached" if cache.is_cached(entry) else "not downloaded"
        weights, onnx = f"{cache.weights_path(entry)} ({state})", str(cache.onnx_path(entry))
    rows = {
        "name": entry.name,
        "aliases": ", ".join(entry.aliases),
        "task": entry.task,
        "family": entry.family,
        "arch": entry.arch,
        "description": entry.description,
        "url": entry.url,
        "source": entry.source,
        "license": entry.license
        + (" (non-commercial: needs --allow-noncommercial)" if entry.noncommercial else ""),
        "sha256": "" if entry.builtin else entry.sha256 or "(recorded on first download)",
        "weights": weights,
        "onnx": onnx,
    }
    for key, value in rows.items():
        if value:
            click.echo(f"{key:>12}: {value}")


@models.command("pull", context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if cached.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def models_pull(names: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Download named models into the cache ($GANEDIT_HOME, default ~/.cache/ganedit)."""
    from ..zoo import ModelCache, default_registry

    cache = ModelCache()
    failed = False
    for name in names:
        try:
            entry = default_registry().get(name)
            if entry.builtin:
                click.echo(f"{entry.name}: built in, nothing to download")
                continue
            path = cache.fetch(entry, force=force, progress=download_bar(not quiet))
        except DownloadError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed = True
            continue
        except GaneditError as exc:
            fail(exc)
        click.echo(f"{entry.name}: {path}")
    sys.exit(1 if failed else 0)
