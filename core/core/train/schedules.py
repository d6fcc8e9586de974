"""Learning-rate schedules with linear/constant warm-up, stepped once per iteration.

Each schedule is a closed-form factor of the iteration number (the pure functions below, which
tests check against hand-computed values) times the base learning rate, wrapped as a torch
``LRScheduler`` whose ``state_dict`` holds only primitives (``weights_only``-loadable). Call
``scheduler.step()`` after every ``optimizer.step()``: milestones, ``step_size`` and ``max_iters``
count iterations (see :func:`epochs_to_iters` for epoch-based recipes). The shapes are detectron2's
``WarmupMultiStepLR`` / ``WarmupCosineLR``: ``lr(it) = base_lr * warmup(it) * schedule(it)``.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, List, Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = [
    "warmup_factor",
    "multistep_factor",
    "step_factor",
    "cosine_factor",
    "epochs_to_iters",
    "WarmupMultiStepLR",
    "WarmupStepLR",
    "WarmupCosineLR",
    "build_scheduler",
]


def warmup_factor(it: int, warmup_iters: int, factor: float, method: str = "linear") -> float:
    """1 once ``it >= warmup_iters``; before that ``factor`` (``"constant"``) or the line from
    ``factor`` at ``it = 0`` to 1 at ``it = warmup_iters`` (``"linear"``)."""
    if it >= warmup_iters:
        return 1.0
    if method == "constant":
        return float(factor)
    if method == "linear":
        alpha = it / warmup_iters
        return float(factor) * (1.0 - alpha) + alpha
    raise ValueError(f"unknown warm-up method {method!r} (linear, constant)")


def multistep_factor(it: int, milestones: Sequence[int], gamma: float) -> float:
    """``gamma ** k`` with ``k`` the number of milestones ``<= it``."""
    return float(gamma) ** bisect.bisect_right(sorted(milestones), it)


def step_factor(it: int, step_size: int, gamma: float) -> float:
    """``gamma ** (it // step_size)``."""
    return float(gamma) ** (it // step_size)


def cosine_factor(it: int, max_iters: int, min_ratio: float = 0.0) -> float:
    """Half cosine from 1 at ``it = 0`` to ``min_ratio`` at ``it = max_iters`` (and after)."""
    if it >= max_iters:
        return float(min_ratio)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * it / max_iters))


def epochs_to_iters(epochs: Sequence[float], iters_per_epoch: int) -> List[int]:
    """Epoch milestones of a recipe as iteration milestones (rounded)."""
    return [int(round(e * iters_per_epoch)) for e in epochs]


class _WarmupScheduler(LRScheduler):
    """``lr = base_lr * warmup_factor(it) * self.schedule_factor(it)`` with ``it = last_epoch``."""

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_iters: int = 0,
        warmup_factor: float = 1.0 / 3,
        warmup_method: str = "linear",
        last_epoch: int = -1,
    ):
        if warmup_method not in ("linear", "constant"):
            raise ValueError(f"unknown warm-up method {warmup_method!r} (linear, constant)")
        self.warmup_iters = int(warmup_iters)
        self.warmup_factor = float(warmup_factor)
        self.warmup_method = warmup_method
        super().__init__(optimizer, last_epoch)

    def schedule_factor(self, it: int) -> float:
        raise NotImplementedError

    def factor(self, it: int) -> float:
        return warmup_factor(it, self.warmup_iters, self.warmup_factor, self.warmup_method) * self.schedule_factor(it)

    def get_lr(self) -> List[float]:  # type: ignore[override]
        f = self.factor(self.last_epoch)
        return [base * f for base in self.base_lrs]

    def _get_closed_form_lr(self) -> List[float]:
        return self.get_lr()


class WarmupMultiStepLR(_WarmupScheduler):
    """Multiply by ``gamma`` at each milestone (iterations), after an optional warm-up."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        warmup_iters: int = 0,
        warmup_factor: float = 1.0 / 3,
        warmup_method: str = "linear",
        last_epoch: int = -1,
    ):
        ms = [int(m) for m in milestones]
        if ms != sorted(ms):
            raise ValueError(f"milestones must be increasing, got {ms}")
        self.milestones = ms
        self.gamma = float(gamma)
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method, last_epoch)

    def schedule_factor(self, it: int) -> float:
        return multistep_factor(it, self.milestones, self.gamma)


class WarmupStepLR(_WarmupScheduler):
    """Multiply by ``gamma`` every ``step_size`` iterations, after an optional warm-up."""

    def __init__(
        self,
        optimizer: Optimizer,
        step_size: int,
        gamma: float = 0.1,
        warmup_iters: int = 0,
        warmup_factor: float = 1.0 / 3,
        warmup_method: str = "linear",
        last_epoch: int = -1,
    ):
        if step_size <= 0:
            raise ValueError(f"step_size must be positive, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method, last_epoch)

    def schedule_factor(self, it: int) -> float:
        return step_factor(it, self.step_size, self.gamma)


class WarmupCosineLR(_WarmupScheduler):
    """Half-cosine decay over ``max_iters`` to ``min_lr_ratio * base_lr``, after an optional warm-up."""

    def __init__(
        self,
        optimizer: Optimizer,
        max_iters: int,
        min_lr_ratio: float = 0.0,
        warmup_iters: int = 0,
        warmup_factor: float = 1.0 / 3,
        warmup_method: str = "linear",
        last_epoch: int = -1,
    ):
        if max_iters <= 0:
            raise ValueError(f"max_iters must be positive, got {max_iters}")
        self.max_iters = int(max_iters)
        self.min_lr_ratio = float(min_lr_ratio)
        super().__init__(optimizer, warmup_iters, warmup_factor, warmup_method, last_epoch)

    def schedule_factor(self, it: int) -> float:
        return cosine_factor(it, self.max_iters, self.min_lr_ratio)


_SCHEDULES = {"multistep": WarmupMultiStepLR, "step": WarmupStepLR, "cosine": WarmupCosineLR}


def build_scheduler(name: str, optimizer: Optimizer, **kwargs: Any) -> LRScheduler:
    """``build_scheduler("multistep"|"step"|"cosine", optimizer, **constructor kwargs)``."""
    try:
        cls = _SCHEDULES[name]
    except KeyError:
        raise ValueError(f"unknown schedule {name!r} (choose from {', '.join(_SCHEDULES)})") from None
    return cls(optimizer, **kwargs)
