"""Checkpoints: full training state for ``--resume PATH|auto``, model-only loading for ``--weights``.

A checkpoint is a dict of tensors, containers and primitives only, so it loads with
``torch.load(weights_only=True)`` (:func:`core.io.load_weights`) and can never run code::

    {"format": 1, "model": state_dict (no "module." prefix), "optimizer": ..., "scheduler": ...,
     "scaler": ..., "iteration": int, "epoch": int, "args": {primitives}, "extra": {...},
     "rng": [per-rank RNG state of python/numpy/torch(/cuda)], "world_size": int}

``iteration`` is the number of optimizer steps done; a resumed run continues with that step.
Files are written atomically (temp file, fsync, rename) by the main process only.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch

from core.errors import DataError
from core.io import atomic_write_text, load_weights, torch_save_atomic
from core.train.args import args_to_dict
from core.train.distributed import all_gather_object, get_rank, get_world_size, is_main_process, unwrap_model
from core.train.seed import get_rng_state, set_rng_state

__all__ = [
    "CHECKPOINT_FORMAT",
    "build_checkpoint",
    "CheckpointManager",
    "ResumeState",
    "resume",
    "LoadReport",
    "load_weights_into",
    "strip_prefix",
]

CHECKPOINT_FORMAT = 1
PathLike = Union[str, "os.PathLike[str]"]
_PLAIN_SCALARS = (type(None), bool, int, float, str, bytes, torch.dtype, torch.device, torch.Size)


def _check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise TypeError naming the first value ``torch.load(weights_only=True)`` could not rebuild."""
    if isinstance(obj, (torch.Tensor,) + _PLAIN_SCALARS):
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool, type(None))):
                raise TypeError(f"{where}: key {k!r} of type {type(k).__name__} is not weights_only-loadable")
            _check_plain(v, f"{where}[{k!r}]")
        return
    if isinstance(obj, (list, tuple, set)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(
        f"{where} holds a {type(obj).__module__}.{type(obj).__name__}, which torch.load(weights_only=True) "
        "cannot load; store tensors, containers and primitives only"
    )


def build_checkpoint(
    model: torch.nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    scheduler: Optional[Any] = None,
    scaler: Optional[Any] = None,
    *,
    iteration: int = 0,
    epoch: int = 0,
    args: Any = None,
    extra: Optional[Mapping[str, Any]] = None,
    rng: bool = True,
) -> Dict[str, Any]:
    """The checkpoint dict (see the module docstring). With ``rng=True`` every rank's RNG state is
    gathered, so under torchrun this is a collective: call it on all ranks."""
    ckpt: Dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "model": unwrap_model(model).state_dict(),
        "iteration": int(iteration),
        "epoch": int(epoch),
        "args": args_to_dict(args),
        "extra": dict(extra or {}),
        "world_size": get_world_size(),
    }
    if optimizer is not None:
        ckpt["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        ckpt["scheduler"] = scheduler.state_dict()
    if scaler is not None:
        ckpt["scaler"] = scaler.state_dict()
    if rng:
        ckpt["rng"] = all_gather_object(get_rng_state())
    _check_plain(ckpt)
    return ckpt


class CheckpointManager:
    """Numbered checkpoints in one directory: ``{prefix}_{iteration:08d}.pth``, the latest named in
    ``last_checkpoint`` (detectron2's convention), only the ``keep_last`` newest kept (``0`` keeps
    all). Other ``.pth`` files there (``model_final.pth`` saved with ``name=``) are never pruned."""

    def __init__(self, directory: PathLike, keep_last: int = 3, prefix: str = "checkpoint"):
        if keep_last < 0:
            raise ValueError(f"keep_last must be >= 0, got {keep_last}")
        self.directory = Path(directory)
        self.keep_last = int(keep_last)
        self.prefix = prefix
        self._pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)\.pth$")

    def path_for(self, iteration: int) -> Path:
        return self.directory / f"{self.prefix}_{int(iteration):08d}.pth"

    def save(
        self,
        model: torch.nn.Module,
        optimizer: Optional[torch.optim.Optimizer] = None,
        scheduler: Optional[Any] = None,
        scaler: Optional[Any] = None,
        *,
        iteration: int,
        epoch: int = 0,
        args: Any = None,
        extra: Optional[Mapping[str, Any]] = None,
        name: Optional[str] = None,
    ) -> Optional[Path]:
        """Save the full state at ``iteration`` (steps done). Call on every rank (RNG states are
        gathered); the main process writes and returns the path, the others return ``None``."""
        ckpt = build_checkpoint(
            model, optimizer, scheduler, scaler, iteration=iteration, epoch=epoch, args=args, extra=extra
        )
        if not is_main_process():
            return None
        path = self.directory / name if name else self.path_for(iteration)
        torch_save_atomic(ckpt, path)
        atomic_write_text(self.directory / "last_checkpoint", path.name + "\n")
        self._prune(keep=path)
        return path

    def checkpoints(self) -> List[Path]:
        """The numbered checkpoints present, oldest first."""
        if not self.directory.is_dir():
            return []
        found: List[Tuple[int, Path]] = []
        for p in self.directory.iterdir():
            m = self._pattern.match(p.name)
            if m and p.is_file():
                found.append((int(m.group(1)), p))
        return [p for _, p in sorted(found)]

    def latest(self) -> Optional[Path]:
        """The checkpoint named in ``last_checkpoint`` if it exists, else the highest-numbered one,
        else ``None``."""
        marker = self.directory / "last_checkpoint"
        if marker.is_file():
            name = marker.read_text(encoding="utf-8").strip()
            if name and (self.directory / name).is_file():
                return self.directory / name
        numbered = self.checkpoints()
        return numbered[-1] if numbered else None

    def _prune(self, keep: Path) -> None:
        if self.keep_last == 0:
            return
        numbered = self.checkpoints()
        for p in numbered[: max(0, len(numbered) - self.keep_last)]:
            if p != keep:
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


