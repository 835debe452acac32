"""``ganedit train sr``: the ESRGAN / Real-ESRGAN recipe's options -> TrainConfig -> train()."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from ganedit.cli._shared import option_group

from .cli_options import (
    CONTEXT,
    TrainRun,
    in_help_order,
    photo_data_group,
    photo_epochs_option,
    run_group,
    run_training,
)
from .config import DataOptions, OptimOptions, SRLoss, SRNetworkOptions, TrainConfig
from .sr import SuperResolution

__all__ = ["sr"]


def _stage_lr(ctx: click.Context, param: click.Parameter, value: float | None) -> float:
    """--lr defaults per --stage, as Real-ESRGAN. click has read --stage by then: it reads the
    options given first, then the others in --help order, where --stage comes before --lr."""
    if value is not None:
        return value
    return 2e-4 if ctx.params["stage"] == "psnr" else 1e-4


def _optim(*, epochs: int, lr: float) -> OptimOptions:
    return OptimOptions(lr=lr, beta1=0.9, beta2=0.99, epochs=epochs, epochs_decay=0)


def _loss(
    *,
    stage: Literal["psnr", "gan"],
    init_from: Path | None,
    degradation: Literal["realesrgan", "bicubic"],
    l1_weight: float,
    perceptual_weight: float,
    gan_weight: float,
    ema_decay: float,
    no_usm: bool,
    vgg_weights: str | None,
) -> SRLoss:
    return SRLoss(
        stage=stage,
        degradation=degradation,
        l1_weight=l1_weight,
        perceptual_weight=perceptual_weight,
        gan_weight=gan_weight,
        ema_decay=ema_decay,
        usm_gt=not no_usm,
        vgg_weights=vgg_weights,
        init_from=str(init_from) if init_from else None,
    )


@in_help_order(
    "--data --out --resume --max-steps --stage --init-from",
    "--arch --scale --num-feat --num-block --num-grow-ch --num-conv --d-num-feat --degradation",
    "--crop-size --no-flip --batch-size --workers --max-size --epochs --lr",
    "--l1-weight --perceptual-weight --gan-weight --ema-decay --no-usm --vgg-weights",
    "--seed --save-every --sample-every --log-every --keep --device --deterministic --amp",
)
@click.command("sr", context_settings=CONTEXT)
@run_group
@photo_data_group(
    crop_size=click.option(
        "--crop-size",
        type=click.IntRange(min=1),
        default=256,
        show_default=True,
        help="High-resolution crop side (a multiple of --scale).",
    ),
    no_flip=click.option("--no-flip", is_flag=True),
)
@option_group(
    "net",
    SRNetworkOptions,
    [
        click.option(
            "--arch", type=click.Choice(["rrdb", "srvgg"]), default="rrdb", show_default=True
        ),
        click.option("--scale", type=click.IntRange(min=1), default=4, show_default=True),
        click.option("--num-feat", type=click.IntRange(min=1), default=64, show_default=True),
        click.option(
            "--num-block",
            type=click.IntRange(min=1),
            default=23,
            show_default=True,
            help="RRDB blocks.",
        ),
        click.option("--num-grow-ch", type=click.IntRange(min=1), default=32, show_default=True),
        click.option(
            "--num-conv",
            type=click.IntRange(min=1),
            default=32,
            show_default=True,
            help="SRVGG convolutions.",
        ),
        click.option("--d-num-feat", type=click.IntRange(min=1), default=64, show_default=True),
    ],
)
@option_group(
    "optim",
    _optim,
    [
        photo_epochs_option,
        click.option(
            "--lr",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            callback=_stage_lr,
            help="Learning rate (default 2e-4 psnr, 1e-4 gan, as Real-ESRGAN).",
        ),
    ],
)
@option_group(
    "loss",
    _loss,
    [
        click.option(
            "--stage",
            type=click.Choice(["psnr", "gan"]),
            default="psnr",
            show_default=True,
            help="psnr: L1 only (RealESRNet); gan: + perceptual + GAN (RealESRGAN).",
        ),
        click.option(
            "--init-from",
            type=click.Path(exists=True, path_type=Path),
            default=None,
            help="Start the generator from a run directory or checkpoint (gan stage: "
            "the psnr run).",
        ),
        click.option(
            "--degradation",
            type=click.Choice(["realesrgan", "bicubic"]),
            default="realesrgan",
            show_default=True,
            help="How low-resolution inputs are made from the high-resolution crops.",
        ),
        click.option("--l1-weight", type=float, default=1.0, show_default=True),
        click.option("--perceptual-weight", type=float, default=1.0, show_default=True),
        click.option("--gan-weight", type=float, default=0.1, show_default=True),
        click.option("--ema-decay", type=click.FloatRange(0, 1), default=0.999, show_default=True),
        click.option("--no-usm", is_flag=True, help="Do not sharpen the L1/perceptual target."),
        click.option(
            "--vgg-weights",
            type=click.Path(exists=True, dir_okay=False),
            default=None,
            help="Local VGG19 ImageNet weights (vgg19-dcbb9e9d.pth).",
        ),
    ],
)
def sr(
    *, run: TrainRun, data: DataOptions, net: SRNetworkOptions, optim: OptimOptions, loss: SRLoss
) -> None:
    """Super-resolution (ESRGAN / Real-ESRGAN recipe) on a folder of high-resolution images.

    Example: ganedit train sr --data photos/ --out runs/sr --arch srvgg --scale 4
    """
    if data.crop_size % net.scale:
        raise click.BadParameter("--crop-size must be a multiple of --scale")
    config = TrainConfig(
        recipe=SuperResolution.name, data=data, net=net, optim=optim, loss=loss, run=run.options
    )
    run_training(config, resume=run.resume)
