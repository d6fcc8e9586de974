"""Scoring loop shared by the in-training validation (train.py) and test.py; works under torchrun
(each rank scores its shard of the frames, results are gathered on every rank)."""

from __future__ import annotations

import time
from typing import Dict, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from core.train import all_gather_object


@torch.no_grad()
def score_frames(model: nn.Module, loader: DataLoader, device: torch.device,
                 logger: Optional[object] = None, header: str = "test", print_freq: int = 10) -> Dict[str, np.ndarray]:
    """Raw logits of every frame sample of ``loader`` (all ranks' shards gathered).

    Returns ``logits`` float32 [N, C], ``labels`` [N], ``video`` [N] (dataset video index), ``frame``
    [N] (frame number), ``loss`` (mean cross-entropy) and ``fps`` (frames per second of this rank)."""
    model.eval()
    parts = {"logits": [], "labels": [], "video": [], "frame": []}
    loss_sum, n = 0.0, 0
    batches = loader if logger is None else logger.log_every(loader, print_freq, header=header, total=len(loader))
    start = time.perf_counter()
    for x, y, vid, fn in batches:
        out = model(x.to(device, non_blocking=True)).float().cpu()
        loss_sum += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        n += len(y)
        parts["logits"].append(out.numpy())
        parts["labels"].append(y.numpy())
        parts["video"].append(vid.numpy())
        parts["frame"].append(fn.numpy())
    elapsed = time.perf_counter() - start
    mine = {k: (np.concatenate(v) if v else np.zeros((0,), np.int64)) for k, v in parts.items()}
    gathered = all_gather_object((mine, loss_sum, n))
    out: Dict[str, np.ndarray] = {}
    for k in parts:
        arrays = [g[0][k] for g in gathered if len(g[0][k])]
        out[k] = np.concatenate(arrays) if arrays else mine[k]
    total = sum(g[2] for g in gathered)
    out["loss"] = sum(g[1] for g in gathered) / max(total, 1)
    out["fps"] = n / elapsed if elapsed > 0 else float("nan")
    return out
