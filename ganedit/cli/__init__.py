"""The ``ganedit`` command line: parse, fold options into the library's settings, call it.

Commands: ``translate``, ``upscale`` (alias ``restore``) and ``inpaint`` (folder jobs,
:mod:`.jobs`), ``models list|info|pull`` (:mod:`.models`), ``export`` (:mod:`.export`), ``bench``
(:mod:`.bench`), ``serve`` (:mod:`.serve`, the HTTP service), and ``train``/``data`` (in
``ganedit.train``, imported only when used).

Exit codes: 0 all done, 1 some files failed (or a download failed), 2 usage error (including an
unknown model or an unreadable model file), 130 stopped by Ctrl-C or SIGTERM (after the files
in flight, with the summary).
"""

from __future__ import annotations

from typing import Any

import click

from ._shared import CONTEXT, tame_warnings
from .bench import bench
from .export import export
from .jobs import inpaint, restore, translate, upscale
from .models import models
from .serve import serve

__all__ = ["main"]


class _LazyGroup(click.Group):
    """A command group whose subcommands live in a module imported only when it is used, so
    that ``ganedit translate`` never pays for importing PyTorch."""

    def __init__(self, *args: Any, target: str, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._target_path = target

    def _target(self) -> click.Group:
        import importlib

        module_name, _, attr = self._target_path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise click.ClickException(
                f"'ganedit {self.name}' could not be loaded ({exc}); it needs the train extra: "
                "pip install 'ganedit[train]'"
            ) from exc
        return getattr(module, attr)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._target().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._target().get_command(ctx, cmd_name)


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="ganedit")
def main() -> None:
    """GAN image editing: translate (CycleGAN, pix2pix), upscale (ESRGAN family) and inpaint
    folders of images with pretrained or your own models; export checkpoints to ONNX; train
    your own."""
    tame_warnings()


for _command in (translate, upscale, restore, inpaint, bench, models, export, serve):
    main.add_command(_command)
main.add_command(
    _LazyGroup(
        "train",
        target="ganedit.train.cli:train_group",
        help="Train translators (CycleGAN, pix2pix), upscalers (ESRGAN) and inpainters "
        "(needs ganedit[train]).",
        context_settings=CONTEXT,
    )
)
main.add_command(
    _LazyGroup(
        "data",
        target="ganedit.train.cli:data_group",
        help="List and download the reference training datasets.",
        context_settings=CONTEXT,
    )
)
