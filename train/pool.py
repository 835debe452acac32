"""The reference's image pool: a history of generated images shown to the discriminator.

CycleGAN (Shrivastava et al. 2017, §2.3) updates its discriminators with a mix of the newest
fakes and fakes from earlier generators, which damps oscillation. Unlike the reference, the pool
draws from its own seeded RNG and saves that RNG with its images, so a resumed run makes the same
choices as an uninterrupted one.
"""

from __future__ import annotations

import random
from typing import Any

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """A buffer of up to ``size`` past generated images.

    Per image of a queried batch, in batch order: while the pool holds fewer than ``size`` images,
    the image is stored and returned; once full, with probability 0.5 a random stored image is
    returned and replaced by the new one, otherwise the new image is returned. Everything is
    stored and returned detached, so the result feeds the discriminator's update only.

    Args:
        size: Capacity; 0 disables the pool (``query`` returns its input). 50 in CycleGAN.
        seed: Seed of the pool's own ``random.Random``; the global ``random`` is never used.

    Raises:
        ValueError: ``size`` is negative.

    Example:
        >>> pool = ImagePool(50, seed=0)
        >>> loss_d = gan_loss(net_d(pool.query(fake_b)), target_is_real=False)
    """

    def __init__(self, size: int, *, seed: int) -> None:
        if size < 0:
            raise ValueError(f"pool size must be >= 0 (0 disables the pool), got {size}")
        self.size = size
        self._rng = random.Random(seed)
        self._images: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._images)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images for the discriminator: a mix of ``images`` and stored ones.

        Args:
            images: The newest generated batch, ``(B, C, H, W)``, any range.

        Returns:
            A detached ``(B, C, H, W)`` tensor on ``images``' device; ``images`` itself when the
            pool size is 0.
        """
        if self.size == 0:
            return images
        chosen: list[torch.Tensor] = []
        for image in images.detach():
            # Clone, so a stored image does not keep the whole batch's storage alive.
            image = image.clone()
            if len(self._images) < self.size:
                self._images.append(image)
                chosen.append(image)
            elif self._rng.random() > 0.5:
                slot = self._rng.randrange(self.size)
                chosen.append(self._images[slot].to(image.device))
                self._images[slot] = image
            else:
                chosen.append(image)
        return torch.stack(chosen)

    def state_dict(self) -> dict[str, Any]:
        """Pool contents and RNG state, loadable with ``torch.load(..., weights_only=True)``.

        Returns:
            ``{"size": int, "images": list of (C, H, W) tensors, "rng_state": list}``.
        """
        version, internal, gauss_next = self._rng.getstate()
        return {
            "size": self.size,
            "images": list(self._images),
            "rng_state": [version, list(internal), gauss_next],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; later queries continue the saved run.

        Raises:
            ValueError: The saved pool had another size.
        """
        if state["size"] != self.size:
            raise ValueError(
                f"saved image pool has size {state['size']}, this pool {self.size}; "
                "build the pool with the size of the run being resumed"
            )
        version, internal, gauss_next = state["rng_state"]
        self._rng.setstate((version, tuple(internal), gauss_next))
        self._images = list(state["images"])
