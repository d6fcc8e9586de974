"""From frame logits to video predictions: per-video score files, top-k class aggregation, the
ActivityNet classification json, and two-stream fusion.

Per-video score file (``output_val_<iter>.pkl``, the original's layout; read it back with
``core.io.safe_load_pickle``)::

    {youtube_id: {"scores": float32 [n, C] raw logits sorted by frame, "fids": int [n], "count": n}}
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from core.errors import DataError

VERSION = "KINETICS VERSION 1.0"
CLASS_TOPK = (10, 30, 50)


def group_by_video(logits: np.ndarray, video_idx: np.ndarray, frames: np.ndarray,
                   videos: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Frame logits [N, C] with their video index [N] and frame number [N] -> the per-video dict,
    each video's rows sorted by frame number."""
    order = np.lexsort((frames, video_idx))
    logits, video_idx, frames = logits[order], video_idx[order], frames[order]
    uniq, start, count = np.unique(video_idx, return_index=True, return_counts=True)
    return {videos[int(v)]: {"scores": logits[s:s + c].astype(np.float32), "fids": frames[s:s + c].astype(np.int64),
                             "count": int(c)}
            for v, s, c in zip(uniq, start, count)}


def topk_class_scores(frame_logits: np.ndarray, k: int) -> np.ndarray:
    """For every class the mean of its ``k`` highest frame logits (all frames when fewer):
    [n, C] -> [C] (the original's ``gettopklabel`` scores)."""
    frame_logits = np.asarray(frame_logits, np.float64)
    kk = min(int(k), frame_logits.shape[0])
    if kk <= 0:
        raise ValueError("a video needs at least one scored frame")
    top = -np.partition(-frame_logits, kk - 1, axis=0)[:kk]
    return top.mean(axis=0)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def video_probabilities(allscores: Mapping[str, Mapping[str, Any]], k: int) -> Dict[str, np.ndarray]:
    """Each video's class probabilities [C]: softmax over the classes of the top-k aggregated logits."""
    return {vid: softmax(topk_class_scores(v["scores"][: int(v["count"])], k)) for vid, v in allscores.items()}


def fuse(rgb: Mapping[str, np.ndarray], flow: Mapping[str, np.ndarray], rgb_weight: float = 0.5) -> Dict[str, np.ndarray]:
    """Weighted sum ``w * rgb + (1 - w) * flow`` of per-video class probabilities (videos in both)."""
    return {vid: rgb_weight * rgb[vid] + (1.0 - rgb_weight) * flow[vid] for vid in rgb if vid in flow}


def fuse_frames(rgb: Mapping[str, Mapping[str, Any]], flow: Mapping[str, Mapping[str, Any]],
                rgb_weight: float = 0.5) -> Dict[str, Dict[str, Any]]:
    """Frame-level fusion of two per-video score dicts on the frames both scored: the weighted sum of
    the frame softmaxes, stored as log-probabilities so that top-k aggregation applies unchanged."""
    out = {}
    for vid, r in rgb.items():
        if vid not in flow:
            continue
        f = flow[vid]
        common, ri, fi = np.intersect1d(r["fids"][: r["count"]], f["fids"][: f["count"]], return_indices=True)
        p = rgb_weight * softmax(r["scores"][ri]) + (1.0 - rgb_weight) * softmax(f["scores"][fi])
        out[vid] = {"scores": np.log(np.maximum(p, 1e-30)).astype(np.float32), "fids": common, "count": len(common)}
    return out


def frame_topk(allscores: Mapping[str, Mapping[str, Any]], labels: Mapping[str, int], ks=(1, 3)) -> Dict[int, float]:
    """Frame-level top-k accuracy (%) over every scored frame of the labelled videos."""
    from core.metrics import topk_accuracy

    vids = [v for v in allscores if v in labels]
    if not vids:
        return {k: float("nan") for k in ks}
    scores = np.concatenate([allscores[v]["scores"][: allscores[v]["count"]] for v in vids])
    target = np.concatenate([np.full(allscores[v]["count"], labels[v], np.int64) for v in vids])
    return dict(zip(ks, (100.0 * a for a in topk_accuracy(scores, target, ks))))


def activitynet_json(probs: Mapping[str, np.ndarray], database: Mapping[str, Mapping[str, Any]],
                     idx_to_class: Mapping[int, str], subset: str = "val", top: int = 5,
                     external: Optional[str] = None) -> Dict[str, Any]:
    """ActivityNet classification results for every ``subset`` video of ``database``: the ``top``
    classes by probability, scores divided by the sum of those ``top`` (the original's normalisation;
    on probabilities, so the order is kept). Videos without scores get the original's placeholder
    (class index 2, score 1e-7)."""
    results: Dict[str, Any] = {}
    for vid in sorted(database):
        if database[vid]["subset"] != subset:
            continue
        if vid in probs:
            p = np.asarray(probs[vid], np.float64)
            if p.shape[0] != len(idx_to_class):
                raise DataError(vid, f"{p.shape[0]} class scores, the annotation has {len(idx_to_class)} classes")
            order = np.argsort(-p, kind="stable")[:top]
            norm = p[order] / p[order].sum()
            results[vid] = [{"label": idx_to_class[int(c)], "score": float(s)} for c, s in zip(order, norm)]
        else:
            results[vid] = [{"label": idx_to_class[min(2, len(idx_to_class) - 1)], "score": 1e-7}]
    return {"version": VERSION,
            "external_data": {"used": external is not None, "details": external or ""},
            "results": results}
