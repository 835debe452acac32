"""The folder commands: ``translate``, ``upscale`` (alias ``restore``) and ``inpaint``.

Each is a few lines: its options fold into the library's typed settings (validated before any
model is downloaded or converted), it loads the model, and runs the folder job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._folder import FolderJob, folder_options
from ._shared import (
    CONTEXT,
    half_option,
    norm_stats_option,
    option_group,
    runtime_group,
)

__all__ = ["inpaint", "restore", "translate", "upscale"]


def _variant(**fields: Any) -> Any:
    from ..resolve import Variant

    return Variant(**fields)


def _translate_options(bucket: int) -> Any:
    from ..translate import TranslateOptions

    return TranslateOptions(bucket=bucket)


@click.command(context_settings=CONTEXT)
@folder_options
@option_group(
    "options",
    _translate_options,
    [
        click.option(
            "--bucket",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            metavar="PIXELS",
            help="Pad sizes up to a multiple of PIXELS so that nearby sizes batch together "
            "(0: off; changes results near the right and bottom edges slightly).",
        )
    ],
)
@option_group("variant", _variant, [norm_stats_option, half_option])
@runtime_group()
def translate(job: FolderJob, options: Any, variant: Any, runtime: Any) -> None:
    """Translate images with MODEL (a CycleGAN/pix2pix zoo name, an .onnx or a checkpoint).

    INPUTS are image files and folders. Example:

        ganedit translate horse2zebra ./photos -o out/
    """
    model = job.load("translate", variant=variant, runtime=runtime)
    job.run(model.with_options(options))


def _upscale_options(
    outscale: float | None, tile: int | None, tile_overlap: int, tile_batch: int, alpha_mode: str
) -> Any:
    from ..upscale import UpscaleOptions

    return UpscaleOptions(
        outscale=outscale,
        tile=tile,
        tile_overlap=tile_overlap,
        tile_batch=tile_batch,
        alpha_mode=alpha_mode,  # type: ignore[arg-type]
    )


def _upscale_parameters(func: Any) -> Any:
    """The options ``upscale`` and ``restore`` share: one command under two names."""
    for decorator in reversed(_UPSCALE_DECORATORS):
        func = decorator(func)
    return func


_UPSCALE_DECORATORS: list[Any] = [
    folder_options,
    option_group(
        "options",
        _upscale_options,
        [
            click.option(
                "--outscale",
                type=click.FloatRange(min=0, min_open=True),
                default=None,
                help="Final size factor (default: the model's scale); any value, resized in float.",
            ),
            click.option(
                "--tile",
                type=click.IntRange(min=0),
                default=None,
                help="Largest tile side in input pixels (0: whole images). Tiles overlap and are "
                "blended. [default: whole images up to 1024x1024 pixels, and for models that "
                "discourage tiling; tiles of 512 beyond]",
            ),
            click.option(
                "--tile-overlap",
                type=click.IntRange(min=0),
                default=16,
                show_default=True,
                help="Input pixels shared by neighbouring tiles.",
            ),
            click.option(
                "--tile-batch",
                type=click.IntRange(min=1),
                default=4,
                show_default=True,
                help="Tiles per network call.",
            ),
            click.option(
                "--alpha-mode",
                type=click.Choice(["resize", "network"]),
                default="resize",
                show_default=True,
                help="Upscale alpha with a high-quality resize, or with the model.",
            ),
        ],
    ),
    option_group(
        "variant",
        _variant,
        [
            click.option(
                "--denoise",
                type=click.FloatRange(0, 1),
                default=None,
                help="realesr-general-x4v3 only: 1 = its own denoising, 0 = keep grain (the -wdn "
                "model).",
            ),
            half_option,
        ],
    ),
    runtime_group(),
]


def _upscale(job: FolderJob, options: Any, variant: Any, runtime: Any) -> None:
    model = job.load("upscale", variant=variant, runtime=runtime)
    job.run(model.with_options(options))


@click.command(context_settings=CONTEXT)
@_upscale_parameters
def upscale(job: FolderJob, options: Any, variant: Any, runtime: Any) -> None:
    """Upscale images with MODEL (realesrgan-x4plus, an .onnx, or a checkpoint of the ESRGAN
    family or of any upscaler spandrel loads: SwinIR, HAT, DAT, SPAN, RealCUGAN, ...).

    Example:

        ganedit upscale realesrgan-x4plus ./scans -o big/ --tile 512 --outscale 3
    """
    _upscale(job, options, variant, runtime)


@click.command(context_settings=CONTEXT)
@_upscale_parameters
def restore(job: FolderJob, options: Any, variant: Any, runtime: Any) -> None:
    """Restore images with a ×1 MODEL: denoising, deblurring, JPEG-artefact removal (DnCNN,
    FBCNN, NAFNet, SCUNet, ... checkpoints, or their .onnx). The same command as `upscale`.

    Example:

        ganedit restore 1x_scunet_color.pth ./noisy -o clean/
    """
    _upscale(job, options, variant, runtime)


def _masks(mask: Path, invert_mask: bool) -> Any:
    from ..masks import MaskSource

    return MaskSource(mask, invert=invert_mask)


def _inpaint_options(
    resize_mask: bool,
    dilate: int,
    feather: int,
    strategy: str,
    crop_margin: int | None,
    crop_trigger: int | None,
    resize_limit: int,
) -> Any:
    from ..inpaint import InpaintOptions

    return InpaintOptions(
        dilate=dilate,
        feather=feather,
        strategy=strategy,  # type: ignore[arg-type]
        crop_margin=crop_margin,
        crop_trigger=crop_trigger,
        resize_limit=resize_limit,
        resize_mask=resize_mask,
    )


@click.command(context_settings=CONTEXT)
@folder_options
@option_group(
    "masks",
    _masks,
    [
        click.option(
            "--mask",
            "mask",
            required=True,
            type=click.Path(exists=True, path_type=Path),
            help="One mask for every image, or a folder of masks matched by relative path and "
            "stem (photo.jpg <- photo_mask.png or photo.png). White (non-zero) = hole.",
        ),
        click.option("--invert-mask", is_flag=True, help="Black (zero) is the hole instead."),
    ],
)
@option_group(
    "options",
    _inpaint_options,
    [
        click.option(
            "--resize-mask",
            is_flag=True,
            help="Resize masks of another size to the image (nearest neighbour) instead of "
            "failing.",
        ),
        click.option(
            "--dilate",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Grow each hole by N pixels (covers halos around removed objects).",
        ),
        click.option(
            "--feather",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Blend over N pixels inside the hole's border; outside pixels never change.",
        ),
        click.option(
            "--strategy",
            type=click.Choice(["crop", "resize", "full"]),
            default="crop",
            show_default=True,
            help="crop: a crop around each masked region (of images longer than "
            "--crop-trigger; smaller ones whole); resize: the whole image shrunk to "
            "--resize-limit, only the hole pasted back; full: the whole image.",
        ),
        click.option(
            "--crop-margin",
            type=click.IntRange(min=0),
            default=None,
            help="Context pixels around each masked region (crop strategy) "
            "[default: 128; 16 for cv2-*].",
        ),
        click.option(
            "--crop-trigger",
            type=click.IntRange(min=0),
            default=None,
            metavar="PIXELS",
            help="Crop strategy: run images whose longer side is at most PIXELS whole "
            "[default: 800; 0 for cv2-*].",
        ),
        click.option(
            "--resize-limit",
            type=click.IntRange(min=16),
            default=512,
            show_default=True,
            help="Longer side the network sees (resize strategy).",
        ),
    ],
)
@runtime_group()
def inpaint(job: FolderJob, masks: Any, options: Any, runtime: Any) -> None:
    """Fill the masked parts of images with MODEL (an inpainting .onnx or checkpoint, or the
    OpenCV baselines cv2-telea and cv2-ns).

    Pixels outside the (dilated) mask are copied from the input unchanged. Example:

        ganedit inpaint runs/places/inpaint.onnx ./photos --mask ./masks -o clean/
    """
    from ..resolve import Variant

    model = job.load("inpaint", variant=Variant(), runtime=runtime)
    job.run(model.with_options(options), masks=masks)
