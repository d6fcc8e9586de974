"""Frame-level detection AP: per-class AP of boxes matched to ground truth within each frame.

Three protocols, each reproducing one original evaluator's rules exactly (see :mod:`core.metrics.matching`
for the two greedy rules, :mod:`core.metrics.ap` for the AP variants):

================  =====================  ==================  ===============  =====================
function          used by                matching            IoU              AP
================  =====================  ==================  ===============  =====================
tf_detection_ap   ActivityNet AVA        best box of group   no +1            VOC all-point
act_frame_ap      ACT detector frameAP   best remaining      +1 (ACT order)   trapezoid (float32)
road_frame_ap     ROAD ``frameAp.m``     best remaining      +1 (rectint)     VOC all-point
================  =====================  ==================  ===============  =====================

Inputs are flat arrays. ``image`` ids are small non-negative integers naming the frame/keyframe;
``label`` ids are 0-based classes. Detections are ``[N]`` scores and ``[N, 4]`` x1, y1, x2, y2 boxes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.metrics.ap import precision_recall, trapezoid_ap, voc_ap
from core.metrics.boxes import iou_act, iou_matlab, iou_tf
from core.metrics.matching import act_order, group_pairs, match_argmax, match_best_remaining


class ClassAP(NamedTuple):
    """ap [C] (NaN for classes without ground truth unless the protocol says otherwise), tp [N] flags
    of the detections in input order, num_gt [C]."""

    ap: np.ndarray
    tp: np.ndarray
    num_gt: np.ndarray


def _per_class_ap(label, scores, tp, num_gt, num_classes, order, kind, empty_gt_ap=np.nan):
    """AP of each class from its detections' (score, tp) in input order."""
    ap = np.full(num_classes, np.nan)
    by_class = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[by_class], np.arange(num_classes + 1))
    for c in range(num_classes):  # one vectorised AP per class
        idx = by_class[bounds[c]:bounds[c + 1]]
        if num_gt[c] == 0:
            ap[c] = empty_gt_ap
            continue
        if kind == "trapezoid":
            # ``tp`` is already in processing (rank) order for ACT; see act_frame_ap.
            prec, rec = precision_recall(tp[idx], int(num_gt[c]))
            ap[c] = trapezoid_ap(prec, rec)
        else:
            prec, rec = precision_recall(tp[idx], int(num_gt[c]), scores=scores[idx], order=order)
            ap[c] = voc_ap(prec, rec)
    return ap


def tf_detection_ap(
    det_image: np.ndarray,
    det_label: np.ndarray,
    det_score: np.ndarray,
    det_box: np.ndarray,
    gt_image: np.ndarray,
    gt_label: np.ndarray,
    gt_box: np.ndarray,
    num_classes: int,
    iou_threshold: float = 0.5,
) -> ClassAP:
    """Pascal-VOC AP as ActivityNet's AVA evaluator (TF object-detection ``PascalDetectionEvaluator``).

    Detections must be in the evaluator's order: images in the order they were added, and within an
    image in its per-image order (decreasing score; ties as the reader left them). Ground truth within
    an (image, class) in stored order (it breaks equal-IoU ties). Per class: (score, tp) pairs are
    concatenated in that order, ranked with ``np.argsort(scores)[::-1]``, VOC all-point AP; classes
    without ground truth are NaN. Invalid detections (x2 <= x1 or y2 <= y1) must be removed beforehand.
    """
    det_label = np.asarray(det_label, dtype=np.int64)
    gt_label = np.asarray(gt_label, dtype=np.int64)
    det_group = np.asarray(det_image, dtype=np.int64) * num_classes + det_label
    gt_group = np.asarray(gt_image, dtype=np.int64) * num_classes + gt_label
    pairs = group_pairs(det_group, gt_group)
    overlaps = iou_tf(np.asarray(det_box, np.float64)[pairs.det], np.asarray(gt_box, np.float64)[pairs.gt])
    tp, _ = match_argmax(pairs, overlaps, iou_threshold, len(gt_label))
    num_gt = np.bincount(gt_label, minlength=num_classes)[:num_classes]
    ap = _per_class_ap(det_label, np.asarray(det_score, np.float64), tp, num_gt, num_classes, "reverse_argsort", "voc")
    return ClassAP(ap, tp, num_gt)


