"""Loaded models: a session plus its card, callable on PIL images and numpy arrays."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, overload

import numpy as np

from .card import ModelCard
from .errors import GaneditError
from .processing import Prepared, postprocess, prepare, scale_alpha
from .session import Device, create_session, read_card

if TYPE_CHECKING:
    import onnxruntime
    from PIL import Image

__all__ = ["Model", "Translator", "model_for_card"]

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
        """The onnxruntime execution providers in use, best first."""
        return list(self._session.get_providers())

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on a prepared batch.

        Args:
            batch: ``(B, C, H, W)`` float32 in the card's ``input_range``, H and W multiples of
                ``size_multiple``.

        Returns:
            ``(B, C_out, H*scale, W*scale)`` float32 in the card's ``output_range``.
        """
        (out,) = self._session.run(None, {self._input_name: batch})
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


class Translator(Model):
    """Image-to-image translation (CycleGAN, pix2pix): output has the input's size.

    Example:
        >>> t = ganedit.load("horse2zebra")
        >>> zebra = t(Image.open("horse.jpg"))
    """

    @overload
    def __call__(self, image: Image.Image) -> Image.Image: ...
    @overload
    def __call__(self, image: np.ndarray) -> np.ndarray: ...

    def __call__(self, image: Image.Image | np.ndarray) -> Image.Image | np.ndarray:
        """Translate one image.

        Args:
            image: A PIL image (any mode; EXIF orientation is not applied here — use
                ``ImageOps.exif_transpose`` first if needed), or an ``(H, W)`` / ``(H, W, C)``
                array, C in 1..4 (2 and 4 carry alpha last), uint8, uint16 or float in [0, 1].

        Returns:
            The same kind as the input: an array keeps its dtype; a PIL image comes back as
            ``RGB``/``RGBA`` (``L``/``LA`` for one-channel models) with 8 bits per channel, or
            ``I;16`` for 16-bit grey in and grey out. Alpha is carried over unchanged.
            The size is the input's times ``card.scale``.
        """
        (out,) = self.map([image], batch_size=1)
        return out

    def map(self, images: Iterable[ImageLike], *, batch_size: int = 4) -> Iterator[ImageLike]:
        """Translate a stream of images, lazily, in order.

        Consecutive images whose padded shapes are equal share a batch of up to ``batch_size``.
        Results do not depend on the batching.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        iterator = iter(images)
        while chunk := list(islice(iterator, batch_size)):
            yield from self._translate_chunk(chunk)

    def _translate_chunk(self, chunk: list[ImageLike]) -> list[ImageLike]:
        from PIL import Image

        parts = []
        for image in chunk:
            if isinstance(image, Image.Image):
                color, alpha = _split_pil(image)
            elif isinstance(image, np.ndarray):
                color, alpha = _split_array(image)
            else:
                raise TypeError(
                    f"expected a PIL image or a numpy array, got {type(image).__name__}"
                )
            parts.append((prepare(color, self.card), color.dtype, alpha))
        outputs: list[np.ndarray | None] = [None] * len(chunk)
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, (prepared, _, _) in enumerate(parts):
            groups.setdefault(prepared.shape_key, []).append(index)
        for indices in groups.values():
            results = self.run_prepared([parts[i][0] for i in indices])
            for i, result in zip(indices, results, strict=True):
                outputs[i] = result
        return [
            self._finish(original, out, *part)
            for original, out, part in zip(chunk, outputs, parts, strict=True)
        ]

    def _finish(
        self,
        original: ImageLike,
        output: np.ndarray | None,
        prepared: Prepared,
        dtype: np.dtype,
        alpha: np.ndarray | None,
    ) -> ImageLike:
        from PIL import Image

        assert output is not None  # every index was filled above
        pil = isinstance(original, Image.Image)
        if pil and dtype == np.uint16 and self.card.out_channels == 3:
            dtype = np.dtype(np.uint8)  # Pillow has no 16-bit RGB mode
        color = postprocess(output, self.card, prepared.height, prepared.width, dtype)
        if alpha is not None:
            alpha = scale_alpha(alpha, self.card.scale)
            color = np.concatenate([color, alpha[:, :, None].astype(color.dtype)], axis=2)
        if not pil:
            if isinstance(original, np.ndarray) and original.ndim == 2 and color.shape[2] == 1:
                return color[:, :, 0]
            return color
        if color.shape[2] == 1:
            return Image.fromarray(color[:, :, 0])  # uint8 -> "L", uint16 -> "I;16"
        return Image.fromarray(color)  # 2 -> "LA", 3 -> "RGB", 4 -> "RGBA"


_CLASSES: dict[str, type[Model]] = {"translate": Translator}


def model_for_card(card: ModelCard) -> type[Model]:
    """The :class:`Model` subclass that runs models of ``card.task``."""
    try:
        return _CLASSES[card.task]
    except KeyError:
        raise GaneditError(
            f"model {card.name!r} has task {card.task!r}, which this version of ganedit cannot "
            f"run yet (supported: {sorted(_CLASSES)})"
        ) from None
