"""Built-in super-resolution models: the Real-ESRGAN releases and the official ESRGAN ×4.

The weights are those xinntao/Real-ESRGAN's ``inference_realesrgan.py`` downloads (its GitHub
releases). Upstream publishes no full checksums, so ``sha256`` is ``None`` and the cache trusts
the first download.

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
_MODELS: dict[str, tuple[str, str]] = {
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


def upscale_entries() -> list[ZooEntry]:
    """The built-in upscale entries."""
    entries = []
    for name, (path, description) in _MODELS.items():
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
            )
        )
    return entries
