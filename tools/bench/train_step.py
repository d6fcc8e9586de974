"""Benchmark: one AMTNet training step (forward, multibox loss, backward, AdamW) on the CPU in three
settings, against the plain float32 contiguous-memory step measured in the same run:

* baseline: float32, NCHW weights (what train.py did before ``core.train.place_model``)
* channels_last: float32, weights stored channels-last (``place_model`` on the CPU, train.py's default)
* channels_last + bf16: the same under ``core.train.autocast`` (train.py ``--amp``)

The loss is checked to agree between the settings on the first step (bfloat16 to 2 %), so the speed-up
is not bought with a different computation. Settings alternate step by step so machine load hits all
alike; the median step time of each is reported, and its ratio to the baseline.

    python tools/bench/train_step.py [--width_mult 0.0625] [--batch_norm 1] [--batch_size 8] [--steps 8]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from amtnet.loss import multibox_loss
from amtnet.model import AMTNet
from core.train import autocast, place_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--width_mult", type=float, default=0.0625)
    p.add_argument("--batch_norm", type=int, default=1)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args()
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    x = torch.randn(args.batch_size, 2, 3, 300, 300)
    ref = AMTNet(25, width=args.width_mult, batch_norm=bool(args.batch_norm))
    n = 8732  # SSD300 v2 priors
    loc_t = torch.randn(args.batch_size, n, 8) * 0.1
    conf_t = torch.zeros(args.batch_size, n, dtype=torch.long)
    conf_t[:, ::97] = torch.randint(1, 25, (args.batch_size, len(range(0, n, 97))))
    settings = {
        "baseline fp32 NCHW": (copy.deepcopy(ref), False),
        "channels_last fp32": (place_model(copy.deepcopy(ref), cpu), False),
        "channels_last + bf16 autocast": (place_model(copy.deepcopy(ref), cpu), True),
    }
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-3) for k, (m, _) in settings.items()}
    times = {k: [] for k in settings}
    first = {}
    for step in range(args.steps + 2):  # two warm-up steps
        for k, (model, amp) in settings.items():
            t0 = time.perf_counter()
            with autocast(cpu, amp):
                loc, conf = model(x)
            loss_l, loss_c, _ = multibox_loss(loc.float(), conf.float(), loc_t, conf_t)
            opts[k].zero_grad(set_to_none=True)
            (loss_l + loss_c).backward()
            opts[k].step()
            if step == 0:
                first[k] = float((loss_l + loss_c).detach())
            elif step >= 2:
                times[k].append(time.perf_counter() - t0)
    base_loss = first["baseline fp32 NCHW"]
    for k, v in first.items():
        tol = 0.02 if settings[k][1] else 1e-4
        if abs(v - base_loss) > tol * abs(base_loss):
            raise SystemExit(f"{k}: first-step loss {v:.5f} differs from the baseline's {base_loss:.5f}")
    base = statistics.median(times["baseline fp32 NCHW"])
    print(f"AMTNet training step, width {args.width_mult}, batch norm {bool(args.batch_norm)}, batch "
          f"{args.batch_size} micro-tubes, {torch.get_num_threads()} threads, median of {args.steps} steps")
    for k, v in times.items():
        med = statistics.median(v)
        print(f"  {k:32s} {med:6.3f} s/step  {args.batch_size / med:6.1f} micro-tubes/s  "
              f"speed-up x{base / med:.2f}  (first loss {first[k]:.4f})")


if __name__ == "__main__":
    main()
