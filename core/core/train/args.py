"""The command-line flags every train.py shares, and turning parsed args into checkpoint-safe data.

Each paper keeps its original repository's flag names and defaults; :func:`add_common_args` adds
only the shared flags the script does not already define (so a paper whose original has, say,
``--num_workers 8`` keeps it). The output directory is not added: each paper keeps its own name
for it (``--save_root``, ``--output_dir``, ``--work_dir``, ...).
"""

from __future__ import annotations

import argparse
import enum
import os
from typing import Any, Dict, Iterable, Mapping, Union

__all__ = ["LOGGER_CHOICES", "add_common_args", "args_to_dict"]

LOGGER_CHOICES = ("tensorboard", "visdom", "none")


def add_common_args(
    parser: argparse.ArgumentParser,
    *,
    seed: int = 0,
    device: str = "auto",
    logger: str = "tensorboard",
    num_workers: int = 4,
    skip: Iterable[str] = (),
) -> argparse.ArgumentParser:
    """Add ``--resume``, ``--weights``, ``--seed``, ``--device``, ``--logger``, ``--num_workers``,
    ``--deterministic``, ``--visdom_server``, ``--visdom_port``, ``--visdom_env`` to ``parser``.

    A flag the parser already has (or that is named in ``skip``, e.g. ``"--seed"``) is left alone.
    Returns the parser.
    """
    if logger not in LOGGER_CHOICES:
        raise ValueError(f"logger default must be one of {LOGGER_CHOICES}, got {logger!r}")
    existing = set(parser._option_string_actions) | set(skip)
    group = parser.add_argument_group("shared training options (core.train)")

    def add(flag: str, **kwargs: Any) -> None:
        if flag not in existing:
            group.add_argument(flag, **kwargs)

    add("--resume", default="", metavar="PATH|auto",
        help="resume the full training state (model, optimizer, scheduler, iteration, RNG) from a "
             "checkpoint file, a checkpoint directory, or 'auto' = latest checkpoint of this run's "
             "output directory (starts fresh if there is none)")
    add("--weights", default="", metavar="PATH",
        help="initialise the model only from these weights (fine-tuning); missing/unexpected keys "
             "are reported, shape-mismatched tensors skipped")
    add("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    add("--device", default=device,
        help=f"auto, cpu, cuda or cuda:N (default {device}; under torchrun cuda means cuda:LOCAL_RANK)")
    add("--logger", default=logger, choices=LOGGER_CHOICES,
        help=f"scalar logger besides console and log.txt (default {logger})")
    add("--num_workers", type=int, default=num_workers, help=f"data loading workers (default {num_workers})")
    add("--deterministic", action="store_true", help="use deterministic algorithms (slower on GPU)")
    add("--visdom_server", default="http://localhost", help="visdom server (with --logger visdom)")
    add("--visdom_port", type=int, default=8097, help="visdom port (with --logger visdom)")
    add("--visdom_env", default="", help="visdom environment (default: the output directory name)")
    return parser


Plain = Union[None, bool, int, float, str, list, dict]


def _plain(value: Any) -> Plain:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _plain(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


def args_to_dict(args: Union[argparse.Namespace, Mapping[str, Any], None]) -> Dict[str, Plain]:
    """Parsed args as a dict of primitives (paths → str, tuples → lists, other objects → repr), so a
    checkpoint holding them loads with ``weights_only=True``."""
    if args is None:
        return {}
    if isinstance(args, argparse.Namespace):
        args = vars(args)
    return {str(k): _plain(v) for k, v in args.items()}
