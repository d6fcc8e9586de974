"""Video-level numbers of a prediction json against the annotation json, from ``evaluation.kinetics``
(ActivityNet's classification evaluator): hit@1, hit@5, their mean ("mean"; the Kinetics challenge's
"mean error" is 1 - mean) and mAP, as fractions."""

from __future__ import annotations

import os
from typing import Dict, Union

from evaluation.kinetics import evaluate

PathLike = Union[str, "os.PathLike[str]"]


def video_metrics(gt_path: PathLike, pred_path: PathLike, subset: str = "val") -> Dict[str, float]:
    """hit@1, hit@5, mean, mean_error, mAP of the prediction file ``pred_path``."""
    r = evaluate(os.fspath(gt_path), os.fspath(pred_path), subset)
    return {"hit@1": r["hit@1"], "hit@5": r["hit@5"], "mean": r["mean_hit"], "mean_error": 1.0 - r["mean_hit"],
            "mAP": r["mAP"]}
