"""The option groups of the ``ganedit train`` commands, and what they share.

Each group (:func:`~ganedit.cli._shared.option_group`) adds its click options to a command and
hands the command one typed object of :mod:`.config` built from them: ``run``
(:class:`TrainRun`), ``data`` (:class:`DataOptions`), ``net``, ``optim``, ``loss``. A command's
body builds the :class:`TrainConfig` from them and calls :func:`run_training`. Groups that
differ per recipe take the recipe's defaults (or its own options) as parameters.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import click

from ganedit.archs.cyclegan.spec import resnet_arch_id
from ganedit.cli._shared import Decorator, option_group
from ganedit.errors import GaneditError

from .config import DataOptions, NetworkOptions, OptimOptions, RunOptions, TrainConfig

__all__ = [
    "CONTEXT",
    "TRANSLATION_HELP",
    "TrainRun",
    "beta1_option",
    "in_help_order",
    "lr_option",
    "network_group",
    "no_flip_option",
    "photo_data_group",
    "photo_epochs_option",
    "require_data_and_out",
    "run_group",
    "run_training",
    "translation_data_group",
    "translation_optim_group",
]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def in_help_order(*layout: str) -> Callable[[click.Command], click.Command]:
    """Show a command's options in ``--help`` in the order of ``layout`` (option names,
    space-separated), which must name every option of the command once.

    Option groups add their options as one block each; the training commands keep the order
    their ``--help`` has always had, which interleaves the groups (the translation recipes'
    network options stand between two runs of data options, the run options are split).
    """
    names = " ".join(layout).split()

    def sort(command: click.Command) -> click.Command:
        rank = {name: i for i, name in enumerate(names)}
        declared = [param.opts[0] for param in command.params]
        if len(rank) != len(names) or set(rank) != set(declared):
            raise ValueError(
                f"the help order of `{command.name}` must name each of its options once: "
                f"missing {sorted(set(declared) - set(rank))}, "
                f"unknown {sorted(set(rank) - set(declared))}, given {len(names)} names"
            )
        command.params.sort(key=lambda param: rank[param.opts[0]])
        return command

    return sort


# -- the run: new (--data, --out) or resumed (--resume) ------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrainRun:
    """The run group's result: how the run is carried out, and whether it continues the run in
    ``options.out`` (``--resume``) rather than starting one there."""

    options: RunOptions
    resume: bool


def require_data_and_out(*, data: Path | None, out: Path | None, resume: Path | None) -> None:
    """A new run needs ``--data`` and ``--out``; a resumed one takes them from its directory."""
    if resume is None and (data is None or out is None):
        raise click.UsageError("--data and --out are required (or --resume RUN_DIR)")


def _train_run(
    *,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    seed: int,
    save_every: int,
    sample_every: int,
    log_every: int,
    keep: int,
    device: str,
    deterministic: bool,
    amp: bool,
) -> TrainRun:
    # --data is the data group's (the dataset root); the rule for a new run needs it too.
    data = click.get_current_context().params["data"]
    require_data_and_out(data=data, out=out, resume=resume)
    options = RunOptions(
        out=str(resume if resume is not None else out),  # a resumed run lives where it is
        max_steps=max_steps,
        save_every=save_every,
        sample_every=sample_every,
        log_every=log_every,
        keep=keep,
        seed=seed,
        device=device,
        deterministic=deterministic,
        amp=amp,
    )
    return TrainRun(options=options, resume=resume is not None)


run_group = option_group(
    "run",
    _train_run,
    [
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
    ],
)
"""--out, --resume, --max-steps and how the run is carried out, as ``run`` (a
:class:`TrainRun`). ``--data`` (a data group's) and ``--out`` are required unless ``--resume``:
put this group first, so that this rule comes before the other groups' errors."""


def run_training(config: TrainConfig, resume: bool) -> None:
    from .loop import train

    try:
        run_dir = train(config, resume=resume)
    except GaneditError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if int(os.environ.get("RANK", "0")) == 0:  # one line, not one per torchrun process
        click.echo(f"run directory: {run_dir}")
        click.echo(f"export it with: ganedit export {run_dir} -o {Path(run_dir).name}.onnx")


# -- data ----------------------------------------------------------------------------------------

data_option = click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Dataset folder (required unless --resume).",
)
no_flip_option = click.option("--no-flip", is_flag=True, help="No random horizontal flips.")


def _root(data: Path | None) -> str:
    """The dataset root of a new run; a resumed run reads its own from its config.json."""
    return str(data) if data is not None else ""


