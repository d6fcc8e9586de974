"""Video-level detection AP: tubes matched to ground-truth tubes by spatio-temporal IoU.

A set of tubes is stored flat (:class:`Tubes`): every box of every tube with its frame number, and
offsets. Spatio-temporal IoU of a detection tube d and a ground-truth tube g (both sorted by frame):

- ``"act"`` (ACT ``iou3dt``): temporal IoU = (min end - max start + 1) / (max end - min start + 1),
  0 if the tubes do not overlap in time, times the mean per-frame ``iou2d`` (+1 areas) over the
  temporal intersection. Float32 tubes are computed in float32 like ACT (the mean is accumulated in
  float64 and rounded to float32; ACT's pairwise float32 sum can differ in the last bit).
- ``"road"`` (``compute_spatio_temporal_iou.m``): T_i = min end - max start; 0 unless T_i > 0 (so a
  single shared frame gives 0), else (T_i + 1) / (max end - min start + 1) times the mean per-frame
  ``rectint`` IoU with MATLAB's eps in the denominator, in float64.

A frame inside the temporal intersection that one tube lacks (a tube with a gap) counts as IoU 0; the
originals assume contiguous tubes, for which this changes nothing.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from core.metrics.ap import precision_recall, trapezoid_ap, voc_ap
from core.metrics.boxes import MATLAB_EPS, iou_act, iou_matlab
from core.metrics.matching import act_order, group_pairs, match_best_remaining


class Tubes(NamedTuple):
    """frames [F] int64 (sorted within each tube), boxes [F, 4] x1, y1, x2, y2, offsets [T + 1]."""

    frames: np.ndarray
    boxes: np.ndarray
    offsets: np.ndarray

    @property
    def start(self) -> np.ndarray:
        return self.frames[self.offsets[:-1]]

    @property
    def end(self) -> np.ndarray:
        return self.frames[self.offsets[1:] - 1]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def make_tubes(tubes: Sequence[np.ndarray], dtype=np.float64) -> Tubes:
    """List of [n_i, 5] (frame, x1, y1, x2, y2) arrays (n_i >= 1, frames increasing) -> Tubes."""
    lengths = np.array([len(t) for t in tubes], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    if len(tubes):
        flat = np.concatenate([np.asarray(t) for t in tubes], axis=0)
    else:
        flat = np.zeros((0, 5))
    frames = np.asarray(flat[:, 0]).astype(np.int64)
    boxes = np.asarray(flat[:, 1:5]).astype(dtype)
    return Tubes(frames, boxes, offsets)


def _box_at(tubes: Tubes, tube: np.ndarray, frame: np.ndarray):
    """Boxes of ``tube`` [K] at ``frame`` [K] -> (boxes [K, 4], present [K] bool)."""
    span = int(tubes.frames.max()) + 2 if len(tubes.frames) else 1
    tube_of_box = np.repeat(np.arange(len(tubes), dtype=np.int64), np.diff(tubes.offsets))
    keys = tube_of_box * span + tubes.frames  # sorted: tubes in order, frames increasing
    want = tube * span + frame
    pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    present = keys[pos] == want if len(keys) else np.zeros(len(want), bool)
    return tubes.boxes[pos], present


def tube_iou(dets: Tubes, gts: Tubes, det_index: np.ndarray, gt_index: np.ndarray, protocol: str = "act") -> np.ndarray:
    """Spatio-temporal IoU of the tube pairs (dets[det_index[p]], gts[gt_index[p]]) -> [P]."""
    det_index = np.asarray(det_index, dtype=np.int64)
    gt_index = np.asarray(gt_index, dtype=np.int64)
    ds, de = dets.start[det_index], dets.end[det_index]
    gs, ge = gts.start[gt_index], gts.end[gt_index]
    tmin, tmax = np.maximum(ds, gs), np.minimum(de, ge)
    if protocol == "act":
        valid = tmax >= tmin
    elif protocol == "road":
        valid = (tmax - tmin) > 0
    else:
        raise ValueError(f"unknown tube IoU protocol {protocol!r} (expected 'act' or 'road')")
    length = np.where(valid, tmax - tmin + 1, 0)
    union = np.maximum(de, ge) - np.minimum(ds, gs) + 1
    # One row per (pair, frame of the temporal intersection).
    pair = np.repeat(np.arange(len(det_index), dtype=np.int64), length)
    seg = np.cumsum(length) - length
    frame = np.repeat(tmin, length) + (np.arange(int(length.sum()), dtype=np.int64) - np.repeat(seg, length))
    dbox, dok = _box_at(dets, det_index[pair], frame)
    gbox, gok = _box_at(gts, gt_index[pair], frame)
    if protocol == "act":
        dtype = np.result_type(dets.boxes.dtype, gts.boxes.dtype)
        per_frame = iou_act(dbox.astype(dtype), gbox.astype(dtype))
    else:
        per_frame = iou_matlab(dbox.astype(np.float64), gbox.astype(np.float64), eps=MATLAB_EPS)
    per_frame = np.where(dok & gok, per_frame, 0)
    out = np.zeros(len(det_index), dtype=np.float64)
    has = length > 0
    if has.any():
        sums = np.add.reduceat(per_frame.astype(np.float64), seg[has])
        mean = sums / length[has]
        if protocol == "act":
            dtype = np.result_type(dets.boxes.dtype, gts.boxes.dtype)
            t_iou = (length[has].astype(dtype) / union[has].astype(dtype)).astype(dtype)
            out[has] = (mean.astype(dtype) * t_iou).astype(np.float64)
        else:
            out[has] = (length[has] / union[has]) * mean
    return out


class VideoAP(NamedTuple):
    """ap [C], tp [N] flags of the detection tubes (input order), num_gt [C]."""

    ap: np.ndarray
    tp: np.ndarray
    num_gt: np.ndarray


def _tube_pairs(det_video, det_label, gt_video, gt_label, num_classes):
    det_group = np.asarray(det_video, np.int64) * num_classes + np.asarray(det_label, np.int64)
    gt_group = np.asarray(gt_video, np.int64) * num_classes + np.asarray(gt_label, np.int64)
    return det_group, gt_group, group_pairs(det_group, gt_group)


def act_video_ap(
    dets: Tubes,
    det_video: np.ndarray,
    det_label: np.ndarray,
    det_score: np.ndarray,
    gts: Tubes,
    gt_video: np.ndarray,
    gt_label: np.ndarray,
    num_classes: int,
    thresholds: Sequence[float] = (0.5,),
) -> dict:
    """The ACT detector's ``videoAP`` at each threshold -> {threshold: VideoAP}.

    Per class, detection tubes (input order) are ranked by ``np.argsort(-score)`` on float32 scores;
    each takes the best remaining ground-truth tube of its video by ``iou3dt``, TP if >= threshold (in
    float32, as ACT compares float32 IoUs); float32 precision/recall, trapezoid AP. Classes without
    ground truth get NaN.
    """
    det_label = np.asarray(det_label, np.int64)
    gt_label = np.asarray(gt_label, np.int64)
    score32 = np.asarray(det_score).astype(np.float32)
    n = len(det_label)
    proc = act_order(det_label, score32, num_classes)
    det_group, _, pairs = _tube_pairs(np.asarray(det_video)[proc], det_label[proc], gt_video, gt_label, num_classes)
    overlaps = tube_iou(dets, gts, proc[pairs.det], pairs.gt, "act").astype(np.float32)
    num_gt = np.bincount(gt_label, minlength=num_classes)[:num_classes]
    lab_p = det_label[proc]
    out = {}
    for th in thresholds:
        # ACT ranks float32 IoUs and compares them with the Python-float threshold (in float64 under
        # the numpy 1.x it ran on): the exact float64 image of each float32 IoU reproduces both.
        tp_proc, _ = match_best_remaining(pairs, overlaps.astype(np.float64), det_group, float(th), len(gt_label))
        ap = np.full(num_classes, np.nan)
        for c in range(num_classes):
            if num_gt[c]:
                prec, rec = precision_recall(tp_proc[lab_p == c], int(num_gt[c]))
                ap[c] = trapezoid_ap(prec, rec)
        tp = np.empty(n, dtype=bool)
        tp[proc] = tp_proc
        out[th] = VideoAP(ap, tp, num_gt)
    return out


def road_video_ap(
    dets: Tubes,
    det_video: np.ndarray,
    det_label: np.ndarray,
    det_score: np.ndarray,
    gts: Tubes,
    gt_video: np.ndarray,
    gt_label: np.ndarray,
    num_classes: int,
    thresholds: Sequence[float] = (0.5,),
) -> dict:
    """realtime-action-detection's ``get_PR_curve.m`` at each threshold -> {threshold: VideoAP}.

    Videos in ``video`` id order; within a video, tubes by decreasing score (stable). Each tube takes
    the uncovered ground-truth tube of its video and class with the highest ST-IoU (first on ties);
    TP only if that IoU is strictly above the threshold. Per class the single-precision scores are
    sorted stably, VOC all-point AP; classes without ground truth score 0 (the original's NaN -> 0).
    """
    det_label = np.asarray(det_label, np.int64)
    det_video = np.asarray(det_video, np.int64)
    gt_label = np.asarray(gt_label, np.int64)
    n = len(det_label)
    proc = np.lexsort((-np.asarray(det_score, np.float64), det_video))
    det_group, _, pairs = _tube_pairs(det_video[proc], det_label[proc], gt_video, gt_label, num_classes)
    overlaps = tube_iou(dets, gts, proc[pairs.det], pairs.gt, "road")
    num_gt = np.bincount(gt_label, minlength=num_classes)[:num_classes]
    score32 = np.asarray(det_score).astype(np.float32)[proc]
    lab_p = det_label[proc]
    out = {}
    for th in thresholds:
        tp_proc, _ = match_best_remaining(pairs, overlaps, det_group, float(th), len(gt_label), strict=True)
        ap = np.zeros(num_classes)
        for c in range(num_classes):
            if num_gt[c]:
                m = lab_p == c
                prec, rec = precision_recall(tp_proc[m], int(num_gt[c]), scores=score32[m], order="stable")
                ap[c] = voc_ap(prec, rec)
        tp = np.empty(n, dtype=bool)
        tp[proc] = tp_proc
        out[th] = VideoAP(ap, tp, num_gt)
    return out


def nms3dt(tubes: Tubes, group: np.ndarray, score: np.ndarray, overlap: float = 0.3) -> np.ndarray:
    """The ACT detector's tube NMS (``nms3dt``) applied within each group (video, class) at once.

    Per group: repeatedly keep the highest-scoring remaining tube (the last of ``np.argsort(score)``
    on float32 scores, so ties resolve as ACT's) and drop the remaining tubes whose ``iou3dt`` with it
    is above ``overlap``. Returns kept tube indices, grouped by first appearance of the group in
    ``group`` order and, within a group, in pick order (ACT's output order).
    """
    group = np.asarray(group, np.int64)
    score32 = np.asarray(score).astype(np.float32)
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Groups in order of first appearance; within a group ACT's argsort order.
    _, first, inv = np.unique(group, return_index=True, return_inverse=True)
    gorder = np.argsort(np.argsort(first))[inv]  # rank of each tube's group by first appearance
    by_group = np.argsort(gorder, kind="stable")
    bounds = np.searchsorted(gorder[by_group], np.arange(gorder.max() + 2))
    # position in ACT's argsort (ascending) order within the group; the pick order is its reverse.
    pos = np.empty(n, dtype=np.int64)
    for g in range(len(bounds) - 1):  # one argsort per (video, class): ACT's tie order needs numpy's own sort
        idx = by_group[bounds[g]:bounds[g + 1]]
        pos[idx[np.argsort(score32[idx])]] = np.arange(len(idx))
    order = np.lexsort((-pos, gorder))  # per group: descending ACT position
    pairs = group_pairs(gorder[order], gorder[order])
    keep_pairs = pairs.det != pairs.gt
    pd_, pg_ = order[pairs.det[keep_pairs]], order[pairs.gt[keep_pairs]]
    # iou3dt(other, picked) as ACT; float32 tubes give float32 IoUs, which ACT compares with the
    # threshold as a float32 array (numpy 1.x value-based casting).
    ious = tube_iou(tubes, tubes, pd_, pg_, "act")
    # Sequential suppression, vectorised over groups: round r decides each group's r-th candidate.
    alive = np.ones(n, dtype=bool)
    kept = np.zeros(n, dtype=bool)
    rank_in_group = np.empty(n, dtype=np.int64)
    sizes = np.bincount(gorder)
    starts = np.cumsum(sizes) - sizes
    rank_in_group[order] = np.arange(n) - starts[gorder[order]]
    pick_idx = pd_  # pairs (picked candidate pd_, other pg_)
    suppress = ious > (float(np.float32(overlap)) if tubes.boxes.dtype == np.float32 else overlap)
    for r in range(int(sizes.max())):
        cand = order[rank_in_group[order] == r]
        cand = cand[alive[cand]]
        kept[cand] = True
        sel = np.isin(pick_idx, cand) & suppress & (rank_in_group[pg_] > r)
        alive[pg_[sel]] = False
        alive[cand] = False
    # Output: groups by first appearance, picks in descending ACT position.
    out = order[kept[order]]
    return out
