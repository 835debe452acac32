"""Torch module -> ONNX file carrying a ganedit model card, verified against torch."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ganedit._files import remove_stale_temporaries, temporary_prefix
from ganedit.card import METADATA_KEY, ModelCard
from ganedit.codec import padded_size
from ganedit.errors import GaneditError

__all__ = ["DEFAULT_OPSET", "ExportError", "ExportResult", "export_onnx", "verify_onnx"]

DEFAULT_OPSET = 17
# The exported graph runs in float32 like torch on the CPU; differences come from kernel
# summation order only and stay around 1e-6 for these generators.
VERIFY_TOLERANCE = 1e-4


class ExportError(GaneditError, RuntimeError):
    """The ONNX export failed, or the exported model does not match torch."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What an export produced.

    Attributes:
        path: The written ``.onnx`` file.
        card: The model card stored in it.
        max_abs_diff: Largest absolute difference between torch and onnxruntime outputs over the
            verification inputs (``None`` when verification was skipped).
        verify_shapes: The input shapes ``(B, C, H, W)`` used for verification.
    """

    path: Path
    card: ModelCard
    max_abs_diff: float | None
    verify_shapes: tuple[tuple[int, int, int, int], ...]


def _verify_shapes(card: ModelCard) -> tuple[tuple[int, int, int, int], ...]:
    # Two shapes, the second not square and (where the card allows) batch 2, so that the dynamic
    # axes are exercised; the first, which is also the shape traced, is what the runtime would
    # run a 33-pixel image at (the codec's padded size). With a size multiple of 1 it is odd:
    # a model that pads or crops odd sizes behind a Python ``if`` (RealCUGAN, and window models
    # that pad themselves) is traced with the branch taken, whose amounts the graph then
    # computes from the shape (0 at even sizes), and the second shape's even width checks
    # that. The second is about twice as tall: models that pad to a window multiple inside (up to
    # 32; SCUNet's 64 is padded in ganedit's wrapper) must pad both to different sizes, or a
    # window count frozen into the graph (DAT's shifted-window mask) would pass unseen.
    side = padded_size(33, card)
    channels = card.in_channels + (1 if card.mask is not None else 0)
    batch = 2 if card.max_batch is None or card.max_batch >= 2 else 1
    return (
        (1, channels, side, side),
        (batch, channels, padded_size(67, card), side + card.size_multiple),
    )


def export_onnx(
    module: torch.nn.Module,
    card: ModelCard,
    path: str | os.PathLike[str],
    *,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    tolerance: float = VERIFY_TOLERANCE,
    seed: int = 0,
) -> ExportResult:
    """Export ``module`` to ONNX with dynamic batch, height and width and ``card`` in its metadata.

    The module is exported in eval mode with input ``image`` ``(B, C, H, W)`` float32 and output
    ``output`` ``(B, C_out, H*scale, W*scale)``. The file is checked with ``onnx.checker``,
    written atomically, and (by default) run through onnxruntime on random inputs whose result is
    compared with torch's.

    Args:
        module: The network. It is put in eval mode (dropout off).
        card: The model card to embed under the metadata key ``ganedit``.
        path: Destination ``.onnx`` file.
        opset: ONNX opset version.
        verify: Compare onnxruntime with torch after export.
        tolerance: Largest acceptable absolute difference.
        seed: Seed of the random verification inputs.

    Returns:
        An :class:`ExportResult` with the measured difference.

    Raises:
        ExportError: The export, the ONNX check or the verification failed.

    Example:
        >>> export_onnx(generator, card, "h2z.onnx").max_abs_diff < 1e-4
        True
    """
    path = Path(path)
    module = module.eval()
    shapes = _verify_shapes(card)
    example = torch.zeros(shapes[0])
    axes = {0: "batch", 2: "height", 3: "width"}
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)  # what exports killed mid-way left
    # Staged beside the target, so that the final rename is atomic and a killed export's
    # leftovers are found (and removed) by the next export into the same folder.
    with tempfile.TemporaryDirectory(
        dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp"
    ) as tmp:
        raw = Path(tmp) / "raw.onnx"
        with warnings.catch_warnings():
            # The TorchScript-based exporter is deprecated in favour of the dynamo one, which
            # cannot express the U-Net's "height divisible by 2**depth" constraint without
            # per-model shape hints; this one handles every generator here with dynamic axes.
            warnings.simplefilter("ignore")
            try:
                with torch.no_grad():
                    torch.onnx.export(
                        module,
                        (example,),
                        str(raw),
                        dynamo=False,
                        input_names=["image"],
                        output_names=["output"],
                        dynamic_axes={"image": axes, "output": axes},
                        opset_version=opset,
                        do_constant_folding=True,
                    )
            except Exception as exc:  # torch raises many types; keep the cause attached
                raise ExportError(f"torch.onnx.export failed for {card.arch}: {exc}") from exc
        model = onnx.load(str(raw))
        model.producer_name = "ganedit"
        del model.metadata_props[:]
        entry = model.metadata_props.add()
        entry.key = METADATA_KEY
        entry.value = card.to_json()
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"exported model fails onnx.checker: {exc}") from exc
        staged = Path(tmp) / "model.onnx"
        onnx.save(model, str(staged))
        max_diff = None
        if verify:
            max_diff = verify_onnx(module, staged, shapes, seed=seed, card=card)
            if not max_diff < tolerance:
                raise ExportError(
                    f"onnxruntime output differs from torch by {max_diff:.3g} "
                    f"(tolerance {tolerance:g}) for {card.arch}"
                )
        os.replace(staged, path)
    return ExportResult(path=path, card=card, max_abs_diff=max_diff, verify_shapes=shapes)


def verify_onnx(
    module: torch.nn.Module,
    onnx_path: str | os.PathLike[str],
    shapes: tuple[tuple[int, int, int, int], ...],
    *,
    seed: int = 0,
    card: ModelCard | None = None,
) -> float:
    """Largest absolute difference between ``module`` and the ONNX file on random inputs.

    Inputs are uniform in the card's ``input_range`` (``[-1, 1]`` without a card), with the
    given ``(B, C, H, W)`` shapes; an inpainting card's mask channel gets a random 0/1 hole map.
    """
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    lo, hi = card.input_range if card is not None else (-1.0, 1.0)
    worst = 0.0
    for shape in shapes:
        x = torch.rand(shape, generator=generator) * (hi - lo) + lo
        if card is not None and card.mask is not None:
            holes = (torch.rand(shape[0], *shape[2:], generator=generator) < 0.3).float()
            x[:, card.mask.channel] = holes if card.mask.hole == 1 else 1 - holes
        with torch.no_grad():
            expected = module(x).numpy()
        (got,) = session.run(None, {"image": x.numpy()})
        if got.shape != expected.shape:
            raise ExportError(
                f"onnxruntime output shape {got.shape} differs from torch {expected.shape} "
                f"for input {shape}"
            )
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst
