"""Run under ``torchrun`` by ``test_distributed.py``: exercise the collectives of
``core.train.distributed`` with rank-dependent values and write what each rank got to
``OUT/collectives_rank{R}.json``; then run ``tiny_train.py`` once per ``--``-separated argument
list, in the same process group (one torchrun start-up for several runs)::

    torchrun --nproc_per_node=2 tests/core/dist_worker.py OUT [-- tiny_train args ...] [-- ...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from core.io import atomic_write_json
from core.train import (
    ResumableSampler,
    SmoothedValue,
    all_gather_object,
    all_reduce_mean,
    all_reduce_sum,
    broadcast_object,
    cleanup,
    get_rank,
    get_world_size,
    init_distributed,
    is_main_process,
)


def check_collectives(out: Path) -> None:
    info = init_distributed("cpu")
    r = info.rank
    meter = SmoothedValue()
    meter.update(r + 1.0)
    meter.synchronize_between_processes()
    sampler = ResumableSampler(list(range(10)), seed=5)
    sampler.set_epoch(2)
    skipped = ResumableSampler(list(range(10)), seed=5)
    skipped.set_epoch(2, skip=2)
    results = {
        "info": {"rank": info.rank, "world_size": info.world_size, "local_rank": info.local_rank,
                 "distributed": info.distributed, "backend": info.backend, "device": str(info.device)},
        "get_rank": get_rank(),
        "get_world_size": get_world_size(),
        "is_main": is_main_process(),
        "mean_tensor": all_reduce_mean(torch.tensor([r + 1.0, 10.0 * (r + 1)])).tolist(),
        "mean_float": all_reduce_mean(float(r * r + 1)),
        "mean_int_tensor": all_reduce_mean(torch.tensor([r, 3 * r])).tolist(),
        "sum_list": all_reduce_sum([r, 2.0]),
        "mean_dict": {k: (v.item() if isinstance(v, torch.Tensor) else v)
                      for k, v in all_reduce_mean({"a": r, "b": torch.tensor(2.0 * r)}).items()},
        "gathered": all_gather_object({"rank": r, "pid": os.getpid()}),
        "broadcast": broadcast_object("from rank 0" if r == 0 else "not me"),
        "meter": {"count": meter.count, "total": meter.total},
        "sampler": list(sampler),
        "sampler_skip2": list(skipped),
    }
    atomic_write_json(out / f"collectives_rank{r}.json", results)


def main(argv: list) -> int:
    out = Path(argv[0])
    runs, current = [], None
    for a in argv[1:]:
        if a == "--":
            current = []
            runs.append(current)
        elif current is None:
            raise SystemExit(f"unexpected argument {a!r} before '--'")
        else:
            current.append(a)
    check_collectives(out)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tiny_train

    try:
        for run in runs:
            rc = tiny_train.train(tiny_train.get_args_parser().parse_args(run))
            if rc:
                return rc
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
