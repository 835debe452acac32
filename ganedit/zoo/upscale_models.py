"""Built-in super-resolution models: the Real-ESRGAN releases and the official ESRGAN ×4, then
popular upscalers of other architectures that ganedit imports through spandrel (SwinIR, HAT,
DAT, SPAN, Swin2SR, OmniSR, RealPLKSR, 4x-UltraSharp).

The Real-ESRGAN weights are those xinntao/Real-ESRGAN's ``inference_realesrgan.py`` downloads
(its GitHub releases). Upstream publishes no full checksums, so ``sha256`` is ``None`` and the
cache trusts the first download.

The others come from their authors' releases where those are direct downloads (SwinIR,
Swin2SR, Kim2091's models), otherwise from the mirrors that other tools pin by checksum (HAT and
OmniSR at huggingface.co/Acly as krita-ai-diffusion downloads them, DAT at huggingface.co/w-e-w
as AUTOMATIC1111 does, SPAN at OpenModelDB's model hub); the sha256 values are those published
by OpenModelDB or pinned by those tools. HAT, DAT, SPAN and Real-CUGAN publish their weights
only on Google Drive or Baidu, which cannot be downloaded by a plain request; Real-CUGAN has no
such mirror and no entry.

``realesr-general-x4v3`` can be blended with ``realesr-general-wdn-x4v3`` ("without denoise"):
``--denoise D`` mixes the weights as ``D × general + (1 − D) × wdn``, as upstream's
``--denoise_strength`` does; ``D = 1`` is the plain general model.
"""

from __future__ import annotations

from .registry import ZooEntry

__all__ = ["upscale_entries"]

_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
_LICENSE = "BSD-3-Clause (xinntao/Real-ESRGAN)"
_SOURCE = "xinntao/Real-ESRGAN release"

# name -> (release path, description)
_REALESRGAN: dict[str, tuple[str, str]] = {
    "realesrgan-x4plus": (
        "v0.1.0/RealESRGAN_x4plus.pth",
        "×4 for real-world photos (RRDBNet, 23 blocks), GAN-trained.",
    ),
    "realesrnet-x4plus": (
        "v0.1.1/RealESRNet_x4plus.pth",
        "×4 for real-world photos, PSNR-oriented (smoother, fewer invented details).",
    ),
    "realesrgan-x4plus-anime-6b": (
        "v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
        "×4 for anime illustrations (RRDBNet, 6 blocks).",
    ),
    "realesrgan-x2plus": (
        "v0.2.1/RealESRGAN_x2plus.pth",
        "×2 for real-world photos (RRDBNet on a pixel-unshuffled input).",
    ),
    "realesr-animevideov3": (
        "v0.2.5.0/realesr-animevideov3.pth",
        "×4 for anime video frames (SRVGGNetCompact, 16 convs): small and fast.",
    ),
    "realesr-general-x4v3": (
        "v0.2.5.0/realesr-general-x4v3.pth",
        "×4 general scenes (SRVGGNetCompact, 32 convs): small and fast; --denoise 0..1.",
    ),
    "realesr-general-wdn-x4v3": (
        "v0.2.5.0/realesr-general-wdn-x4v3.pth",
        "×4 general scenes without denoising (keeps grain); the --denoise 0 end.",
    ),
    "esrgan-x4": (
        "v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth",
        "The original ESRGAN ×4 (DF2K+OST), for bicubic-downscaled images.",
    ),
}


_SWINIR = "https://github.com/JingyunLiang/SwinIR/releases/download/v0.0"
_SWINIR_LICENSE = "Apache-2.0 (JingyunLiang/SwinIR)"
_HAT = "https://huggingface.co/Acly/hat/resolve/main"
_HAT_SOURCE = "XPixelGroup/HAT official weights, mirrored at huggingface.co/Acly/hat"
_DAT = "https://huggingface.co/w-e-w/DAT/resolve/main/experiments/pretrained_models/DAT"
_DAT_SOURCE = "zhengchen1999/DAT official weights, mirrored at huggingface.co/w-e-w/DAT"
_OMNISR = "https://huggingface.co/Acly/Omni-SR/resolve/main"
_OMNISR_SOURCE = "Francis0625/Omni-SR official DIV2K weights, as safetensors at Acly/Omni-SR"


