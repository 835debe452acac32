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
            "cached": not e.builtin and cache.is_cached(e),
            "builtin": e.builtin,
            "description": e.description,
        }
        for e in default_registry().entries(task=task)  # type: ignore[arg-type]
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(row["name"]) for row in rows), default=4)
    for row in rows:
        mark = "*" if row["cached"] else " "
        click.echo(
            f"{mark} {row['name']:<{width}}  {row['task']:<9}  {row['family']:<8}  "
            f"{row['description']}"
        )
    click.echo("(* downloaded)", err=True)


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
        "description": entry.description,
        "url": entry.url,
        "source": entry.source,
        "license": entry.license,
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
