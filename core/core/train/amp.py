"""Mixed precision the torchvision references' way (``--amp``), on the CPU as well.

CUDA: float16 autocast with a ``GradScaler``. CPU: bfloat16 autocast, which needs no loss scaling (same
exponent range as float32); convolutions then run in oneDNN's bfloat16 kernels, 1.6x faster training steps
for AMTNet's demo network on this machine's AVX512-BF16 CPU (tools/bench/amp.py). Losses are computed
on outputs cast back to float32.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

import torch

__all__ = ["amp_dtype", "autocast", "grad_scaler"]


def amp_dtype(device: torch.device) -> torch.dtype:
    """float16 on CUDA, bfloat16 elsewhere."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.bfloat16


def autocast(device: torch.device, enabled: bool) -> ContextManager:
    """``torch.autocast`` for ``device`` in :func:`amp_dtype`, or a no-op context when not ``enabled``."""
    if not enabled:
        return contextlib.nullcontext()
    device = torch.device(device)
    return torch.autocast(device.type, dtype=amp_dtype(device))


def grad_scaler(device: torch.device, enabled: bool) -> torch.amp.GradScaler:
    """A loss scaler that is active only for float16 (CUDA); elsewhere a pass-through
    (``scale(loss)`` is ``loss``, ``step`` calls ``optimizer.step()``)."""
    return torch.amp.GradScaler("cuda", enabled=enabled and torch.device(device).type == "cuda")
