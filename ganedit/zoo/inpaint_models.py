"""Built-in inpainting models: the OpenCV baselines ``cv2-telea`` and ``cv2-ns``.

They are algorithms ganedit runs itself (:mod:`ganedit.baselines`), not weights: their URL is
``builtin:<name>``, nothing is downloaded, and ``ganedit.load`` builds them directly. Inpainting
networks (LaMa, MAT, ...) come in through checkpoints and ``.onnx`` files.
"""

from __future__ import annotations

from .registry import BUILTIN_SCHEME, ZooEntry

__all__ = ["inpaint_entries"]

_BASELINES = {
    "cv2-telea": "OpenCV cv2.inpaint, Telea's fast marching; built in, fast on thin scratches",
    "cv2-ns": "OpenCV cv2.inpaint, Navier-Stokes; built in",
}


def inpaint_entries() -> list[ZooEntry]:
    """The built-in inpainting entries."""
    return [
        ZooEntry(
            name=name,
            task="inpaint",
            family="opencv",
            url=f"{BUILTIN_SCHEME}{name}",
            description=description,
            source="OpenCV cv2.inpaint",
            license="Apache-2.0",
        )
        for name, description in _BASELINES.items()
    ]
