"""``ganedit train sr``: the ESRGAN / Real-ESRGAN recipe's options -> TrainConfig -> train()."""

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
from .config import OptimOptions, SRLoss, SRNetworkOptions, TrainConfig
from .sr import SuperResolution

__all__ = ["sr"]


@click.command("sr", context_settings=CONTEXT)
@decorate(
    [
        *run_head_options(),
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
        click.option(
            "--degradation",
            type=click.Choice(["realesrgan", "bicubic"]),
            default="realesrgan",
            show_default=True,
            help="How low-resolution inputs are made from the high-resolution crops.",
        ),
        click.option(
            "--crop-size",
            type=click.IntRange(min=1),
            default=256,
            show_default=True,
            help="High-resolution crop side (a multiple of --scale).",
        ),
        click.option("--no-flip", is_flag=True),
        *photo_loader_options(),
        click.option(
            "--lr",
            type=click.FloatRange(min=0, min_open=True),
            default=None,
            help="Learning rate (default 2e-4 psnr, 1e-4 gan, as Real-ESRGAN).",
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
        *run_tail_options(),
    ]
)
def sr(
    *,
    data: Path | None,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    stage: Literal["psnr", "gan"],
    init_from: Path | None,
    arch: Literal["rrdb", "srvgg"],
    scale: int,
    num_feat: int,
    num_block: int,
    num_grow_ch: int,
    num_conv: int,
    d_num_feat: int,
    degradation: Literal["realesrgan", "bicubic"],
    crop_size: int,
    no_flip: bool,
    batch_size: int,
    workers: int,
    max_size: int | None,
    epochs: int,
    lr: float | None,
    l1_weight: float,
    perceptual_weight: float,
    gan_weight: float,
    ema_decay: float,
    no_usm: bool,
    vgg_weights: str | None,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
) -> None:
    """Super-resolution (ESRGAN / Real-ESRGAN recipe) on a folder of high-resolution images.

    Example: ganedit train sr --data photos/ --out runs/sr --arch srvgg --scale 4
    """
    require_data_and_out(data=data, out=out, resume=resume)
    if crop_size % scale:
        raise click.BadParameter("--crop-size must be a multiple of --scale")
    if lr is None:
        lr = 2e-4 if stage == "psnr" else 1e-4
    config = TrainConfig(
        recipe=SuperResolution.name,
        data=photo_data_options(
            data=data,
            crop_size=crop_size,
            no_flip=no_flip,
            batch_size=batch_size,
            workers=workers,
            max_size=max_size,
        ),
        net=SRNetworkOptions(
            arch=arch,
            scale=scale,
            num_feat=num_feat,
            num_block=num_block,
            num_grow_ch=num_grow_ch,
            num_conv=num_conv,
            d_num_feat=d_num_feat,
        ),
        optim=OptimOptions(lr=lr, beta1=0.9, beta2=0.99, epochs=epochs, epochs_decay=0),
        loss=SRLoss(
            stage=stage,
            degradation=degradation,
            l1_weight=l1_weight,
            perceptual_weight=perceptual_weight,
            gan_weight=gan_weight,
            ema_decay=ema_decay,
            usm_gt=not no_usm,
            vgg_weights=vgg_weights,
            init_from=str(init_from) if init_from else None,
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
