"""CycleGAN/pix2pix: the reference's ResNet and U-Net generators and discriminators.

- :mod:`.resnet`, :mod:`.unet`: the generators, with the reference's state dict keys.
- :mod:`.discriminators`: PatchGAN and per-pixel discriminators (training only).
- :mod:`.spec`: :class:`~.spec.ArchSpec` and the ``resnet_<n>blocks``/``unet_<size>`` ids
  (torch-free).
- :mod:`.detect`: recognising both generators from a state dict, ``build_generator``, and the
  two registry entries.

Import from those modules (or from :mod:`ganedit.archs` for the public names); this package
file imports nothing, so that :mod:`ganedit.archs.norm` can read the norm types from
:mod:`.spec` without a cycle.
"""
