"""``ganedit serve``: the local HTTP service (needs ``ganedit[serve]``)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import click

from ..errors import GaneditError
from ._shared import CONTEXT, device_option, fail

__all__ = ["serve"]


def _is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) only accepts connections from this machine."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses
    )


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    from ..memory import parse_size

    if value is None:
        return None
    try:
        return parse_size(value)
    except GaneditError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--models",
    "names",
    multiple=True,
    metavar="NAME",
    help="Offer only these models (repeat; default: every zoo model and --models-dir's files).",
)
@click.option(
    "--models-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder of model files (.onnx, .pth, .safetensors, ...), offered by file name.",
)
@click.option(
    "--token",
    envvar="GANEDIT_TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every API request (or $GANEDIT_TOKEN); "
    "needed to listen beyond loopback.",
)
@click.option("--cors", multiple=True, metavar="ORIGIN", help="Allow a browser origin (repeat).")
@click.option("--max-models", default=2, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--batch-size",
    default=4,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most concurrent requests of one model and shape run as one batch.",
)
@click.option(
    "--batch-wait-ms",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="How long a request waits for others to batch with.",
)
@click.option(
    "--queue",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests that may wait per model; more are answered 503 with Retry-After.",
)
@click.option("--max-bytes", default="256M", show_default=True, callback=_size, metavar="SIZE")
@click.option("--max-pixels", default=100_000_000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--max-memory",
    default="0",
    show_default=True,
    callback=_size,
    metavar="SIZE",
    help="Memory one image may take, estimated before decoding (0: no limit).",
)
@device_option
@click.option("--allow-noncommercial", is_flag=True, help="Load non-commercially licensed models.")
def serve(
    host: str,
    port: int,
    names: tuple[str, ...],
    models_dir: Path | None,
    token: str | None,
    cors: tuple[str, ...],
    max_models: int,
    batch_size: int,
    batch_wait_ms: float,
    queue: int,
    max_bytes: int,
    max_pixels: int,
    max_memory: int,
    device: str,
    allow_noncommercial: bool,
) -> None:
    """Serve the models over HTTP on loopback: a versioned API for editor plugins and
    pipelines (/v1/..., OpenAPI docs at /docs).

    \b
    curl --data-binary @photo.jpg http://127.0.0.1:8765/v1/upscale/realesrgan-x4plus -o big.jpg
    curl -F image=@photo.png -F mask=@mask.png http://127.0.0.1:8765/v1/inpaint/big-lama -o out.png
    """
    if not token and not _is_loopback(host):
        fail(
            GaneditError(
                f"--host {host} accepts connections from other machines: give --token (or set "
                "GANEDIT_TOKEN) so that only clients with the token can use the models"
            )
        )
    try:
        import uvicorn

        from ..serve import ServeSettings, create_app
    except ImportError as exc:
        fail(
            GaneditError(
                f'ganedit serve needs the serve extra: pip install "ganedit[serve]" ({exc})'
            )
        )
    settings = ServeSettings(
        models=names,
        models_dir=models_dir,
        token=token,
        cors=cors,
        max_models=max_models,
        batch_size=batch_size,
        batch_wait_ms=batch_wait_ms,
        queue=queue,
        max_bytes=max_bytes,
        max_pixels=max_pixels,
        max_memory=max_memory,
        device=device,
        allow_noncommercial=allow_noncommercial
        or os.environ.get("GANEDIT_ALLOW_NONCOMMERCIAL", "0") not in ("", "0"),
    )
    click.echo(f"ganedit serve: http://{host}:{port}/ (API: /v1, docs: /docs)", err=True)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
