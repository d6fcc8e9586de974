"""SSD300 prior boxes, configuration "v2" of ssd.pytorch / realtime-action-detection / AMTNet.

Level k has a ``feature_maps[k]`` square grid; cell (i, j) is centred at ((j + 0.5) / f_k, (i + 0.5) / f_k)
with ``f_k = min_dim / steps[k]`` (37.5, 18.75, 9.375, 4.6875, 3, 1: not the map size). Per cell: a square of
side ``s_k = min_sizes[k] / 300``, a square of side ``sqrt(s_k * max_sizes[k] / 300)``, then for each aspect
ratio ``ar`` the boxes (s_k sqrt(ar), s_k / sqrt(ar)) and (s_k / sqrt(ar), s_k sqrt(ar)). Order: level, row,
column, anchor. Stored centre-size and clamped to [0, 1] in that form (the original ``clip``).
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch

V2: Dict[str, object] = {
    "feature_maps": [38, 19, 10, 5, 3, 1],
    "min_dim": 300,
    "steps": [8, 16, 32, 64, 100, 300],
    "min_sizes": [30, 60, 111, 162, 213, 264],
    "max_sizes": [60, 111, 162, 213, 264, 315],
    "aspect_ratios": [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
    "variance": [0.1, 0.2],
    "clip": True,
}


def anchors_per_cell(aspect_ratios: Sequence[Sequence[float]] = V2["aspect_ratios"]) -> List[int]:  # type: ignore[assignment]
    """[4, 6, 6, 6, 4, 4] for v2: two squares plus two boxes per aspect ratio."""
    return [2 + 2 * len(a) for a in aspect_ratios]


def prior_boxes(cfg: Dict[str, object] = V2) -> torch.Tensor:
    """-> [P, 4] float32 priors (cx, cy, w, h), normalised; P = 8732 for v2."""
    fmaps: List[int] = cfg["feature_maps"]  # type: ignore[assignment]
    min_dim = float(cfg["min_dim"])  # type: ignore[arg-type]
    out = []
    for k, f in enumerate(fmaps):
        fk = min_dim / cfg["steps"][k]  # type: ignore[index]
        sk = cfg["min_sizes"][k] / min_dim  # type: ignore[index]
        sk2 = math.sqrt(sk * cfg["max_sizes"][k] / min_dim)  # type: ignore[index]
        wh = [(sk, sk), (sk2, sk2)]
        for ar in cfg["aspect_ratios"][k]:  # type: ignore[index]
            r = math.sqrt(ar)
            wh += [(sk * r, sk / r), (sk / r, sk * r)]
        wh_t = torch.tensor(wh, dtype=torch.float64)  # [A, 2]
        idx = torch.arange(f, dtype=torch.float64)
        cy, cx = torch.meshgrid((idx + 0.5) / fk, (idx + 0.5) / fk, indexing="ij")  # [f, f]
        centres = torch.stack([cx, cy], -1).reshape(-1, 1, 2).expand(-1, len(wh), 2)
        out.append(torch.cat([centres, wh_t.expand(f * f, -1, -1)], -1).reshape(-1, 4))
    priors = torch.cat(out).to(torch.float32)
    if cfg.get("clip", True):
        priors.clamp_(0.0, 1.0)
    return priors


def microtube_priors(seq_len: int, cfg: Dict[str, object] = V2) -> torch.Tensor:
    """-> [P, 4 * seq_len]: each prior repeated for every frame of the micro-tube."""
    return prior_boxes(cfg).repeat(1, seq_len)
