"""Inpainting: a DeepFill-v2-style gated-convolution generator and its SN-PatchGAN
discriminator.

- :mod:`.network`: :class:`~.network.GatedConv2d`, :class:`~.network.InpaintGenerator`,
  :class:`~.network.SNPatchDiscriminator`.
- :mod:`.spec`: :class:`~.spec.InpaintSpec` and the ``gated_inpaint`` id (torch-free).
- :mod:`.detect`: recognising the generator from a state dict, and its registry entry.

Import from those modules (or from :mod:`ganedit.archs` for the public names).
"""
