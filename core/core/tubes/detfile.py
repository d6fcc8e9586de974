"""Compact per-video frame-detection files, the input of ``tools/build_tubes.py``.

realtime-action-detection's test script dumps, per frame, the full 8732 x 25 SSD score matrix and the
decoded boxes to a ``.mat`` file (terabytes for a test set). The tube builder only ever looks at what
:func:`~core.tubes.filtering.dofilter` keeps, so a detector writes, per frame, the union over classes of
those boxes (:func:`~core.tubes.filtering.prefilter`) with their full score vectors: a few hundred rows
per frame instead of 8732, and identical tubes.

One ``.npz`` file per video, ``<dir>/<video>.npz`` (a video name such as ``Basketball/v_Basketball_g01_c01``
gives a sub-folder), written atomically, holding:

``format``       str, ``"actdet-frame-detections"``; ``version`` int, 1
``video``        str, the video name as in the annotations
``num_frames``   int, frames of the video (frames are numbered 1..num_frames)
``width``, ``height``  int, the frame size the pixel coordinates refer to
``num_classes``  int C
``delta``        int, 0 for frame detections; > 0 for micro-tubes (AMTNet): a row at frame t then holds
                 the box at t and the box at t + delta
``frame_index``  int64 [num_frames + 1]: rows of frame t (1-based) are ``frame_index[t - 1]:frame_index[t]``
``boxes``        float32 [N, 4] (or [N, 8] for micro-tubes): x1, y1, x2, y2 in pixels, ACT convention
                 (0-based, inclusive, 0 <= x <= width - 1): ``filtering.normalized_to_pixels`` of the SSD output
``scores``       float32 [N, C + 1]: per row the full score vector, the C classes then the background
``prior_index``  int32 [N], optional: the anchor each row came from (-1 unknown); lets two streams be
                 averaged box by box ("mean" fusion)

Coordinates and scores are float32 on disk and float64 once read.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from core.errors import DataError
from core.io import PathLike, atomic_write_bytes

FORMAT = "actdet-frame-detections"
VERSION = 1


@dataclass
class VideoDetections:
    """The detections of one video (see the module docstring for the fields)."""

    video: str
    num_frames: int
    width: int
    height: int
    num_classes: int
    delta: int
    frame_index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    prior_index: Optional[np.ndarray] = None

    def frame(self, t: int) -> Tuple[np.ndarray, np.ndarray]:
        """Boxes [n, 4 or 8] and score vectors [n, C + 1] of frame ``t`` (1-based)."""
        a, b = int(self.frame_index[t - 1]), int(self.frame_index[t])
        return self.boxes[a:b], self.scores[a:b]

    def frames(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """``frame(t)`` for t = 1..num_frames."""
        for t in range(1, self.num_frames + 1):
            yield self.frame(t)

    def frame_priors(self, t: int) -> Optional[np.ndarray]:
        if self.prior_index is None:
            return None
        return self.prior_index[int(self.frame_index[t - 1]):int(self.frame_index[t])]


def video_path(root: PathLike, video: str) -> Path:
    """Where the file of ``video`` lives under ``root``."""
    return Path(root) / f"{video}.npz"


def from_frames(video: str, frames: Sequence[Tuple[np.ndarray, np.ndarray]], width: int, height: int,
                num_classes: int, delta: int = 0,
                priors: Optional[Sequence[np.ndarray]] = None) -> VideoDetections:
    """Assemble a :class:`VideoDetections` from per-frame ``(boxes [n, 4 or 8], scores [n, C + 1])``,
    one entry per frame 1..len(frames) (empty arrays for frames without detections)."""
    counts = np.array([len(b) for b, _ in frames], np.int64)
    index = np.zeros(len(frames) + 1, np.int64)
    np.cumsum(counts, out=index[1:])
    box_dim = 8 if delta else 4
    boxes = np.concatenate([np.zeros((0, box_dim))] + [np.asarray(b, np.float64).reshape(-1, box_dim) for b, _ in frames])
    scores = np.concatenate([np.zeros((0, num_classes + 1))]
                            + [np.asarray(s, np.float64).reshape(-1, num_classes + 1) for _, s in frames])
    prior = None
    if priors is not None:
        prior = np.concatenate([np.zeros(0, np.int64)] + [np.asarray(p, np.int64).reshape(-1) for p in priors])
    return VideoDetections(video, len(frames), int(width), int(height), num_classes, int(delta), index,
                           boxes, scores, prior)


def write_detections(root: PathLike, det: VideoDetections) -> Path:
    """Write ``det`` to ``<root>/<video>.npz`` atomically; returns the path."""
    _validate(det, str(video_path(root, det.video)))
    arrays = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION),
        "video": np.array(det.video),
        "num_frames": np.array(det.num_frames),
        "width": np.array(det.width),
        "height": np.array(det.height),
        "num_classes": np.array(det.num_classes),
        "delta": np.array(det.delta),
        "frame_index": np.asarray(det.frame_index, np.int64),
        "boxes": np.asarray(det.boxes, np.float32),
        "scores": np.asarray(det.scores, np.float32),
    }
    if det.prior_index is not None:
        arrays["prior_index"] = np.asarray(det.prior_index, np.int32)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path = video_path(root, det.video)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _validate(det: VideoDetections, path: str) -> None:
    n = det.boxes.shape[0]
    box_dim = 8 if det.delta else 4
    if det.delta < 0:
        raise DataError(path, f"expected delta >= 0, got {det.delta}", "delta")
    if det.boxes.ndim != 2 or det.boxes.shape[1] != box_dim:
        raise DataError(path, f"expected boxes [N, {box_dim}] (delta={det.delta}), got {det.boxes.shape}", "boxes")
    if det.scores.shape != (n, det.num_classes + 1):
        raise DataError(path, f"expected scores [{n}, {det.num_classes + 1}], got {det.scores.shape}", "scores")
    fi = det.frame_index
    if fi.shape != (det.num_frames + 1,) or fi[0] != 0 or fi[-1] != n or np.any(np.diff(fi) < 0):
        raise DataError(path, f"expected frame_index [{det.num_frames + 1}] rising from 0 to {n}", "frame_index")
    if det.prior_index is not None and det.prior_index.shape != (n,):
        raise DataError(path, f"expected prior_index [{n}], got {det.prior_index.shape}", "prior_index")
    if not (np.isfinite(det.boxes).all() and np.isfinite(det.scores).all()):
        raise DataError(path, "expected finite boxes and scores", "boxes/scores")


def read_detections(path: PathLike) -> VideoDetections:
    """Read and validate one detection file."""
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except Exception as e:
        raise DataError(path, f"not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in ("format", "video", "num_frames", "width", "height", "num_classes", "delta",
                           "frame_index", "boxes", "scores") if k not in data]
    if missing:
        raise DataError(path, f"missing arrays {missing}")
    if str(data["format"]) != FORMAT:
        raise DataError(path, f"expected format '{FORMAT}', got '{data['format']}'", "format")
    if int(data.get("version", VERSION)) > VERSION:
        raise DataError(path, f"written by a newer version ({int(data['version'])} > {VERSION})", "version")
    prior = data.get("prior_index")
    det = VideoDetections(
        video=str(data["video"]),
        num_frames=int(data["num_frames"]),
        width=int(data["width"]),
        height=int(data["height"]),
        num_classes=int(data["num_classes"]),
        delta=int(data["delta"]),
        frame_index=data["frame_index"].astype(np.int64),
        boxes=data["boxes"].astype(np.float64),
        scores=data["scores"].astype(np.float64),
        prior_index=None if prior is None else prior.astype(np.int64),
    )
    _validate(det, path)
    return det


def list_detection_files(root: PathLike) -> List[Tuple[str, Path]]:
    """Sorted ``(video, path)`` of every ``.npz`` under ``root`` (the video name is the relative path)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(2, "No such directory", str(root))
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".npz") and not name.startswith("."):
                p = Path(dirpath) / name
                out.append((p.relative_to(root).with_suffix("").as_posix(), p))
    return sorted(out)
