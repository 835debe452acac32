"""``ganedit train cyclegan|pix2pix|sr|inpaint``: options -> TrainConfig -> train().

Also run as ``torchrun --nproc_per_node=N -m ganedit.train cyclegan ...`` for DDP.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganedit.errors import GaneditError

from .cli_inpaint import inpaint
from .cli_options import (
    CONTEXT,
    decorate,
    require_data_and_out,
    run_head_options,
    run_options,
    run_tail_options,
    run_training,
)
from .cli_sr import sr
from .config import (
    CycleGANLoss,
    DataOptions,
    NetworkOptions,
    OptimOptions,
    Pix2PixLoss,
    TrainConfig,
)

__all__ = ["data_group", "train_group"]

# Reference defaults that differ between the recipes.
DEFAULTS: dict[str, dict[str, Any]] = {
    "cyclegan": {"net_g": "resnet_9blocks", "norm": "instance", "dropout": False, "mode": "auto"},
    "pix2pix": {"net_g": "unet_256", "norm": "batch", "dropout": True, "mode": "auto"},
}


def _common_options(recipe: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    d = DEFAULTS[recipe]
    options = [
        *run_head_options(),
        click.option(
            "--mode",
            type=click.Choice(["auto", "unaligned", "aligned", "paired"]),
            default=d["mode"],
            show_default=True,
            help="Dataset layout.",
        ),
        click.option(
            "--direction", type=click.Choice(["AtoB", "BtoA"]), default="AtoB", show_default=True
        ),
        click.option(
            "--epochs",
            type=click.IntRange(min=0),
            default=100,
            show_default=True,
            help="Epochs at the initial learning rate.",
        ),
        click.option(
            "--epochs-decay",
            type=click.IntRange(min=0),
            default=100,
            show_default=True,
            help="Epochs of linear decay to zero.",
        ),
        click.option(
            "--net-g",
            default=d["net_g"],
            show_default=True,
            help="resnet_<n>blocks or unet_<size> (unet_128, unet_256).",
        ),
        click.option(
            "--n-blocks",
            type=click.IntRange(min=0),
            default=None,
            help="ResNet blocks (shorthand for --net-g resnet_<n>blocks).",
        ),
        click.option("--ngf", type=click.IntRange(min=1), default=64, show_default=True),
        click.option("--ndf", type=click.IntRange(min=1), default=64, show_default=True),
        click.option("--n-layers-d", type=click.IntRange(min=1), default=3, show_default=True),
        click.option(
            "--norm",
            type=click.Choice(["instance", "batch", "none"]),
            default=d["norm"],
            show_default=True,
        ),
        click.option(
            "--dropout/--no-dropout",
            default=d["dropout"],
            show_default=True,
            help="Dropout in the generator.",
        ),
        click.option("--in-channels", type=click.IntRange(1, 4), default=3, show_default=True),
        click.option("--out-channels", type=click.IntRange(1, 4), default=3, show_default=True),
        click.option("--load-size", type=click.IntRange(min=1), default=286, show_default=True),
        click.option("--crop-size", type=click.IntRange(min=1), default=256, show_default=True),
        click.option(
            "--preprocess",
            default="resize_and_crop",
            show_default=True,
            type=click.Choice(
                ["resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"]
            ),
        ),
        click.option("--no-flip", is_flag=True, help="No random horizontal flips."),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Images per step (per process under torchrun).",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="Data-loading worker processes.",
        ),
        click.option(
            "--max-size",
            type=click.IntRange(min=1),
            default=None,
            help="Use at most this many images per domain.",
        ),
        click.option(
            "--lr", type=click.FloatRange(min=0, min_open=True), default=2e-4, show_default=True
        ),
        click.option("--beta1", type=click.FloatRange(0, 1), default=0.5, show_default=True),
        click.option(
            "--lr-policy",
            type=click.Choice(["linear", "step", "cosine"]),
            default="linear",
            show_default=True,
        ),
        click.option(
            "--init-type",
            type=click.Choice(["normal", "xavier", "kaiming", "orthogonal"]),
            default="normal",
            show_default=True,
        ),
        *run_tail_options(),
    ]

    return decorate(options)


def _config(recipe: str, loss: CycleGANLoss | Pix2PixLoss, o: dict[str, Any]) -> TrainConfig:
    require_data_and_out(o)
    net_g = o["net_g"] if o["n_blocks"] is None else f"resnet_{o['n_blocks']}blocks"
    return TrainConfig(
        recipe=recipe,  # type: ignore[arg-type]
        data=DataOptions(
            root=str(o["data"]) if o["data"] is not None else "",
            mode=o["mode"],
            direction=o["direction"],
            load_size=o["load_size"],
            crop_size=o["crop_size"],
            preprocess=o["preprocess"],
            no_flip=o["no_flip"],
            batch_size=o["batch_size"],
            workers=o["workers"],
            max_size=o["max_size"],
        ),
        net=NetworkOptions(
            in_channels=o["in_channels"],
            out_channels=o["out_channels"],
            ngf=o["ngf"],
            ndf=o["ndf"],
            net_g=net_g,
            n_layers_d=o["n_layers_d"],
            norm=o["norm"],
            dropout=o["dropout"],
            init_type=o["init_type"],
        ),
        optim=OptimOptions(
            lr=o["lr"],
            beta1=o["beta1"],
            epochs=o["epochs"],
            epochs_decay=o["epochs_decay"],
            lr_policy=o["lr_policy"],
        ),
        loss=loss,
        run=run_options(o),
    )


@click.group(context_settings=CONTEXT)
def train_group() -> None:
    """Train translators, super-resolution and inpainting models (resumable, DDP-ready)."""


@train_group.command("cyclegan", context_settings=CONTEXT)
@_common_options("cyclegan")
@click.option(
    "--gan-mode",
    type=click.Choice(["lsgan", "vanilla", "wgangp"]),
    default="lsgan",
    show_default=True,
)
@click.option(
    "--lambda-a",
    type=float,
    default=10.0,
    show_default=True,
    help="Weight of the A->B->A cycle loss.",
)
@click.option(
    "--lambda-b",
    type=float,
    default=10.0,
    show_default=True,
    help="Weight of the B->A->B cycle loss.",
)
@click.option(
    "--lambda-identity",
    type=float,
    default=0.5,
    show_default=True,
    help="Identity loss weight relative to the cycle weights.",
)
@click.option(
    "--pool-size",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="History of generated images shown to the discriminators.",
)
def cyclegan(**o: Any) -> None:
    """Unpaired translation: DATA/trainA and DATA/trainB.

    Example: ganedit train cyclegan --data datasets/horse2zebra --out runs/h2z
    """
    loss = CycleGANLoss(
        gan_mode=o.pop("gan_mode"),
        lambda_a=o.pop("lambda_a"),
        lambda_b=o.pop("lambda_b"),
        lambda_identity=o.pop("lambda_identity"),
        pool_size=o.pop("pool_size"),
    )
    run_training(_config("cyclegan", loss, o), resume=o["resume"] is not None)


@train_group.command("pix2pix", context_settings=CONTEXT)
@_common_options("pix2pix")
@click.option(
    "--gan-mode",
    type=click.Choice(["vanilla", "lsgan", "wgangp"]),
    default="vanilla",
    show_default=True,
)
@click.option(
    "--lambda-l1",
    type=float,
    default=100.0,
    show_default=True,
    help="Weight of the L1 loss to the target.",
)
@click.option("--pool-size", type=click.IntRange(min=0), default=0, show_default=True)
def pix2pix(**o: Any) -> None:
    """Paired translation: DATA/train with AB images side by side, or DATA/train/A + train/B.

    Example: ganedit train pix2pix --data datasets/facades --out runs/facades --direction BtoA
    """
    loss = Pix2PixLoss(
        gan_mode=o.pop("gan_mode"), lambda_l1=o.pop("lambda_l1"), pool_size=o.pop("pool_size")
    )
    run_training(_config("pix2pix", loss, o), resume=o["resume"] is not None)


train_group.add_command(sr)
train_group.add_command(inpaint)


@click.group(context_settings=CONTEXT)
def data_group() -> None:
    """List and download the reference training datasets."""


@data_group.command("list", context_settings=CONTEXT)
def data_list() -> None:
    """List the datasets `ganedit data download` knows."""
    from .datasets_download import list_datasets

    for entry in list_datasets():
        click.echo(f"{entry.id:<32} {entry.layout:<10} {entry.description}")


@data_group.command("download", context_settings=CONTEXT)
@click.argument("name")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datasets"),
    show_default=True,
    help="Folder to put the dataset folder in.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def data_download(name: str, out: Path, quiet: bool) -> None:
    """Download and safely unpack a reference dataset (see `ganedit data list`)."""
    from ganedit.cli import _download_bar

    from .datasets_download import download_dataset

    try:
        path = download_dataset(name, out, progress=_download_bar(not quiet))
    except GaneditError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1 if isinstance(exc, OSError) else 2)
    click.echo(f"{name}: {path}")