def act_frame_ap(
    det_image: np.ndarray,
    det_label: np.ndarray,
    det_score: np.ndarray,
    det_box: np.ndarray,
    gt_image: np.ndarray,
    gt_label: np.ndarray,
    gt_box: np.ndarray,
    num_classes: int,
    iou_threshold: float = 0.5,
) -> ClassAP:
    """The ACT detector's ``frameAP``.

    Per class, detections (in input order) are ranked by ``np.argsort(-score)`` on float32 scores;
    each takes the best remaining ground truth of its frame by ``iou2d`` (+1 areas), TP if >= threshold;
    precision/recall go into a float32 array whose trapezoids give the AP. Detections on frames without
    ground truth are false positives. Boxes and scores are rounded to float32 first, as ACT holds them.
    Ground truth per frame in stored order. Classes without ground truth get NaN (ACT divides by zero).
    """
    det_label = np.asarray(det_label, dtype=np.int64)
    score32 = np.asarray(det_score).astype(np.float32)
    n = len(det_label)
    proc = act_order(det_label, score32, num_classes)
    # Reindex detections in processing order so that index order = processing order.
    det_group = np.asarray(det_image, dtype=np.int64)[proc] * num_classes + det_label[proc]
    gt_label = np.asarray(gt_label, dtype=np.int64)
    gt_group = np.asarray(gt_image, dtype=np.int64) * num_classes + gt_label
    pairs = group_pairs(det_group, gt_group)
    box32 = np.asarray(det_box).astype(np.float32).astype(np.float64)[proc]
    overlaps = iou_act(box32[pairs.det], np.asarray(gt_box, np.float64)[pairs.gt])
    tp_proc, _ = match_best_remaining(pairs, overlaps, det_group, iou_threshold, len(gt_label))
    num_gt = np.bincount(gt_label, minlength=num_classes)[:num_classes]
    ap = _per_class_ap(det_label[proc], None, tp_proc, num_gt, num_classes, None, "trapezoid")
    tp = np.empty(n, dtype=bool)
    tp[proc] = tp_proc
    return ClassAP(ap, tp, num_gt)


def road_frame_ap(
    det_image: np.ndarray,
    det_label: np.ndarray,
    det_score: np.ndarray,
    det_box: np.ndarray,
    gt_image: np.ndarray,
    gt_label: np.ndarray,
    gt_box: np.ndarray,
    num_classes: int,
    iou_threshold: float = 0.5,
) -> ClassAP:
    """realtime-action-detection's MATLAB ``frameAp.m``.

    Frames are processed in ``image`` order; within a frame, classes in increasing order and each
    class's detections by decreasing score (stable). A detection is compared with the frame's
    uncovered ground truth only when the frame has ground truth of its class, and then with *every*
    uncovered box of the frame (the original checks ``any(dt_label == gt_boxes(:,5))``, not the box's
    own label; identical on single-label videos such as UCF101-24 / JHMDB-21). TP if the best IoU
    (``rectint``, +1 areas) is >= threshold. Per class the (single-precision) scores are sorted
    stably, VOC all-point AP; classes without ground truth score 0, as the original's NaN -> 0.
    """
    det_label = np.asarray(det_label, dtype=np.int64)
    det_image = np.asarray(det_image, dtype=np.int64)
    score32 = np.asarray(det_score).astype(np.float32)
    n = len(det_label)
    proc = np.lexsort((-score32, det_label, det_image))  # lexsort is stable
    img_p, lab_p = det_image[proc], det_label[proc]
    gt_image = np.asarray(gt_image, dtype=np.int64)
    gt_label = np.asarray(gt_label, dtype=np.int64)
    # Does the frame hold ground truth of the detection's class?
    has_cls = np.isin(img_p * num_classes + lab_p, gt_image * num_classes + gt_label)
    # Detections of frames without their class get no pairs (group -1 is never a gt group).
    det_group = np.where(has_cls, img_p, -1)
    pairs = group_pairs(det_group, gt_image)
    box = np.asarray(det_box, np.float64)[proc]
    overlaps = iou_matlab(box[pairs.det], np.asarray(gt_box, np.float64)[pairs.gt])
    tp_proc, _ = match_best_remaining(pairs, overlaps, det_group, iou_threshold, len(gt_label))
    num_gt = np.bincount(gt_label, minlength=num_classes)[:num_classes]
    ap = _per_class_ap(lab_p, score32[proc], tp_proc, num_gt, num_classes, "stable", "voc", empty_gt_ap=0.0)
    tp = np.empty(n, dtype=bool)
    tp[proc] = tp_proc
    return ClassAP(ap, tp, num_gt)
