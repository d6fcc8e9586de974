"""Classification metrics: top-k accuracy of score matrices, and ActivityNet's video-level hit@k / mAP.

:func:`topk_accuracy` is what training loops log (torch or numpy). :func:`hit_at_k` and
:func:`classification_ap` reproduce ActivityNet's ``eval_classification.py`` / ``eval_kinetics.py``
(used for Kinetics): predictions are (video, label, score) triples, possibly several per video.
"""

from __future__ import annotations

from typing import Any, Sequence, Tuple

import numpy as np

from core.metrics.ap import precision_recall, voc_ap


def topk_accuracy(scores: Any, target: Any, ks: Sequence[int] = (1, 5)) -> Tuple[float, ...]:
    """Fraction of rows whose target is among the k highest scores, for each k.

    scores [N, C], target [N] int (numpy arrays or torch tensors). Ties are broken by torch.topk
    order (k clipped to C).
    """
    import torch  # lazily: the evaluation CLIs use core.metrics without torch

    if isinstance(scores, np.ndarray):
        scores = torch.from_numpy(scores)
    if isinstance(target, np.ndarray):
        target = torch.from_numpy(target)
    n, c = scores.shape
    if n == 0:
        return tuple(float("nan") for _ in ks)
    kmax = min(max(ks), c)
    top = scores.topk(kmax, dim=1).indices  # [N, kmax]
    hit = top == target.view(-1, 1)
    return tuple(float(hit[:, : min(k, c)].any(dim=1).float().mean()) for k in ks)


def video_scores(clip_video: np.ndarray, clip_scores: np.ndarray, num_videos: int, reduce: str = "mean") -> np.ndarray:
    """Aggregate clip-level scores [N, C] into video-level scores [V, C] (``mean`` or ``max``) by video id [N]."""
    clip_video = np.asarray(clip_video, np.int64)
    clip_scores = np.asarray(clip_scores, np.float64)
    out = np.zeros((num_videos, clip_scores.shape[1]))
    if reduce == "mean":
        np.add.at(out, clip_video, clip_scores)
        counts = np.bincount(clip_video, minlength=num_videos)[:, None]
        return np.divide(out, counts, out=np.full_like(out, np.nan), where=counts > 0)
    if reduce == "max":
        out[:] = -np.inf
        np.maximum.at(out, clip_video, clip_scores)
        return out
    raise ValueError(f"unknown reduce {reduce!r} (expected 'mean' or 'max')")


def hit_at_k(
    pred_video: np.ndarray, pred_label: np.ndarray, pred_score: np.ndarray,
    gt_video: np.ndarray, gt_label: np.ndarray, k: int, avg: bool = False,
) -> float:
    """ActivityNet ``compute_video_hit_at_k``.

    Predictions (video id [P], label [P], score [P], in file order) and unique ground-truth
    (video, label) pairs. Per ground-truth video: its predictions ranked by ``argsort()[::-1]`` (numpy's
    sort, so ties resolve as the original), top k labels; hit = fraction of its labels among them,
    rounded up to 0/1 unless ``avg``. Videos without predictions score 0. Mean over videos.
    """
    pred_video = np.asarray(pred_video, np.int64)
    pred_label = np.asarray(pred_label, np.int64)
    pred_score = np.asarray(pred_score, np.float64)
    gt_video = np.asarray(gt_video, np.int64)
    gt_label = np.asarray(gt_label, np.int64)
    videos = np.unique(gt_video)
    if len(videos) == 0:
        return float("nan")
    # Rank each video's predictions by (video, -score) with a stable sort. That equals the original's
    # per-video ``argsort()[::-1]`` except in the order of equal scores, which only matters when the
    # k-th and (k+1)-th scores of a video tie; those few videos re-run the original's own sort.
    order = np.lexsort((-pred_score, pred_video))
    v_sorted = pred_video[order]
    s_sorted = pred_score[order]
    seg_start = np.searchsorted(v_sorted, v_sorted, "left")
    local = np.arange(len(order)) - seg_start
    in_top = np.zeros(len(pred_video), dtype=bool)
    in_top[order[local < k]] = True
    at_k = np.flatnonzero(local == k)  # the (k+1)-th prediction of a video, when there is one
    tied = at_k[s_sorted[at_k] == s_sorted[at_k - 1]]
    for j in tied:  # rare; each a small per-video sort
        members = np.sort(order[seg_start[j]:seg_start[j] + int(np.searchsorted(v_sorted[seg_start[j]:], v_sorted[j], "right"))])
        in_top[members] = False
        in_top[members[pred_score[members].argsort()[::-1][:k]]] = True
    has_pred = np.isin(videos, pred_video)
    hit_pairs = np.isin(gt_video * (1 << 32) + gt_label, pred_video[in_top] * (1 << 32) + pred_label[in_top])
    vid_idx = np.searchsorted(videos, gt_video)
    per_video = np.bincount(vid_idx, weights=hit_pairs, minlength=len(videos)) / np.bincount(vid_idx, minlength=len(videos))
    if not avg:
        per_video = np.ceil(per_video)
    per_video[~has_pred] = 0.0
    return float(per_video.mean())


def classification_ap(
    pred_video: np.ndarray, pred_label: np.ndarray, pred_score: np.ndarray,
    gt_video: np.ndarray, gt_label: np.ndarray, num_classes: int,
) -> np.ndarray:
    """ActivityNet ``compute_average_precision_classification`` for each class -> ap [C].

    Per class: its predictions (file order) ranked by ``argsort()[::-1]``; a prediction is a TP if its
    video has that ground-truth label and no earlier-ranked prediction of the class took the video;
    VOC all-point AP with recall over the class's ground-truth videos. NaN for classes without any.
    """
    pred_video = np.asarray(pred_video, np.int64)
    pred_label = np.asarray(pred_label, np.int64)
    pred_score = np.asarray(pred_score, np.float64)
    gt_key = np.asarray(gt_video, np.int64) * (1 << 32) + np.asarray(gt_label, np.int64)
    num_gt = np.bincount(np.asarray(gt_label, np.int64), minlength=num_classes)
    ap = np.full(num_classes, np.nan)
    by_class = np.argsort(pred_label, kind="stable")
    bounds = np.searchsorted(pred_label[by_class], np.arange(num_classes + 1))
    for c in range(num_classes):
        if num_gt[c] == 0:
            continue
        idx = by_class[bounds[c]:bounds[c + 1]]
        idx = idx[pred_score[idx].argsort()[::-1]]
        key = pred_video[idx] * (1 << 32) + c
        is_gt = np.isin(key, gt_key)
        first = np.zeros(len(idx), dtype=bool)
        _, first_pos = np.unique(key, return_index=True)
        first[first_pos] = True
        prec, rec = precision_recall(is_gt & first, int(num_gt[c]))
        ap[c] = voc_ap(prec, rec)
    return ap
