"""STAGE's comparison in miniature on (synthetic) AVA: ``python tools/reproduce.py stage [--data_root DIR] [--quick]``.

1. Backbone only: a small I3D (``--width``) trained as an actor classifier on the training keyframes
   (``tools/train_actor_backbone.py``: RoIAlign on Mixed_4f -> Mixed_5c -> average -> Linear 81, BCE; no
   pretrained weights exist offline, so it starts from scratch). Its scores on the validation actors are
   the baseline row.
2. Features: ``tools/extract_features.py`` with that I3D (train: GT + detections; val: detections
   with score >= 0.7) and a ResNet-50 for the objects.
3. STAGE, STAGE without temporal edges, STAGE without objects: train.py + test.py on the features.
All rows are evaluated by ``evaluation.ava`` (60-class label map, exclusions, top-50 cap) with the
same validation actor boxes. ``extra`` flags: ``--width W --epochs_i3d N --epochs_stage N``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from core.io import atomic_write_json, load_weights
from stage.data import StageDataset
from stage.engine import evaluate_ava, table_markdown, write_results_csv

from .common import Claim, finish, run_step


def _opts(extra: List[str], quick: bool) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="reproduce stage")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=(112, 144))
    p.add_argument("--epochs_i3d", type=int, default=6 if quick else 8)
    p.add_argument("--epochs_stage", type=int, default=40 if quick else 60)
    p.add_argument("--lr_stage", type=float, default=2e-4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(extra)


def claims(rows: Dict[str, Dict[str, Any]]) -> List[Claim]:
    """STAGE's claims on one run's rows (row name -> metrics.json of evaluation.ava)."""
    def pct(name: str, group: Optional[str] = None) -> float:
        m = rows[name]
        v = m["mAP"] if group is None else m["groups"].get(group)
        return float("nan") if v is None else 100 * float(v)

    base = "I3D backbone only (RoI + linear)"
    full, pi = pct("STAGE"), pct("STAGE", "person_interaction")
    return [
        Claim("STAGE beats the backbone alone (frame-mAP@0.5)", "AVA v2.2: 29.8 vs 26.5 (I3D, Table 1)",
              f"STAGE {full:.2f} vs {pct(base):.2f}", full > pct(base)),
        Claim("STAGE beats the backbone on person interactions", "largest gains on interaction classes",
              f"STAGE {pi:.2f} vs {pct(base, 'person_interaction'):.2f}", pi > pct(base, "person_interaction")),
        Claim("each ablation scores below the full model", "w/o temporal edges and w/o objects: lower mAP",
              f"w/o temporal {pct('STAGE w/o temporal edges'):.2f}, w/o objects {pct('STAGE w/o objects'):.2f}, "
              f"full {full:.2f}", max(pct("STAGE w/o temporal edges"), pct("STAGE w/o objects")) < full),
    ]


def run(data_root: Optional[str], mode: str, work_dir: str, extra: List[str],
        seeds: Optional[List[int]] = None) -> str:
    if mode not in ("quick", "full"):
        raise ValueError(f"stage: no '{mode}' schedule (quick, full)")
    o = _opts(extra, mode == "quick")
    if seeds:
        o.seed = seeds[0]
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
                                                   "--seed", o.seed, "--resume", "auto"],
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
    rows = [("I3D backbone only (RoI + linear)", evaluate_ava(base_dir / "results.csv", **evalargs))]
    atomic_write_json(base_dir / "metrics.json", rows[0][1])

    variants = [("STAGE", []), ("STAGE w/o temporal edges", ["--temporal_edges", "none"]),
                ("STAGE w/o objects", ["--no_objects"])]
    stats = {}
    for name, flags in variants:
        out = work / name.lower().replace(" ", "_").replace("/", "")
        shared = ["--actors_features_size", str(C), "--objects_features_size", "2048", "--batch_size", "6",
                  "--n_workers", "1", "--device", "cpu", *flags]
        t = time.time()
        run_step("stage/train.py", ["--actors_dir", feats / "train", "--objects_file", feats / "objects_train.h5",
                                    "--output_dir", out, "--n_epochs", o.epochs_stage, "--lr", o.lr_stage, "--logger",
                                    "none", "--seed", o.seed, *shared], logs / f"train-{out.name}.log",
                 label=f"[{name}] ")
        times[f"train {name}"] = time.time() - t
        run_step("stage/test.py", ["--actors_dir", feats / "val", "--objects_dir", feats / "objects_val.h5",
                                   "--output_dir", out, "--name", name, "--groundtruth", evalargs["groundtruth"],
                                   "--labelmap", evalargs["labelmap"], "--exclusions", evalargs["exclusions"], *shared],
                 logs / f"test-{out.name}.log", label=f"[{name}] ")
        rows.append((name, json.loads((out / "metrics.json").read_text())))
        st = json.loads((out / "train_stats.json").read_text()) if (out / "train_stats.json").exists() else {}
        ep = st.get("epochs", [])
        if ep:
            wait = sum(e["data_wait_s"] for e in ep)
            comp = sum(e["compute_s"] for e in ep)
            stats[name] = {"data_wait_fraction": wait / max(wait + comp, 1e-12), "epoch_s": np.mean([e["seconds"] for e in ep]),
                           "iters_per_epoch": st["iters_per_epoch"], "keyframes": st["keyframes"]}
    table = table_markdown(rows, f"AVA frame-mAP@0.5 (%), {'synthetic demo' if data_root is None else data}")
    table += "\n| run | data-wait fraction | s / epoch | iterations / epoch | keyframes |\n|---|---:|---:|---:|---:|\n"
    for name, s in stats.items():
        table += (f"| {name} | {100 * s['data_wait_fraction']:.1f}% | {s['epoch_s']:.2f} | {s['iters_per_epoch']} | "
                  f"{s['keyframes']} |\n")
    table += "\n" + ", ".join(f"{k}: {v:.0f} s" for k, v in times.items()) + "\n"
    atomic_write_json(work / "results.json", {"rows": dict(rows), "stats": stats, "times": times, "i3d": info,
                                              "options": vars(o)})
    return finish(work, table, claims(dict(rows)))
