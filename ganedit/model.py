"""Loaded models: a session plus its card, callable on PIL images and numpy arrays."""

from __future__ import annotations

import abc
import copy
import dataclasses
import os
from collections.abc import Hashable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np

from .card import ModelCard
from .errors import GaneditError
from .processing import Prepared, convert_depth, postprocess, prepare, scale_alpha
from .session import Device, create_session, read_card

if TYPE_CHECKING:
    import onnxruntime
    from PIL import Image

__all__ = [
    "ImageModel",
    "Model",
    "TranslateOptions",
    "Translator",
    "WorkItem",
    "model_for_card",
    "register_task",
]

_GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")

ImageLike = TypeVar("ImageLike", "Image.Image", np.ndarray)


class Model:
    """A ganedit ONNX model: an onnxruntime session and the card that says how to feed it.

    Build one with :func:`ganedit.load`. ``model.card`` is the :class:`~ganedit.ModelCard`.
    """

    def __init__(self, session: onnxruntime.InferenceSession, card: ModelCard, path: Path):
        self._session = session
        self.card = card
        self.path = path
        self._input_name = session.get_inputs()[0].name
        # On the GPU, inputs and outputs go through IO binding: one host->device copy in, the
        # output allocated by onnxruntime on the device and copied out once.
        on_gpu = session.get_providers()[0] in _GPU_PROVIDERS
        self._bind_device: str | None = "cuda" if on_gpu else None

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        device: Device = "auto",
        providers: Sequence[str] | None = None,
        threads: int | None = None,
    ) -> Model:
        """Open an ``.onnx`` file made by ``ganedit export``."""
        session = create_session(path, device=device, providers=providers, threads=threads)
        return cls(session, read_card(session, path), Path(path))

    @property
    def providers(self) -> list[str]:
        """The onnxruntime execution providers in use, best first (``torch:DEVICE:PRECISION``
        on the torch backend)."""
        return list(self._session.get_providers())

    @property
    def on_gpu(self) -> bool:
        """Whether the network runs on a GPU (CUDA or TensorRT, on either backend)."""
        first = self.providers[0]
        return first in _GPU_PROVIDERS or first.startswith("torch:cuda")

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on a prepared batch.

        Args:
            batch: ``(B, C, H, W)`` float32 in the card's ``input_range``, H and W multiples of
                ``size_multiple``.

        Returns:
            ``(B, C_out, H*scale, W*scale)`` float32 in the card's ``output_range``.
        """
        if self._bind_device is not None:
            return self._run_bound(batch, self._bind_device)
        (out,) = self._session.run(None, {self._input_name: batch})
        return out

    def _run_bound(self, batch: np.ndarray, device: str) -> np.ndarray:
        """:meth:`run_batch` through onnxruntime's IO binding on ``device`` ("cuda", "cpu")."""
        import onnxruntime as ort

        binding = self._session.io_binding()
        value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(batch), device, 0)
        binding.bind_ortvalue_input(self._input_name, value)
        binding.bind_output(self._session.get_outputs()[0].name, device)
        self._session.run_with_iobinding(binding)
        (out,) = binding.copy_outputs_to_cpu()
        return out

    def run_prepared(self, items: Sequence[Prepared]) -> list[np.ndarray]:
        """Run equal-shaped prepared images as one batch; one ``(C, H, W)`` output each."""
        batch = np.stack([item.tensor for item in items])
        return list(self.run_batch(batch))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.card.name!r}, path={str(self.path)!r})"


def _split_array(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if image.ndim == 2:
        return image[:, :, None], None
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1..4, got {image.shape}")
    if image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def _split_pil(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16)[:, :, None], None
    if image.mode == "I":
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)[:, :, None], None
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0, 1)[:, :, None], None
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    grey = image.mode in ("1", "L", "LA", "La")
    target = ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")
    return _split_array(np.asarray(image.convert(target)))


@dataclasses.dataclass(eq=False)
class WorkItem:
    """One image on its way through a model: :meth:`Model.begin` -> ``run_items`` -> ``finish``.

    Attributes:
        payload: What the model prepared (a padded tensor, a float image, ...).
        alpha: The input's alpha plane, ``(H, W)``, or ``None``.
        dtype: The dtype the result is quantised to (uint8, uint16 or a float type).
        key: Items with equal keys may share one ``run_items`` call (a batch).
    """

    payload: Any
    alpha: np.ndarray | None
    dtype: np.dtype
    key: Hashable


def _as_arrays(image: ImageLike) -> tuple[np.ndarray, np.ndarray | None]:
    from PIL import Image

    if isinstance(image, Image.Image):
        return _split_pil(image)
    if isinstance(image, np.ndarray):
        return _split_array(image)
    raise TypeError(f"expected a PIL image or a numpy array, got {type(image).__name__}")


def _as_original_kind(
    original: ImageLike, color: np.ndarray, alpha: np.ndarray | None
) -> ImageLike:
    from PIL import Image

    if alpha is not None:
        color = np.concatenate([color, alpha[:, :, None].astype(color.dtype)], axis=2)
    if not isinstance(original, Image.Image):
        if original.ndim == 2 and color.shape[2] == 1:
            return color[:, :, 0]
        return color
    if color.shape[2] == 1:
        return Image.fromarray(color[:, :, 0])  # uint8 -> "L", uint16 -> "I;16"
    return Image.fromarray(color)  # 2 -> "LA", 3 -> "RGB", 4 -> "RGBA"


_Self = TypeVar("_Self", bound="ImageModel")


