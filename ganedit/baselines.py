"""The OpenCV inpainting baselines ``cv2-telea`` and ``cv2-ns``: a runner the Inpainter holds.

``cv2.inpaint`` (Telea's fast marching, or Navier–Stokes) is no network: it fills each hole
region from the pixels around it, on grey or colour, at any size. :class:`OpenCVInpaint` is the
session of an :class:`~ganedit.Inpainter` loaded from the zoo names ``cv2-telea`` and
``cv2-ns``; it says it is no network (``is_network``: nothing for ``bench`` to time) and fills
regions itself (:class:`~ganedit.inpaint.HoleFiller`), where a network model is fed through the
codec instead. A known baseline, and a fast choice for thin scratches.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from .card import MaskSpec, ModelCard
from .errors import GaneditError

__all__ = ["OPENCV_METHODS", "OpenCVInpaint", "opencv_card"]

#: The built-in baselines: name -> the ``cv2`` inpainting flag.
OPENCV_METHODS = {"cv2-telea": "INPAINT_TELEA", "cv2-ns": "INPAINT_NS"}


def _check_name(name: str) -> None:
    if name not in OPENCV_METHODS:
        raise GaneditError(
            f"unknown OpenCV inpainting method {name!r}; known: {tuple(OPENCV_METHODS)}"
        )


def opencv_card(name: str) -> ModelCard:
    """The model card of a baseline: an inpainting "model" on ``[0, 1]`` floats, any size.

    Raises:
        GaneditError: ``name`` is not one of :data:`OPENCV_METHODS`.
    """
    _check_name(name)
    return ModelCard(
        name=name,
        task="inpaint",
        arch=name.replace("-", "_"),
        input_range=(0.0, 1.0),
        output_range=(0.0, 1.0),
        mask=MaskSpec(channel=3, hole=1),
        source=f"OpenCV cv2.inpaint, cv2.{OPENCV_METHODS[name]}",
        license="Apache-2.0",
    )


class OpenCVInpaint:
    """``cv2.inpaint`` behind an Inpainter: the session (``providers == ["opencv"]``) and the
    hole filler of a baseline model.

    Args:
        name: ``"cv2-telea"`` or ``"cv2-ns"``.
        radius: Neighbourhood radius of the algorithm, in pixels.

    Raises:
        GaneditError: An unknown name.
        ValueError: ``radius`` below 1.
    """

    is_network = False
    on_gpu = False
    #: Context around each masked region: the algorithms look ``radius`` pixels around a hole.
    default_margin = 16
    #: Crop at any size: far context does not change the result, and crops are faster.
    default_trigger = 0

    def __init__(self, name: str, *, radius: int = 3):
        _check_name(name)
        if radius < 1:
            raise ValueError(f"radius must be >= 1, got {radius}")
        self.name = name
        self.radius = radius

    @property
    def providers(self) -> list[str]:
        return ["opencv"]

    def run(self, batch: np.ndarray) -> np.ndarray:
        raise GaneditError(
            f"{self.name} is not a network: it fills holes with cv2.inpaint, region by region"
        )

    # -- HoleFiller ------------------------------------------------------------------------------

    def prepare(self, unit: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return unit, hole

    def key(self, prepared: Any) -> Hashable:
        return object()  # nothing to batch

    def fill(
        self, prepared: Sequence[Any], run: Callable[[np.ndarray], np.ndarray]
    ) -> list[np.ndarray]:
        return [self._inpaint(unit, hole) for unit, hole in prepared]

    def result(self, prepared: Any, output: np.ndarray) -> np.ndarray:
        return output

    def _inpaint(self, unit: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """``(h, w, C)`` floats in [0, 1] with the ``(h, w)`` hole -> the filled floats."""
        import cv2

        method = getattr(cv2, OPENCV_METHODS[self.name])
        mask = hole.astype(np.uint8)
        if unit.shape[2] == 3:
            # cv2.inpaint takes 3 channels only at 8 bits; deeper images go plane by plane.
            eight = np.round(unit * 255).astype(np.uint8)
            if np.allclose(eight * np.float32(1 / 255), unit, rtol=0, atol=1e-6):
                return cv2.inpaint(eight, mask, self.radius, method).astype(np.float32) / 255
        # Telea's weights assume 8-bit-like magnitudes; on [0, 1] floats it returns noise.
        # Float planes scaled to 0..255 keep the extra precision of 16-bit images.
        scaled = unit.astype(np.float32) * np.float32(255)
        planes = [
            cv2.inpaint(np.ascontiguousarray(scaled[:, :, c]), mask, self.radius, method)
            for c in range(unit.shape[2])
        ]
        return np.stack(planes, axis=2).astype(np.float32) * np.float32(1 / 255)

    def __repr__(self) -> str:
        return f"OpenCVInpaint({self.name!r}, radius={self.radius})"
