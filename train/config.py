"""Typed, documented training options. Defaults are the reference implementation's.

Each concern has its own frozen dataclass; a run's resolved options are one :class:`TrainConfig`
written to ``RUN/config.json``. There is no global option object.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "CycleGANLoss",
    "DataOptions",
    "InpaintLoss",
    "InpaintNetworkOptions",
    "MaskOptions",
    "NetworkOptions",
    "OptimOptions",
    "Pix2PixLoss",
    "RunOptions",
    "SRLoss",
    "SRNetworkOptions",
    "TrainConfig",
]

GanMode = Literal["lsgan", "vanilla", "wgangp"]


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """Where the images come from and how they are prepared (reference defaults).

    Attributes:
        root: Dataset folder (``trainA``/``trainB``, ``train`` with AB pairs, or ``train/A``,
            ``train/B``).
        mode: ``"auto"`` (detect), ``"unaligned"``, ``"aligned"`` or ``"paired"``.
        direction: ``"AtoB"`` or ``"BtoA"``.
        load_size: Images are scaled to this size first.
        crop_size: Then cropped to this size.
        preprocess: ``resize_and_crop``, ``crop``, ``scale_width``, ``scale_width_and_crop`` or
            ``none``.
        no_flip: Disable random horizontal flips.
        batch_size: Images per step (per process under DDP).
        workers: DataLoader worker processes.
        max_size: Use at most this many images per domain.
    """

    root: str
    mode: Literal["auto", "unaligned", "aligned", "paired"] = "auto"
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    load_size: int = 286
    crop_size: int = 256
    preprocess: str = "resize_and_crop"
    no_flip: bool = False
    batch_size: int = 1
    workers: int = 2
    max_size: int | None = None


@dataclasses.dataclass(frozen=True)
class NetworkOptions:
    """Generator and discriminator shapes.

    Attributes:
        in_channels: Channels of domain A images.
        out_channels: Channels of domain B images.
        ngf: Generator filters in the first layer.
        ndf: Discriminator filters in the first layer.
        net_g: ``resnet_9blocks``, ``resnet_6blocks``, ``resnet_<n>blocks``, ``unet_128``,
            ``unet_256`` or ``unet_<size>``.
        n_layers_d: Layers of the PatchGAN discriminator (3 = 70×70 patches).
        norm: ``instance``, ``batch`` or ``none``.
        dropout: Dropout in the generator.
        init_type: ``normal``, ``xavier``, ``kaiming`` or ``orthogonal``.
        init_gain: Scale of the initialisation.
    """

    in_channels: int = 3
    out_channels: int = 3
    ngf: int = 64
    ndf: int = 64
    net_g: str = "resnet_9blocks"
    n_layers_d: int = 3
    norm: Literal["instance", "batch", "none"] = "instance"
    dropout: bool = False
    init_type: str = "normal"
    init_gain: float = 0.02


@dataclasses.dataclass(frozen=True)
class OptimOptions:
    """Adam and the learning-rate schedule.

    Attributes:
        lr: Initial learning rate of every optimiser.
        beta1: Adam's first momentum term.
        beta2: Adam's second momentum term.
        epochs: Epochs at the initial rate.
        epochs_decay: Epochs of linear decay to zero after that.
        lr_policy: ``linear`` (reference default), ``step``, ``plateau`` or ``cosine``.
    """

    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 100
    epochs_decay: int = 100
    lr_policy: str = "linear"


@dataclasses.dataclass(frozen=True)
class CycleGANLoss:
    """CycleGAN objective weights.

    Attributes:
        gan_mode: ``lsgan`` (reference default), ``vanilla`` or ``wgangp`` (with a gradient
            penalty of weight ``gp_weight`` on the discriminators).
        lambda_a: Weight of the A -> B -> A cycle loss.
        lambda_b: Weight of the B -> A -> B cycle loss.
        lambda_identity: Identity loss weight, relative to the cycle weights.
        pool_size: Size of the history of generated images shown to the discriminators.
        gp_weight: Gradient penalty weight (``wgangp`` only).
    """

    gan_mode: GanMode = "lsgan"
    lambda_a: float = 10.0
    lambda_b: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    gp_weight: float = 10.0


@dataclasses.dataclass(frozen=True)
class Pix2PixLoss:
    """pix2pix objective weights.

    Attributes:
        gan_mode: ``vanilla`` (reference default), ``lsgan`` or ``wgangp``.
        lambda_l1: Weight of the L1 loss between output and target.
        pool_size: History of generated images (0: none, the reference default).
        gp_weight: Gradient penalty weight (``wgangp`` only).
    """

    gan_mode: GanMode = "vanilla"
    lambda_l1: float = 100.0
    pool_size: int = 0
    gp_weight: float = 10.0


@dataclasses.dataclass(frozen=True)
class SRNetworkOptions:
    """Super-resolution generator and discriminator.

    Attributes:
        arch: ``rrdb`` (RRDBNet, ESRGAN/Real-ESRGAN) or ``srvgg`` (SRVGGNetCompact).
        scale: Upscaling factor (RRDBNet: 1, 2, 4 or 8; SRVGG: any).
        num_feat: Generator features (64 in the reference).
        num_block: RRDB blocks (23 in RealESRGAN_x4plus).
        num_grow_ch: RRDB growth channels (32).
        num_conv: SRVGG convolutions (32 for realesr-general-x4v3, 16 for animevideov3).
        d_num_feat: U-Net discriminator features (64).
    """

    arch: Literal["rrdb", "srvgg"] = "rrdb"
    scale: int = 4
    num_feat: int = 64
    num_block: int = 23
    num_grow_ch: int = 32
    num_conv: int = 32
    d_num_feat: int = 64


@dataclasses.dataclass(frozen=True)
class SRLoss:
    """The Real-ESRGAN objective, in two stages.

    Attributes:
        stage: ``psnr`` (L1 only: RealESRNet) or ``gan`` (L1 + perceptual + GAN: RealESRGAN).
        degradation: ``realesrgan`` (second-order blur/resize/noise/JPEG) or ``bicubic``.
        l1_weight: Pixel L1 weight.
        perceptual_weight: VGG19 perceptual loss weight (``gan`` stage).
        gan_weight: Vanilla GAN loss weight (``gan`` stage).
        ema_decay: Decay of the generator's exponential moving average (what is exported).
        usm_gt: Sharpen the target for the L1 and perceptual losses (Real-ESRGAN does).
        vgg_weights: A local VGG19 ImageNet weights file (torchvision's vgg19-dcbb9e9d.pth).
        init_from: Generator weights to start from (a run directory or a checkpoint file);
            the ``gan`` stage starts from a ``psnr`` run.
    """

    stage: Literal["psnr", "gan"] = "psnr"
    degradation: Literal["realesrgan", "bicubic"] = "realesrgan"
    l1_weight: float = 1.0
    perceptual_weight: float = 1.0
    gan_weight: float = 0.1
    ema_decay: float = 0.999
    usm_gt: bool = True
    vgg_weights: str | None = None
    init_from: str | None = None


@dataclasses.dataclass(frozen=True)
class InpaintNetworkOptions:
    """Inpainting generator (gated convolutions, coarse-to-fine) and SN-PatchGAN discriminator.

    Attributes:
        ngf: Generator filters in the first layer of each stage (even; DeepFill v2 uses 48).
        ndf: Discriminator filters in the first layer (64, as DeepFill v2).
        n_layers_d: Stride-2 discriminator convolutions (6, as DeepFill v2).
        in_channels: Image channels (the mask comes on top).
    """

    ngf: int = 32
    ndf: int = 64
    n_layers_d: int = 6
    in_channels: int = 3


@dataclasses.dataclass(frozen=True)
class InpaintLoss:
    """The inpainting objective (DeepFill v2: L1 on both stages + hinge SN-PatchGAN).

    Attributes:
        lambda_l1: Weight of each stage's L1 loss to the target over the whole image (coarse
            and refined, as DeepFill v2's ``ae_loss``).
        hole_weight: Weight of a hole pixel's L1 error relative to a known pixel's (1 weighs
            them alike, as DeepFill v2; Liu et al. 2018 weigh holes 6 to 1). Known pixels are
            easy to reproduce and outnumber the holes, so with 1 most of the loss goes to
            copying what is already there.
        lambda_gan: Weight of the generator's hinge GAN loss on the composited output.
            DeepFill v2 uses 1 with 48 filters and batches of 16; 0.1 keeps small, short runs
            led by the L1 loss.
    """

    lambda_l1: float = 1.0
    lambda_gan: float = 0.1
    hole_weight: float = 6.0


@dataclasses.dataclass(frozen=True)
class MaskOptions:
    """Where the training holes come from.

    Attributes:
        kind: Generated masks: ``mixed`` (strokes and boxes), ``strokes`` or ``boxes``.
        min_coverage: Smallest fraction of the crop a generated mask covers.
        max_coverage: Largest fraction of the crop a generated mask covers.
        folder: A folder of mask images (non-zero = hole) used instead of generated masks.
    """

    kind: Literal["mixed", "strokes", "boxes"] = "mixed"
    min_coverage: float = 0.05
    max_coverage: float = 0.5
    folder: str | None = None


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How the run is carried out and recorded.

    Attributes:
        out: Run directory.
        max_steps: Stop after this many steps in total (``None``: run all epochs).
        save_every: Save a checkpoint every this many steps (and always at the end).
        sample_every: Write a sample grid every this many steps.
        log_every: Log losses every this many steps.
        keep: Checkpoints to keep (older ones are deleted; 0 keeps all).
        seed: Seed of every random choice (initialisation, data, pools, dropout).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        deterministic: Use deterministic algorithms (bitwise reproducible on CPU).
        amp: Mixed precision (float16 autocast with gradient scaling); CUDA only.
    """

    out: str
    max_steps: int | None = None
    save_every: int = 1000
    sample_every: int = 500
    log_every: int = 50
    keep: int = 3
    seed: int = 0
    device: str = "auto"
    deterministic: bool = False
    amp: bool = False


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs, as written to ``RUN/config.json``.

    ``recipe`` names one of :data:`ganedit.train.RECIPES` (``cyclegan``, ``pix2pix``, ``sr``,
    ``inpaint``); ``net`` and ``loss`` are that recipe's ``net_type`` and ``loss_type``.
    ``masks`` is for the inpainting recipe only (``None`` otherwise, and then not written).
    """

    recipe: str
    data: DataOptions
    net: NetworkOptions | SRNetworkOptions | InpaintNetworkOptions
    optim: OptimOptions
    loss: CycleGANLoss | Pix2PixLoss | SRLoss | InpaintLoss
    run: RunOptions
    masks: MaskOptions | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "recipe": self.recipe,
            "data": dataclasses.asdict(self.data),
            "net": dataclasses.asdict(self.net),
            "optim": dataclasses.asdict(self.optim),
            "loss": dataclasses.asdict(self.loss),
            "run": dataclasses.asdict(self.run),
        }
        if self.masks is not None:
            out["masks"] = dataclasses.asdict(self.masks)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config :meth:`to_dict` wrote; the recipe's class names the option types.

        Raises:
            KeyError: ``data["recipe"]`` names no recipe.
        """
        # Imported here: the recipes import this module (and torch).
        from .loop import RECIPES

        recipe = RECIPES[data["recipe"]]
        masks = data.get("masks")
        return cls(
            recipe=recipe.name,
            data=DataOptions(**data["data"]),
            net=recipe.net_type(**data["net"]),
            optim=OptimOptions(**data["optim"]),
            loss=recipe.loss_type(**data["loss"]),
            run=RunOptions(**data["run"]),
            masks=MaskOptions(**masks) if masks is not None else None,
        )

    def save(self, path: Path) -> None:
        from ganedit._files import atomic_write

        text = json.dumps(self.to_dict(), indent=2).encode()
        atomic_write(path, lambda f: f.write(text))

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        return cls.from_dict(json.loads(path.read_text()))
