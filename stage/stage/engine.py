"""STAGE's loops: training epochs (checkpoints inside and at the end of epochs), inference over a loader,
``results.csv`` in STAGE's AVA format, and evaluation with ``evaluation.ava``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch

from core.cli import markdown_table
from core.errors import DataError
from core.io import PathLike, atomic_open, atomic_write_text
from core.train import CheckpointManager, MetricLogger, SmoothedValue, all_reduce_mean, all_reduce_sum
from stage.model import stage_loss

Prediction = Tuple[List[Tuple[str, str]], np.ndarray, np.ndarray]  # keys, boxes [n, 4], probs [n, C]


def to_device(batch: Dict[str, Any], device: torch.device) -> Dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def checkpoint_name(epoch: int, iteration: int) -> str:
    return f"model_ep_{epoch:03d}_iter_{iteration:07d}.pth"


def train_epochs(args: argparse.Namespace, model: torch.nn.Module, loader, optimizer: torch.optim.Optimizer,
                 manager: CheckpointManager, logger: MetricLogger, device: torch.device, start_epoch: int,
                 skip: int, step: int) -> Dict[str, Any]:
    """Epochs ``start_epoch`` .. ``args.n_epochs`` of Adam on the BCE loss (the first skipping ``skip`` batches
    already done before a resume); a checkpoint ends every epoch (and every ``--ckpt_every`` iterations).
    Returns {"epochs": [per-epoch seconds and data-wait fraction], "iters_per_epoch", "step"}."""
    per_epoch = loader.batch_sampler.batches_per_rank()
    logger.add_meter("train/class_loss", SmoothedValue(window_size=1, fmt="{value:.5f}"))
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.2e}"))
    stats: Dict[str, Any] = {"epochs": [], "iters_per_epoch": per_epoch}
    model.train()
    for epoch in range(start_epoch, args.n_epochs + 1):
        loader.batch_sampler.set_epoch(epoch, skip)
        wait = compute = 0.0
        t_epoch = t0 = time.time()
        for i, batch in enumerate(loader, start=skip + 1):
            t1 = time.time()
            b = to_device(batch, device)
            logits = model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])
            loss = stage_loss(logits, b["labels"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            t2 = time.time()
            wait += t1 - t0
            compute += t2 - t1
            if i % args.print_freq == 0 or i == per_epoch:
                logger.update(**{"train/class_loss": all_reduce_mean(loss.detach()).item(),
                                 "lr": optimizer.param_groups[0]["lr"]})
                logger.write(step)
                logger.print(f"epoch: {epoch}, iter: {i}/{per_epoch}, "
                             f"lr: {optimizer.param_groups[0]['lr']:g}, "
                             f"class_loss: {logger.meters['train/class_loss'].value:.5f}")
            if i == per_epoch or (args.ckpt_every and i % args.ckpt_every == 0):
                manager.save(model, optimizer, iteration=step, epoch=epoch, args=args, extra={"epoch_iter": i},
                             name=checkpoint_name(epoch, i))
            t0 = time.time()
        skip = 0
        wait, compute = (float(v) for v in all_reduce_sum(torch.tensor([wait, compute], dtype=torch.float64)))
        e = {"epoch": epoch, "seconds": time.time() - t_epoch, "data_wait_s": wait, "compute_s": compute,
             "data_wait_fraction": wait / max(wait + compute, 1e-12)}
        stats["epochs"].append(e)
        logger.print(f"Epoch {epoch} ended: {e['seconds']:.1f} s, data wait {100 * e['data_wait_fraction']:.1f}%")
    stats["step"] = step
    return stats


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
    def pct(v: Any) -> Optional[float]:
        return None if v is None else 100 * float(v)

    cells = [[name, pct(m.get("mAP")), *(pct(m.get("groups", {}).get(k)) for k, _ in GROUP_COLUMNS)]
             for name, m in rows]
    header = ["method", "mAP", "person movement", "object manipulation", "person interaction"]
    return markdown_table(header, cells, title=f"### {title}" if title else "", digits=2)


def write_table(path: PathLike, text: str) -> None:
    atomic_write_text(path, text)
