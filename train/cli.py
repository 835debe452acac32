"""``ganedit train cyclegan|pix2pix|sr|inpaint``: options -> TrainConfig -> train().

Also run as ``torchrun --nproc_per_node=N -m ganedit.train cyclegan ...`` for DDP.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganedit.errors import GaneditError

from .config import (
    CycleGANLoss,
    DataOptions,
    InpaintLoss,
    InpaintNetworkOptions,
    MaskOptions,
    NetworkOptions,
    OptimOptions,
    Pix2PixLoss,
    RunOptions,
    SRLoss,
    SRNetworkOptions,
    TrainConfig,
)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Reference defaults that differ between the recipes.
DEFAULTS: dict[str, dict[str, Any]] = {
    "cyclegan": {"net_g": "resnet_9blocks", "norm": "instance", "dropout": False, "mode": "auto"},
    "pix2pix": {"net_g": "unet_256", "norm": "batch", "dropout": True, "mode": "auto"},
}


def _run_head_options() -> list[Callable[..., Any]]:
    return [
        click.option(
            "--data",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Dataset folder (required unless --resume).",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            help="Run directory to create (required unless --resume).",
        ),
        click.option(
            "--resume",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Continue the run in this directory from its latest checkpoint.",
        ),
        click.option(
            "--max-steps",
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many steps in total (quick runs).",
        ),
    ]


def _run_tail_options() -> list[Callable[..., Any]]:
    return [
        click.option("--seed", type=int, default=0, show_default=True),
        click.option(
            "--save-every",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Checkpoint every N steps (and at the end).",
        ),
        click.option(
            "--sample-every",
            type=click.IntRange(min=1),
            default=500,
            show_default=True,
            help="Sample grid every N steps.",
        ),
        click.option("--log-every", type=click.IntRange(min=1), default=50, show_default=True),
        click.option(
            "--keep",
            type=click.IntRange(min=0),
            default=3,
            show_default=True,
            help="Checkpoints to keep (0: all).",
        ),
        click.option(
            "--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."
        ),
        click.option(
            "--deterministic",
            is_flag=True,
            help="Deterministic algorithms (bitwise reproducible on the CPU).",
        ),
        click.option("--amp", is_flag=True, help="float16 mixed precision (CUDA only)."),
    ]


def _run_options(o: dict[str, Any]) -> RunOptions:
    out = o["resume"] if o["resume"] is not None else o["out"]
    return RunOptions(
        out=str(out),
        max_steps=o["max_steps"],
        save_every=o["save_every"],
        sample_every=o["sample_every"],
        log_every=o["log_every"],
        keep=o["keep"],
        seed=o["seed"],
        device=o["device"],
        deterministic=o["deterministic"],
        amp=o["amp"],
    )


def _decorate(
    options: list[Callable[..., Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _common_options(recipe: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    d = DEFAULTS[recipe]
    options = [
        *_run_head_options(),
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
        *_run_tail_options(),
    ]

    return _decorate(options)


def _config(recipe: str, loss: CycleGANLoss | Pix2PixLoss, o: dict[str, Any]) -> TrainConfig:
    if o["resume"] is None and (o["data"] is None or o["out"] is None):
        raise click.UsageError("--data and --out are required (or --resume RUN_DIR)")
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
        run=_run_options(o),
    )


def _run(config: TrainConfig, resume: bool) -> None:
    from .loop import train

    try:
        run_dir = train(config, resume=resume)
    except GaneditError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if int(os.environ.get("RANK", "0")) == 0:  # one line, not one per torchrun process
        click.echo(f"run directory: {run_dir}")
        click.echo(f"export it with: ganedit export {run_dir} -o {Path(run_dir).name}.onnx")


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
    _run(_config("cyclegan", loss, o), resume=o["resume"] is not None)


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
    _run(_config("pix2pix", loss, o), resume=o["resume"] is not None)


__all__ = ["data_group", "train_group"]


@train_group.command("sr", context_settings=CONTEXT)
@_decorate(
    [
        *_run_head_options(),
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
        click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True),
        click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True),
        click.option("--max-size", type=click.IntRange(min=1), default=None),
        click.option(
            "--epochs",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Passes over the images (constant learning rate; use --max-steps).",
        ),
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
        *_run_tail_options(),
    ]
)
def sr(**o: Any) -> None:
    """Super-resolution (ESRGAN / Real-ESRGAN recipe) on a folder of high-resolution images.

    Example: ganedit train sr --data photos/ --out runs/sr --arch srvgg --scale 4
    """
    if o["resume"] is None and (o["data"] is None or o["out"] is None):
        raise click.UsageError("--data and --out are required (or --resume RUN_DIR)")
    if o["crop_size"] % o["scale"]:
        raise click.BadParameter("--crop-size must be a multiple of --scale")
    lr = o["lr"] if o["lr"] is not None else (2e-4 if o["stage"] == "psnr" else 1e-4)
    config = TrainConfig(
        recipe="sr",
        data=DataOptions(
            root=str(o["data"]) if o["data"] is not None else "",
            crop_size=o["crop_size"],
            load_size=o["crop_size"],
            no_flip=o["no_flip"],
            batch_size=o["batch_size"],
            workers=o["workers"],
            max_size=o["max_size"],
        ),
        net=SRNetworkOptions(
            arch=o["arch"],
            scale=o["scale"],
            num_feat=o["num_feat"],
            num_block=o["num_block"],
            num_grow_ch=o["num_grow_ch"],
            num_conv=o["num_conv"],
            d_num_feat=o["d_num_feat"],
        ),
        optim=OptimOptions(lr=lr, beta1=0.9, beta2=0.99, epochs=o["epochs"], epochs_decay=0),
        loss=SRLoss(
            stage=o["stage"],
            degradation=o["degradation"],
            l1_weight=o["l1_weight"],
            perceptual_weight=o["perceptual_weight"],
            gan_weight=o["gan_weight"],
            ema_decay=o["ema_decay"],
            usm_gt=not o["no_usm"],
            vgg_weights=o["vgg_weights"],
            init_from=str(o["init_from"]) if o["init_from"] else None,
        ),
        run=_run_options(o),
    )
    _run(config, resume=o["resume"] is not None)


def _coverage(ctx: click.Context, param: click.Parameter, value: tuple[float, float]):
    low, high = value
    if not 0 <= low <= high <= 1 or high == 0:
        raise click.BadParameter(f"expected 0 <= MIN <= MAX <= 1 and MAX > 0, got {low} {high}")
    return value


@train_group.command("inpaint", context_settings=CONTEXT)
@_decorate(
    [
        *_run_head_options(),
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
        click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True),
        click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True),
        click.option("--max-size", type=click.IntRange(min=1), default=None),
        click.option(
            "--epochs",
            type=click.IntRange(min=1),
            default=1000,
            show_default=True,
            help="Passes over the photos (constant learning rate; use --max-steps).",
        ),
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
        *_run_tail_options(),
    ]
)
def inpaint(**o: Any) -> None:
    """Inpainting (DeepFill v2 recipe without contextual attention) on a folder of photos.

    Holes are free-form strokes and boxes drawn on the fly, or mask images from --masks.

    Example: ganedit train inpaint --data photos/ --out runs/inpaint --crop-size 256
    """
    if o["resume"] is None and (o["data"] is None or o["out"] is None):
        raise click.UsageError("--data and --out are required (or --resume RUN_DIR)")
    if o["crop_size"] % 4:
        raise click.BadParameter("--crop-size must be a multiple of 4", param_hint="--crop-size")
    if o["ngf"] % 2:
        raise click.BadParameter("--ngf must be even", param_hint="--ngf")
    min_coverage, max_coverage = o["mask_coverage"]
    config = TrainConfig(
        recipe="inpaint",
        data=DataOptions(
            root=str(o["data"]) if o["data"] is not None else "",
            crop_size=o["crop_size"],
            load_size=o["crop_size"],
            no_flip=o["no_flip"],
            batch_size=o["batch_size"],
            workers=o["workers"],
            max_size=o["max_size"],
        ),
        net=InpaintNetworkOptions(ngf=o["ngf"], ndf=o["ndf"], n_layers_d=o["n_layers_d"]),
        optim=OptimOptions(
            lr=o["lr"], beta1=o["beta1"], beta2=0.999, epochs=o["epochs"], epochs_decay=0
        ),
        loss=InpaintLoss(
            lambda_l1=o["lambda_l1"], lambda_gan=o["lambda_gan"], hole_weight=o["hole_weight"]
        ),
        run=_run_options(o),
        masks=MaskOptions(
            kind=o["mask_kind"],
            min_coverage=min_coverage,
            max_coverage=max_coverage,
            folder=str(o["masks"]) if o["masks"] is not None else None,
        ),
    )
    _run(config, resume=o["resume"] is not None)


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
