"""Greedy detection-to-ground-truth matching, vectorised over many independent groups.

A *group* is what the evaluator matches within: (keyframe, class) for AVA, (video, frame, class) for
frame-mAP, (video, class) for video-mAP. Detections arrive in the evaluator's processing order (within
a group: decreasing score, ties as that evaluator breaks them); ground truth arrives in the order the
evaluator stores it, which decides ties between equally overlapping ground-truth boxes ("the first one").

Two greedy rules exist in the reproduced code:

- :func:`match_argmax` (TF object-detection API / VOC devkit, used by ActivityNet's AVA evaluator):
  a detection looks only at its best-overlapping ground truth among *all* boxes of the group; it is a
  true positive if that overlap passes the threshold and no earlier detection took that box. Because
  the best box does not depend on earlier decisions, this needs no loop at all.
- :func:`match_best_remaining` (ACT detector, realtime-action-detection): a detection looks at the best
  ground truth among those *not yet taken*. Decisions depend on earlier ones, so the groups are processed
  in parallel "rounds": round r matches the r-th detection of every group at once.

Both take the pairwise overlaps as a flat list over (detection, ground truth) pairs of the same group,
built by :func:`group_pairs`, so any overlap (box IoU with or without +1, tube IoU) plugs in.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np


class Pairs(NamedTuple):
    """All (detection, ground truth) pairs sharing a group.

    det [P], gt [P]: indices into the detection / ground-truth arrays; pairs are ordered by detection,
    then by ground-truth order. counts [N]: number of pairs of each detection; start [N]: offset of a
    detection's first pair in the flat list.
    """

    det: np.ndarray
    gt: np.ndarray
    counts: np.ndarray
    start: np.ndarray


def group_pairs(det_group: np.ndarray, gt_group: np.ndarray) -> Pairs:
    """Pair every detection with every ground truth of its group.

    det_group [N], gt_group [M]: integer group ids. Ground truths of a group are paired in their input
    order (a stable sort by group keeps it).
    """
    det_group = np.asarray(det_group, dtype=np.int64)
    gt_group = np.asarray(gt_group, dtype=np.int64)
    g_order = np.argsort(gt_group, kind="stable")
    g_sorted = gt_group[g_order]
    lo = np.searchsorted(g_sorted, det_group, "left")
    hi = np.searchsorted(g_sorted, det_group, "right")
    counts = hi - lo
    start = np.cumsum(counts) - counts
    total = int(counts.sum())
    det = np.repeat(np.arange(len(det_group), dtype=np.int64), counts)
    within = np.arange(total, dtype=np.int64) - np.repeat(start, counts)
    gt = g_order[np.repeat(lo, counts) + within]
    return Pairs(det, gt, counts, start)


def _segment_argmax_first(values: np.ndarray, counts: np.ndarray, start: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per segment (a detection's pairs): max value and the offset of its first occurrence.

    Segments with no pairs get max -inf and offset -1.
    """
    n = len(counts)
    best = np.full(n, -np.inf)
    first = np.full(n, -1, dtype=np.int64)
    has = counts > 0
    if not has.any() or len(values) == 0:
        return best, first
    s = start[has]
    seg_max = np.maximum.reduceat(values, s)
    best[has] = seg_max
    local = np.arange(len(values), dtype=np.int64) - np.repeat(start, counts)
    is_max = values == np.repeat(best, counts)
    big = np.iinfo(np.int64).max
    first[has] = np.minimum.reduceat(np.where(is_max, local, big), s)
    return best, first


