"""Video-level numbers of a prediction json against the annotation json: hit@1, hit@5, their mean
("mean"; the Kinetics challenge's "mean error" is 1 - mean) and mAP, all from ``evaluation.kinetics``."""

from __future__ import annotations

from typing import Any, Dict, Mapping

import numpy as np

from core.errors import DataError


def video_metrics(annotations: Mapping[str, Any], predictions: Mapping[str, Any], subset: str = "val") -> Dict[str, float]:
    """``annotations``: the annotation json (dict); ``predictions``: an ActivityNet classification
    result dict. Returns hit@1, hit@5, mean, mean_error, mAP as fractions."""
    database = annotations["database"]
    classes = annotations["classes"]
    vids = sorted(v for v, info in database.items() if info["subset"] == subset)
    if not vids:
        raise DataError("annotations", f"no '{subset}' videos")
    vindex = {v: i for i, v in enumerate(vids)}
    gt_video = np.arange(len(vids))
    gt_label = np.array([int(database[v]["cls"]) for v in vids])
    pv, pl, ps = [], [], []
    for vid, preds in predictions.get("results", {}).items():
        if vid not in vindex:
            continue
        for p in preds:
            if p["label"] not in classes:
                raise DataError("predictions", f"unknown label {p['label']!r}", f"results['{vid}']")
            pv.append(vindex[vid])
            pl.append(int(classes[p["label"]]))
            ps.append(float(p["score"]))
    from core.metrics import classification_ap, hit_at_k

    pv, pl, ps = np.array(pv, np.int64), np.array(pl, np.int64), np.array(ps)
    hit1 = hit_at_k(pv, pl, ps, gt_video, gt_label, 1)
    hit5 = hit_at_k(pv, pl, ps, gt_video, gt_label, 5)
    ap = classification_ap(pv, pl, ps, gt_video, gt_label, len(classes))
    mean = (hit1 + hit5) / 2
    return {"hit@1": hit1, "hit@5": hit5, "mean": mean, "mean_error": 1 - mean, "mAP": float(np.nanmean(ap))}
