"""Learning-rate schedules of the CycleGAN / pix2pix reference (its ``get_scheduler``).

Every scheduler here is stepped once per epoch, at the END of the epoch (``plateau`` with the
epoch's metric). Resume by loading both the optimizer's and the scheduler's state dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    LRScheduler,
    ReduceLROnPlateau,
    StepLR,
)

__all__ = ["LinearDecay", "SchedulePolicy", "linear_decay", "make_scheduler"]

SchedulePolicy = Literal["linear", "step", "plateau", "cosine"]

# The reference's --epoch_count (the number of the first epoch); resume here goes through the
# scheduler's state dict instead, so it stays 1.
_EPOCH_COUNT = 1


@dataclass
class LinearDecay:
    """The reference's ``'linear'`` factor: ``1 − max(0, e + 1 − epochs) / (epochs_decay + 1)``.

    ``e`` is the number of completed epochs. A plain class rather than a lambda, so
    ``LambdaLR.state_dict()`` can save it (as its ``__dict__``).

    Example:
        >>> [LinearDecay(epochs=3, epochs_decay=2)(e) for e in range(5)]
        [1.0, 1.0, 1.0, 0.6666666666666667, 0.33333333333333337]
    """

    epochs: int
    epochs_decay: int

    def __call__(self, completed_epochs: int) -> float:
        decayed = max(0, completed_epochs + _EPOCH_COUNT - self.epochs)
        return 1.0 - decayed / float(self.epochs_decay + 1)


def _check_epochs(epochs: int, epochs_decay: int) -> None:
    if epochs < 0 or epochs_decay < 0:
        raise ValueError(
            f"epochs and epochs_decay must be >= 0, got epochs={epochs}, "
            f"epochs_decay={epochs_decay}"
        )


def linear_decay(optimizer: Optimizer, *, epochs: int, epochs_decay: int) -> LambdaLR:
    """Constant learning rate for ``epochs`` epochs, then linear decay over ``epochs_decay``.

    Epoch ``e`` (0-based) trains at ``lr · LinearDecay(epochs, epochs_decay)(e)`` provided
    ``scheduler.step()`` is called at the end of each epoch: exactly ``epochs`` epochs at the full
    rate, then ``epochs_decay`` epochs at ``lr·k/(epochs_decay + 1)`` for
    ``k = epochs_decay, …, 1``, so the last epoch still learns (at ``lr/(epochs_decay + 1)``).
    This is the documented behaviour and what the older reference did, stepping at epoch end.
    The newer reference steps at the start of each epoch with the same formula, which shifts the
    schedule one epoch early and trains its last epoch at learning rate 0; ganedit does not.

    Args:
        optimizer: Its learning rates are the full rates.
        epochs: Epochs at the full rate (``--n_epochs``, 100 in the reference), ``>= 0``.
        epochs_decay: Epochs of decay (``--n_epochs_decay``, 100 in the reference), ``>= 0``.

    Returns:
        A ``LambdaLR`` whose ``state_dict()`` / ``load_state_dict()`` work for resume.

    Raises:
        ValueError: A negative epoch count.

    Example:
        >>> scheduler = linear_decay(optimizer, epochs=100, epochs_decay=100)
        >>> for epoch in range(200):
        ...     train_one_epoch()
        ...     scheduler.step()
    """
    _check_epochs(epochs, epochs_decay)
    return LambdaLR(optimizer, lr_lambda=LinearDecay(epochs=epochs, epochs_decay=epochs_decay))


def make_scheduler(
    optimizer: Optimizer,
    *,
    policy: SchedulePolicy,
    epochs: int,
    epochs_decay: int,
    lr_decay_iters: int = 50,
) -> LRScheduler:
    """The reference's scheduler for ``policy``.

    * ``"linear"``: :func:`linear_decay`.
    * ``"step"``: ``StepLR`` — learning rate times 0.1 every ``lr_decay_iters`` epochs.
    * ``"plateau"``: ``ReduceLROnPlateau(mode="min", factor=0.2, threshold=0.01, patience=5)``;
      step it with the epoch's metric, ``scheduler.step(value)``.
    * ``"cosine"``: ``CosineAnnealingLR(T_max=epochs, eta_min=0)``; as in the reference it
      reaches 0 after ``epochs`` epochs and ignores ``epochs_decay``.

    Args:
        optimizer: The optimizer to schedule.
        policy: ``"linear"``, ``"step"``, ``"plateau"`` or ``"cosine"``.
        epochs: Epochs at the full rate (``linear``) or the cosine period, ``>= 0``
            (``>= 1`` for ``cosine``).
        epochs_decay: Epochs of linear decay (``linear`` only), ``>= 0``.
        lr_decay_iters: Period of ``step`` in epochs (the reference's ``--lr_decay_iters``).

    Returns:
        A scheduler to step once at the end of every epoch.

    Raises:
        ValueError: An unknown policy or an invalid epoch count.
    """
    _check_epochs(epochs, epochs_decay)
    if policy == "linear":
        return linear_decay(optimizer, epochs=epochs, epochs_decay=epochs_decay)
    if policy == "step":
        if lr_decay_iters < 1:
            raise ValueError(f"lr_decay_iters must be >= 1, got {lr_decay_iters}")
        return StepLR(optimizer, step_size=lr_decay_iters, gamma=0.1)
    if policy == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=0.2, threshold=0.01, patience=5)
    if policy == "cosine":
        if epochs < 1:
            raise ValueError(f"the cosine policy needs epochs >= 1 (its period), got {epochs}")
        return CosineAnnealingLR(optimizer, T_max=epochs, eta_min=0)
    raise ValueError(f"policy must be one of {get_args(SchedulePolicy)}, got {policy!r}")
