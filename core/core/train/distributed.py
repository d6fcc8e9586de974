"""torchrun / DDP set-up from environment variables, and the collectives train scripts need.

The torchvision ``references/*/utils.py`` shape: ``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`init_distributed` reads them and joins the process group (``nccl`` on CUDA,
``gloo`` on CPU). Without them (``python train.py``) it is a single process and every helper here
degrades to the obvious single-process answer, so train scripts call them unconditionally.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence, TypeVar, Union

import torch
import torch.distributed as dist

__all__ = [
    "DistInfo",
    "init_distributed",
    "resolve_device",
    "is_dist_avail_and_initialized",
    "get_rank",
    "get_world_size",
    "get_local_rank",
    "is_main_process",
    "barrier",
    "all_reduce_mean",
    "all_reduce_sum",
    "all_gather_object",
    "broadcast_object",
    "wrap_ddp",
    "place_model",
    "unwrap_model",
    "cleanup",
]

T = TypeVar("T")
Number = Union[int, float]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``distributed`` is False for a plain single-process run."""

    rank: int
    world_size: int
    local_rank: int
    distributed: bool
    backend: Optional[str]
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(name: Optional[str] = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"`` → ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``; ``"cuda"`` → ``cuda:LOCAL_RANK``;
    anything else (``"cpu"``, ``"cuda:1"``) is passed to ``torch.device``."""
    name = (name or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda requested but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device(name)


def _env_int(name: str) -> Optional[int]:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


def init_distributed(
    device: Optional[str] = "auto",
    backend: Optional[str] = None,
    timeout_s: float = 1800.0,
) -> DistInfo:
    """Join the torchrun process group if ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` are set.

    Single process (nothing initialised) when they are absent or ``WORLD_SIZE`` is 1. The backend
    defaults to ``nccl`` for CUDA devices and ``gloo`` otherwise; ``MASTER_ADDR`` / ``MASTER_PORT``
    come from torchrun too (``env://``). On CUDA, the current device is set to ``cuda:LOCAL_RANK``.
    Calling it again after the group exists just reports the current state.
    """
    rank = _env_int("RANK")
    world_size = _env_int("WORLD_SIZE")
    local_rank = _env_int("LOCAL_RANK")
    if rank is None or world_size is None or world_size <= 1:
        dev = resolve_device(device, local_rank or 0)
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        return DistInfo(0, 1, 0, False, None, dev)
    if local_rank is None:
        local_rank = rank  # single node launched without LOCAL_RANK
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if backend is None:
        backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(
            backend=backend,
            init_method="env://",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout_s),
        )
    return DistInfo(rank, world_size, local_rank, True, dist.get_backend(), dev)


def is_dist_avail_and_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist_avail_and_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist_avail_and_initialized() else 1


def get_local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if is_dist_avail_and_initialized() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if is_dist_avail_and_initialized():
        dist.barrier()


def _collective_device() -> torch.device:
    if is_dist_avail_and_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _all_reduce(value: Any, mean: bool) -> Any:
    if isinstance(value, torch.Tensor):
        if not is_dist_avail_and_initialized():
            return value.clone()
        t = value.detach().to(_collective_device())
        if not t.is_floating_point() and mean:
            t = t.double()
        t = t.clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        if mean:
            t = t / dist.get_world_size()
        return t.to(value.device)
    if isinstance(value, (int, float)):
        out = _all_reduce(torch.tensor(float(value), dtype=torch.float64), mean)
        return float(out.item())
    if isinstance(value, dict):
        keys = sorted(value)
        reduced = _all_reduce([value[k] for k in keys], mean)
        return dict(zip(keys, reduced))
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, (int, float)) for v in value):
            out = _all_reduce(torch.tensor([float(v) for v in value], dtype=torch.float64), mean)
            return type(value)(float(x) for x in out.tolist())
        return type(value)(_all_reduce(v, mean) for v in value)
    raise TypeError(f"cannot all-reduce a value of type {type(value).__name__}")


def all_reduce_mean(value: T) -> T:
    """Mean over ranks of a tensor, a number, or a list/tuple/dict of them (same structure back;
    numbers come back as float, integer tensors as float64). Single process: the value itself."""
    return _all_reduce(value, mean=True)


def all_reduce_sum(value: T) -> T:
    """Sum over ranks, same conventions as :func:`all_reduce_mean`."""
    return _all_reduce(value, mean=False)


def all_gather_object(obj: Any) -> List[Any]:
    """Every rank's (picklable) ``obj``, in rank order. Single process: ``[obj]``."""
    if not is_dist_avail_and_initialized():
        return [obj]
    out: List[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank. Single process: ``obj``."""
    if not is_dist_avail_and_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def wrap_ddp(
    model: torch.nn.Module,
    device: Optional[torch.device] = None,
    find_unused_parameters: bool = False,
    **kwargs: Any,
) -> torch.nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when a process group exists; else return it.

    ``device`` (a CUDA device) becomes ``device_ids=[device]``; CPU models get no device ids.
    """
    if not is_dist_avail_and_initialized():
        return model
    from torch.nn.parallel import DistributedDataParallel

    if device is not None and torch.device(device).type == "cuda":
        idx = torch.device(device).index
        ids: Optional[Sequence[int]] = [idx if idx is not None else torch.cuda.current_device()]
    else:
        ids = None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters, **kwargs)


def place_model(model: torch.nn.Module, device: torch.device, channels_last: Optional[bool] = None) -> torch.nn.Module:
    """Move ``model`` to ``device``; on the CPU (or when ``channels_last``) store its 4-D weights
    channels-last, which oneDNN convolves without reordering: 25-40 % faster training steps for the
    narrow CPU networks here (tools/bench). Values and state-dict keys are unchanged."""
    model = model.to(device)
    if channels_last is None:
        channels_last = torch.device(device).type == "cpu"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP / DataParallel wrapper (or the model itself)."""
    while isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        model = model.module
    return model


def cleanup() -> None:
    """Leave the process group (no-op when none).

    Ranks meet at a barrier first: a rank that tears gloo down while its peer still has traffic in
    flight can make the peer abort ("terminate called without an active exception").
    """
    if is_dist_avail_and_initialized():
        try:
            dist.barrier()
        except RuntimeError:  # a peer is already gone: nothing left to wait for
            pass
        dist.destroy_process_group()


def launch(fn: Callable[[T], Optional[int]], args: T) -> int:
    """Run a script's ``fn(args)`` and leave the process group however it ends (what every ``main`` does);
    returns ``fn``'s exit status, 0 when it returns None::

        @cli_errors
        def main(argv=None) -> int:
            return launch(train, parse_train_args(argv))
    """
    try:
        return fn(args) or 0
    finally:
        cleanup()
