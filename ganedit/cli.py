"""The ``ganedit`` command line: parse, build settings, call the library.

Exit codes: 0 all done, 1 some files failed (or a download failed), 2 usage error (including an
unknown model or an unreadable model file).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from .errors import DownloadError, GaneditError
from .report import FileResult

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _ClickProgress:
    """Draws the folder job's progress bar on stderr."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled
        self._bar: Any = None

    def start(self, total: int) -> None:
        if self.enabled and total and sys.stderr.isatty():
            self._bar = click.progressbar(
                length=total, label=self.label, file=sys.stderr, show_pos=True, show_eta=True
            )
            self._bar.__enter__()

    def advance(self, result: FileResult) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _download_bar(enabled: bool) -> Callable[[int, int | None], None] | None:
    if not enabled:
        return None
    state: dict[str, Any] = {}

    def progress(done: int, total: int | None) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = click.progressbar(length=total, label="downloading", file=sys.stderr)
            bar.__enter__()
            state["bar"], state["done"] = bar, 0
        bar.update(done - state["done"])
        state["done"] = done
        if total is not None and done >= total:
            bar.__exit__(None, None, None)

    return progress


class _EchoHandler(logging.Handler):
    """Writes log records with click.echo to whatever stderr is current (CliRunner swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def _log_to_stderr(quiet: bool) -> None:
    """Show the library's progress notes (download, conversion) unless --quiet."""
    logger = logging.getLogger("ganedit")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _EchoHandler)]
    if not quiet:
        logger.addHandler(_EchoHandler())
        logger.setLevel(logging.INFO)


def _fail(exc: Exception) -> NoReturn:
    code = 1 if isinstance(exc, DownloadError) else 2
    click.echo(f"Error: {exc}", err=True)
    sys.exit(code)


_norm_stats_option = click.option(
    "--norm-stats",
    type=click.Choice(["image", "running"]),
    default="image",
    show_default=True,
    help="Batch-norm models: per-image statistics (pix2pix test-time) or the running ones.",
)
_backend_option = click.option(
    "--backend",
    type=click.Choice(["onnxruntime", "torch", "auto"]),
    default="onnxruntime",
    show_default=True,
    help="Run the ONNX model with onnxruntime, or a checkpoint/named model with PyTorch "
    "(auto: torch only where onnxruntime lacks CUDA and torch has it).",
)

_half_option = click.option(
    "--half",
    is_flag=True,
    help="Run a float16 variant of the model (made once, cached). CUDA only, never the CPU.",
)


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
    """GAN image editing: translate folders of images with CycleGAN and pix2pix models, and
    train your own."""