class ImageModel(Model, abc.ABC):
    """A model from images to images; subclasses define :meth:`begin`, :meth:`run_items` and
    :meth:`finish`, which both the Python API and the folder pipeline drive, and keep their
    settings in ``options``, a frozen dataclass."""

    options: Any

    def with_options(self: _Self, **changes: Any) -> _Self:
        """A copy (sharing the loaded network) with some of its ``options`` changed."""
        clone = copy.copy(self)
        clone.options = dataclasses.replace(self.options, **changes)
        return clone

    @abc.abstractmethod
    def begin(self, color: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> WorkItem:
        """Prepare one image (runs in decode threads)."""

    @abc.abstractmethod
    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        """Run the network on items with equal keys (runs in the runner thread)."""

    @abc.abstractmethod
    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """The result as ``(color (H, W, C), alpha (H, W) or None)`` of ``item.dtype``
        (runs in encode threads)."""

    #: Whether grey inputs come back grey (upscaling, inpainting) rather than as the network's
    #: channel count (translation: a grey photo through an RGB model comes back RGB).
    keeps_grey: bool = False

    def _output_dtype(self, original: ImageLike, dtype: np.dtype) -> np.dtype:
        from PIL import Image

        if not isinstance(original, Image.Image) or dtype != np.uint16:
            return np.dtype(dtype)
        grey = self.card.out_channels == 1 or (
            self.keeps_grey and original.mode in ("L", "LA", "I;16", "I", "1")
        )
        return np.dtype(dtype if grey else np.uint8)  # Pillow has no 16-bit RGB mode

    @overload
    def __call__(self, image: Image.Image) -> Image.Image: ...
    @overload
    def __call__(self, image: np.ndarray) -> np.ndarray: ...

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
        """Run the model on one image.

        Args:
            image: A PIL image (any mode; EXIF orientation is not applied here — use
                ``ImageOps.exif_transpose`` first if needed), or an ``(H, W)`` / ``(H, W, C)``
                array, C in 1..4 (2 and 4 carry alpha last), uint8, uint16 or float in [0, 1].

        Returns:
            The same kind as the input: an array keeps its dtype; a PIL image comes back as
            ``RGB``/``RGBA`` (``L``/``LA`` for grey results) with 8 bits per channel, or
            ``I;16`` for 16-bit grey. Alpha is carried over. The size is the input's times
            ``card.scale`` (or the upscaler's ``outscale``).
        """
        (out,) = self.map([image], batch_size=1)
        return out

    def map(self, images: Iterable[ImageLike], *, batch_size: int = 4) -> Iterator[ImageLike]:
        """Run the model over a stream of images, lazily, in order.

        Consecutive images that can share a batch (equal padded shapes) are run together, up
        to ``batch_size``. Results do not depend on the batching.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        iterator = iter(images)
        while chunk := list(islice(iterator, batch_size)):
            items = []
            for image in chunk:
                color, alpha = _as_arrays(image)
                items.append(self.begin(color, alpha, self._output_dtype(image, color.dtype)))
            outputs: list[Any] = [None] * len(items)
            groups: dict[Hashable, list[int]] = {}
            for index, item in enumerate(items):
                groups.setdefault(item.key, []).append(index)
            for indices in groups.values():
                results = self.run_items([items[i] for i in indices])
                for i, result in zip(indices, results, strict=True):
                    outputs[i] = result
            for original, item, output in zip(chunk, items, outputs, strict=True):
                yield _as_original_kind(original, *self.finish(item, output))


@dataclasses.dataclass(frozen=True)
class TranslateOptions:
    """How a :class:`Translator` runs.

    Attributes:
        bucket: Pad each image up to a multiple of this many pixels (0: only to the model's
            size multiple), so that photos of nearby sizes share one shape and batch
            together. Padding is mirrored and cropped off again, but it widens what the
            network sees: pixels within its receptive field of the right and bottom edges,
            and for instance-normalised generators the whole image's statistics, change
            slightly with it.
    """

    bucket: int = 0

    def __post_init__(self) -> None:
        if self.bucket < 0:
            raise ValueError(f"bucket must be >= 0, got {self.bucket}")


class Translator(ImageModel):
    """Image-to-image translation (CycleGAN, pix2pix): output has the input's size.

    Example:
        >>> t = ganedit.load("horse2zebra")
        >>> zebra = t(Image.open("horse.jpg"))
        >>> fast = t.with_options(bucket=64)  # nearby sizes batch together
    """

    options: TranslateOptions = TranslateOptions()

    def begin(self, color: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> WorkItem:
        prepared = prepare(color, self.card, bucket=self.options.bucket)
        return WorkItem(prepared, alpha, np.dtype(dtype), prepared.shape_key)

    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        return self.run_prepared([item.payload for item in items])

    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        prepared: Prepared = item.payload
        color = postprocess(output, self.card, prepared.height, prepared.width, item.dtype)
        alpha = item.alpha
        if alpha is not None:
            if alpha.dtype != color.dtype:
                alpha = convert_depth(alpha, color.dtype)
            alpha = scale_alpha(alpha, self.card.scale)
        return color, alpha


_CLASSES: dict[str, type[Model]] = {"translate": Translator}


def register_task(task: str, cls: type[Model]) -> None:
    """Make ``load`` build ``cls`` for models of ``task`` (used by ganedit.upscale)."""
    _CLASSES[task] = cls


def model_for_card(card: ModelCard) -> type[Model]:
    """The :class:`Model` subclass that runs models of ``card.task``."""
    try:
        return _CLASSES[card.task]
    except KeyError:
        raise GaneditError(
            f"model {card.name!r} has task {card.task!r}, which this version of ganedit cannot "
            f"run yet (supported: {sorted(_CLASSES)})"
        ) from None
