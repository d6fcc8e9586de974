"""Pairwise box overlaps in the exact arithmetic of the evaluators reproduced here.

Every function takes aligned arrays a [P, 4] and b [P, 4] of x1, y1, x2, y2 boxes and returns [P].
The operation order follows each original, so thresholds compare identically (floating-point
subtraction and addition do not commute with the +1 of the inclusive convention).
"""

from __future__ import annotations

import numpy as np

# These are not core.boxes.iou_aligned on purpose: each follows its original's operation order, and
# importing core.boxes would pull torch into the evaluation CLIs (half a gigabyte of memory).


def iou_tf(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """TF object-detection ``np_box_ops.iou`` (ActivityNet AVA): continuous boxes, no +1;
    intersection = heights x widths, areas (y2 - y1)(x2 - x1), IoU = inter / (area_det + area_gt - inter)."""
    ih = np.maximum(0.0, np.minimum(det[:, 3], gt[:, 3]) - np.maximum(det[:, 1], gt[:, 1]))
    iw = np.maximum(0.0, np.minimum(det[:, 2], gt[:, 2]) - np.maximum(det[:, 0], gt[:, 0]))
    inter = ih * iw
    area_det = (det[:, 3] - det[:, 1]) * (det[:, 2] - det[:, 0])
    area_gt = (gt[:, 3] - gt[:, 1]) * (gt[:, 2] - gt[:, 0])
    return inter / (area_det + area_gt - inter)


def iou_act(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """ACT ``iou2d(gt, det)``: overlap = max(0, min(x2 + 1, x2' + 1) - max(x1, x1')) x (same in y),
    areas (x2 - x1 + 1)(y2 - y1 + 1), IoU = overlap / (area(gt) + area(det) - overlap).

    Computed in the inputs' common dtype (float32 tubes stay float32 as in ACT's videoAP).
    """
    xmin = np.maximum(gt[:, 0], det[:, 0])
    ymin = np.maximum(gt[:, 1], det[:, 1])
    xmax = np.minimum(gt[:, 2] + 1, det[:, 2] + 1)
    ymax = np.minimum(gt[:, 3] + 1, det[:, 3] + 1)
    ov = np.maximum(0, xmax - xmin) * np.maximum(0, ymax - ymin)
    area_gt = (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1)
    area_det = (det[:, 2] - det[:, 0] + 1) * (det[:, 3] - det[:, 1] + 1)
    return ov / (area_gt + area_det - ov)


def iou_matlab(det: np.ndarray, gt: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """realtime-action-detection's ``rectint`` IoU of inclusive pixel boxes: rectangles [x1, y1,
    x2 - x1 + 1, y2 - y1 + 1]; IoU = inter / (area_gt + area_det - inter + eps). ``frameAp.m`` uses
    eps = 0, ``compute_spatio_temporal_iou.m`` MATLAB's eps (2.220446049250313e-16)."""
    gx, gy = gt[:, 0], gt[:, 1]
    gw, gh = gt[:, 2] - gt[:, 0] + 1, gt[:, 3] - gt[:, 1] + 1
    dx, dy = det[:, 0], det[:, 1]
    dw, dh = det[:, 2] - det[:, 0] + 1, det[:, 3] - det[:, 1] + 1
    iw = np.maximum(0, np.minimum(gx + gw, dx + dw) - np.maximum(gx, dx))
    ih = np.maximum(0, np.minimum(gy + gh, dy + dh) - np.maximum(gy, dy))
    inter = iw * ih
    union = gw * gh + dw * dh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union + eps > 0, inter / (union + eps), 0.0)


MATLAB_EPS = float(np.finfo(np.float64).eps)
