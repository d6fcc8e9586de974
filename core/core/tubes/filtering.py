"""Per-frame candidate selection (``dofilter`` of realtime-action-detection's ``actionPaths.m``).

For every class a: boxes with score_a > 0.001, the 50 best by score_a, greedy NMS at IoU 0.45 (MATLAB
``nms.m``: areas without +1, suppress when IoU > threshold), the first 10 survivors. Each kept box carries
its class score and its full score vector. One vectorised call covers all classes.

Micro-tubes (boxes ``[N, 8]``: the box at t then the box at t + delta) go through the same rule with
the tubelet overlap of the ACT detector: the mean of the per-frame IoUs.

Detectors can keep only what the tube builder will ever look at with :func:`prefilter`: the union over
classes of the boxes ``dofilter`` keeps. Running ``dofilter`` again on that subset gives the same
candidates (a box is only ever suppressed by a kept box of higher score, and every kept box of the
first 10 survives in the subset), so the compact detection files lose nothing.
"""

from __future__ import annotations

import numpy as np
import torch

from core.boxes import iou_aligned
from core.nms import classwise_nms_flat

from .types import Candidates

SCORE_THRESH = 0.001
TOP_K = 50
NMS_THRESH = 0.45
KEEP_TOP_K = 10


def rank_in_group(group: np.ndarray) -> np.ndarray:
    """For ``group`` [N] sorted ascending (any integers), the 0-based position inside its group."""
    n = group.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    first = np.ones(n, bool)
    first[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(first)
    return np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))


def sort_group_then_score(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Permutation sorting by group ascending then score descending, stable for ties."""
    return np.lexsort((-score, group))


def grouped_nms(boxes: np.ndarray, group: np.ndarray, iou_thresh: float, inclusive: bool = False) -> np.ndarray:
    """Greedy NMS inside each group, for boxes [M, 4 * k] with the mean IoU over their k boxes.

    Inputs must be sorted by group then score descending (only the order is used); returns a bool keep mask [M]. A box is kept
    iff no kept box earlier in its group overlaps it by more than ``iou_thresh``. Vectorised over
    groups; decided in rounds (every round settles at least the first undecided box of each group).
    """
    m = boxes.shape[0]
    if m == 0:
        return np.zeros(0, bool)
    k = boxes.shape[1] // 4
    _, gid = np.unique(group, return_inverse=True)
    rank = rank_in_group(gid)
    num_groups, n = int(gid.max()) + 1, int(rank.max()) + 1
    padded = np.zeros((num_groups, n, 4 * k))
    padded[gid, rank] = boxes
    valid = np.zeros((num_groups, n), bool)
    valid[gid, rank] = True
    overlap = np.zeros((num_groups, n, n))
    for j in range(k):
        b = padded[..., 4 * j:4 * j + 4]
        overlap += iou_aligned(b[:, :, None, :], b[:, None, :, :], inclusive)
    # earlier[g, i, j]: box j comes before box i and overlaps it too much
    earlier = (overlap / k > iou_thresh) & np.tri(n, k=-1, dtype=bool)[None] & valid[:, None, :]
    kept = np.zeros_like(valid)
    undecided = valid.copy()
    while undecided.any():
        suppressed = undecided & (earlier & kept[:, None, :]).any(2)
        keep_now = undecided & ~suppressed & ~(earlier & undecided[:, None, :]).any(2)
        kept |= keep_now
        undecided &= ~(suppressed | keep_now)
    return kept[gid, rank]


def dofilter(
    boxes: np.ndarray,
    scores: np.ndarray,
    score_thresh: float = SCORE_THRESH,
    top_k: int = TOP_K,
    nms_thresh: float = NMS_THRESH,
    keep_top_k: int = KEEP_TOP_K,
) -> Candidates:
    """Per-class candidates of one frame.

    boxes [N, 4] xyxy pixels (or [N, 4 * k] micro-tubes), scores [N, C + 1] with the background last.
    Returns :class:`Candidates` sorted by class then score descending (float64).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] % 4 or scores.ndim != 2 or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"dofilter: expected boxes [N, 4k] and scores [N, C + 1], got {boxes.shape} and {scores.shape}")
    num_classes = scores.shape[1] - 1
    if boxes.shape[1] == 4:
        det = classwise_nms_flat(boxes, scores[:, :num_classes], score_thresh, nms_thresh, top_k, keep_top_k,
                                 inclusive=False)
        index, label = det.box_index.numpy(), det.label.numpy()
    else:
        s = scores[:, :num_classes]
        valid = s > score_thresh
        if s.shape[0] > top_k:  # only entries at or above each class's top_k-th score can be kept (ties too)
            masked = torch.from_numpy(np.where(valid, s, -np.inf))
            kth = masked.topk(top_k, dim=0).values[-1].numpy()  # the top_k-th score of each class
            valid &= s >= kth[None, :]
        index, label = np.nonzero(valid)
        score = scores[index, label]
        order = sort_group_then_score(label, score)
        index, label, score = index[order], label[order], score[order]
        top = rank_in_group(label) < top_k
        index, label, score = index[top], label[top], score[top]
        keep = grouped_nms(boxes[index], label, nms_thresh)
        index, label = index[keep], label[keep]
        keep = rank_in_group(label) < keep_top_k
        index, label = index[keep], label[keep]
    index = index.astype(np.int64)
    label = label.astype(np.int64)
    return Candidates(label, boxes[index], scores[index, label], scores[index], index)


def prefilter(
    boxes: np.ndarray,
    scores: np.ndarray,
    score_thresh: float = SCORE_THRESH,
    top_k: int = TOP_K,
    nms_thresh: float = NMS_THRESH,
    keep_top_k: int = KEEP_TOP_K,
) -> np.ndarray:
    """Sorted unique rows of ``boxes`` that :func:`dofilter` keeps for at least one class: [n] int64."""
    return np.unique(dofilter(boxes, scores, score_thresh, top_k, nms_thresh, keep_top_k).index)


def nms_candidates(cand: Candidates, nms_thresh: float = NMS_THRESH, keep_top_k: int = KEEP_TOP_K) -> Candidates:
    """Class-wise NMS of already-labelled candidates (fusion step), first ``keep_top_k`` per class."""
    if len(cand) == 0:
        return cand
    order = sort_group_then_score(cand.label, cand.score)
    cand = Candidates(*(a[order] for a in cand))
    keep = grouped_nms(cand.boxes, cand.label, nms_thresh)
    cand = Candidates(*(a[keep] for a in cand))
    keep = rank_in_group(cand.label) < keep_top_k
    return Candidates(*(a[keep] for a in cand))


def normalized_to_pixels(loc: np.ndarray, width: int, height: int) -> np.ndarray:
    """SSD boxes [N, 4 * k] in [0, 1] -> pixels as the MATLAB readers build them, minus their +1.

    ``x * width`` clipped below at 0 (x1, y1) and above at ``width - 1`` (x2, y2), the ACT convention; and,
    unlike the MATLAB readers, every coordinate into [0, size - 1], so that a box lying wholly outside the
    image becomes an empty box on its border instead of an inverted one (x1 > x2).
    """
    loc = np.asarray(loc, dtype=np.float64)
    out = loc * np.tile([width, height, width, height], loc.shape[1] // 4)
    out[:, 0::2] = np.clip(out[:, 0::2], 0, width - 1)
    out[:, 1::2] = np.clip(out[:, 1::2], 0, height - 1)
    return out
