"""Average precision from ranked true/false positives, in the variants the evaluators use.

- :func:`voc_ap`: VOC 2010+ "all points" area (the TF object-detection port used by ActivityNet's AVA
  evaluator, ActivityNet's classification evaluator, the realtime-action-detection MATLAB ``xVOCap``):
  prepend recall 0 / precision 0, append recall 1 / precision 0, make precision non-increasing from the
  right, sum delta-recall x precision where recall changes.
- :func:`voc07_ap`: VOC 2007 11-point interpolation.
- :func:`trapezoid_ap`: the ACT detector's ``pr_to_ap``: trapezoids under a precision/recall curve that
  starts at (recall 0, precision 1), computed in float32 like ACT's ``pr`` arrays.

How detections are ranked before the cumulative sums differs between evaluators, and with tied scores
the rank order changes the AP; :func:`descending_order` names each evaluator's sort.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

ORDERS = ("reverse_argsort", "argsort_negated", "stable")


def descending_order(scores: np.ndarray, method: str = "stable") -> np.ndarray:
    """Indices that sort ``scores`` [N] by decreasing score.

    ``method``:
        ``"reverse_argsort"``  ``np.argsort(scores)[::-1]`` (TF object-detection / ActivityNet evaluators).
        ``"argsort_negated"``  ``np.argsort(-scores)`` (the ACT detector).
        ``"stable"``           ties keep their input order (MATLAB ``sort(..., 'descend')``).
    The first two use numpy's default (unstable) sort on purpose: given the same array they give the
    same order as the evaluators they reproduce, ties included.
    """
    scores = np.asarray(scores)
    if method == "reverse_argsort":
        return np.argsort(scores)[::-1]
    if method == "argsort_negated":
        return np.argsort(-scores)
    if method == "stable":
        return np.argsort(-scores, kind="stable")
    raise ValueError(f"unknown order {method!r}, expected one of {ORDERS}")


def precision_recall(
    tp: np.ndarray, num_gt: int, scores: Optional[np.ndarray] = None, order: str = "reverse_argsort"
) -> Tuple[np.ndarray, np.ndarray]:
    """Cumulative precision and recall [N] of detections ranked by score.

    tp [N] bool (true positive flags), num_gt: number of ground-truth instances (> 0).
    ``scores`` [N]: rank by :func:`descending_order` with ``order``; None: ``tp`` is already ranked.
    precision = TP / (TP + FP), recall = TP / num_gt (float64, the TF port's arithmetic).
    """
    tp = np.asarray(tp, dtype=bool)
    if scores is not None:
        tp = tp[descending_order(scores, order)]
    tp_int = tp.astype(np.int64)
    cum_tp = np.cumsum(tp_int)
    cum_fp = np.cumsum(1 - tp_int)
    precision = cum_tp.astype(np.float64) / (cum_tp + cum_fp)
    recall = cum_tp.astype(np.float64) / num_gt
    return precision, recall


def voc_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2010+ all-point AP of a precision/recall curve [N] (recall non-decreasing). 0.0 when N = 0."""
    mrec = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx]))


def voc07_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2007 11-point AP: mean over t = 0, 0.1, ..., 1 of the best precision at recall >= t."""
    precision = np.asarray(precision, dtype=np.float64)
    recall = np.asarray(recall, dtype=np.float64)
    ap = 0.0
    for t in np.arange(0.0, 1.1, 0.1):  # 11 thresholds, VOC devkit's exact sequence
        above = recall >= t
        ap += (np.max(precision[above]) if above.any() else 0.0) / 11.0
    return float(ap)


def trapezoid_ap(precision: np.ndarray, recall: np.ndarray, dtype=np.float32) -> float:
    """The ACT detector's ``pr_to_ap``: sum of trapezoids of the curve (0, 1), (recall_i, precision_i).

    ACT stores precision/recall in a float32 ``pr`` array and integrates in float32; ``dtype`` keeps
    that arithmetic (pass np.float64 for a float64 variant).
    """
    n = len(precision)
    pr = np.empty((n + 1, 2), dtype=dtype)
    pr[0, 0], pr[0, 1] = 1.0, 0.0
    pr[1:, 0] = precision
    pr[1:, 1] = recall
    prdif = pr[1:, 1] - pr[:-1, 1]
    prsum = pr[1:, 0] + pr[:-1, 0]
    return float(np.sum(prdif * prsum * 0.5))