def _ext(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from .imageio import format_for_suffix

    ext = value if value.startswith(".") else f".{value}"
    try:
        format_for_suffix(ext)
    except GaneditError as exc:
        raise click.BadParameter(str(exc)) from exc
    return ext.lower()


def _folder_options(func: Any) -> Any:
    """The options every folder command (translate, upscale, inpaint) shares."""
    options = [
        click.argument("model"),
        click.argument(
            "inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
        ),
        click.option(
            "-o",
            "--output",
            required=True,
            type=click.Path(file_okay=False, path_type=Path),
            help="Folder for the results; inputs keep their relative paths under it.",
        ),
        click.option("-r", "--recursive", is_flag=True, help="Descend into subfolders."),
        click.option(
            "--overwrite", is_flag=True, help="Redo outputs that exist (default: skip them)."
        ),
        click.option(
            "--ext", callback=_ext, help="Output format by suffix, e.g. png (default: input's)."
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="Where the model runs.",
        ),
        click.option(
            "--workers",
            default=None,
            type=click.IntRange(min=1),
            help="Decode and encode threads (each; default 2 on the CPU, up to 8 on a GPU).",
        ),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            default=None,
            help="CPU threads for the network (default: all cores).",
        ),
        click.option(
            "--jpeg-quality",
            default=95,
            show_default=True,
            type=click.IntRange(1, 100),
            help="Quality of JPEG and WebP outputs.",
        ),
        click.option(
            "--no-fsync",
            is_flag=True,
            help="Do not fsync each output (faster on big jobs; still atomic, but a power cut "
            "may lose the newest files).",
        ),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary."),
        click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _run_folder(
    loaded: Any,
    inputs: tuple[Path, ...],
    output: Path,
    settings: Any,
    quiet: bool,
    as_json: bool,
    **extra: Any,
) -> NoReturn:
    from .pipeline import process_folder

    progress = _ClickProgress(f"{loaded.card.name}", enabled=not quiet)
    try:
        report = process_folder(
            loaded, inputs, output, settings=settings, progress=progress, **extra
        )
    except GaneditError as exc:
        progress.close()
        _fail(exc)
    progress.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    if not quiet:
        click.echo(report.summary(), err=True)
    elif report.failed:
        for failure in report.failed:
            click.echo(f"failed: {failure.source}: {failure.reason}", err=True)
    sys.exit(report.exit_code)


def _load(model: str, *, quiet: bool, **options: Any) -> Any:
    from .loading import load

    _log_to_stderr(quiet)
    try:
        return load(model, progress=_download_bar(not quiet), **options)
    except (GaneditError, ImportError, ValueError) as exc:
        _fail(exc)


def _require_task(loaded: Any, model: str, task: str) -> None:
    if loaded.card.task != task:
        other = loaded.card.task
        article = "an" if other[0] in "aeiou" else "a"
        _fail(
            GaneditError(f"{model} is {article} {other} model, not {task}: use `ganedit {other}`")
        )


@main.command(context_settings=CONTEXT)
@_folder_options
@click.option(
    "--batch-size",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Images of equal padded size run through the network together.",
)
@click.option(
    "--bucket",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    metavar="PIXELS",
    help="Pad sizes up to a multiple of PIXELS so that nearby sizes batch together "
    "(0: off; changes results near the right and bottom edges slightly).",
)
@_norm_stats_option
@_half_option
@_backend_option
def translate(
    model: str,
    inputs: tuple[Path, ...],
    output: Path,
    recursive: bool,
    batch_size: int,
    bucket: int,
    overwrite: bool,
    ext: str | None,
    device: str,
    norm_stats: str,
    workers: int | None,
    threads: int | None,
    jpeg_quality: int,
    no_fsync: bool,
    quiet: bool,
    as_json: bool,
    backend: str,
    half: bool,
) -> None:
    """Translate images with MODEL (a zoo name, an .onnx or a checkpoint).

    INPUTS are image files and folders. Example:

        ganedit translate horse2zebra ./photos -o out/
    """
    from .pipeline import FolderSettings

    settings = FolderSettings(
        recursive=recursive,
        batch_size=batch_size,
        overwrite=overwrite,
        ext=ext,
        workers=workers,
        jpeg_quality=jpeg_quality,
        fsync=not no_fsync,
    )
    loaded = _load(
        model,
        quiet=quiet,
        device=device,
        norm_stats=norm_stats,
        threads=threads,
        half=half,
        backend=backend,
    )
    _require_task(loaded, model, "translate")
    if bucket:
        loaded = loaded.with_options(bucket=bucket)
    _run_folder(loaded, inputs, output, settings, quiet, as_json)


@main.command(context_settings=CONTEXT)
@_folder_options
@click.option(
    "--outscale",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Final size factor (default: the model's scale); any value, resized in float.",
)
@click.option(
    "--tile",
    type=click.IntRange(min=0),
    default=512,
    show_default=True,
    help="Largest tile side in input pixels (0: whole images). Tiles overlap and are blended.",
)
@click.option(
    "--tile-overlap",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Input pixels shared by neighbouring tiles.",
)
@click.option(
    "--tile-batch",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Tiles per network call.",
)
@click.option(
    "--alpha-mode",
    type=click.Choice(["resize", "network"]),
    default="resize",
    show_default=True,
    help="Upscale alpha with a high-quality resize, or with the model.",
)
@click.option(
    "--denoise",
    type=click.FloatRange(0, 1),
    default=None,
    help="realesr-general-x4v3 only: 1 = its own denoising, 0 = keep grain (the -wdn model).",
)
@_half_option
@_backend_option
def upscale(
    model: str,
    inputs: tuple[Path, ...],
    output: Path,
    recursive: bool,
    overwrite: bool,
    ext: str | None,
    device: str,
    workers: int | None,
    threads: int | None,
    jpeg_quality: int,
    no_fsync: bool,
    quiet: bool,
    as_json: bool,
    backend: str,
    outscale: float | None,
    tile: int,
    tile_overlap: int,
    tile_batch: int,
    alpha_mode: str,
    denoise: float | None,
    half: bool,
) -> None:
    """Upscale images with MODEL (realesrgan-x4plus, an .onnx or an ESRGAN-family checkpoint).

    Example:

        ganedit upscale realesrgan-x4plus ./scans -o big/ --tile 512 --outscale 3
    """
    from .pipeline import FolderSettings

    settings = FolderSettings(
        recursive=recursive,
        overwrite=overwrite,
        ext=ext,
        workers=workers,
        jpeg_quality=jpeg_quality,
        fsync=not no_fsync,
    )
    loaded = _load(
        model,
        quiet=quiet,
        device=device,
        threads=threads,
        denoise=denoise,
        half=half,
        backend=backend,
    )
    _require_task(loaded, model, "upscale")
    try:
        loaded = loaded.with_options(
            outscale=outscale,
            tile=tile,
            tile_overlap=tile_overlap,
            tile_batch=tile_batch,
            alpha_mode=alpha_mode,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    _run_folder(loaded, inputs, output, settings, quiet, as_json)


@main.command(context_settings=CONTEXT)
@_folder_options
@click.option(
    "--mask",
    "mask",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="One mask for every image, or a folder of masks matched by relative path and stem "
    "(photo.jpg <- photo_mask.png or photo.png). White (non-zero) = hole.",
)
@click.option("--invert-mask", is_flag=True, help="Black (zero) is the hole instead.")
@click.option(
    "--resize-mask",
    is_flag=True,
    help="Resize masks of another size to the image (nearest neighbour) instead of failing.",
)
@click.option(
    "--dilate",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Grow each hole by N pixels (covers halos around removed objects).",
)
@click.option(
    "--feather",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Blend over N pixels inside the hole's border; outside pixels never change.",
)
@click.option(
    "--strategy",
    type=click.Choice(["crop", "resize", "full"]),
    default="crop",
    show_default=True,
    help="crop: a crop around each masked region; resize: the whole image shrunk to "
    "--resize-limit, only the hole pasted back; full: the whole image.",
)
@click.option(
    "--crop-margin",
    type=click.IntRange(min=0),
    default=None,
    help="Context pixels around each masked region (crop strategy) [default: 128; 16 for cv2-*].",
)
@click.option(
    "--resize-limit",
    type=click.IntRange(min=16),
    default=512,
    show_default=True,
    help="Longer side the network sees (resize strategy).",
)
@_backend_option
def inpaint(
    model: str,
    inputs: tuple[Path, ...],
    output: Path,
    recursive: bool,
    overwrite: bool,
    ext: str | None,
    device: str,
    workers: int | None,
    threads: int | None,
    jpeg_quality: int,
    no_fsync: bool,
    quiet: bool,
    as_json: bool,
    backend: str,
    mask: Path,
    invert_mask: bool,
    resize_mask: bool,
    dilate: int,
    feather: int,
    strategy: str,
    crop_margin: int | None,
    resize_limit: int,
) -> None:
    """Fill the masked parts of images with MODEL (an inpainting .onnx or checkpoint, or the
    OpenCV baselines cv2-telea and cv2-ns).

    Pixels outside the (dilated) mask are copied from the input unchanged. Example:

        ganedit inpaint runs/places/inpaint.onnx ./photos --mask ./masks -o clean/
    """
    from .masks import MaskError, MaskSource
    from .pipeline import FolderSettings

    settings = FolderSettings(
        recursive=recursive,
        overwrite=overwrite,
        ext=ext,
        workers=workers,
        jpeg_quality=jpeg_quality,
        fsync=not no_fsync,
    )
    loaded = _load(model, quiet=quiet, device=device, threads=threads, backend=backend)
    _require_task(loaded, model, "inpaint")
    changes: dict[str, Any] = {
        "invert_mask": invert_mask,
        "resize_mask": resize_mask,
        "dilate": dilate,
        "feather": feather,
        "strategy": strategy,
        "resize_limit": resize_limit,
    }
    if crop_margin is not None:
        changes["crop_margin"] = crop_margin
    loaded = loaded.with_options(**changes)
    try:
        masks = MaskSource(mask)
    except MaskError as exc:
        _fail(exc)
    _run_folder(loaded, inputs, output, settings, quiet, as_json, masks=masks)


@main.command(context_settings=CONTEXT)
@click.argument("model")
@click.option(
    "--size",
    "sizes",
    default="256",
    show_default=True,
    help="Input size N or WIDTHxHEIGHT; several comma-separated sizes are each measured.",
)
@click.option(
    "--batch",
    "batches",
    default="1",
    show_default=True,
    help="Images per call; several comma-separated values (1,4,8) are each measured.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Timed wall-clock budget of each measurement.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the model runs.",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads.")
@click.option("-q", "--quiet", is_flag=True, help="Only the results.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@_half_option
@_backend_option
def bench(
    model: str,
    sizes: str,
    batches: str,
    seconds: float,
    device: str,
    threads: int | None,
    quiet: bool,
    as_json: bool,
    half: bool,
    backend: str,
) -> None:
    """Measure MODEL's images/s (the network alone) and how busy the GPU or CPU is.

    Example:

        ganedit bench horse2zebra --size 256,512 --batch 1,4,16 --device cuda
    """
    from .bench import bench_model, parse_size

    try:
        shapes = [parse_size(part) for part in sizes.split(",")]
        counts = [int(part) for part in batches.split(",")]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if min(counts) < 1:
        raise click.BadParameter(f"batch sizes must be >= 1, got {batches}")
    loaded = _load(model, quiet=quiet, device=device, threads=threads, half=half, backend=backend)
    if not hasattr(loaded, "run_batch") or loaded.card.arch.startswith("cv2_"):
        _fail(GaneditError(f"{model} is not a network; there is nothing to benchmark"))
    if not quiet and not as_json:
        click.echo(f"{loaded.card.name} on {', '.join(loaded.providers)}", err=True)
    results = []
    for height, width in shapes:
        for count in counts:
            try:
                result = bench_model(
                    loaded, height=height, width=width, batch=count, seconds=seconds
                )
            except Exception as exc:  # out of memory, or a size the model cannot take
                click.echo(f"batch {count} at {width}x{height}: failed: {exc}", err=True)
                continue
            results.append(result)
            if not as_json:
                click.echo(result.summary())
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    sys.exit(0 if results else 1)


@main.group(context_settings=CONTEXT)
def models() -> None:
    """List, describe and download named models."""


_BASELINE_DESCRIPTIONS = {
    "cv2-telea": "OpenCV cv2.inpaint, Telea's fast marching; built in, fast on thin scratches",
    "cv2-ns": "OpenCV cv2.inpaint, Navier-Stokes; built in",
}


@models.command("list", context_settings=CONTEXT)
@click.option("--task", type=click.Choice(["translate", "upscale", "inpaint"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models_list(task: str | None, as_json: bool) -> None:
    """List the named models."""
    from .inpaint import BASELINES
    from .zoo import ModelCache, default_registry

    cache = ModelCache()
    rows = [
        {
            "name": e.name,
            "task": e.task,
            "family": e.family,
            "cached": cache.is_cached(e),
            "description": e.description,
        }
        for e in default_registry().entries(task=task)
    ]
    if task in (None, "inpaint"):
        rows += [
            {
                "name": name,
                "task": "inpaint",
                "family": "opencv",
                "cached": False,  # nothing to download: built in
                "builtin": True,
                "description": _BASELINE_DESCRIPTIONS[name],
            }
            for name in BASELINES
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(row["name"]) for row in rows), default=4)
    for row in rows:
        mark = "*" if row["cached"] else " "
        click.echo(
            f"{mark} {row['name']:<{width}}  {row['task']:<9}  {row['family']:<8}  "
            f"{row['description']}"
        )
    click.echo("(* downloaded)", err=True)


@models.command("info", context_settings=CONTEXT)
@click.argument("name")
def models_info(name: str) -> None:
    """Describe a named model, or the card of an .onnx file."""
    from .card import ModelCard
    from .session import create_session, read_card
    from .zoo import ModelCache, default_registry

    path = Path(name)
    try:
        if path.suffix.lower() == ".onnx" and path.is_file():
            card: ModelCard = read_card(create_session(path, device="cpu"), path)
            click.echo(json.dumps(card.to_dict(), indent=2))
            return
        entry = default_registry().get(name)
    except GaneditError as exc:
        _fail(exc)
    cache = ModelCache()
    state = "cached" if cache.is_cached(entry) else "not downloaded"
    rows = {
        "name": entry.name,
        "aliases": ", ".join(entry.aliases),
        "task": entry.task,
        "family": entry.family,
        "description": entry.description,
        "url": entry.url,
        "source": entry.source,
        "license": entry.license,
        "sha256": entry.sha256 or "(recorded on first download)",
        "weights": f"{cache.weights_path(entry)} ({state})",
        "onnx": str(cache.onnx_path(entry)),
    }
    for key, value in rows.items():
        if value:
            click.echo(f"{key:>12}: {value}")


@models.command("pull", context_settings=CONTEXT)
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if cached.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def models_pull(names: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Download named models into the cache ($GANEDIT_HOME, default ~/.cache/ganedit)."""
    from .zoo import ModelCache, default_registry

    cache = ModelCache()
    failed = False
    for name in names:
        try:
            entry = default_registry().get(name)
            path = cache.fetch(entry, force=force, progress=_download_bar(not quiet))
        except DownloadError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed = True
            continue
        except GaneditError as exc:
            _fail(exc)
        click.echo(f"{entry.name}: {path}")
    sys.exit(1 if failed else 0)


@main.command(context_settings=CONTEXT)
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .onnx file to write.",
)
@click.option(
    "--direction",
    type=click.Choice(["AtoB", "BtoA"]),
    default="AtoB",
    show_default=True,
    help="For a training run directory: which generator to export.",
)
@click.option("--name", default=None, help="Model name for the card (default: file or run name).")
@click.option("--source", default=None, help="Where the weights came from (default: the path).")
@click.option("--license", "license_", default="", help="Licence of the weights.")
@_norm_stats_option
def export(
    checkpoint: Path,
    output: Path,
    direction: str,
    name: str | None,
    source: str | None,
    license_: str,
    norm_stats: str,
) -> None:
    """Convert a checkpoint or a training run to a self-describing, verified ONNX model.

    CHECKPOINT is a .pth/.pt/.safetensors generator or a run directory made by `ganedit train`
    (its latest checkpoint, generator for --direction).
    """
    try:
        from ganedit.export import checkpoint_to_onnx, run_generator
    except ImportError as exc:
        _fail(ImportError(f"export needs PyTorch and onnx: pip install 'ganedit[train]' ({exc})"))
    try:
        if checkpoint.is_dir():
            weights = run_generator(checkpoint, direction)  # type: ignore[arg-type]
            default_name = checkpoint.resolve().name + ("" if direction == "AtoB" else "_BtoA")
        else:
            weights, default_name = checkpoint, checkpoint.stem
        result = checkpoint_to_onnx(
            weights,
            output,
            name=name or default_name,
            source=source or str(weights),
            license=license_,
            norm_stats=norm_stats,  # type: ignore[arg-type]
        )
    except GaneditError as exc:
        _fail(exc)
    card = result.card
    click.echo(
        f"exported {card.arch} ({card.in_channels}->{card.out_channels} channels, size multiple "
        f"{card.size_multiple}) to {result.path}"
    )
    click.echo(f"verified against torch: max abs diff {result.max_abs_diff:.3g}")


main.add_command(
    _LazyGroup(
        "train",
        target="ganedit.train.cli:train_group",
        help="Train CycleGAN and pix2pix translators (needs ganedit[train]).",
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


if __name__ == "__main__":
    main()
