"""STAGE's comparison in miniature on (synthetic) AVA:
``python tools/reproduce.py stage [--data_root DIR] [--quick | --claims] [--seeds 0,1,2]``.

1. Backbone: a small I3D (``--width``) trained as an actor classifier on the training keyframes
   (``tools/train_actor_backbone.py``: RoIAlign on Mixed_4f -> Mixed_5c -> average -> Linear 81, BCE; no
   pretrained weights exist offline, so it starts from scratch). Its own classifier's scores on the
   validation actors are the "I3D backbone only" row.
2. Features: ``tools/extract_features.py`` with that I3D (train: GT + detections; val: detections
   with score >= 0.7) and a ResNet-50 for the objects.
3. On those frozen features, with the same optimiser, epochs and batches: the like-for-like baseline
   (``--no_relations``: STAGE's own layers with every actor linked only to itself, a per-actor head), STAGE,
   STAGE without temporal edges and STAGE without objects (train.py + test.py), once per seed.
All rows are evaluated by ``evaluation.ava`` (60-class label map, exclusions, top-50 cap) on the same
validation actor boxes. ``extra`` flags: ``--width W --epochs_i3d N --epochs_stage N --lr_stage LR``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from core.formats import ava
from core.io import atomic_write_json, load_weights
from stage.data import StageDataset
from stage.engine import evaluate_ava, table_markdown, write_results_csv

from .common import Claim, finish, fmt_mean_std, mean_std, run_step

SCHEDULES = {"quick": dict(epochs_i3d=6, epochs_stage=40, seeds=(0,)),
             "claims": dict(epochs_i3d=8, epochs_stage=60, seeds=(0, 1, 2)),
             "full": dict(epochs_i3d=8, epochs_stage=60, seeds=(0,))}
BACKBONE = "I3D backbone only (RoI + linear)"
BASELINE = "Actor head, same features (no relations)"
VARIANTS = [(BASELINE, ["--no_relations"]), ("STAGE", []),
            ("STAGE w/o temporal edges", ["--temporal_edges", "none"]), ("STAGE w/o objects", ["--no_objects"])]


def _opts(extra: List[str], mode: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="reproduce stage")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=(112, 144))
    p.add_argument("--epochs_i3d", type=int, default=SCHEDULES[mode]["epochs_i3d"])
    p.add_argument("--epochs_stage", type=int, default=SCHEDULES[mode]["epochs_stage"])
    p.add_argument("--lr_stage", type=float, default=2e-4)
    p.add_argument("--workers", type=int, default=2)
    return p.parse_args(extra)


def claims(runs: List[Dict[str, Dict[str, Any]]]) -> List[Claim]:
    """STAGE's claims over the seeds' runs (each: row name -> metrics.json of evaluation.ava). A claim holds
    when it holds on the mean over seeds; the measured column counts the seeds it holds on."""
    def pct(name: str, group: Optional[str] = None) -> List[float]:
        out = []
        for r in runs:
            v = r[name]["mAP"] if group is None else r[name]["groups"].get(group)
            out.append(float("nan") if v is None else 100 * float(v))
        return out

    def beats(a: List[float], b: List[float]) -> Tuple[bool, int]:
        return mean_std(a)[0] > mean_std(b)[0], sum(x > y for x, y in zip(a, b))

    n = len(runs)
    full, base = pct("STAGE"), pct(BASELINE)
    pi_full, pi_base = pct("STAGE", "person_interaction"), pct(BASELINE, "person_interaction")
    holds_map, k_map = beats(full, base)
    holds_pi, k_pi = beats(pi_full, pi_base)
    abl = {name: pct(name) for name in ("STAGE w/o temporal edges", "STAGE w/o objects")}
    k_abl = sum(all(full[i] > a[i] for a in abl.values()) for i in range(n))
    holds_abl = all(mean_std(full)[0] > mean_std(a)[0] for a in abl.values())
    return [
        Claim("STAGE beats a head on the same frozen actor features (frame-mAP@0.5)",
              "AVA v2.2 with I3D features: 29.8 vs 26.5 for the backbone's own head (Table 1)",
              f"STAGE {fmt_mean_std(full)} vs {fmt_mean_std(base)}; {k_map}/{n} seeds", holds_map),
        Claim("STAGE's gain is on the person-interaction classes", "the largest gains on interaction classes",
              f"STAGE {fmt_mean_std(pi_full)} vs {fmt_mean_std(pi_base)}; {k_pi}/{n} seeds", holds_pi),
        Claim("each ablation scores below the full model (frame-mAP@0.5)",
              "w/o temporal edges and w/o objects: lower mAP (Tables 3, 4)",
              "; ".join(f"{k[len('STAGE '):]} {fmt_mean_std(v)}" for k, v in abl.items())
              + f" vs full {fmt_mean_std(full)}; {k_abl}/{n} seeds", holds_abl),
    ]


def instances_per_class(groundtruth: Path, labelmap: Path, exclusions: Path) -> Dict[int, int]:
    """Ground-truth boxes of each evaluated class in the (non-excluded) validation keyframes."""
    gt = ava.read_ava_csv(groundtruth)
    excluded = ava.read_exclusions(exclusions)
    keep = [(v, int(t)) not in excluded for v, t in zip(gt["video_id"], gt["timestamp"])]
    gt = gt[np.asarray(keep, bool)]
    ids = [int(c["id"]) for c in ava.read_labelmap(labelmap)]
    counts = gt["action_id"].value_counts()
    return {i: int(counts.get(i, 0)) for i in ids}


def _mean_row(name: str, runs: List[Dict[str, Dict[str, Any]]]) -> Dict[str, Any]:
    """metrics of ``name`` averaged over the runs (mAP and groups)."""
    out: Dict[str, Any] = {"mAP": float(np.mean([r[name]["mAP"] for r in runs])), "groups": {}}
    for g in runs[0][name]["groups"]:
        vals = [r[name]["groups"][g] for r in runs if r[name]["groups"].get(g) is not None]
        out["groups"][g] = float(np.mean(vals)) if vals else None
    return out


def run(data_root: Optional[str], mode: str, work_dir: str, extra: List[str],
        seeds: Optional[List[int]] = None) -> str:
    if mode not in SCHEDULES:
        raise ValueError(f"stage: no '{mode}' schedule ({', '.join(SCHEDULES)})")
    o = _opts(extra, mode)
    seeds = list(seeds) if seeds else list(SCHEDULES[mode]["seeds"])
    torch.set_num_threads(2)
    work = Path(work_dir).resolve()  # train.py/test.py run from stage/: relative paths would break
    work.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    times: Dict[str, float] = {}
    if data_root is None:
        data = work / "data"
        if not (data / "annotations" / "ava_val_v2.2.csv").exists():
            t = time.time()
            run_step("tools/synthesize.py", ["--format", "ava", "--out", data, "--size", "demo", "--workers",
                                             o.workers], logs / "synthesize.log", label="[data] ")
            times["synthesize"] = time.time() - t
    else:
        data = Path(data_root).resolve()
    ann = data / "annotations"
    evalargs = dict(groundtruth=ann / "ava_val_v2.2.csv",
                    labelmap=ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                    exclusions=ann / "ava_val_excluded_timestamps_v2.2.csv")

    t = time.time()
    if not (work / "i3d_actor.pt").exists():
        run_step("tools/train_actor_backbone.py", ["--data_root", data, "--out_dir", work, "--width", o.width,
                                                   "--frames", o.frames, "--size", *o.size, "--epochs", o.epochs_i3d,
                                                   "--seed", seeds[0], "--resume", "auto"],
                 logs / "backbone.log", label="[I3D backbone] ")
    info = json.loads((work / "i3d_actor.json").read_text())
    times["i3d_train"] = time.time() - t
    feats = work / "features"
    common = ["--data_root", str(data), "--out_dir", str(feats), "--i3d_weights", str(work / "i3d_actor.pt"),
              "--width", str(o.width), "--frames", str(o.frames), "--size", *map(str, o.size), "--workers",
              str(o.workers)]
    t = time.time()
    run_step("tools/extract_features.py", [*common, "--split", "train", "--boxes", "both"],
             logs / "features-train.log", label="[features] ")
    run_step("tools/extract_features.py", [*common, "--split", "val", "--boxes", "detections", "--det_score", "0.7"],
             logs / "features-val.log", label="[features] ")
    times["extract"] = time.time() - t
    C = info["channels"]

    # backbone-only row: the classifier's own head on the same validation actor features
    fc = torch.nn.Linear(C, 81)
    fc.load_state_dict(load_weights(work / "baseline_fc.pt"))
    val = StageDataset(feats / "val", None, 81, C, 2048)
    keys, boxes, probs = [], [], []
    with torch.no_grad():
        for i in range(len(val)):
            it = val[i]
            x = torch.from_numpy(it["actors_features"]).flatten(2).mean(2)
            probs.append(torch.sigmoid(fc(x)).numpy())
            boxes.append(it["actors_boxes"])
            keys += [(it["clip"], it["timestamp"])] * len(x)
    base_dir = work / "baseline"
    write_results_csv(base_dir / "results.csv", keys, np.concatenate(boxes), np.concatenate(probs))
    backbone = evaluate_ava(base_dir / "results.csv", **evalargs)
    atomic_write_json(base_dir / "metrics.json", backbone)

    runs: List[Dict[str, Dict[str, Any]]] = []
    stats = {}
    for seed in seeds:
        run_metrics: Dict[str, Dict[str, Any]] = {BACKBONE: backbone}
        for name, flags in VARIANTS:
            slug = name.lower().replace(" ", "_").replace("/", "").replace(",", "").replace("(", "").replace(")", "")
            out = work / slug / f"seed{seed}"
            tag = f"[{name}, seed {seed}] "
            shared = ["--actors_features_size", str(C), "--objects_features_size", "2048", "--batch_size", "6",
                      "--n_workers", "1", "--device", "cpu", *flags]
            t = time.time()
            run_step("stage/train.py", ["--actors_dir", feats / "train", "--objects_file", feats / "objects_train.h5",
                                        "--output_dir", out, "--n_epochs", o.epochs_stage, "--lr", o.lr_stage,
                                        "--logger", "none", "--seed", seed, *shared],
                     logs / f"train-{slug}-seed{seed}.log", label=tag)
            times[f"train {name}, seed {seed}"] = time.time() - t
            run_step("stage/test.py", ["--actors_dir", feats / "val", "--objects_dir", feats / "objects_val.h5",
                                       "--output_dir", out, "--name", name, "--groundtruth", evalargs["groundtruth"],
                                       "--labelmap", evalargs["labelmap"], "--exclusions", evalargs["exclusions"],
                                       *shared], logs / f"test-{slug}-seed{seed}.log", label=tag)
            run_metrics[name] = json.loads((out / "metrics.json").read_text())
            st = json.loads((out / "train_stats.json").read_text()) if (out / "train_stats.json").exists() else {}
            ep = st.get("epochs", [])
            if ep and name not in stats:
                wait = sum(e["data_wait_s"] for e in ep)
                comp = sum(e["compute_s"] for e in ep)
                stats[name] = {"data_wait_fraction": wait / max(wait + comp, 1e-12),
                               "epoch_s": np.mean([e["seconds"] for e in ep]),
                               "iters_per_epoch": st["iters_per_epoch"], "keyframes": st["keyframes"]}
        runs.append(run_metrics)
    rows = [(name, _mean_row(name, runs)) for name in runs[0]]
    counts = instances_per_class(**evalargs)
    seeds_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean over seeds {', '.join(map(str, seeds))}"
    table = table_markdown(rows, f"AVA frame-mAP@0.5 (%), {'synthetic demo' if data_root is None else data}, "
                                 f"{seeds_text}")
    present = [c for c in counts.values() if c > 0]
    table += (f"\nValidation: {len(counts)} evaluated classes, {len(present)} with ground truth; instances per class "
              f"with ground truth: min {min(present, default=0)}, median {int(np.median(present)) if present else 0}; "
              f"{sum(c >= 10 for c in present)} classes with at least 10.\n")
    table += "\n| run | data-wait fraction | s / epoch | iterations / epoch | keyframes |\n|---|---:|---:|---:|---:|\n"
    for name, s in stats.items():
        table += (f"| {name} | {100 * s['data_wait_fraction']:.1f}% | {s['epoch_s']:.2f} | {s['iters_per_epoch']} | "
                  f"{s['keyframes']} |\n")
    table += "\n" + ", ".join(f"{k}: {v:.0f} s" for k, v in times.items()) + "\n"
    atomic_write_json(work / "results.json", {"runs": runs, "seeds": seeds, "stats": stats, "times": times,
                                              "i3d": info, "instances": counts, "options": vars(o)})
    return finish(work, table, claims(runs))
