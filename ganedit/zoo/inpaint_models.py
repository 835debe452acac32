"""Built-in inpainting models: LaMa (big-lama), MAT, and the OpenCV baselines.

- ``big-lama``: LaMa's big model (advimman/lama, Apache-2.0), as the TorchScript file that
  IOPaint downloads (Sanster/models releases). ganedit reads its weights without running the
  file (:mod:`ganedit.archs.torchscript`), imports the architecture through spandrel and
  exports it to ONNX with its FFTs as matrix products. Upstream publishes no sha256 (IOPaint
  pins md5 ``e3aa4aaa15225a33ec84f9f4bc47e500``), so the cache trusts the first download.
- ``mat-places512``: MAT's Places 512 generator (fenglinglwb/MAT) as the state dict IOPaint
  downloads. Code and weights are licensed CC BY-NC 4.0 and the architecture comes from
  ``spandrel_extra_arches``: ganedit runs it (on the torch backend) only when the user opts in.
- ``cv2-telea`` and ``cv2-ns``: algorithms ganedit runs itself (:mod:`ganedit.baselines`), not
  weights: their URL is ``builtin:<name>``, nothing is downloaded, and ``ganedit.load`` builds
  them directly.
"""

from __future__ import annotations

from .registry import BUILTIN_SCHEME, ZooEntry

__all__ = ["inpaint_entries"]

_SANSTER = "https://github.com/Sanster/models/releases/download"

_BASELINES = {
    "cv2-telea": "OpenCV cv2.inpaint, Telea's fast marching; built in, fast on thin scratches",
    "cv2-ns": "OpenCV cv2.inpaint, Navier-Stokes; built in",
}


def inpaint_entries() -> list[ZooEntry]:
    """The built-in inpainting entries: the networks, then the OpenCV baselines."""
    networks = [
        ZooEntry(
            name="big-lama",
            task="inpaint",
            family="lama",
            url=f"{_SANSTER}/add_big_lama/big-lama.pt",
            description="LaMa, the big model (Places2): removes objects, fills large holes; "
            "any size.",
            source="advimman/lama big-lama, as the TorchScript file IOPaint downloads",
            license="Apache-2.0 (advimman/lama)",
            aliases=("lama",),
            arch="LaMa (FFC ResNet, 18 blocks)",
        ),
        ZooEntry(
            name="mat-places512",
            task="inpaint",
            family="mat",
            url=f"{_SANSTER}/add_mat/Places_512_FullData_G.pth",
            description="MAT (Places 512), large holes; non-commercial, needs "
            "spandrel_extra_arches and --allow-noncommercial; torch backend.",
            source="fenglinglwb/MAT Places512 generator, as the state dict IOPaint downloads",
            license="CC BY-NC 4.0 (fenglinglwb/MAT)",
            aliases=("mat",),
            arch="MAT",
            noncommercial=True,
        ),
    ]
    baselines = [
        ZooEntry(
            name=name,
            task="inpaint",
            family="opencv",
            url=f"{BUILTIN_SCHEME}{name}",
            description=description,
            source="OpenCV cv2.inpaint",
            license="Apache-2.0",
            arch="OpenCV",
        )
        for name, description in _BASELINES.items()
    ]
    return networks + baselines
