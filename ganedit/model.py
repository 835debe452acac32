"""Loaded models: a session, its card, and the one per-image protocol every task follows.

Every task (:class:`~ganedit.Translator`, :class:`~ganedit.Upscaler`,
:class:`~ganedit.Inpainter`) is a :class:`Model` with the same call shape,
``model(image, mask=None)``, settings changed only through :meth:`Model.with_options`, and the
same three steps, which the Python API (:meth:`Model.map`) and the folder pipeline both drive:

1. :meth:`Model.begin` (in decode threads): an :class:`~ganedit.images.ImageIn` becomes a
   :class:`WorkItem` holding what the network will be fed;
2. :meth:`Model.run_items` (in the one runner thread): the network runs on items of equal
   ``key`` as one batch;
3. :meth:`Model.finish` (in encode threads): the network's output becomes the result's colour
   and alpha.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

import numpy as np

from .card import ModelCard
from .codec import padded_size
from .errors import GaneditError
from .images import ImageIn, is_grey_pil, join, mask_array, result_dtype, split
from .masks import hole_from_array
from .session import Session

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Model", "WorkItem", "run_grouped"]

_Self = TypeVar("_Self", bound="Model")
ImageLike = TypeVar("ImageLike", "Image.Image", np.ndarray)


@dataclasses.dataclass(eq=False)
class WorkItem:
    """One image on its way through a model: :meth:`Model.begin` -> ``run_items`` -> ``finish``.

    Attributes:
        image: What went in.
        payload: What the model prepared for the network (tensors, plans, ...).
        key: Items with equal keys may share one ``run_items`` call (a batch).
        progress: See the attribute's comment; ``None`` by default.
    """

    image: ImageIn
    payload: Any
    key: Hashable
    #: Told the share done (0..1) while the network runs this item, where the model can say
    #: (tiled upscales, per tile batch); what it raises stops the run (a cancelled request).
    progress: Callable[[float], None] | None = None


def run_grouped(
    run: Callable[[np.ndarray], np.ndarray], tensors: Sequence[np.ndarray], *, max_batch: int
) -> list[np.ndarray]:
    """Run ``(C, H, W)`` tensors through ``run``, stacking equal shapes, at most ``max_batch``
    per call; one ``(C_out, H', W')`` output per tensor, in order."""
    outputs: list[np.ndarray | None] = [None] * len(tensors)
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, tensor in enumerate(tensors):
        groups.setdefault(tensor.shape, []).append(index)
    for indices in groups.values():
        for start in range(0, len(indices), max_batch):
            chunk = indices[start : start + max_batch]
            batch = np.stack([tensors[i] for i in chunk])
            for i, out in zip(chunk, run(batch), strict=True):
                outputs[i] = out
    return [out for out in outputs if out is not None]


class Model(abc.ABC):
    """A ganedit model: the session that runs its network, the card that says how to feed it,
    and its settings in ``options`` (a frozen dataclass per task).

    Build one with :func:`ganedit.load`. ``model.card`` is the :class:`~ganedit.ModelCard`.
    """

    options: Any
    #: How :func:`ganedit.load` made it (a :class:`~ganedit.loading.LoadRecipe`), so that other
    #: processes can load the same model; ``None`` for a model built by hand.
    recipe: Any = None
    #: Whether each image needs a mask (inpainting).
    requires_mask: ClassVar[bool] = False
    #: Whether grey inputs come back grey (upscaling, inpainting) rather than with the network's
    #: channel count (translation: a grey photo through an RGB model comes back RGB).
    keeps_grey: ClassVar[bool] = False

    def __init__(self, session: Session, card: ModelCard, path: Path):
        self.session = session
        self.card = card
        self.path = path

    @property
    def providers(self) -> list[str]:
        """Where the network runs, best first (see :attr:`Session.providers`)."""
        return self.session.providers

    @property
    def on_gpu(self) -> bool:
        """Whether the network runs on a GPU (CUDA or TensorRT, on either backend)."""
        return self.session.on_gpu

    def working_pixels(self, height: int, width: int) -> int:
        """How many input pixels the network sees at once for a ``height`` × ``width`` image
        (the whole padded image here; a tile batch for tiled upscales): what its working
        memory scales with (:func:`ganedit.memory.image_bytes`)."""
        return padded_size(height, self.card) * padded_size(width, self.card)

    def run_batch(self, batch: np.ndarray) -> np.ndarray:
        """Run the network on a prepared batch.

        Args:
            batch: ``(B, C, H, W)`` float32 in the card's ``input_range``, H and W multiples of
                ``size_multiple``.

        Returns:
            ``(B, C_out, H*scale, W*scale)`` float32 in the card's ``output_range``.

        A batch larger than the card's ``max_batch`` runs in pieces of that size.
        """
        most = self.card.max_batch
        if most is None or len(batch) <= most:
            return self.session.run(batch)
        parts = [self.session.run(batch[i : i + most]) for i in range(0, len(batch), most)]
        return np.concatenate(parts)

    def with_options(self: _Self, options: Any = None, /, **changes: Any) -> _Self:
        """A copy (sharing the loaded network) with other ``options``: a whole options object
        of this task's type, and/or some fields changed.

        Example:
            >>> big = up.with_options(outscale=3, tile=256)(image)
            >>> same = up.with_options(UpscaleOptions(outscale=3, tile=256))

        Raises:
            TypeError: Options of another task, or a name that is not a field of this task's.
            ValueError: A value the options refuse (the message says which).
        """
        base = self.options if options is None else options
        if type(base) is not type(self.options):
            raise TypeError(
                f"{type(self).__name__} takes {type(self.options).__name__}, "
                f"got {type(base).__name__}"
            )
        clone = copy.copy(self)
        clone.options = dataclasses.replace(base, **changes) if changes else base
        return clone

    # -- the per-image protocol -------------------------------------------------------------

    @abc.abstractmethod
    def begin(self, image: ImageIn) -> WorkItem:
        """Prepare one image for the network (runs in decode threads).

        Raises:
            GaneditError: The image cannot go through this model (e.g. no mask for an
                inpainting model, or a mask for another); the message says why.
        """

    @abc.abstractmethod
    def run_items(self, items: Sequence[WorkItem]) -> list[Any]:
        """Run the network on items with equal keys (runs in the runner thread); one output
        per item, in order."""

    @abc.abstractmethod
    def finish(self, item: WorkItem, output: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """The result as ``(color (H', W', C), alpha (H', W') or None)`` of ``item.image.dtype``
        (runs in encode threads)."""

    def _check_mask(self, image: ImageIn) -> None:
        task = self.card.task
        article = "an" if task[0] in "aeiou" else "a"
        if self.requires_mask and image.hole is None:
            raise GaneditError(
                f"{self.card.name} is {article} {task} model: it needs a mask "
                "(model(image, mask), or --mask on the command line)"
            )
        if not self.requires_mask and image.hole is not None:
            raise GaneditError(
                f"{self.card.name} is {article} {task} model; it takes no mask "
                "(masks are for inpainting models)"
            )

    # -- the Python API ----------------------------------------------------------------------

    @overload
    def __call__(self, image: Image.Image, mask: Any = None) -> Image.Image: ...
    @overload
    def __call__(self, image: np.ndarray, mask: Any = None) -> np.ndarray: ...

    def __call__(self, image: Image.Image | np.ndarray, mask: Any = None) -> Any:
        """Run the model on one image.

        Args:
            image: A PIL image (any mode; EXIF orientation is not applied here — use
                ``ImageOps.exif_transpose`` first if needed), or an ``(H, W)`` / ``(H, W, C)``
                array, C in 1..4 (2 and 4 carry alpha last), uint8, uint16 or float in [0, 1].
            mask: Inpainting models only, and required there: the hole, as a bool array
                (``True`` = hole) or any image/array of the image's size where non-zero is the
                hole (a mask with a real alpha channel is read from its alpha).

        Returns:
            The same kind as the input: an array keeps its dtype; a PIL image comes back as
            ``RGB``/``RGBA`` (``L``/``LA`` for grey results) with 8 bits per channel, or
            ``I;16`` for 16-bit grey. Alpha is carried over. The size is the input's times
            ``card.scale`` (or the upscaler's ``outscale``).

        Raises:
            GaneditError: A mask for a model that takes none, or none for one that needs it.

        Example:
            >>> zebra = ganedit.load("horse2zebra")(Image.open("horse.jpg"))
            >>> clean = ganedit.load("cv2-telea")(photo, mask=scratches)
        """
        (out,) = self.map([image], masks=[mask], batch_size=1)
        return out

    def map(
        self,
        images: Iterable[Any],
        *,
        masks: Iterable[Any] | None = None,
        batch_size: int = 4,
    ) -> Iterator[Any]:
        """Run the model over a stream of images, lazily, in order.

        Consecutive images that can share a batch (equal padded shapes) are run together, up
        to ``batch_size``. Results do not depend on the batching.

        Args:
            images: PIL images or arrays, as for :meth:`__call__`. For an inpainting model
                without ``masks``, ``(image, mask)`` pairs.
            masks: One mask per image (inpainting models), or ``None``.
            batch_size: Most images per network call.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if masks is not None:
            pairs: Iterator[tuple[Any, Any]] = zip(images, masks, strict=True)
        else:
            pairs = (_as_pair(image, self.requires_mask) for image in images)
        while chunk := list(islice(pairs, batch_size)):
            items = [self.begin(self._image_in(image, mask)) for image, mask in chunk]
            outputs: list[Any] = [None] * len(items)
            groups: dict[Hashable, list[int]] = {}
            for index, item in enumerate(items):
                groups.setdefault(item.key, []).append(index)
            for indices in groups.values():
                results = self.run_items([items[i] for i in indices])
                for i, result in zip(indices, results, strict=True):
                    outputs[i] = result
            for (original, _mask), item, output in zip(chunk, items, outputs, strict=True):
                yield join(original, *self.finish(item, output))

    def _image_in(self, image: Image.Image | np.ndarray, mask: Any) -> ImageIn:
        color, alpha = split(image)
        grey = self.card.out_channels == 1 or (self.keeps_grey and is_grey_pil(image))
        dtype = result_dtype(image, color.dtype, grey=grey)
        hole = None if mask is None else hole_from_array(mask_array(mask))
        return ImageIn(color, alpha, dtype, hole=hole)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.card.name!r}, path={str(self.path)!r})"


def _as_pair(item: Any, requires_mask: bool) -> tuple[Any, Any]:
    if requires_mask and isinstance(item, tuple) and len(item) == 2:
        return item
    return item, None
