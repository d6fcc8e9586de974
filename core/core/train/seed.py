"""Seeding and RNG state capture.

``seed_everything`` seeds Python's ``random``, numpy's global RNG and torch (CPU and every CUDA
device); ``seed_worker`` is the DataLoader ``worker_init_fn`` that derives each worker's Python and
numpy seeds from the per-worker torch seed (the torchvision/PyTorch "randomness in multi-process
data loading" recipe).

``get_rng_state`` / ``set_rng_state`` capture and restore all of those generators as plain lists of
ints and tensors, so a checkpoint holding them loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from typing import Any, Dict, Optional

import numpy as np
import torch

__all__ = [
    "seed_everything",
    "set_deterministic",
    "seed_worker",
    "make_generator",
    "get_rng_state",
    "set_rng_state",
]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed ``random``, ``numpy.random`` and torch (CPU and all CUDA devices) with ``seed``.

    With ``deterministic=True`` also switch torch to deterministic algorithms (see
    :func:`set_deterministic`).
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device (lazily)
    if deterministic:
        set_deterministic(True)


def set_deterministic(enabled: bool = True) -> None:
    """Ask torch for deterministic kernels: ``use_deterministic_algorithms`` (warn-only, so an op
    without a deterministic implementation warns instead of failing), cuDNN deterministic and no
    cuDNN autotuning, and the cuBLAS workspace setting CUDA needs for deterministic matmuls."""
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled and torch.backends.cudnn.benchmark


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed Python and numpy in a worker from its torch seed.

    PyTorch gives worker ``i`` the torch seed ``base_seed + i`` (``base_seed`` drawn from the
    loader's ``generator``) but leaves ``random`` and ``numpy`` as forked copies of the parent's,
    so every worker would draw the same "random" augmentations. This fixes that.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (for DataLoaders and samplers)."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def get_rng_state() -> Dict[str, Any]:
    """Capture the state of Python's ``random``, numpy's global RNG, torch CPU and (if CUDA is
    initialised) every CUDA device, as plain ints/lists/tensors (``weights_only``-loadable)."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: Dict[str, Any] = {
        "python": {"version": int(version), "state": [int(x) for x in internal], "gauss": gauss},
        "numpy": {
            "kind": str(kind),
            "keys": [int(x) for x in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any], strict_cuda: bool = False) -> None:
    """Restore what :func:`get_rng_state` captured.

    CUDA states are restored when CUDA is available and the device count matches; otherwise they
    are skipped (or, with ``strict_cuda=True``, a ``ValueError`` is raised).
    """
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"]), py["gauss"]))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["kind"],
            np.asarray(npst["keys"], dtype=np.uint32),
            int(npst["pos"]),
            int(npst["has_gauss"]),
            float(npst["cached_gaussian"]),
        )
    )
    torch.set_rng_state(_as_byte_tensor(state["torch"]))
    cuda: Optional[list] = state.get("cuda")
    if cuda:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all([_as_byte_tensor(s) for s in cuda])
        elif strict_cuda:
            raise ValueError(
                f"checkpoint holds RNG states of {len(cuda)} CUDA devices, "
                f"this process sees {torch.cuda.device_count() if torch.cuda.is_available() else 0}"
            )


def _as_byte_tensor(t: Any) -> torch.Tensor:
    return torch.as_tensor(t, dtype=torch.uint8).cpu()
