"""Built-in translation models: the official CycleGAN and pix2pix pretrained generators.

The weights are those that junyanz/pytorch-CycleGAN-and-pix2pix downloads in
``scripts/download_cyclegan_model.sh`` and ``scripts/download_pix2pix_model.sh``. Upstream
publishes no checksums, so every ``sha256`` is ``None`` and the cache trusts the first download.

Names shared by both families (the bare-name rule): CycleGAN and pix2pix both publish
``sat2map``, ``map2sat`` and ``facades_label2photo``. The bare name is the pix2pix model, the
paired task the pix2pix paper showcases; the CycleGAN model is ``cyclegan_<name>``. The pix2pix
model also answers to ``pix2pix_<name>``, and every entry answers to ``<family>/<name>``
(``cyclegan/sat2map``, ``pix2pix/sat2map``), which never collides.

CycleGAN generators are ``resnet_9blocks`` with instance norm. pix2pix generators are
``unet_256`` with batch norm that upstream runs with per-image statistics at test time
(``norm_stats="image"``).
"""

from __future__ import annotations

from .registry import ZooEntry

__all__ = ["CYCLEGAN_URL", "PIX2PIX_URL", "SHARED_NAMES", "translate_entries"]

CYCLEGAN_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/{name}.pth"
_LICENSE = "BSD (junyanz/pytorch-CycleGAN-and-pix2pix)"
_CYCLEGAN_SOURCE = "junyanz/pytorch-CycleGAN-and-pix2pix pretrained CycleGAN"
_PIX2PIX_SOURCE = "junyanz/pytorch-CycleGAN-and-pix2pix pretrained pix2pix"

# Upstream name -> what it translates, in the order of the upstream download scripts.
_CYCLEGAN: dict[str, str] = {
    "apple2orange": "Photos of apples to oranges.",
    "orange2apple": "Photos of oranges to apples.",
    "summer2winter_yosemite": "Summer Yosemite landscapes to winter.",
    "winter2summer_yosemite": "Winter Yosemite landscapes to summer.",
    "horse2zebra": "Photos of horses to zebras.",
    "zebra2horse": "Photos of zebras to horses.",
    "monet2photo": "Monet paintings to photos.",
    "style_monet": "Photos to paintings in the style of Monet.",
    "style_cezanne": "Photos to paintings in the style of Cezanne.",
    "style_ukiyoe": "Photos to Ukiyo-e style prints.",
    "style_vangogh": "Photos to paintings in the style of Van Gogh.",
    "sat2map": "Satellite photos to map renderings (unpaired).",
    "map2sat": "Map renderings to satellite photos (unpaired).",
    "cityscapes_photo2label": "Cityscapes street photos to semantic label maps.",
    "cityscapes_label2photo": "Cityscapes semantic label maps to street photos.",
    "facades_photo2label": "Building facade photos to facade label maps.",
    "facades_label2photo": "Facade label maps to building facade photos (unpaired).",
    "iphone2dslr_flower": "iPhone flower photos to DSLR-like shallow depth of field.",
}

_PIX2PIX: dict[str, str] = {
    "edges2shoes": "Edge drawings of shoes to shoe photos.",
    "sat2map": "Satellite photos to map renderings (paired).",
    "map2sat": "Map renderings to satellite photos (paired).",
    "facades_label2photo": "Facade label maps to building facade photos (paired).",
    "day2night": "Daytime outdoor scenes to night.",
}

SHARED_NAMES: tuple[str, ...] = tuple(name for name in _PIX2PIX if name in _CYCLEGAN)
"""Upstream names published by both families; the bare name is the pix2pix model."""


def _cyclegan(name: str, description: str) -> ZooEntry:
    shared = name in SHARED_NAMES
    if shared:
        description += f" CycleGAN; the bare name {name!r} is the pix2pix model."
    return ZooEntry(
        name=f"cyclegan_{name}" if shared else name,
        task="translate",
        family="cyclegan",
        url=CYCLEGAN_URL.format(name=name),
        description=description,
        source=_CYCLEGAN_SOURCE,
        license=_LICENSE,
        upstream_name=name,
        arch="ResNet-9 (CycleGAN)",
    )


def _pix2pix(name: str, description: str) -> ZooEntry:
    shared = name in SHARED_NAMES
    if shared:
        description += f" pix2pix, the bare name; the CycleGAN model is 'cyclegan_{name}'."
    return ZooEntry(
        name=name,
        task="translate",
        family="pix2pix",
        url=PIX2PIX_URL.format(name=name),
        description=description,
        source=_PIX2PIX_SOURCE,
        license=_LICENSE,
        aliases=(f"pix2pix_{name}",) if shared else (),
        upstream_name=name,
        arch="U-Net 256 (pix2pix)",
    )


def translate_entries() -> list[ZooEntry]:
    """The built-in CycleGAN entries, then the pix2pix ones."""
    return [_cyclegan(n, d) for n, d in _CYCLEGAN.items()] + [
        _pix2pix(n, d) for n, d in _PIX2PIX.items()
    ]
