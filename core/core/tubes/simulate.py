"""Synthetic ground truth and detector output for testing and demonstrating the tube pipeline.

:func:`synthetic_annotations` draws a ``pyannot.pkl``-style database (moving boxes, one class per
video); :func:`simulate_detections` turns it into what a detector would write per frame: the ground
truth boxes jittered, some frames dropped, the class scores blurred towards other classes, plus false
positives. One ``level`` in [0, 1] scales all corruptions, and the random draws are shared between
levels (the same jitter directions, the same candidate false positives, the same frames ranked for
dropping), so a higher level is the same video with strictly more corruption.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from core.formats.ucf24 import pyannot_boxes_to_xyxy

from .detfile import VideoDetections, from_frames


def synthetic_annotations(num_videos: int, num_classes: int, seed: int = 0, width: int = 320,
                          height: int = 240, min_frames: int = 40, max_frames: int = 90) -> Dict[str, dict]:
    """``{video: {'label', 'numf', 'annotations': [{'label', 'sf', 'ef', 'boxes' uint16 x,y,w,h 1-based}]}}``
    with one or two actors of the video's class moving linearly, each in its own half of the frame
    (actors never cross: identity switches are not what these videos test)."""
    rng = np.random.default_rng(seed)
    db = {}
    for v in range(num_videos):
        label = v % num_classes
        numf = int(rng.integers(min_frames, max_frames + 1))
        tubes = []
        num_actors = int(rng.integers(1, 3))
        for i in range(num_actors):
            lo, hi = (1, width) if num_actors == 1 else (1 + i * width // 2, (i + 1) * width // 2)
            length = int(rng.integers(max(20, numf // 2), numf + 1))
            sf = int(rng.integers(0, numf - length + 1))
            w, h = rng.uniform(40, min(90, (hi - lo) * 0.7)), rng.uniform(60, 140)
            x0 = rng.uniform(lo, hi - w - 1)
            y0 = rng.uniform(1, height - h - 1)
            vx, vy = rng.uniform(-1.0, 1.0, size=2)
            t = np.arange(length)
            x = np.clip(x0 + vx * t, lo, hi - w - 1)
            y = np.clip(y0 + vy * t, 1, height - h)
            boxes = np.stack([x, y, np.full(length, w), np.full(length, h)], 1)
            tubes.append({"label": label, "sf": sf, "ef": sf + length, "boxes": np.round(boxes).astype(np.uint16)})
        db[f"{label:02d}/v_{v:04d}"] = {"label": label, "numf": np.uint16(numf), "annotations": tubes}
    return db


def simulate_detections(db: Dict[str, dict], num_classes: int, level: float, seed: int = 0, width: int = 320,
                        height: int = 240, max_false_positives: int = 6) -> Dict[str, VideoDetections]:
    """Detector output for every video of ``db`` at corruption ``level`` in [0, 1].

    Per ground-truth box: coordinates jittered by ``0.25 * level`` of the box size (normal), the frame
    dropped with probability ``0.4 * level``, the score vector a softmax whose true-class margin shrinks
    and whose noise grows with ``level``. Per frame, up to ``max_false_positives`` random boxes, each
    present with probability ``level``, with random scores. Boxes are pixels, ACT convention.
    """
    out = {}
    for vi, (video, ann) in enumerate(sorted(db.items())):
        rng = np.random.default_rng([seed, vi])
        numf = int(ann["numf"])
        per_frame = [[] for _ in range(numf)]
        for tube in ann["annotations"]:
            xyxy = pyannot_boxes_to_xyxy(tube["boxes"], inclusive=True)
            n = xyxy.shape[0]
            size = np.stack([xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]] * 2, 1)
            jitter = rng.normal(size=(n, 4))
            drop_u = rng.random(n)
            logit_noise = rng.normal(size=(n, num_classes + 1))
            boxes = xyxy + 0.25 * level * size * jitter
            logits = 2.5 * level * logit_noise
            logits[:, tube["label"]] += 4.0 * (1 - 0.6 * level)
            keep = drop_u >= 0.4 * level
            for k in np.flatnonzero(keep):
                per_frame[int(tube["sf"]) + k].append((boxes[k], logits[k]))
        fp_u = rng.random((numf, max_false_positives))
        fp_xy = rng.uniform([0, 0], [width - 40, height - 60], size=(numf, max_false_positives, 2))
        fp_wh = rng.uniform([30, 50], [90, 140], size=(numf, max_false_positives, 2))
        fp_logits = rng.normal(size=(numf, max_false_positives, num_classes + 1)) * 1.5
        fp_logits[..., -1] += 1.0
        frames = []
        for t in range(numf):
            rows = per_frame[t] + [(np.concatenate([fp_xy[t, j], fp_xy[t, j] + fp_wh[t, j]]), fp_logits[t, j])
                                   for j in np.flatnonzero(fp_u[t] < level)]
            if rows:
                b = np.stack([r[0] for r in rows])
                b = np.clip(b, 0, [width - 1, height - 1, width - 1, height - 1])
                lg = np.stack([r[1] for r in rows])
                p = np.exp(lg - lg.max(1, keepdims=True))
                frames.append((b, p / p.sum(1, keepdims=True)))
            else:
                frames.append((np.zeros((0, 4)), np.zeros((0, num_classes + 1))))
        out[video] = from_frames(video, frames, width, height, num_classes)
    return out