@dataclass
class ResumeState:
    """What :func:`resume` restored besides the objects passed to it."""

    path: str
    iteration: int
    epoch: int
    args: Dict[str, Any] = field(default_factory=dict)
    extra: Dict[str, Any] = field(default_factory=dict)


def _resolve_resume_path(target: PathLike, directory: Optional[PathLike]) -> Optional[Path]:
    if str(target) == "auto":
        if directory is None:
            raise ValueError("--resume auto needs the run's checkpoint directory")
        return CheckpointManager(directory).latest()
    path = Path(target)
    if path.is_dir():
        latest = CheckpointManager(path).latest()
        if latest is None:
            raise DataError(path, "no checkpoint in this directory")
        return latest
    if not path.exists():
        raise FileNotFoundError(2, "No such file", str(path))
    return path


def resume(
    target: Optional[PathLike],
    model: torch.nn.Module,
    optimizer: Optional[torch.optim.Optimizer] = None,
    scheduler: Optional[Any] = None,
    scaler: Optional[Any] = None,
    *,
    directory: Optional[PathLike] = None,
    map_location: Any = "cpu",
    restore_rng: bool = True,
    verbose: bool = True,
) -> Optional[ResumeState]:
    """Restore the full training state for ``--resume``.

    ``target``: empty/``None`` (nothing to do, returns ``None``), ``"auto"`` (latest checkpoint in
    ``directory``; ``None`` when there is none, so a first run starts fresh), a checkpoint
    directory, or a file. The model is loaded strictly (resuming is not fine-tuning; use
    :func:`load_weights_into` for that); optimizer, scheduler and scaler are restored when given;
    RNG states last, so call this after everything that draws random numbers at start-up (model
    construction) and before the training loop. Bad checkpoints raise :class:`DataError`.
    """
    if not target:
        return None
    path = _resolve_resume_path(target, directory)
    if path is None:
        if verbose and is_main_process():
            print(f"resume: no checkpoint in {directory}, starting from scratch")
        return None
    ckpt = load_weights(path, map_location=map_location)
    if not isinstance(ckpt, dict) or "model" not in ckpt or "iteration" not in ckpt:
        raise DataError(path, "not a training checkpoint (no 'model'/'iteration'); use --weights for model-only files")
    state = strip_prefix(ckpt["model"])
    try:
        unwrap_model(model).load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise DataError(path, f"checkpoint does not match the model: {' '.join(str(e).split())[:500]}") from None
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if name not in ckpt:
            raise DataError(path, f"checkpoint has no {name} state")
        try:
            obj.load_state_dict(ckpt[name])
        except (ValueError, KeyError, RuntimeError) as e:
            raise DataError(path, f"cannot restore the {name}: {e}") from None
    if scaler is not None:
        if "scaler" in ckpt:
            scaler.load_state_dict(ckpt["scaler"])
        else:
            warnings.warn(f"{path}: no grad-scaler state (saved without AMP); starting a fresh scaler", stacklevel=2)
    if restore_rng and ckpt.get("rng"):
        states = ckpt["rng"]
        rank, world = get_rank(), get_world_size()
        if len(states) != world:
            warnings.warn(
                f"{path}: saved by {len(states)} process(es), resumed by {world}; RNG streams will differ",
                stacklevel=2,
            )
        set_rng_state(states[rank % len(states)])
    if verbose and is_main_process():
        print(f"resume: {path} (iteration {int(ckpt['iteration'])}, epoch {int(ckpt.get('epoch', 0))})")
    return ResumeState(
        path=str(path),
        iteration=int(ckpt["iteration"]),
        epoch=int(ckpt.get("epoch", 0)),
        args=dict(ckpt.get("args") or {}),
        extra=dict(ckpt.get("extra") or {}),
    )


