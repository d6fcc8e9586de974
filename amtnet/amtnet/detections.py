"""The files a test run writes per video, and the late fusion of two single-stream test outputs.

Per video (resumable: a video whose files exist is skipped):

* ``detections/micro/<video>.npz``: micro-tube detections (``core.tubes.detfile``, ``delta = seq_gap + 1``),
  the rows ``core.tubes.filtering.prefilter`` keeps for the micro-tube starting at each frame;
* ``detections/frames/<video>.npz``: frame detections (``delta = 0``): frame t takes the boxes of the micro-tube
  covering it that starts last (its first box at its start frame, its last box at the video's last frame,
  linear in between when delta > 1) with that micro-tube's scores;
* ``detections/csv/<video>.csv``: the frame-mAP detections (class-wise NMS of the full 8732 outputs).

Then ``frame_detections.csv`` (DETS.csv of ``evaluation.ucf24 frame-map``) and ``TUBES.json`` (micro-tube
linking + Viterbi trimming, ``core.tubes.build_tubes``). Late fusion of two single-stream test outputs
(RGB + flow: mean / union / boost) works on their frame files.
"""

from __future__ import annotations

import csv
import io
import os
from typing import Iterable, List, Optional, Sequence

import numpy as np

from core.errors import DataError
from core.io import atomic_write_text
from core.nms import classwise_nms_flat
from core.tubes.build import build_tubes
from core.tubes.detfile import from_frames, read_detections, video_path, write_detections
from core.tubes.filtering import normalized_to_pixels, prefilter
from core.tubes.fusion import fuse_frame
from core.tubes.tubes_json import write_tubes

from .data import Video

CSV_HEADER = ["video", "frame", "label", "score", "x1", "y1", "x2", "y2"]


def background_last(scores: np.ndarray) -> np.ndarray:
    """[..., C + 1] with background first (the network) -> background last (core.tubes files)."""
    return np.concatenate([scores[..., 1:], scores[..., :1]], -1)


def owned_frames(starts: Sequence[int], i: int, numf: int) -> np.ndarray:
    """Frames (0-based) described by micro-tube ``i`` of the sorted ``starts``: from its start to the next
    micro-tube's start (the last micro-tube: to the last frame of the video)."""
    end = starts[i + 1] if i + 1 < len(starts) else numf
    return np.arange(starts[i], end)


def interpolate(first: np.ndarray, last: np.ndarray, u: np.ndarray, delta: int) -> np.ndarray:
    """first, last [P, 4]; u [F] frame offsets in [0, delta] -> boxes [F, P, 4] moving linearly."""
    w = (u.astype(np.float64) / max(delta, 1))[:, None, None]
    return first[None] + (last - first)[None] * w


def nms_rows(video: str, frame: int, boxes_px: np.ndarray, scores_bg_last: np.ndarray, conf_thresh: float,
             nms_thresh: float, topk: int, keep_top_k: Optional[int] = None) -> List[list]:
    """Frame-mAP detections of one frame: class-wise NMS -> rows of DETS.csv (frame 1-based)."""
    c = scores_bg_last.shape[1] - 1
    det = classwise_nms_flat(boxes_px, scores_bg_last[:, :c], conf_thresh, nms_thresh, topk, keep_top_k)
    idx, lab, sc = det.box_index.numpy(), det.label.numpy(), det.score.numpy()
    return [[video, frame, int(lab[i]), float(sc[i]), *map(float, boxes_px[idx[i]])] for i in range(len(idx))]


