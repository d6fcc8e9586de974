"""Two-stream (appearance + flow) fusion of frame detections before linking (``fusedActionPaths.m``).

* ``mean``: average the two streams' score vectors box by box (the RGB boxes are kept), then ``dofilter``.
  The streams must describe the same boxes: identical rows, or the same anchors (``prior_index``); see
  :func:`mean_fusion`.
* ``union`` ('cat', union-set): ``dofilter`` each stream, pool the candidates of both, per class NMS at
  0.45, keep the first 10.
* ``boost`` ('nwsum-plus'): ``dofilter`` each stream; for every RGB candidate (in order) the flow
  candidate of the same class with the highest IoU (areas +1); if that IoU >= ``fuse_iou`` (0.25 in
  ``I02genFusedTubes.m``), the RGB score vector += flow vector x IoU, renormalised to sum 1, and its
  score becomes the class entry; flow candidates that boosted nothing are appended; per class NMS at
  0.45, first 10.

The MATLAB boost has an ``ismember`` slip: ``isempty(ismember(covered, j))`` is true only while nothing
is covered, so per class only the first matching RGB box is boosted, and ``~ismember(covered, i)``
(an empty test when nothing matched) appends no flow box at all unless exactly one was used. By default
a flow box can boost one RGB box (the first that picks it as its best match) and every unused flow box
is appended, which is what the code means; ``matlab_quirk=True`` reproduces the published behaviour.
MATLAB divides the fusion IoU by ``union + 0.001``; that shifts IoUs by less than 1e-6 here and is left out.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from core.boxes import iou

from .filtering import KEEP_TOP_K, NMS_THRESH, dofilter, nms_candidates
from .types import Candidates

FUSE_IOU = 0.25


def _concat(a: Candidates, b: Candidates) -> Candidates:
    return Candidates(*(np.concatenate([x, y]) for x, y in zip(a, b)))


def mean_fusion(
    rgb_boxes: np.ndarray,
    rgb_scores: np.ndarray,
    flow_boxes: np.ndarray,
    flow_scores: np.ndarray,
    rgb_priors: Optional[np.ndarray] = None,
    flow_priors: Optional[np.ndarray] = None,
    **filter_kwargs,
) -> Candidates:
    """Mean fusion of one frame: boxes [N, 4], scores [N, C + 1] per stream -> :class:`Candidates`.

    Without anchor ids the two streams must hold the same rows (the detector wrote every box, or both
    streams' boxes jointly). With ``*_priors`` [N] the rows are matched by anchor; an anchor present in
    one stream only (its other stream's score was too low to be written) gets zeros for the missing
    stream, i.e. half its own scores, and keeps its own box: exact when every anchor that can matter
    was written by both streams.
    """
    rgb_scores = np.asarray(rgb_scores, np.float64)
    flow_scores = np.asarray(flow_scores, np.float64)
    if rgb_priors is None or flow_priors is None:
        if rgb_scores.shape != flow_scores.shape:
            raise ValueError(f"mean fusion: streams differ in shape {rgb_scores.shape} vs {flow_scores.shape} "
                             "and carry no prior_index")
        return dofilter(rgb_boxes, (rgb_scores + flow_scores) / 2, **filter_kwargs)
    rgb_priors, flow_priors = np.asarray(rgb_priors), np.asarray(flow_priors)
    priors, inv = np.unique(np.concatenate([rgb_priors, flow_priors]), return_inverse=True)
    n_rgb = rgb_priors.size
    num = priors.size
    boxes = np.zeros((num, np.asarray(flow_boxes).shape[1]))
    boxes[inv[n_rgb:]] = flow_boxes
    boxes[inv[:n_rgb]] = rgb_boxes  # the RGB box wins where both exist
    total = np.zeros((num, rgb_scores.shape[1]))
    total[inv[:n_rgb]] += rgb_scores
    total[inv[n_rgb:]] += flow_scores
    return dofilter(boxes, total / 2, **filter_kwargs)


def union_fusion(rgb: Candidates, flow: Candidates, nms_thresh: float = NMS_THRESH,
                 keep_top_k: int = KEEP_TOP_K) -> Candidates:
    """Union-set fusion of two streams' filtered candidates of one frame."""
    return nms_candidates(_concat(rgb, flow), nms_thresh, keep_top_k)


def _best_flow_match(rgb: Candidates, flow: Candidates) -> Tuple[np.ndarray, np.ndarray]:
    """For every RGB candidate, the first same-class flow candidate of highest IoU and that IoU
    (-1 and 0 where the class has no flow candidate)."""
    ov = iou(rgb.boxes[:, :4], flow.boxes[:, :4], inclusive=True)
    same = rgb.label[:, None] == flow.label[None, :]
    ov = np.where(same, ov, -1.0)
    best = ov.argmax(1) if flow.label.size else np.zeros(len(rgb), np.int64)
    best_iou = ov[np.arange(len(rgb)), best] if flow.label.size else np.full(len(rgb), -1.0)
    has = best_iou >= 0
    return np.where(has, best, -1), np.where(has, best_iou, 0.0)


def boost_fusion(rgb: Candidates, flow: Candidates, fuse_iou: float = FUSE_IOU, nms_thresh: float = NMS_THRESH,
                 keep_top_k: int = KEEP_TOP_K, matlab_quirk: bool = False) -> Candidates:
    """Boost fusion of two streams' filtered candidates of one frame (see the module docstring)."""
    if len(rgb) == 0 or len(flow) == 0:
        if matlab_quirk:  # nothing matched: MATLAB appends no flow box
            return nms_candidates(rgb, nms_thresh, keep_top_k)
        return union_fusion(rgb, flow, nms_thresh, keep_top_k)
    best, best_iou = _best_flow_match(rgb, flow)
    candidate = np.flatnonzero((best >= 0) & (best_iou >= fuse_iou))  # in RGB order
    if matlab_quirk:
        _, first = np.unique(rgb.label[candidate], return_index=True)  # first match of each class only
    else:
        _, first = np.unique(best[candidate], return_index=True)  # first RGB box to pick each flow box
    boosted = np.sort(candidate[first])
    used = best[boosted]
    all_scores = rgb.all_scores.copy()
    score = rgb.score.copy()
    fused = all_scores[boosted] + flow.all_scores[used] * best_iou[boosted, None]
    fused /= fused.sum(1, keepdims=True)
    all_scores[boosted] = fused
    score[boosted] = fused[np.arange(boosted.size), rgb.label[boosted]]
    out = Candidates(rgb.label, rgb.boxes, score, all_scores, rgb.index)
    append = np.ones(len(flow), bool)
    append[used] = False
    if matlab_quirk:  # flow boxes are appended only in classes where a boost happened
        append &= np.isin(flow.label, rgb.label[boosted])
    extra = Candidates(*(x[append] for x in flow))
    return nms_candidates(_concat(out, extra), nms_thresh, keep_top_k)


def fuse_frame(kind: str, rgb: Tuple[np.ndarray, np.ndarray], flow: Tuple[np.ndarray, np.ndarray],
               rgb_priors: Optional[np.ndarray] = None, flow_priors: Optional[np.ndarray] = None,
               fuse_iou: float = FUSE_IOU, matlab_quirk: bool = False, **filter_kwargs) -> Candidates:
    """One frame's candidates under fusion ``kind`` in {'mean', 'union', 'boost'} from raw
    ``(boxes, scores)`` of the two streams."""
    if kind == "mean":
        return mean_fusion(rgb[0], rgb[1], flow[0], flow[1], rgb_priors, flow_priors, **filter_kwargs)
    a = dofilter(*rgb, **filter_kwargs)
    b = dofilter(*flow, **filter_kwargs)
    nms_thresh = filter_kwargs.get("nms_thresh", NMS_THRESH)
    keep = filter_kwargs.get("keep_top_k", KEEP_TOP_K)
    if kind == "union":
        return union_fusion(a, b, nms_thresh, keep)
    if kind == "boost":
        return boost_fusion(a, b, fuse_iou, nms_thresh, keep, matlab_quirk)
    raise ValueError(f"unknown fusion '{kind}' (expected mean, union or boost)")
