"""``ganedit train cyclegan|pix2pix|sr|inpaint``: options -> TrainConfig -> train().

Also run as ``torchrun --nproc_per_node=N -m ganedit.train cyclegan ...`` for DDP.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import get_args

import click

from ganedit.cli._shared import Decorator, option_group
from ganedit.errors import GaneditError

from .cli_inpaint import inpaint
from .cli_options import (
    CONTEXT,
    TRANSLATION_HELP,
    TrainRun,
    in_help_order,
    network_group,
    run_group,
    run_training,
    translation_data_group,
    translation_optim_group,
)
from .cli_sr import sr
from .config import (
    CycleGANLoss,
    DataOptions,
    GanMode,
    NetworkOptions,
    OptimOptions,
    Pix2PixLoss,
    TrainConfig,
)
from .cyclegan import CycleGAN
from .pix2pix import Pix2Pix

__all__ = ["data_group", "train_group"]


@click.group(context_settings=CONTEXT)
def train_group() -> None:
    """Train translators, super-resolution and inpainting models (resumable, DDP-ready)."""


def _gan_mode_option(default: GanMode) -> Decorator:
    """``--gan-mode`` with the recipe's reference ``default``, which it lists first."""
    modes = [default, *(mode for mode in get_args(GanMode) if mode != default)]
    return click.option("--gan-mode", type=click.Choice(modes), default=default, show_default=True)


_cyclegan_loss_group = option_group(
    "loss",
    CycleGANLoss,
    [
        _gan_mode_option("lsgan"),
        click.option(
            "--lambda-a",
            type=float,
            default=10.0,
            show_default=True,
            help="Weight of the A->B->A cycle loss.",
        ),
        click.option(
            "--lambda-b",
            type=float,
            default=10.0,
            show_default=True,
            help="Weight of the B->A->B cycle loss.",
        ),
        click.option(
            "--lambda-identity",
            type=float,
            default=0.5,
            show_default=True,
            help="Identity loss weight relative to the cycle weights.",
        ),
        click.option(
            "--pool-size",
            type=click.IntRange(min=0),
            default=50,
            show_default=True,
            help="History of generated images shown to the discriminators.",
        ),
    ],
)


@in_help_order(TRANSLATION_HELP, "--gan-mode --lambda-a --lambda-b --lambda-identity --pool-size")
@train_group.command("cyclegan", context_settings=CONTEXT)
@run_group
@translation_data_group
@network_group(CycleGAN.default_net)
@translation_optim_group
@_cyclegan_loss_group
def cyclegan(
    *,
    run: TrainRun,
    data: DataOptions,
    net: NetworkOptions,
    optim: OptimOptions,
    loss: CycleGANLoss,
) -> None:
    """Unpaired translation: DATA/trainA and DATA/trainB.

    Example: ganedit train cyclegan --data datasets/horse2zebra --out runs/h2z
    """
    config = TrainConfig(
        recipe=CycleGAN.name, data=data, net=net, optim=optim, loss=loss, run=run.options
    )
    run_training(config, resume=run.resume)


_pix2pix_loss_group = option_group(
    "loss",
    Pix2PixLoss,
    [
        _gan_mode_option("vanilla"),
        click.option(
            "--lambda-l1",
            type=float,
            default=100.0,
            show_default=True,
            help="Weight of the L1 loss to the target.",
        ),
        click.option("--pool-size", type=click.IntRange(min=0), default=0, show_default=True),
    ],
)


@in_help_order(TRANSLATION_HELP, "--gan-mode --lambda-l1 --pool-size")
@train_group.command("pix2pix", context_settings=CONTEXT)
@run_group
@translation_data_group
@network_group(Pix2Pix.default_net)
@translation_optim_group
@_pix2pix_loss_group
def pix2pix(
    *,
    run: TrainRun,
    data: DataOptions,
    net: NetworkOptions,
    optim: OptimOptions,
    loss: Pix2PixLoss,
) -> None:
    """Paired translation: DATA/train with AB images side by side, or DATA/train/A + train/B.

    Example: ganedit train pix2pix --data datasets/facades --out runs/facades --direction BtoA
    """
    config = TrainConfig(
        recipe=Pix2Pix.name, data=data, net=net, optim=optim, loss=loss, run=run.options
    )
    run_training(config, resume=run.resume)


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
    from ganedit.cli._shared import download_bar

    from .datasets_download import download_dataset

    try:
        path = download_dataset(name, out, progress=download_bar(not quiet))
    except GaneditError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1 if isinstance(exc, OSError) else 2)
    click.echo(f"{name}: {path}")
