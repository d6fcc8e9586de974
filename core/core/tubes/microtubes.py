"""Linking AMTNet micro-tubes into dense action tubes.

AMTNet detects micro-tubes: a pair of boxes at frames t and t + delta sharing one score vector. Its
repository has no linking code; the papers only say the micro-tubes are linked with ROAD's online
algorithm. The choices made here, where the papers leave them open:

1. Micro-tubes are taken at start frames ``first_frame + k * delta`` (k = 0, 1, ...) while
   ``t + delta <= num_frames``, so consecutive micro-tubes share a frame; detections at other start
   frames are ignored.
2. Candidate selection is ``dofilter`` with the same constants (score > 0.001, top 50, NMS 0.45, top 10);
   the NMS overlap of two micro-tubes is the mean of their per-frame IoUs (the ACT tubelet overlap).
3. Linking is :class:`~core.tubes.linking.OnlineLinker` with one step per micro-tube: the edge between a
   path and a micro-tube is the micro-tube's class score when IoU(path's last box = the second box of
   its last micro-tube, the micro-tube's first box) >= 0.1, both boxes lying on the shared frame. Misses
   (3), the minimum length (more than 3 micro-tubes) and gap filling (the later micro-tube repeated over
   missing steps) count micro-tubes.
4. Dense output: step j covers frames t_j .. t_j + delta; inside it the box moves linearly from the first
   to the second box (delta > 1); on a frame shared by two micro-tubes of the path the box is the mean of
   their two boxes; frames t_j .. t_j + delta - 1 take step j's score vector, the path's last frame its
   last step's.
5. Temporal labelling, cutting and scoring then run on the dense frames exactly as for frame
   detections (:func:`~core.tubes.trimming.trim_paths`).
"""

from __future__ import annotations

import numpy as np

from .detfile import VideoDetections
from .linking import FINAL_TOP_K, GAP, IOU_THRESH, OnlineLinker
from .types import ActionPaths


def densify(steps: ActionPaths, delta: int, first_frame: int = 1) -> ActionPaths:
    """Step-level micro-tube paths (boxes [T, 8], ``start`` = 1-based step number) -> dense frame paths
    (boxes [T', 4], ``start`` = 1-based frame)."""
    num_classes = steps.all_scores.shape[1] - 1
    if len(steps) == 0:
        return ActionPaths.empty(num_classes)
    num_steps = steps.lengths
    lens = num_steps * delta + 1
    offsets = np.zeros(len(steps) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    path = np.repeat(np.arange(len(steps)), lens)
    u_total = np.arange(offsets[-1]) - offsets[path]
    j = np.minimum(u_total // delta, num_steps[path] - 1)
    u = (u_total - j * delta)[:, None]
    row = steps.offsets[path] + j
    b1, b2 = steps.boxes[row, :4], steps.boxes[row, 4:]
    boxes = b1 + (b2 - b1) * (u / delta)
    shared = (u[:, 0] == 0) & (j > 0)
    boxes[shared] = (b1[shared] + steps.boxes[row[shared] - 1, 4:]) / 2
    return ActionPaths(
        label=steps.label.copy(),
        start=first_frame + (steps.start - 1) * delta,
        offsets=offsets,
        boxes=boxes,
        scores=steps.scores[row],
        all_scores=steps.all_scores[row],
        num_found=steps.num_found.copy(),
        path_score=steps.path_score.copy(),
    )


class MicroTubeLinker:
    """Online micro-tube linking: ``update(boxes [N, 8], scores [N, C + 1])`` once per step (start frames
    ``first_frame, first_frame + delta, ...``), ``paths()`` gives the dense paths so far."""

    def __init__(self, num_classes: int, delta: int, first_frame: int = 1, iou_thresh: float = IOU_THRESH,
                 gap: int = GAP, final_top_k: int = FINAL_TOP_K, **filter_kwargs):
        if delta < 1:
            raise ValueError(f"MicroTubeLinker: delta must be >= 1, got {delta}")
        self.delta = int(delta)
        self.first_frame = int(first_frame)
        self.linker = OnlineLinker(num_classes, iou_thresh, gap, final_top_k, **filter_kwargs)

    def update(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 8)
        self.linker.update(boxes, scores)

    def paths(self) -> ActionPaths:
        return densify(self.linker.paths(), self.delta, self.first_frame)

    finish = paths


def link_microtubes(det: VideoDetections, first_frame: int = 1, iou_thresh: float = IOU_THRESH, gap: int = GAP,
                    **filter_kwargs) -> ActionPaths:
    """Dense action paths of one video of micro-tube detections (``det.delta > 0``)."""
    if det.delta < 1:
        raise ValueError(f"{det.video}: link_microtubes needs micro-tube detections (delta > 0)")
    linker = MicroTubeLinker(det.num_classes, det.delta, first_frame, iou_thresh, gap, **filter_kwargs)
    for t in range(first_frame, det.num_frames - det.delta + 1, det.delta):
        linker.update(*det.frame(t))
    return linker.paths()