# Real-CUGAN's official weights are on cloud drives only; its README links this Hugging Face
# Space (mnixry's web demo), which serves the same files. No checksum is published: the first
# download's is recorded.
_REALCUGAN = "https://huggingface.co/spaces/mayhug/Real-CUGAN/resolve/main/weights"
_REALCUGAN_SOURCE = "bilibili/ailab Real-CUGAN weights, as served by the mayhug/Real-CUGAN Space"


def _imported() -> list[ZooEntry]:
    """Upscalers of architectures ganedit imports through spandrel."""

    def entry(name: str, family: str, url: str, **fields: object) -> ZooEntry:
        return ZooEntry(name=name, task="upscale", family=family, url=url, **fields)  # type: ignore[arg-type]

    swinir = {
        "family": "swinir",
        "license": _SWINIR_LICENSE,
        "source": "JingyunLiang/SwinIR release",
    }
    return [
        entry(
            "swinir-m-x4-gan",
            url=f"{_SWINIR}/003_realSR_BSRGAN_DFO_s64w8_SwinIR-M_x4_GAN.pth",
            sha256="b9afb61e65e04eb7f8aba5095d070bbe9af28df76acd0c9405aeb33b814bcfc6",
            arch="SwinIR-M",
            description="×4 for real-world photos (BSRGAN degradations), GAN-trained.",
            **swinir,
        ),
        entry(
            "swinir-l-x4-gan",
            url=f"{_SWINIR}/003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth",
            sha256="99adfa91350a84c99e946c1eb3d8fce34bc28f57d807b09dc8fe40a316328c0a",
            arch="SwinIR-L",
            description="×4 for real-world photos, the large SwinIR (slow; sharper).",
            **swinir,
        ),
        entry(
            "swinir-m-x2",
            url=f"{_SWINIR}/001_classicalSR_DF2K_s64w8_SwinIR-M_x2.pth",
            sha256="2032ebf8f401dd3ce2fae5f3852117cb72101ec6ed8358faa64c2a3fa09ed4ac",
            arch="SwinIR-M",
            description="×2 for bicubic-downscaled images (classical SR, DF2K).",
            **swinir,
        ),
        entry(
            "swinir-m-x4",
            url=f"{_SWINIR}/001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth",
            sha256="4e78e33f22c1aa8a773db0cf4a7381bae97c2362c717f155439ebc690cbd9215",
            arch="SwinIR-M",
            description="×4 for bicubic-downscaled images (classical SR, DF2K).",
            **swinir,
        ),
        entry(
            "hat-x4-imagenet",
            "hat",
            f"{_HAT}/HAT_SRx4_ImageNet-pretrain.pth",
            sha256="4ee053c42461187846dc0e93aa5abd34591c0725a8e044a59000e92ee215e833",
            arch="HAT",
            description="×4 for bicubic-downscaled images (HAT, ImageNet pre-training).",
            source=_HAT_SOURCE,
            license="Apache-2.0 (XPixelGroup/HAT)",
        ),
        entry(
            "real-hat-gan-x4-sharper",
            "hat",
            f"{_HAT}/Real_HAT_GAN_sharper.pth",
            sha256="5800b67136006eb8cab3b4ed7c8d73b6a195bb18e6cc709b674f9aa069c00271",
            arch="HAT",
            description="×4 for real-world photos, GAN-trained, the sharper release.",
            source=_HAT_SOURCE,
            license="Apache-2.0 (XPixelGroup/HAT)",
            upstream_name="Real_HAT_GAN_SRx4_sharper",
        ),
        *(
            entry(
                f"dat-x{scale}",
                "dat",
                f"{_DAT}/DAT_x{scale}.pth",
                sha256=digest,
                arch="DAT",
                description=f"×{scale} for bicubic-downscaled images (DAT, DF2K).",
                source=_DAT_SOURCE,
                license="Apache-2.0 (zhengchen1999/DAT)",
            )
            for scale, digest in (
                (2, "7760aa96e4ee77e29d4f89c3a4486200042e019461fdb8aa286f49aa00b89b51"),
                (3, "581973e02c06f90d4eb90acf743ec9604f56f3c2c6f9e1e2c2b38ded1f80d197"),
                (4, "391a6ce69899dff5ea3214557e9d585608254579217169faf3d4c353caff049e"),
            )
        ),
        entry(
            "span-x4",
            "span",
            "https://github.com/OpenModelDB/model-hub/releases/download/span/4x-spanx4_ch48.pth",
            arch="SPAN (48 channels)",
            description="×4 for bicubic-downscaled images: small and fast (NTIRE 2024 winner).",
            source="hongyuanyu/SPAN official weights, mirrored at OpenModelDB's model hub",
            license="Apache-2.0 (hongyuanyu/SPAN)",
        ),
        entry(
            "swin2sr-x4-realworld",
            "swin2sr",
            "https://github.com/mv-lab/swin2sr/releases/download/v0.0.1/"
            "Swin2SR_RealworldSR_X4_64_BSRGAN_PSNR.pth",
            arch="Swin2SR",
            description="×4 for real-world photos (BSRGAN degradations), PSNR-trained.",
            source="mv-lab/swin2sr release",
            license="Apache-2.0 (mv-lab/swin2sr)",
        ),
        *(
            entry(
                f"omnisr-x{scale}",
                "omnisr",
                f"{_OMNISR}/OmniSR_X{scale}_DIV2K.safetensors",
                sha256=digest,
                arch="OmniSR",
                description=f"×{scale} for bicubic-downscaled images: small (0.8 M parameters).",
                source=_OMNISR_SOURCE,
                license="Apache-2.0 (Francis0625/Omni-SR)",
            )
            for scale, digest in (
                (2, "79408fc23203bf161faa957c4a602cc40521ed2235a72d976bd9d375e6644611"),
                (4, "dff25e4ed392cb5cbe534d920e292063a0555df9281c54c5ec321490a2a59832"),
            )
        ),
        entry(
            "realplksr-x4-pretrain",
            "realplksr",
            "https://github.com/Kim2091/Kim2091-Models/releases/download/"
            "4x-RealPLKSR_Pretrain_V4/4x-RealPLKSR_Pretrain_V4.pth",
            sha256="7d67b22f0c5b60f4167d94e89b7b56f74bdf994bb8fb199769b9d945c681a1ae",
            arch="RealPLKSR",
            description="×4 general photos (RealPLKSR), a pretrain for fine-tuning; fast.",
            source="Kim2091/Kim2091-Models release",
            license="CC0-1.0",
            upstream_name="4x-RealPLKSR_Pretrain_V4",
        ),
        *(
            entry(
                f"realcugan-x2-{variant}",
                "realcugan",
                f"{_REALCUGAN}/up2x-latest-{variant}.pth",
                arch="RealCUGAN (UpCunet2x)",
                description=f"×2 for anime and illustrations, {what}.",
                source=_REALCUGAN_SOURCE,
                license="MIT (bilibili/ailab Real-CUGAN)",
                upstream_name=f"up2x-latest-{variant}",
            )
            for variant, what in (
                ("no-denoise", "no denoising"),
                ("conservative", "conservative (keeps the most texture)"),
                ("denoise3x", "strong denoising and artefact removal"),
            )
        ),
        entry(
            "4x-ultrasharp",
            "esrgan",
            "https://huggingface.co/Kim2091/UltraSharp/resolve/main/4x-UltraSharp.pth",
            sha256="a5812231fc936b42af08a5edba784195495d303d5b3248c24489ef0c4021fe01",
            arch="RRDBNet (ESRGAN)",
            description="×4 general photos, sharp (Kim2091); weights for non-commercial use.",
            source="Kim2091/UltraSharp",
            license="CC BY-NC-SA 4.0",
            upstream_name="4x-UltraSharp",
            noncommercial=True,
        ),
    ]


def upscale_entries() -> list[ZooEntry]:
    """The built-in upscale entries: Real-ESRGAN and ESRGAN, then the imported ones."""
    entries = []
    for name, (path, description) in _REALESRGAN.items():
        entries.append(
            ZooEntry(
                name=name,
                task="upscale",
                family="realesrgan" if name != "esrgan-x4" else "esrgan",
                url=f"{_RELEASES}/{path}",
                description=description,
                source=_SOURCE if name != "esrgan-x4" else "xinntao/ESRGAN via Real-ESRGAN release",
                license=_LICENSE if name != "esrgan-x4" else "Apache-2.0 (xinntao/ESRGAN)",
                blend_with="realesr-general-wdn-x4v3" if name == "realesr-general-x4v3" else None,
                arch="SRVGGNetCompact" if "realesr-" in name else "RRDBNet",
            )
        )
    return entries + _imported()