def _translation_data(
    *,
    data: Path | None,
    mode: Literal["auto", "unaligned", "aligned", "paired"],
    direction: Literal["AtoB", "BtoA"],
    load_size: int,
    crop_size: int,
    preprocess: str,
    no_flip: bool,
    batch_size: int,
    workers: int,
    max_size: int | None,
) -> DataOptions:
    return DataOptions(
        root=_root(data),
        mode=mode,
        direction=direction,
        load_size=load_size,
        crop_size=crop_size,
        preprocess=preprocess,
        no_flip=no_flip,
        batch_size=batch_size,
        workers=workers,
        max_size=max_size,
    )


translation_data_group = option_group(
    "data",
    _translation_data,
    [
        data_option,
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
        no_flip_option,
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
    ],
)
"""The translation recipes' dataset options (cyclegan, pix2pix), as ``data``."""


def photo_data_group(
    *, crop_size: Decorator, no_flip: Decorator, crop_multiple: int = 1
) -> Decorator:
    """The one-folder recipes' dataset options (sr, inpaint: square crops of photos), as
    ``data``, with the recipe's own ``--crop-size`` and ``--no-flip`` options; a crop size that
    is not a multiple of ``crop_multiple`` is a usage error."""

    def build(
        *,
        data: Path | None,
        crop_size: int,
        no_flip: bool,
        batch_size: int,
        workers: int,
        max_size: int | None,
    ) -> DataOptions:
        if crop_size % crop_multiple:
            raise click.BadParameter(
                f"--crop-size must be a multiple of {crop_multiple}", param_hint="--crop-size"
            )
        return DataOptions(
            root=_root(data),
            crop_size=crop_size,
            load_size=crop_size,
            no_flip=no_flip,
            batch_size=batch_size,
            workers=workers,
            max_size=max_size,
        )

    return option_group(
        "data",
        build,
        [
            data_option,
            crop_size,
            no_flip,
            click.option("--batch-size", type=click.IntRange(min=1), default=4, show_default=True),
            click.option("--workers", type=click.IntRange(min=0), default=2, show_default=True),
            click.option("--max-size", type=click.IntRange(min=1), default=None),
        ],
    )


# -- networks ------------------------------------------------------------------------------------


def network_group(defaults: NetworkOptions) -> Decorator:
    """The translation recipes' network options, with the recipe's reference ``defaults``
    (``net_g``, ``norm``, ``dropout``), as ``net`` (a :class:`NetworkOptions`)."""

    def build(
        *,
        net_g: str,
        n_blocks: int | None,
        ngf: int,
        ndf: int,
        n_layers_d: int,
        norm: Literal["instance", "batch", "none"],
        dropout: bool,
        in_channels: int,
        out_channels: int,
        init_type: str,
    ) -> NetworkOptions:
        return NetworkOptions(
            in_channels=in_channels,
            out_channels=out_channels,
            ngf=ngf,
            ndf=ndf,
            net_g=net_g if n_blocks is None else resnet_arch_id(n_blocks),
            n_layers_d=n_layers_d,
            norm=norm,
            dropout=dropout,
            init_type=init_type,
        )

    return option_group(
        "net",
        build,
        [
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
            click.option(
                "--init-type",
                type=click.Choice(["normal", "xavier", "kaiming", "orthogonal"]),
                default="normal",
                show_default=True,
            ),
        ],
    )


# -- optimisation --------------------------------------------------------------------------------


def lr_option(default: float) -> Decorator:
    """``--lr`` with the recipe's reference ``default``."""
    return click.option(
        "--lr", type=click.FloatRange(min=0, min_open=True), default=default, show_default=True
    )


beta1_option = click.option("--beta1", type=click.FloatRange(0, 1), default=0.5, show_default=True)
photo_epochs_option = click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Passes over the photos (constant learning rate; use --max-steps).",
)
"""``--epochs`` of the one-folder recipes (sr, inpaint)."""


def _translation_optim(
    *, epochs: int, epochs_decay: int, lr: float, beta1: float, lr_policy: str
) -> OptimOptions:
    return OptimOptions(
        lr=lr, beta1=beta1, epochs=epochs, epochs_decay=epochs_decay, lr_policy=lr_policy
    )


translation_optim_group = option_group(
    "optim",
    _translation_optim,
    [
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
        lr_option(2e-4),
        beta1_option,
        click.option(
            "--lr-policy",
            type=click.Choice(["linear", "step", "cosine"]),
            default="linear",
            show_default=True,
        ),
    ],
)
"""The translation recipes' Adam and schedule options, as ``optim``."""

TRANSLATION_HELP = """
    --data --out --resume --max-steps --mode --direction --epochs --epochs-decay
    --net-g --n-blocks --ngf --ndf --n-layers-d --norm --dropout --in-channels --out-channels
    --load-size --crop-size --preprocess --no-flip --batch-size --workers --max-size
    --lr --beta1 --lr-policy --init-type
    --seed --save-every --sample-every --log-every --keep --device --deterministic --amp
"""
"""The ``--help`` order of the options the translation recipes share (their loss options
follow)."""
