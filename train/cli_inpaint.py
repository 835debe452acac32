"""``ganedit train inpaint``: the inpainting recipe's options -> TrainConfig -> train()."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from .cli_options import (
    CONTEXT,
    decorate,
    photo_data_options,
    photo_loader_options,
    require_data_and_out,
    run_head_options,
    run_options,
    run_tail_options,
    run_training,
)
from .config import (
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


@click.command("inpaint", context_settings=CONTEXT)
@decorate(
    [
        *run_head_options(),
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
        click.option(
            "--crop-size",
            type=click.IntRange(min=16),
            default=256,
            show_default=True,
            help="Square crop side (a multiple of 4).",
        ),
        click.option("--no-flip", is_flag=True, help="No random horizontal flips."),
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
        *photo_loader_options(),
        click.option(
            "--lr", type=click.FloatRange(min=0, min_open=True), default=1e-4, show_default=True
        ),
        click.option("--beta1", type=click.FloatRange(0, 1), default=0.5, show_default=True),
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
        *run_tail_options(),
    ]
)
def inpaint(
    *,
    data: Path | None,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    ngf: int,
    ndf: int,
    n_layers_d: int,
    crop_size: int,
    no_flip: bool,
    masks: Path | None,
    mask_kind: Literal["mixed", "strokes", "boxes"],
    mask_coverage: tuple[float, float],
    batch_size: int,
    workers: int,
    max_size: int | None,
    epochs: int,
    lr: float,
    beta1: float,
    lambda_l1: float,
    lambda_gan: float,
    hole_weight: float,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
) -> None:
    """Inpainting (DeepFill v2 recipe without contextual attention) on a folder of photos.

    Holes are free-form strokes and boxes drawn on the fly, or mask images from --masks.

    Example: ganedit train inpaint --data photos/ --out runs/inpaint --crop-size 256
    """
    require_data_and_out(data=data, out=out, resume=resume)
    if crop_size % 4:
        raise click.BadParameter("--crop-size must be a multiple of 4", param_hint="--crop-size")
    if ngf % 2:
        raise click.BadParameter("--ngf must be even", param_hint="--ngf")
    min_coverage, max_coverage = mask_coverage
    config = TrainConfig(
        recipe=Inpainting.name,
        data=photo_data_options(
            data=data,
            crop_size=crop_size,
            no_flip=no_flip,
            batch_size=batch_size,
            workers=workers,
            max_size=max_size,
        ),
        net=InpaintNetworkOptions(ngf=ngf, ndf=ndf, n_layers_d=n_layers_d),
        optim=OptimOptions(lr=lr, beta1=beta1, beta2=0.999, epochs=epochs, epochs_decay=0),
        loss=InpaintLoss(lambda_l1=lambda_l1, lambda_gan=lambda_gan, hole_weight=hole_weight),
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
        masks=MaskOptions(
            kind=mask_kind,
            min_coverage=min_coverage,
            max_coverage=max_coverage,
            folder=str(masks) if masks is not None else None,
        ),
    )
    run_training(config, resume=resume is not None)
