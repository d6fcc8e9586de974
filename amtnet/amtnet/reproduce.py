"""The AMTNet table: RGB, flow and SUM-fusion micro-tube detectors, plus late fusions of RGB and flow.

``python tools/reproduce.py amtnet [--data_root DIR] [--quick] [--work_dir DIR] [-- extra train.py flags]``

Rows (UCF101-24 split 1 or the synthetic set): RGB (``--input_type_base rgb``), flow (``brox``, 5 stacked
images), SUM fusion of the two streams inside the network (its streams start from the two single-stream
runs), and the frame-level late fusions (mean, union-set, boost) of the RGB and flow runs' detections,
linked with online linking. Columns: video-mAP at IoU 0.20, 0.50, 0.75, 0.5:0.95, frame-mAP@0.5 and
video classification accuracy, in percent.

The full recipe is the AMTNet README's (batch 8, lr 5e-4, 70k iterations, step at 50k, width 1). ``--quick``
(the demo) trains narrow networks for a few minutes on the CPU; see QUICK. Every step resumes: trained runs
(``--resume auto``) and tested videos are reused on the next call.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from core.io import atomic_write_text

from .config import ensure_synthetic
from .evaluate import format_table, table_row

PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # amtnet/ (train.py, test.py)

FULL = dict(batch_size=8, lr=0.0005, max_iter=70000, stepvalues="50000", flow_max_iter=70000,
            flow_stepvalues="50000", val_step=10000, width_mult=1.0, batch_norm=False,
            fusion_max_iter=70000, fusion_stepvalues="50000", extra=[], amp=False)
# The demo (`make demo`, 2 CPU cores, 15 minutes in all): no pretrained weights can be assumed, so a 1/16-width
# network with ssd.pytorch's batch-norm VGG, AdamW and a short warm-up, trained from random weights without
# augmentation (crop + mirror cost more in iterations than they gave back in this budget), in bfloat16
# (--amp, 0.31 s per RGB step on 2 cores against 0.67 s in float32 NCHW: tools/bench/train_step.py). Most
# of the budget goes to the RGB stream; flow gets a tenth of it and the SUM fusion (which starts from the
# two single-stream runs) a short fine-tune: too little for either to learn much. Measured times in
# amtnet/README.md.
QUICK = dict(batch_size=8, lr=0.003, max_iter=1000, stepvalues="860", flow_max_iter=100, flow_stepvalues="80",
             val_step=0, width_mult=0.0625, batch_norm=True, fusion_max_iter=20, fusion_stepvalues="16",
             extra=["--augment", "none", "--optim", "adamw", "--warmup", "100"], amp=True)


def _run(script: str, args: Sequence[str], log_path: str) -> None:
    cmd = [sys.executable, os.path.join(PKG_DIR, script), *args]
    print(f"reproduce: {' '.join(cmd[1:])}", flush=True)
    start = time.time()
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=PKG_DIR)
    if proc.returncode:
        with open(log_path, encoding="utf-8") as f:
            tail = "".join(f.readlines()[-15:])
        raise RuntimeError(f"{script} failed (exit {proc.returncode}); last lines of {log_path}:\n{tail}")
    print(f"reproduce:   done in {time.time() - start:.0f} s (log {log_path})", flush=True)


def run(data_root: Optional[str], quick: bool, work_dir: str, extra: List[str]) -> str:
    cfg = dict(QUICK if quick else FULL)
    # flags that name the run must reach test.py too; the others go to train.py only
    import argparse

    p = argparse.ArgumentParser(add_help=False)
    for flag in ("--batch_size", "--lr", "--width_mult", "--batch_norm"):
        p.add_argument(flag, default=None)
    p.add_argument("--amp", default=None, action="store_true")
    named, extra = p.parse_known_args(extra)
    for k, v in vars(named).items():
        if v is not None:
            cfg[k] = v
    work_dir = os.path.abspath(work_dir)
    if data_root is None:
        data_root = ensure_synthetic(os.path.join(work_dir, "data"), "ucf24")
    data_root = os.path.abspath(data_root)
    save_root = os.path.join(work_dir, "runs")
    logs = os.path.join(work_dir, "logs")
    common = ["--data_root", data_root, "--save_root", save_root, "--batch_size", str(cfg["batch_size"]),
              "--lr", str(cfg["lr"]), "--width_mult", str(cfg["width_mult"]), "--batch_norm", str(cfg["batch_norm"])]
    if cfg["amp"]:
        common.append("--amp")
    train_common = common + ["--val_step", str(cfg["val_step"]), "--resume", "auto", "--logger", "none",
                             "--num_workers", "2", "--print_freq", "50", *cfg["extra"]]
    streams: Dict[str, List[str]] = {
        "RGB": ["--fusion_type", "NONE", "--input_type_base", "rgb", "--input_frames_base", "1"],
        "Flow (brox)": ["--fusion_type", "NONE", "--input_type_base", "brox", "--input_frames_base", "5"],
        "SUM fusion (RGB + brox)": ["--fusion_type", "SUM", "--input_type_base", "rgb", "--input_frames_base", "1",
                                    "--input_type_extra", "brox", "--input_frames_extra", "5"],
    }
    rows, test_dirs = [], {}
    for name, flags in streams.items():
        tag = name.split()[0].lower()
        kind = {"rgb": "", "flow": "flow_", "sum": "fusion_"}[tag]
        iters = ["--max_iter", str(cfg[f"{kind}max_iter"]), "--stepvalues", cfg[f"{kind}stepvalues"]]
        _run("train.py", train_common + flags + iters + extra, os.path.join(logs, f"train-{tag}.log"))
        out = os.path.join(work_dir, "test", tag)
        _run("test.py", common + flags + ["--out_dir", out, "--name", name, "--num_workers", "2"],
             os.path.join(logs, f"test-{tag}.log"))
        test_dirs[tag] = out
        rows.append(_read_row(out, name))
    fused = os.path.join(work_dir, "test", "late-fusion")
    _run("test.py", ["--data_root", data_root, "--late_fusion", "mean,union,boost", "--rgb_dir", test_dirs["rgb"],
                     "--flow_dir", test_dirs["flow"], "--out_dir", fused], os.path.join(logs, "late-fusion.log"))
    for kind in ("mean", "union", "boost"):
        rows.append(_read_row(os.path.join(fused, kind), f"RGB + flow, late {kind} fusion"))
    title = (f"AMTNet on {'the synthetic UCF101-24 demo set' if data_root.startswith(work_dir) else data_root}"
             f"{' (--quick)' if quick else ''}: video-mAP at IoU, frame-mAP@0.5, accuracy (%)")
    table = format_table(rows, title)
    atomic_write_text(os.path.join(work_dir, "table.md"), table)
    return table


def _read_row(out_dir: str, name: str) -> List[str]:
    import json

    with open(os.path.join(out_dir, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    return table_row(name, metrics)
