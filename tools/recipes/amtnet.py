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

import argparse
import json
import os
from typing import Dict, List, Optional

from amtnet.data import ensure_synthetic
from amtnet.engine import format_table, table_row

from .common import Claim, finish, run_step

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
SCHEDULES = {"quick": QUICK, "full": FULL}

STREAMS: Dict[str, List[str]] = {
    "RGB": ["--fusion_type", "NONE", "--input_type_base", "rgb", "--input_frames_base", "1"],
    "Flow (brox)": ["--fusion_type", "NONE", "--input_type_base", "brox", "--input_frames_base", "5"],
    "SUM fusion (RGB + brox)": ["--fusion_type", "SUM", "--input_type_base", "rgb", "--input_frames_base", "1",
                                "--input_type_extra", "brox", "--input_frames_extra", "5"],
}


def _named_flags(extra: List[str], cfg: dict) -> List[str]:
    """Flags that name the run must reach test.py too: take them out of ``extra`` into ``cfg``."""
    p = argparse.ArgumentParser(add_help=False)
    for flag in ("--batch_size", "--lr", "--width_mult", "--batch_norm"):
        p.add_argument(flag, default=None)
    p.add_argument("--amp", default=None, action="store_true")
    named, rest = p.parse_known_args(extra)
    for k, v in vars(named).items():
        if v is not None:
            cfg[k] = v
    return rest


def _metrics(out_dir: str) -> dict:
    with open(os.path.join(out_dir, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def claims(metrics: Dict[str, dict]) -> List[Claim]:
    """AMTNet's claims, checked on one run's rows (``metrics``: row name -> metrics.json)."""
    def v50(name: str) -> float:
        return 100 * float(metrics[name]["video_mAP"].get("0.5") or 0.0)

    rgb, flow, fused = v50("RGB"), v50("Flow (brox)"), v50("SUM fusion (RGB + brox)")
    best = max(rgb, flow)
    late = {k: v50(f"RGB + flow, late {k} fusion") for k in ("union", "boost")}
    return [
        Claim("SUM fusion beats the best single stream (video-mAP@0.5)",
              "two-stream AMTNet above RGB and flow alone (UCF101-24, arXiv 2004.01494)",
              f"SUM {fused:.1f} vs best single {best:.1f}", fused > best),
        Claim("late union / boost fusion is at least the best single stream (video-mAP@0.5)",
              "ROAD: fused tubes above either stream", f"union {late['union']:.1f}, boost {late['boost']:.1f} "
              f"vs best single {best:.1f}", min(late.values()) >= best),
    ]


def run(data_root: Optional[str], mode: str, work_dir: str, extra: List[str], seeds: Optional[List[int]]) -> str:
    if mode not in SCHEDULES:
        raise ValueError(f"amtnet: no '{mode}' schedule (one of {sorted(SCHEDULES)})")
    cfg = dict(SCHEDULES[mode])
    extra = _named_flags(extra, cfg)
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
    seed = ["--man_seed", str(seeds[0])] if seeds else []  # default: train.py's (123)
    train_common = common + ["--val_step", str(cfg["val_step"]), "--resume", "auto", "--logger", "none",
                             "--num_workers", "2", "--print_freq", "50", *seed, *cfg["extra"]]
    metrics: Dict[str, dict] = {}
    test_dirs = {}
    for name, flags in STREAMS.items():
        tag = name.split()[0].lower()
        kind = {"rgb": "", "flow": "flow_", "sum": "fusion_"}[tag]
        iters = ["--max_iter", str(cfg[f"{kind}max_iter"]), "--stepvalues", cfg[f"{kind}stepvalues"]]
        run_step("amtnet/train.py", train_common + flags + iters + extra, os.path.join(logs, f"train-{tag}.log"),
                 label=f"[{name}] ")
        out = os.path.join(work_dir, "test", tag)
        run_step("amtnet/test.py", common + flags + ["--out_dir", out, "--name", name, "--num_workers", "2"],
                 os.path.join(logs, f"test-{tag}.log"), label=f"[{name}] ")
        test_dirs[tag] = out
        metrics[name] = _metrics(out)
    fused = os.path.join(work_dir, "test", "late-fusion")
    run_step("amtnet/test.py", ["--data_root", data_root, "--late_fusion", "mean,union,boost", "--rgb_dir",
                                test_dirs["rgb"], "--flow_dir", test_dirs["flow"], "--out_dir", fused],
             os.path.join(logs, "late-fusion.log"), label="[late fusion] ")
    for kind in ("mean", "union", "boost"):
        metrics[f"RGB + flow, late {kind} fusion"] = _metrics(os.path.join(fused, kind))
    title = (f"AMTNet on {'the synthetic UCF101-24 demo set' if data_root.startswith(work_dir) else data_root}"
             f"{' (--quick)' if mode == 'quick' else ''}: video-mAP at IoU, frame-mAP@0.5, accuracy (%)")
    table = format_table([table_row(name, m) for name, m in metrics.items()], title)
    return finish(work_dir, table, claims(metrics))
