"""ganedit.train: trainers for the generator families (installed from the ``train/`` folder).

The training recipes (CycleGAN, pix2pix, super-resolution, inpainting) live here; they need the
``train`` extra: ``pip install 'ganedit[train]'``.
"""