def match_argmax(pairs: Pairs, overlaps: np.ndarray, threshold: float, num_gt: int) -> Tuple[np.ndarray, np.ndarray]:
    """TF / VOC greedy rule. Detections must be indexed in processing order (index = order).

    overlaps [P]: overlap of each pair. A detection is a TP if its best overlap (first best ground truth
    in group order) is >= threshold and no lower-indexed detection already took that ground truth.
    Returns tp [N] bool and the matched ground-truth index [N] (-1 for false positives).
    """
    n = len(pairs.counts)
    best, first = _segment_argmax_first(np.asarray(overlaps, dtype=np.float64), pairs.counts, pairs.start)
    cand = np.flatnonzero(best >= threshold)
    gt_of = pairs.gt[pairs.start[cand] + first[cand]]
    # The first candidate (lowest index = earliest processed) per ground-truth box wins it.
    _, winners = np.unique(gt_of, return_index=True)
    tp = np.zeros(n, dtype=bool)
    matched = np.full(n, -1, dtype=np.int64)
    tp[cand[winners]] = True
    matched[cand[winners]] = gt_of[winners]
    return tp, matched


def match_best_remaining(
    pairs: Pairs,
    overlaps: np.ndarray,
    det_group: np.ndarray,
    threshold: float,
    num_gt: int,
    strict: bool = False,
) -> Tuple[np.ndarray, np.ndarray]:
    """ACT / MATLAB greedy rule. Detections must be indexed in processing order (index = order).

    Each detection takes the not-yet-taken ground truth of its group with the highest overlap (the
    first in group order on ties); it is a TP if that overlap is >= threshold (``strict``: >), and only
    then is the ground truth taken. Returns tp [N] bool and matched ground-truth index [N] (-1 = FP).
    """
    n = len(pairs.counts)
    overlaps = np.asarray(overlaps, dtype=np.float64)
    tp = np.zeros(n, dtype=bool)
    matched = np.full(n, -1, dtype=np.int64)
    active = np.flatnonzero(pairs.counts > 0)
    if len(active) == 0:
        return tp, matched
    # Rank of each active detection among the active detections of its group (processing order).
    grp = np.asarray(det_group, dtype=np.int64)[active]
    order = np.argsort(grp, kind="stable")
    g_sorted = grp[order]
    first_of_group = np.r_[0, np.flatnonzero(g_sorted[1:] != g_sorted[:-1]) + 1]
    sizes = np.diff(np.r_[first_of_group, len(g_sorted)])
    rank = np.empty(len(active), dtype=np.int64)
    rank[order] = np.arange(len(active)) - np.repeat(first_of_group, sizes)
    by_round = np.argsort(rank, kind="stable")
    round_bounds = np.searchsorted(rank[by_round], np.arange(int(rank.max()) + 2))
    taken = np.zeros(num_gt, dtype=bool)
    for r in range(len(round_bounds) - 1):  # loop over rounds; each round is vectorised over groups
        dets = active[by_round[round_bounds[r]:round_bounds[r + 1]]]
        counts = pairs.counts[dets]
        idx = np.repeat(pairs.start[dets] - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
        gts = pairs.gt[idx]
        vals = np.where(taken[gts], -np.inf, overlaps[idx])
        best, first = _segment_argmax_first(vals, counts, np.cumsum(counts) - counts)
        ok = (best > threshold) if strict else (best >= threshold)
        if ok.any():
            win_gt = gts[(np.cumsum(counts) - counts)[ok] + first[ok]]
            taken[win_gt] = True
            tp[dets[ok]] = True
            matched[dets[ok]] = win_gt
    return tp, matched


def act_order(det_label: np.ndarray, score32: np.ndarray, num_classes: int) -> np.ndarray:
    """[n] detection indices in the order the ACT detector processes them: class by class, and within a
    class its own ``np.argsort(-score)`` over that class's detections in input order (the per-class
    sort decides the order of tied scores, so it is kept as ACT runs it)."""
    by_class = np.argsort(det_label, kind="stable")
    bounds = np.searchsorted(det_label[by_class], np.arange(num_classes + 1))
    proc = np.empty(len(det_label), dtype=np.int64)
    for c in range(num_classes):
        idx = by_class[bounds[c]:bounds[c + 1]]
        proc[bounds[c]:bounds[c + 1]] = idx[np.argsort(-score32[idx])]
    return proc
