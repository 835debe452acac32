"""``ganedit train cyclegan|pix2pix|sr|inpaint``: options -> TrainConfig -> train().

Also run as ``torchrun --nproc_per_node=N -m ganedit.train cyclegan ...`` for DDP.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

from ganedit.archs.cyclegan.spec import resnet_arch_id
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
from .cyclegan import CycleGAN
from .pix2pix import Pix2Pix

__all__ = ["data_group", "train_group"]


def _common_options(
    recipe: type[CycleGAN | Pix2Pix],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The options both translation recipes take, with the recipe's reference defaults."""
    defaults = recipe.default_net
    options = [
        *run_head_options(),
        click.option(
            "--mode",
            type=click.Choice(["auto", "unaligned", "aligned", "paired"]),
            default="auto",
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
            default=defaults.net_g,
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
            default=defaults.norm,
            show_default=True,
        ),
        click.option(
            "--dropout/--no-dropout",
            default=defaults.dropout,
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


@click.group(context_settings=CONTEXT)
def train_group() -> None:
    """Train translators, super-resolution and inpainting models (resumable, DDP-ready)."""


@train_group.command("cyclegan", context_settings=CONTEXT)
@_common_options(CycleGAN)
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
def cyclegan(
    *,
    data: Path | None,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    mode: Literal["auto", "unaligned", "aligned", "paired"],
    direction: Literal["AtoB", "BtoA"],
    epochs: int,
    epochs_decay: int,
    net_g: str,
    n_blocks: int | None,
    ngf: int,
    ndf: int,
    n_layers_d: int,
    norm: Literal["instance", "batch", "none"],
    dropout: bool,
    in_channels: int,
    out_channels: int,
    load_size: int,
    crop_size: int,
    preprocess: str,
    no_flip: bool,
    batch_size: int,
    workers: int,
    max_size: int | None,
    lr: float,
    beta1: float,
    lr_policy: str,
    init_type: str,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
    gan_mode: Literal["lsgan", "vanilla", "wgangp"],
    lambda_a: float,
    lambda_b: float,
    lambda_identity: float,
    pool_size: int,
) -> None:
    """Unpaired translation: DATA/trainA and DATA/trainB.

    Example: ganedit train cyclegan --data datasets/horse2zebra --out runs/h2z
    """
    require_data_and_out(data=data, out=out, resume=resume)
    config = TrainConfig(
        recipe=CycleGAN.name,
        data=DataOptions(
            root=str(data) if data is not None else "",
            mode=mode,
            direction=direction,
            load_size=load_size,
            crop_size=crop_size,
            preprocess=preprocess,
            no_flip=no_flip,
            batch_size=batch_size,
            workers=workers,
            max_size=max_size,
        ),
        net=NetworkOptions(
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=ngf,
            ndf=ndf,
            net_g=net_g if n_blocks is None else resnet_arch_id(n_blocks),
            n_layers_d=n_layers_d,
            norm=norm,
            dropout=dropout,
            init_type=init_type,
        ),
        optim=OptimOptions(
            lr=lr, beta1=beta1, epochs=epochs, epochs_decay=epochs_decay, lr_policy=lr_policy
        ),
        loss=CycleGANLoss(
            gan_mode=gan_mode,
            lambda_a=lambda_a,
            lambda_b=lambda_b,
            lambda_identity=lambda_identity,
            pool_size=pool_size,
        ),
        run=run_options(
            out=out,
            resume=resume,
            max_steps=max_steps,
            seed=seed,
            save_every=save_every,
            sample_every=sample_every,
            log_every=log_every,
            keep=keep,
            device=device,
            deterministic=deterministic,
            amp=amp,
        ),
    )
    run_training(config, resume=resume is not None)


@train_group.command("pix2pix", context_settings=CONTEXT)
@_common_options(Pix2Pix)
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
def pix2pix(
    *,
    data: Path | None,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    mode: Literal["auto", "unaligned", "aligned", "paired"],
    direction: Literal["AtoB", "BtoA"],
    epochs: int,
    epochs_decay: int,
    net_g: str,
    n_blocks: int | None,
    ngf: int,
    ndf: int,
    n_layers_d: int,
    norm: Literal["instance", "batch", "none"],
    dropout: bool,
    in_channels: int,
    out_channels: int,
    load_size: int,
    crop_size: int,
    preprocess: str,
    no_flip: bool,
    batch_size: int,
    workers: int,
    max_size: int | None,
    lr: float,
    beta1: float,
    lr_policy: str,
    init_type: str,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
    gan_mode: Literal["lsgan", "vanilla", "wgangp"],
    lambda_l1: float,
    pool_size: int,
) -> None:
    """Paired translation: DATA/train with AB images side by side, or DATA/train/A + train/B.

    Example: ganedit train pix2pix --data datasets/facades --out runs/facades --direction BtoA
    """
    require_data_and_out(data=data, out=out, resume=resume)
    config = TrainConfig(
        recipe=Pix2Pix.name,
        data=DataOptions(
            root=str(data) if data is not None else "",
            mode=mode,
            direction=direction,
            load_size=load_size,
            crop_size=crop_size,
            preprocess=preprocess,
            no_flip=no_flip,
            batch_size=batch_size,
            workers=workers,
            max_size=max_size,
        ),
        net=NetworkOptions(
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=ngf,
            ndf=ndf,
            net_g=net_g if n_blocks is None else resnet_arch_id(n_blocks),
            n_layers_d=n_layers_d,
            norm=norm,
            dropout=dropout,
            init_type=init_type,
        ),
        optim=OptimOptions(
            lr=lr, beta1=beta1, epochs=epochs, epochs_decay=epochs_decay, lr_policy=lr_policy
        ),
        loss=Pix2PixLoss(gan_mode=gan_mode, lambda_l1=lambda_l1, pool_size=pool_size),
        run=run_options(
            out=out,
            resume=resume,
            max_steps=max_steps,
            seed=seed,
            save_every=save_every,
            sample_every=sample_every,
            log_every=log_every,
            keep=keep,
            device=device,
            deterministic=deterministic,
            amp=amp,
        ),
    )
    run_training(config, resume=resume is not None)


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