def rows_to_csv(rows: Iterable[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow([r[0], r[1], r[2], f"{r[3]:.6f}", *(f"{v:.2f}" for v in r[4:])])
    return buf.getvalue()


class VideoWriter:
    """Accumulates one video's micro-tubes (in start order) and writes its three files on ``finish``."""

    def __init__(self, out_dir: str, video: Video, starts: Sequence[int], delta: int, num_classes: int,
                 conf_thresh: float, nms_thresh: float, topk: int, frame_keep: int = 20):
        self.out_dir, self.video = out_dir, video
        self.starts = [int(x) for x in starts]
        self.index = {s: i for i, s in enumerate(self.starts)}
        self.delta, self.num_classes = delta, num_classes
        self.conf_thresh, self.nms_thresh, self.topk, self.frame_keep = conf_thresh, nms_thresh, topk, frame_keep
        empty = (np.zeros((0, 8)), np.zeros((0, num_classes + 1)))
        self.micro = [empty] * video.numf
        self.micro_priors = [np.zeros(0, np.int64)] * video.numf
        self.frames = [(np.zeros((0, 4)), empty[1])] * video.numf
        self.frame_priors = [np.zeros(0, np.int64)] * video.numf
        self.rows: List[list] = []

    def add(self, start: int, boxes: np.ndarray, scores: np.ndarray) -> None:
        """boxes [P, S, 4] normalised, scores [P, C + 1] softmax (background first) of the micro-tube at ``start``."""
        v, w, h = self.video, self.video.width, self.video.height
        sc = background_last(scores)
        first, last = boxes[:, 0], boxes[:, -1]
        bx = normalized_to_pixels(np.concatenate([first, last], 1), w, h)
        keep = prefilter(bx, sc)
        self.micro[start] = (bx[keep], sc[keep])
        self.micro_priors[start] = keep
        frames = owned_frames(self.starts, self.index[start], v.numf)
        for f, b in zip(frames, interpolate(first, last, frames - start, self.delta)):
            px = normalized_to_pixels(b, w, h)
            keep = prefilter(px, sc)
            self.frames[f] = (px[keep], sc[keep])
            self.frame_priors[f] = keep
            self.rows += nms_rows(v.name, int(f) + 1, px, sc, self.conf_thresh, self.nms_thresh, max(self.topk, 50),
                                  self.frame_keep)

    def finish(self) -> None:
        v = self.video
        micro = from_frames(v.name, self.micro, v.width, v.height, self.num_classes, self.delta, self.micro_priors)
        frame_det = from_frames(v.name, self.frames, v.width, v.height, self.num_classes, 0, self.frame_priors)
        write_detections(os.path.join(self.out_dir, "detections", "micro"), micro)
        write_detections(os.path.join(self.out_dir, "detections", "frames"), frame_det)
        atomic_write_text(os.path.join(self.out_dir, "detections", "csv", v.name + ".csv"), rows_to_csv(self.rows))


def video_done(out_dir: str, video: str) -> bool:
    return os.path.isfile(os.path.join(out_dir, "detections", "csv", video + ".csv"))


def collect_csv(out_dir: str, videos: Sequence[str], path: str) -> None:
    """Concatenate the per-video frame-mAP rows into DETS.csv."""
    parts = [",".join(CSV_HEADER) + "\n"]
    for v in videos:
        with open(os.path.join(out_dir, "detections", "csv", v + ".csv"), encoding="utf-8") as f:
            parts.append(f.read())
    atomic_write_text(path, "".join(parts))


def write_video_tubes(det_dir: str, videos: Sequence[str], out_json: str, flow_dir: Optional[str] = None,
                      fusion: str = "none") -> int:
    """TUBES.json from the detection files of ``videos`` (micro-tube or frame files; a frame file fused with
    the flow stream's when ``fusion`` is not none). Returns the number of tubes."""
    tubes = build_tubes(det_dir, flow_dir, fusion, videos)
    write_tubes(out_json, tubes)
    return len(tubes)


def late_fusion(rgb_dir: str, flow_dir: str, videos: Sequence[str], kind: str, out_dir: str,
                conf_thresh: float) -> None:
    """Fuse two single-stream test outputs frame by frame (mean / union / boost): DETS.csv from the fused
    candidates and TUBES.json from online linking of them."""
    rows = []
    a_dir, b_dir = os.path.join(rgb_dir, "detections", "frames"), os.path.join(flow_dir, "detections", "frames")
    for v in videos:
        a, b = read_detections(video_path(a_dir, v)), read_detections(video_path(b_dir, v))
        if (a.num_frames, a.num_classes) != (b.num_frames, b.num_classes):
            raise DataError(video_path(b_dir, v), f"expected {a.num_frames} frames and {a.num_classes} classes "
                                                  f"like {video_path(a_dir, v)}")
        for t in range(1, a.num_frames + 1):
            cand = fuse_frame(kind, a.frame(t), b.frame(t), a.frame_priors(t), b.frame_priors(t))
            ok = cand.score > conf_thresh
            rows += [[v, t, int(lab), float(s), *map(float, bx)]
                     for lab, s, bx in zip(cand.label[ok], cand.score[ok], cand.boxes[ok])]
    os.makedirs(out_dir, exist_ok=True)
    atomic_write_text(os.path.join(out_dir, "frame_detections.csv"), ",".join(CSV_HEADER) + "\n" + rows_to_csv(rows))
    write_video_tubes(a_dir, videos, os.path.join(out_dir, "TUBES.json"), flow_dir=b_dir, fusion=kind)
