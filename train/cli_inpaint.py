"""``ganedit train inpaint``: the inpainting recipe's options -> TrainConfig -> train()."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from ganedit.cli._shared import option_group

from .cli_options import (
    CONTEXT,
    TrainRun,
    beta1_option,
    in_help_order,
    lr_option,
    no_flip_option,
    photo_data_group,
    photo_epochs_option,
    run_group,
    run_training,
)
from .config import (
    DataOptions,
    InpaintLoss,
    InpaintNetworkOptions,
    MaskOptions,
    OptimOptions,
    TrainConfig,
)
from .inpaint import Inpainting

__all__ = ["inpaint"]


def _coverage(
    ctx: click.Context, param: click.Parameter, value: tuple[float, float]
) -> tuple[float, float]:
    low, high = value
    if not 0 <= low <= high <= 1 or high == 0:
        raise click.BadParameter(f"expected 0 <= MIN <= MAX <= 1 and MAX > 0, got {low} {high}")
    return value


def _net(*, ngf: int, ndf: int, n_layers_d: int) -> InpaintNetworkOptions:
    if ngf % 2:
        raise click.BadParameter("--ngf must be even", param_hint="--ngf")
    return InpaintNetworkOptions(ngf=ngf, ndf=ndf, n_layers_d=n_layers_d)


def _masks(
    *,
    masks: Path | None,
    mask_kind: Literal["mixed", "strokes", "boxes"],
    mask_coverage: tuple[float, float],
) -> MaskOptions:
    min_coverage, max_coverage = mask_coverage
    return MaskOptions(
        kind=mask_kind,
        min_coverage=min_coverage,
        max_coverage=max_coverage,
        folder=str(masks) if masks is not None else None,
    )


def _optim(*, epochs: int, lr: float, beta1: float) -> OptimOptions:
    return OptimOptions(lr=lr, beta1=beta1, beta2=0.999, epochs=epochs, epochs_decay=0)


@in_help_order(
    "--data --out --resume --max-steps --ngf --ndf --n-layers-d --crop-size --no-flip",
    "--masks --mask-kind --mask-coverage --batch-size --workers --max-size --epochs --lr --beta1",
    "--lambda-l1 --lambda-gan --hole-weight",
    "--seed --save-every --sample-every --log-every --keep --device --deterministic --amp",
)
@click.command("inpaint", context_settings=CONTEXT)
@run_group
@photo_data_group(
    crop_size=click.option(
        "--crop-size",
        type=click.IntRange(min=16),
        default=256,
        show_default=True,
        help="Square crop side (a multiple of 4).",
    ),
    no_flip=no_flip_option,
    crop_multiple=4,
)
@option_group(
    "net",
    _net,
    [
        click.option(
            "--ngf",
            type=click.IntRange(min=2),
            default=32,
            show_default=True,
            help="Generator filters (even; DeepFill v2 uses 48).",
        ),
        click.option("--ndf", type=click.IntRange(min=1), default=64, show_default=True),
        click.option(
            "--n-layers-d",
            type=click.IntRange(min=1),
            default=6,
            show_default=True,
            help="Stride-2 convolutions of the SN-PatchGAN discriminator.",
        ),
    ],
)
@option_group(
    "masks",
    _masks,
    [
        click.option(
            "--masks",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            help="Folder of mask images (non-zero = hole) instead of generated masks.",
        ),
        click.option(
            "--mask-kind",
            type=click.Choice(["mixed", "strokes", "boxes"]),
            default="mixed",
            show_default=True,
            help="Generated masks: free-form brush strokes, boxes, or both.",
        ),
        click.option(
            "--mask-coverage",
            type=(float, float),
            default=(0.05, 0.5),
            show_default=True,
            callback=_coverage,
            metavar="MIN MAX",
            help="Fraction of the crop a generated mask covers.",
        ),
    ],
)
@option_group("optim", _optim, [photo_epochs_option, lr_option(1e-4), beta1_option])
@option_group(
    "loss",
    InpaintLoss,
    [
        click.option(
            "--lambda-l1",
            type=float,
            default=1.0,
            show_default=True,
            help="Weight of the L1 loss of each stage (coarse and refined).",
        ),
        click.option(
            "--lambda-gan",
            type=float,
            default=0.1,
            show_default=True,
            help="Weight of the generator's hinge GAN loss.",
        ),
        click.option(
            "--hole-weight",
            type=click.FloatRange(min=0, min_open=True),
            default=6.0,
            show_default=True,
            help="Weight of a hole pixel's L1 error relative to a known pixel's.",
        ),
    ],
)
def inpaint(
    *,
    run: TrainRun,
    data: DataOptions,
    net: InpaintNetworkOptions,
    masks: MaskOptions,
    optim: OptimOptions,
    loss: InpaintLoss,
) -> None:
    """Inpainting (DeepFill v2 recipe without contextual attention) on a folder of photos.

    Holes are free-form strokes and boxes drawn on the fly, or mask images from --masks.

    Example: ganedit train inpaint --data photos/ --out runs/inpaint --crop-size 256
    """
    config = TrainConfig(
        recipe=Inpainting.name,
        data=data,
        net=net,
        optim=optim,
        loss=loss,
        run=run.options,
        masks=masks,
    )
    run_training(config, resume=run.resume)
