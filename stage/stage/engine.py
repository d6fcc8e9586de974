"""Inference over a loader, ``results.csv`` in STAGE's AVA format, and evaluation with ``evaluation.ava``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch

from core.errors import DataError
from core.io import PathLike, atomic_open, atomic_write_text

Prediction = Tuple[List[Tuple[str, str]], np.ndarray, np.ndarray]  # keys, boxes [n, 4], probs [n, C]


def to_device(batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@torch.no_grad()
def predict(model: torch.nn.Module, loader: Iterable[Dict[str, Any]], device: torch.device,
            progress: bool = False) -> Prediction:
    """Sigmoid probabilities of every actor of ``loader`` (in loader order)."""
    model.eval()
    keys: List[Tuple[str, str]] = []
    boxes, probs = [], []
    if progress:
        from tqdm import tqdm

        loader = tqdm(loader, desc="test", dynamic_ncols=True)
    for batch in loader:
        b = to_device(batch, device)
        logits = model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])
        keys += batch["keys"]
        boxes.append(batch["actors_boxes"].numpy())
        probs.append(torch.sigmoid(logits).float().cpu().numpy())
    if not boxes:
        return [], np.zeros((0, 4), np.float32), np.zeros((0, 0), np.float32)
    return keys, np.concatenate(boxes), np.concatenate(probs)


def class_ids(num_classes: int) -> np.ndarray:
    """AVA action id of each output column: 81 columns -> column c is id c (column 0, background, gets
    id 0 and is never written); 80 columns (SlowFast labels) -> column c is id c + 1."""
    if num_classes == 81:
        return np.arange(81)
    if num_classes == 80:
        return np.arange(1, 81)
    return np.arange(num_classes)


def results_rows(keys: List[Tuple[str, str]], boxes: np.ndarray, probs: np.ndarray) -> List[str]:
    """STAGE's rows: per actor and per action column (background excluded) with probability > 0:
    ``video_id,timestamp (leading zeros dropped),x1,y1,x2,y2,action_id,score``."""
    if len(keys) == 0:
        return []
    ids = class_ids(probs.shape[1])
    actor, col = np.nonzero((probs > 0) & (ids[None, :] > 0))
    vids = np.array([k[0] for k in keys], dtype=object)[actor]
    ts = np.array([str(int(k[1])) for k in keys], dtype=object)[actor]
    # float32 values in their shortest round-trip form (0.863, not 0.862999976)
    b = [boxes[actor, k].astype(np.float32).astype(str).astype(object) for k in range(4)]
    act = np.char.mod("%d", ids[col]).astype(object)
    score = probs[actor, col].astype(np.float32).astype(str).astype(object)
    lines = vids
    for part in (ts, *b, act, score):
        lines = lines + "," + part
    return list(lines)


def write_results_csv(path: PathLike, keys: List[Tuple[str, str]], boxes: np.ndarray, probs: np.ndarray) -> int:
    """Write ``results.csv`` atomically; returns the number of rows."""
    rows = results_rows(keys, boxes, probs)
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(r + "\n" for r in rows))
    return len(rows)


def evaluate_ava(results: PathLike, groundtruth: PathLike, labelmap: PathLike, exclusions: Optional[PathLike] = None,
                 max_dets_per_frame: int = 50) -> Dict[str, Any]:
    """Frame-mAP@0.5 of ``results`` by ``python -m evaluation.ava`` (its documented CLI and JSON):
    {"mAP", "per_class": {id: {"name", "ap"}}, "groups": {...}}."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "metrics.json")
        cmd = [sys.executable, "-m", "evaluation.ava", "-l", str(labelmap), "-g", str(groundtruth), "-d", str(results),
               "--max_dets_per_frame", str(max_dets_per_frame), "--json", out]
        if exclusions:
            cmd += ["-e", str(exclusions)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            msg = (proc.stderr.strip().splitlines() or ["evaluation.ava failed"])[-1]
            raise DataError(results, f"evaluation failed: {msg}")
        with open(out, encoding="utf-8") as f:
            return json.load(f)


GROUP_COLUMNS = (("person_movement", "PM"), ("object_manipulation", "OM"), ("person_interaction", "PI"))


def table_markdown(rows: List[Tuple[str, Dict[str, Any]]], title: str = "") -> str:
    """A markdown table: method | mAP | per group (movement, object manipulation, interaction), in %."""
    lines = [f"### {title}", ""] if title else []
    lines += ["| method | mAP | person movement | object manipulation | person interaction |",
              "|---|---:|---:|---:|---:|"]

    def pct(v: Any) -> str:
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * float(v):.2f}"

    for name, m in rows:
        g = m.get("groups", {})
        lines.append(f"| {name} | {pct(m.get('mAP'))} | " + " | ".join(pct(g.get(k)) for k, _ in GROUP_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def write_table(path: PathLike, text: str) -> None:
    atomic_write_text(path, text)
