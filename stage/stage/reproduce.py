"""STAGE's comparison in miniature on (synthetic) AVA: ``python tools/reproduce.py stage [--data_root DIR] [--quick]``.

1. Backbone only: a small I3D (``--width``) trained as an actor classifier on the training keyframes
   (RoIAlign on Mixed_4f -> Mixed_5c -> average -> Linear 81, BCE; no pretrained weights exist
   offline, so it starts from scratch). Its scores on the validation actors are the baseline row.
2. Features: ``tools/extract_features.py`` with that I3D (train: GT + detections; val: detections
   with score >= 0.7) and a ResNet-50 for the objects.
3. STAGE, STAGE without temporal edges, STAGE without objects: train.py + test.py on the features.
All rows are evaluated by ``evaluation.ava`` (60-class label map, exclusions, top-50 cap) with the
same validation actor boxes. ``extra`` flags: ``--width W --epochs_i3d N --epochs_stage N``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from core.backbones.i3d import InceptionI3d
from core.formats import ava
from core.io import atomic_write_json, atomic_write_text, load_weights, torch_save_atomic
from core.train import seed_everything
from stage.data import StageDataset
from stage.engine import evaluate_ava, table_markdown, write_results_csv
from stage.features import keyframe_actors, load_clip, roi_tail

REPO = Path(__file__).resolve().parents[2]


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


class ActorClassifier(torch.nn.Module):
    """I3D trunk + RoI tail + average + Linear: the backbone-only baseline."""

    def __init__(self, width: float, num_classes: int = 81):
        super().__init__()
        self.i3d = InceptionI3d(final_endpoint="Mixed_5c", width=width)
        self.fc = torch.nn.Linear(self.i3d.channels["Mixed_5c"], num_classes)

    def forward(self, clip: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        f = self.i3d.run(clip[None], end="Mixed_4f")[0]
        return self.fc(F.dropout(roi_tail(self.i3d, f, boxes).flatten(2).mean(2), 0.3, self.training))


def train_backbone(data: Path, out: Path, o: argparse.Namespace) -> Dict[str, Any]:
    """Train the actor classifier on GT boxes of the training keyframes; save the I3D (pytorch-i3d names)."""
    target = out / "i3d_actor.pt"
    if target.exists():
        return json.loads((out / "i3d_actor.json").read_text())
    seed_everything(o.seed)
    gt = ava.read_ava_csv(data / "annotations" / "ava_train_v2.2.csv")
    gt = gt[np.isfinite(gt["x1"].to_numpy(float))]
    samples = []
    t0 = time.time()
    for (vid, ts), g in gt.groupby(["video_id", "timestamp"]):
        ka = keyframe_actors(g, g.iloc[:0], True, 1.0)
        clip, _ = load_clip(str(data / "movies" / "trainval" / f"{vid}.mp4"), ts - 900, o.frames, 2, tuple(o.size))
        samples.append((clip, torch.from_numpy(ka.boxes), torch.from_numpy(ka.labels)))
    load_s = time.time() - t0
    model = ActorClassifier(o.width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    t0 = time.time()
    losses = []
    for epoch in range(o.epochs_i3d):
        order = np.random.default_rng([o.seed, epoch]).permutation(len(samples))
        total = 0.0
        for k, i in enumerate(order):
            clip, boxes, labels = samples[i]
            loss = F.binary_cross_entropy_with_logits(model(clip, boxes), labels)
            (loss / 4).backward()
            if k % 4 == 3 or k == len(order) - 1:
                opt.step()
                opt.zero_grad(set_to_none=True)
            total += loss.item()
        losses.append(total / len(samples))
        print(f"i3d actor classifier: epoch {epoch + 1}/{o.epochs_i3d} loss {losses[-1]:.4f}", flush=True)
    torch_save_atomic(model.fc.state_dict(), out / "baseline_fc.pt")
    torch_save_atomic(model.i3d.state_dict(), target)
    info = {"keyframes": len(samples), "clip_load_s": load_s, "train_s": time.time() - t0, "losses": losses,
            "channels": model.i3d.channels["Mixed_5c"]}
    atomic_write_json(out / "i3d_actor.json", info)
    return info


def _run(cmd: List[str], cwd: Path) -> None:
    p = subprocess.run([sys.executable, *cmd], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")


def run(data_root: Optional[str], quick: bool, work_dir: str, extra: List[str]) -> str:
    o = _opts(extra, quick)
    torch.set_num_threads(2)
    work = Path(work_dir).resolve()  # train.py/test.py run from stage/: relative paths would break
    work.mkdir(parents=True, exist_ok=True)
    times: Dict[str, float] = {}
    if data_root is None:
        data = work / "data"
        if not (data / "annotations" / "ava_val_v2.2.csv").exists():
            t = time.time()
            _run(["tools/synthesize.py", "--format", "ava", "--out", str(data), "--size", "demo", "--workers",
                  str(o.workers)], REPO)
            times["synthesize"] = time.time() - t
    else:
        data = Path(data_root).resolve()
    ann = data / "annotations"
    evalargs = dict(groundtruth=ann / "ava_val_v2.2.csv",
                    labelmap=ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                    exclusions=ann / "ava_val_excluded_timestamps_v2.2.csv")

    t = time.time()
    info = train_backbone(data, work, o)
    times["i3d_train"] = time.time() - t
    feats = work / "features"
    common = ["--data_root", str(data), "--out_dir", str(feats), "--i3d_weights", str(work / "i3d_actor.pt"),
              "--width", str(o.width), "--frames", str(o.frames), "--size", *map(str, o.size), "--workers",
              str(o.workers)]
    t = time.time()
    _run(["tools/extract_features.py", *common, "--split", "train", "--boxes", "both"], REPO)
    _run(["tools/extract_features.py", *common, "--split", "val", "--boxes", "detections", "--det_score", "0.7"], REPO)
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
        _run(["train.py", "--actors_dir", str(feats / "train"), "--objects_file", str(feats / "objects_train.h5"),
              "--output_dir", str(out), "--n_epochs", str(o.epochs_stage), "--lr", str(o.lr_stage), "--logger", "none",
              "--seed", str(o.seed), *shared], REPO / "stage")
        times[f"train {name}"] = time.time() - t
        _run(["test.py", "--actors_dir", str(feats / "val"), "--objects_dir", str(feats / "objects_val.h5"),
              "--output_dir", str(out), "--name", name, "--groundtruth", str(evalargs["groundtruth"]),
              "--labelmap", str(evalargs["labelmap"]), "--exclusions", str(evalargs["exclusions"]), *shared],
             REPO / "stage")
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
    atomic_write_text(work / "table.md", table)
    return table
