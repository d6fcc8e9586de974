"""The containers passed between the steps of the tube pipeline.

Coordinates everywhere in :mod:`core.tubes` are pixels in the ACT convention (0-based, inclusive: a box
covers the pixels x1..x2, width x2 - x1 + 1), the convention of TUBES.json and DETS.csv. The MATLAB
pipeline of realtime-action-detection works in the same pixels shifted by +1 (``loc * 320`` clipped to
[0, 319], then ``+ 1``); every rule it applies (NMS, linking IoU, fusion IoU) is shift-invariant.

Score vectors have ``C + 1`` columns: the C action classes (0-based labels) then the background, the
column order of the MATLAB code (``[scores(:, 2:end), scores(:, 1)]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Candidates(NamedTuple):
    """Per-class filtered boxes of one frame (or of one micro-tube start frame), flat.

    Sorted by label (ascending) then score (descending), the order the MATLAB ``dofilter`` returns.

    label [K] int64: the class (0-based) the box was kept for; one input box may appear under several.
    boxes [K, 4 * k] float64: xyxy (k = 1) or the k boxes of a micro-tube, concatenated.
    score [K] float64: the box's score for ``label``.
    all_scores [K, C + 1] float64: its full score vector (background last).
    index [K] int64: row of the box in the frame's input arrays (-1 when it has none, e.g. after fusion).
    """

    label: np.ndarray
    boxes: np.ndarray
    score: np.ndarray
    all_scores: np.ndarray
    index: np.ndarray

    @staticmethod
    def empty(num_classes: int, box_dim: int = 4) -> Candidates:
        return Candidates(
            np.zeros(0, np.int64),
            np.zeros((0, box_dim)),
            np.zeros(0),
            np.zeros((0, num_classes + 1)),
            np.zeros(0, np.int64),
        )

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.label.shape[0])


@dataclass
class ActionPaths:
    """Linked paths of one video, flat: path ``i`` owns rows ``offsets[i]:offsets[i + 1]``.

    Paths are dense in time (gaps filled), sorted by class and, within a class, by the final MATLAB order
    (mean of the top-20 frame scores, descending; ties keep live-before-dead, then creation order).

    label [P] int64: the class the path was linked for.
    start [P] int64: 1-based frame of its first row; row j is frame ``start + j``.
    offsets [P + 1] int64.
    boxes [T, 4 * k] float64, scores [T] float64 (class-``label`` score), all_scores [T, C + 1] float64.
    num_found [P] int64: detections actually linked (before gap filling).
    path_score [P] float64: sum of the linked detections' scores (MATLAB ``pathScore``).
    """

    label: np.ndarray
    start: np.ndarray
    offsets: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray
    num_found: np.ndarray
    path_score: np.ndarray

    def __len__(self) -> int:
        return int(self.label.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def end(self) -> np.ndarray:
        """1-based last frame of each path."""
        return self.start + self.lengths - 1

    def path(self, i: int) -> dict:
        """Path ``i`` as a dict of numpy arrays (frames 1-based)."""
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return {
            "label": int(self.label[i]),
            "frames": np.arange(self.start[i], self.start[i] + b - a),
            "boxes": self.boxes[a:b],
            "scores": self.scores[a:b],
            "all_scores": self.all_scores[a:b],
            "num_found": int(self.num_found[i]),
            "path_score": float(self.path_score[i]),
        }

    def select(self, index: np.ndarray) -> ActionPaths:
        """The paths ``index`` (int array or bool mask [P]), in that order."""
        index = np.arange(len(self))[index]
        lens = self.lengths[index]
        offsets = np.zeros(index.size + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        rows = np.repeat(self.offsets[index] - offsets[:-1], lens) + np.arange(offsets[-1])
        return ActionPaths(self.label[index], self.start[index], offsets, self.boxes[rows], self.scores[rows],
                           self.all_scores[rows], self.num_found[index], self.path_score[index])

    @staticmethod
    def empty(num_classes: int, box_dim: int = 4) -> ActionPaths:
        z = np.zeros(0, np.int64)
        return ActionPaths(z, z.copy(), np.zeros(1, np.int64), np.zeros((0, box_dim)), np.zeros(0),
                           np.zeros((0, num_classes + 1)), z.copy(), np.zeros(0))


@dataclass
class Tube:
    """One action tube: a video, a 0-based label, a score, 1-based frames [n] and boxes [n, 4] xyxy."""

    video: str
    label: int
    score: float
    frames: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.frames.shape[0])
