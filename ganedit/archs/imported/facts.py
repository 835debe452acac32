"""What ganedit knows about each architecture it imports through spandrel, one row each.

spandrel (chaiNNer-org/spandrel, MIT) detects an architecture and its hyperparameters from a
state dict and builds the network; ganedit adds what it needs to export and run it well:

- ``route``: ``"onnx"`` (exported with the TorchScript exporter, dynamic batch/height/width,
  verified against torch), ``"torch"`` (runs on the torch backend: no ONNX graph of it is right
  at every size; ``reason`` says why), or ``"refused"`` (``reason`` says why);
- ``pad``: models that pad themselves to a window multiple decide *whether* to pad with a Python
  ``if``, which the exporter freezes; ganedit's wrapper pads in the graph instead, with the
  model's own mode (the model then never pads), so any size runs and results equal spandrel's
  own call. ``(attribute or fixed multiple, mode)``;
- ``max_batch``: 1 where the exported graph froze the batch size into a reshape (window
  attention's ``window_reverse``) and is only right at batch 1;
- ``seed``: the model draws random numbers (MAT: dropout in its forward and a latent drawn when
  it is built); ganedit seeds both with this number, so a file gives the same result every time
  (spandrel's own call gives a different one each time);
- ``matrix_dft``: the model's Fourier units (LaMa) compute their FFTs as matrix products
  (:mod:`ganedit.archs.imported.dft`), which every exporter and onnxruntime handle;
- ``computed_masks``: DAT's and RGT's shifted-window masks are computed for each input rather
  than taken from buffers stored for one size (:mod:`ganedit.archs.imported.windows`);
- ``strided_pooling``: SAFMN's adaptive pooling becomes fixed-window pooling, the same
  result at the multiples it is padded to (:mod:`ganedit.archs.imported.pooling`);
- ``license`` of the architecture's code as spandrel ships it (the ``__arch/LICENSE`` files of
  its repository at v0.4.2), and whether it is non-commercial (``spandrel_extra_arches``: only
  with an explicit opt-in);
- ``example``: the smallest instance ganedit's tests build (class name in spandrel's module,
  keyword arguments), checked to be detected and reloaded by spandrel exactly.

The routes and batch limits were measured with tiny random-weight models at several sizes (odd,
non-square) and batch 2; ``tests/test_registry.py`` checks them for every row with an example.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = ["FACTS", "Fact"]

Route = Literal["onnx", "torch", "refused"]
PadMode = Literal["reflect", "constant"]

_FACE = "face restoration needs detected and aligned faces, which ganedit does not provide"
_NO_TINY = "not tested in ganedit yet (no small test model of it)"


@dataclasses.dataclass(frozen=True)
class Fact:
    """What ganedit knows about one spandrel architecture (see the module docstring)."""

    id: str
    license: str
    route: Route
    reason: str = ""
    noncommercial: bool = False
    pad: tuple[str | int, PadMode] | None = None
    max_batch: int | None = None
    matrix_dft: bool = False
    strided_pooling: bool = False
    computed_masks: bool = False
    seed: int | None = None
    example: tuple[str, dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.route != "onnx" and not self.reason:
            raise ValueError(f"{self.id}: a {self.route} route needs a reason")
        if self.route != "refused" and self.example is None:
            raise ValueError(f"{self.id}: a supported architecture needs an example")


_ROWS = (
    # -- exported to ONNX ------------------------------------------------------------------------
    Fact("ESRGAN", "Apache-2.0", "onnx",
         example=("ESRGAN", {"num_filters": 8, "num_blocks": 1, "scale": 4, "plus": True})),
    Fact("SwiftSRGAN", "CC0-1.0", "onnx",
         example=("SwiftSRGAN", {"num_channels": 8, "num_blocks": 1, "upscale_factor": 4})),
    Fact("HAT", "MIT", "onnx", pad=("window_size", "reflect"), max_batch=1,
         example=("HAT", {"img_size": 16, "embed_dim": 24, "depths": (2, 2), "num_heads": (2, 2),
                          "window_size": 4, "upscale": 2, "upsampler": "pixelshuffle",
                          "squeeze_factor": 8, "mlp_ratio": 2.0})),
    Fact("Swin2SR", "Apache-2.0", "onnx", pad=("window_size", "reflect"), max_batch=1,
         example=("Swin2SR", {"img_size": 16, "embed_dim": 24, "depths": [2, 2],
                              "num_heads": [2, 2], "window_size": 4, "upscale": 2,
                              "upsampler": "pixelshuffle", "mlp_ratio": 2.0})),
    Fact("SwinIR", "Apache-2.0", "onnx", pad=("window_size", "reflect"), max_batch=1,
         example=("SwinIR", {"img_size": 16, "embed_dim": 24, "depths": [2, 2],
                             "num_heads": [2, 2], "window_size": 4, "upscale": 2,
                             "upsampler": "pixelshuffle", "mlp_ratio": 2.0})),
    Fact("OmniSR", "Apache-2.0", "onnx", pad=("window_size", "constant"),
         example=("OmniSR", {"num_feat": 16, "block_num": 1, "window_size": 8, "res_num": 1,
                             "up_scale": 2})),
    Fact("SCUNet", "Apache-2.0", "onnx", pad=(64, "reflect"),
         example=("SCUNet", {"config": [1, 1, 1, 1, 1, 1, 1], "dim": 64})),
    Fact("RGT", "Apache-2.0", "onnx", max_batch=1, computed_masks=True,
         example=("RGT", {"img_size": 64, "embed_dim": 60, "depth": [2, 2], "num_heads": [2, 2],
                          "upscale": 2, "split_size": [8, 32]})),
    Fact("DAT", "Apache-2.0", "onnx", max_batch=1, computed_masks=True,
         example=("DAT", {"img_size": 64, "embed_dim": 60, "split_size": [8, 32],
                          "depth": [2, 2], "num_heads": [2, 2], "upscale": 2})),
    Fact("CRAFT", "Apache-2.0", "onnx", max_batch=1,
         example=("CRAFT", {"window_size": 16, "embed_dim": 48, "depths": [2, 2],
                            "num_heads": [6, 6], "split_size_0": 4, "split_size_1": 16,
                            "upscale": 2})),
    Fact("MMRealSR", "BSD-3-Clause", "onnx",
         example=("MMRealSR", {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 8,
                               "num_block": 1, "num_grow_ch": 8, "num_feats": [8, 16, 32, 64]})),
    Fact("SPAN", "Apache-2.0", "onnx",
         example=("SPAN", {"num_in_ch": 3, "num_out_ch": 3, "feature_channels": 8, "upscale": 2})),
    Fact("NAFNet", "MIT", "onnx", pad=("padder_size", "constant"),
         example=("NAFNet", {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1],
                             "dec_blk_nums": [1, 1]})),
    Fact("MixDehazeNet", "MIT", "onnx", pad=("patch_size", "reflect"),
         example=("MixDehazeNet", {"embed_dims": [8, 16, 32, 16, 8], "depths": [1, 1, 1, 1, 1]})),
    Fact("DnCNN", "MIT", "onnx",
         example=("DnCNN", {"in_nc": 3, "out_nc": 3, "nc": 8, "nb": 8, "act_mode": "R"})),
    Fact("DRCT", "MIT", "onnx", max_batch=1,
         example=("DRCT", {"img_size": 16, "embed_dim": 24, "depths": (1, 1), "num_heads": (2, 2),
                           "window_size": 8, "upscale": 2, "upsampler": "pixelshuffle",
                           "gc": 8})),
    Fact("PLKSR", "MIT", "onnx",
         example=("PLKSR", {"dim": 8, "n_blocks": 2, "upscaling_factor": 2})),
    Fact("RetinexFormer", "MIT", "onnx",
         example=("RetinexFormer", {"n_feat": 8, "stage": 1, "num_blocks": [1, 1, 1]})),
    Fact("SeemoRe", "Apache-2.0", "onnx", max_batch=1,
         example=("SeemoRe", {"scale": 2, "num_experts": 2, "num_layers": 1,
                              "embedding_dim": 8})),
    Fact("MoSR", "MIT", "onnx", example=("MoSR", {"upscale": 2, "n_block": 1, "dim": 8})),
    Fact("MoESR", "MIT", "onnx",
         example=("MoESR", {"scale": 2, "dim": 8, "n_blocks": 1, "n_block": 1,
                            "upsample_dim": 8})),
    Fact("RCAN", "MIT", "onnx",
         example=("RCAN", {"scale": 2, "n_resgroups": 1, "n_resblocks": 1, "n_feats": 8,
                           "reduction": 4})),
    Fact("DRUNet", "MIT", "onnx", max_batch=1,
         example=("DRUNet", {"in_nc": 4, "out_nc": 3, "nc": [8, 16, 32, 64], "nb": 2})),
    Fact("RealCUGAN", "MIT", "onnx",
         example=("UpCunet2x", {"in_channels": 3, "out_channels": 3})),
    Fact("KBNet", "MIT", "onnx",
         example=("KBNet_s", {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1],
                              "dec_blk_nums": [1, 1]})),
    Fact("FDAT", "MIT", "onnx",
         example=("FDAT", {"scale": 2, "embed_dim": 16, "num_groups": 1, "depth_per_group": 1,
                           "num_heads": 2, "window_size": 8, "mid_dim": 8})),
    Fact("SAFMN", "Apache-2.0", "onnx", strided_pooling=True,
         example=("SAFMN", {"dim": 8, "n_blocks": 1, "upscaling_factor": 2})),
    Fact("SAFMNBCIE", "Apache-2.0", "onnx", strided_pooling=True,
         example=("SAFMNBCIE", {"dim": 8, "n_blocks": 1, "num_layers": 1})),
    Fact("LaMa", "Apache-2.0", "onnx", matrix_dft=True,
         example=("LaMa", {"in_nc": 4, "out_nc": 3})),
    Fact("SRFormer", "CC BY-NC 4.0", "onnx", noncommercial=True,
         pad=("window_size", "reflect"), max_batch=1,
         example=("SRFormer", {"img_size": 16, "embed_dim": 24, "depths": (1, 1),
                               "num_heads": (2, 2), "window_size": 4, "upscale": 2,
                               "upsampler": "pixelshuffle"})),
    Fact("Restormer", "Academic Public License (non-commercial)", "onnx", noncommercial=True,
         example=("Restormer", {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1,
                                "heads": [1, 1, 1, 1]})),
    Fact("M3SNet", "Academic Public License (non-commercial)", "onnx", noncommercial=True,
         example=("M3SNet", {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1],
                             "dec_blk_nums": [1, 1]})),
    Fact("MIRNet2", "Academic Public License (non-commercial)", "onnx", noncommercial=True,
         example=("MIRNet2", {"n_feat": 16, "n_MRB": 1})),
    # -- run with PyTorch ------------------------------------------------------------------------
    Fact("GRL", "MIT", "torch",
         "the TorchScript exporter crashes on it, and the dynamo exporter's graph is right at its "
         "export size only", example=("GRL", {"img_size": 16, "embed_dim": 16, "depths": [1, 1],
                                               "num_heads_window": [2, 2],
                                               "num_heads_stripe": [2, 2], "window_size": 8,
                                               "stripe_size": [8, 8], "upscale": 2,
                                               "upsampler": "pixelshuffle"})),
    Fact("FBCNN", "Apache-2.0", "torch",
         "its exported graph fails at sizes other than the export size (a padding frozen into "
         "an Add)", example=("FBCNN", {"nc": [8, 16, 32, 512], "nb": 2})),
    Fact("DITN", "Apache-2.0", "torch",
         "the TorchScript exporter freezes a reshape to the export size (the dynamo exporter "
         "would work; not wired yet)",
         example=("DITN", {"dim": 12, "ITL_blocks": 1, "SAL_blocks": 1, "UFONE_blocks": 1,
                           "upscale": 2})),
    Fact("DCTLSA", "Apache-2.0", "torch",
         "its exported graph fails at sizes other than the export size (a frozen reshape)",
         example=("DCTLSA", {"nf": 10, "num_modules": 6, "upscale": 2, "num_head": 5})),
    Fact("HVICIDNet", "MIT", "torch", "its exported graph fails at sizes other than the export "
         "size (an Expand frozen to it)",
         example=("HVICIDNet", {"channels": [8, 8, 16, 32], "heads": [1, 2, 4, 8]})),
    Fact("FFTformer", "MIT", "torch",
         "the TorchScript exporter has no FFT; onnxruntime's DFT runs it 6x slower than torch",
         example=("FFTformer", {"dim": 8, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1})),
    Fact("ATD", "Apache-2.0", "torch",
         "both exporters refuse its torch.sort (stable), and replacing it changes the results",
         example=("ATD", {"img_size": 64, "embed_dim": 24, "depths": (2, 2), "num_heads": (2, 2),
                          "window_size": 8, "category_size": 256, "num_tokens": 16,
                          "upscale": 2, "upsampler": "pixelshuffle"})),
    Fact("IPT", "Apache-2.0", "torch",
         "its col2im does not export at opset 17, and the opset-18 export gives wrong shapes",
         example=("IPT", {"patch_size": 48, "n_feats": 24, "num_heads": 12, "num_layers": 1})),
    Fact("MPRNet", "Academic Public License (non-commercial)", "torch",
         "its exported graph is silently wrong at sizes other than the export size",
         noncommercial=True,
         example=("MPRNet", {"n_feat": 8, "scale_unetfeats": 4, "scale_orsnetfeats": 4,
                             "num_cab": 1})),
    Fact("Uformer", "MIT", "torch",
         "it needs square inputs in multiples of 128 and its exported graph is right at its "
         "export size only; ganedit pads each image to a square as spandrel does",
         example=("Uformer", {"img_size": 128, "embed_dim": 8, "depths": [1] * 9,
                              "num_heads": [1] * 9, "win_size": 8})),
    Fact("MAT", "CC BY-NC 4.0", "torch",
         "no exporter handles it (convolutions with computed kernels), and it needs square "
         "inputs in multiples of 512, which ganedit pads to as spandrel does",
         noncommercial=True, max_batch=1, seed=240, example=("MAT", {})),
    # -- refused ---------------------------------------------------------------------------------
    Fact("GFPGAN", "Apache-2.0 (with third-party parts)", "refused", _FACE),
    Fact("RestoreFormer", "Apache-2.0 (with third-party parts)", "refused", _FACE),
    Fact("CodeFormer", "S-Lab License 1.0 (non-commercial)", "refused", _FACE,
         noncommercial=True),
    Fact("AuraSR", "CC BY-SA 4.0", "refused",
         "a 600-million-parameter GigaGAN upscaler; " + _NO_TINY),
    Fact("DDColor", "academic and non-commercial use only", "refused",
         "colorization; " + _NO_TINY, noncommercial=True),
    Fact("AdaCode", "CC BY-NC-SA 4.0", "refused", _NO_TINY, noncommercial=True),
    Fact("FeMaSR", "CC BY-NC-SA 4.0", "refused", _NO_TINY, noncommercial=True),
)  # fmt: skip

#: Every architecture spandrel 0.4 (and spandrel_extra_arches 0.2) registers, by its id, except
#: Compact (SRVGGNetCompact), which ganedit implements itself; ESRGAN files reach spandrel only
#: in the layouts ganedit's own RRDBNet does not take (ESRGAN+).
FACTS: dict[str, Fact] = {fact.id: fact for fact in _ROWS}