def strip_prefix(state: Mapping[str, Any], prefix: str = "module.") -> Dict[str, Any]:
    """Drop ``prefix`` (repeatedly) from the keys that start with it: DDP / DataParallel checkpoints
    name every tensor ``module.<name>``."""
    out: Dict[str, Any] = {}
    for k, v in state.items():
        while k.startswith(prefix):
            k = k[len(prefix):]
        out[k] = v
    return out


@dataclass
class LoadReport:
    """Outcome of :func:`load_weights_into`: which model keys were loaded, which stayed as
    initialised (``missing``), which checkpoint keys the model has no slot for (``unexpected``),
    and which had a different shape (``mismatched``: name, checkpoint shape, model shape; also left
    as initialised)."""

    source: str
    loaded: List[str]
    missing: List[str]
    unexpected: List[str]
    mismatched: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]]

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        def names(keys: List[str], limit: int = 20) -> str:
            shown = ", ".join(keys[:limit])
            return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")

        lines = [f"weights: {self.source}: loaded {len(self.loaded)} tensors"]
        if self.missing:
            lines.append(f"  missing in checkpoint (left as initialised): {names(self.missing)}")
        if self.unexpected:
            lines.append(f"  unexpected (not in model, ignored): {names(self.unexpected)}")
        for k, got, want in self.mismatched:
            lines.append(f"  shape mismatch, skipped: {k}: checkpoint {list(got)} vs model {list(want)}")
        return "\n".join(lines)


def _extract_state_dict(obj: Any, key: Optional[str], source: str) -> Mapping[str, Any]:
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise DataError(source, f"no '{key}' entry in the checkpoint")
        obj = obj[key]
    elif isinstance(obj, dict):
        for k in ("model", "state_dict", "model_state", "net"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise DataError(source, "not a state dict (expected a mapping of parameter names to tensors)")
    return obj


def load_weights_into(
    model: torch.nn.Module,
    source: Union[PathLike, Mapping[str, Any]],
    *,
    strict: bool = False,
    key: Optional[str] = None,
    map_location: Any = "cpu",
    verbose: bool = True,
) -> LoadReport:
    """Load model weights only (``--weights``): from a file (a full checkpoint's ``model``, a
    ``state_dict`` entry, or a bare state dict) or a mapping. ``module.`` prefixes are stripped and a
    DDP-wrapped ``model`` is unwrapped. Tensors whose shape differs from the model's are skipped,
    so partial loads (a new classifier head) work; the report lists missing, unexpected and
    mismatched keys and is printed on the main process when ``verbose``. ``strict=True`` raises
    :class:`DataError` unless the load is complete."""
    if isinstance(source, Mapping):
        name, obj = "<state dict>", dict(source)
    else:
        name = os.fspath(source)
        obj = load_weights(name, map_location=map_location)
    state = strip_prefix(_extract_state_dict(obj, key, name))
    target = unwrap_model(model)
    own = target.state_dict()
    usable: Dict[str, Any] = {}
    mismatched: List[Tuple[str, Tuple[int, ...], Tuple[int, ...]]] = []
    for k, v in state.items():
        if k not in own:
            continue
        if isinstance(v, torch.Tensor) and isinstance(own[k], torch.Tensor) and v.shape != own[k].shape:
            mismatched.append((k, tuple(v.shape), tuple(own[k].shape)))
            continue
        usable[k] = v
    report = LoadReport(
        source=name,
        loaded=sorted(usable),
        missing=sorted(k for k in own if k not in state),
        unexpected=sorted(k for k in state if k not in own),
        mismatched=sorted(mismatched),
    )
    if strict and not report.complete:
        raise DataError(name, "weights do not match the model exactly:\n" + str(report))
    target.load_state_dict(usable, strict=False)
    if verbose and is_main_process():
        print(report, file=sys.stdout)
    return report
