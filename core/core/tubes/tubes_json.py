"""TUBES.json: the video-level detections read by ``python -m evaluation.ucf24 video-map``.

A JSON list, one object per tube::

    {"video": "Basketball/v_Basketball_g01_c01", "label": 0, "score": 0.87,
     "boxes": [[frame, x1, y1, x2, y2], ...]}

``label`` is 0-based; ``frame`` is 1-based; boxes are pixels in the ACT convention (0-based, inclusive),
the convention of DETS.csv. The frames of a tube are consecutive and increasing.
"""

from __future__ import annotations

import json
from typing import Iterable, List

import numpy as np

from core.errors import DataError
from core.io import PathLike, atomic_write_text, read_json

from .types import Tube


def tube_to_dict(t: Tube) -> dict:
    rows = np.concatenate([np.asarray(t.frames, np.float64)[:, None], np.asarray(t.boxes, np.float64)], 1)
    boxes = [[int(r[0])] + [float(v) for v in r[1:]] for r in rows]
    return {"video": t.video, "label": int(t.label), "score": float(t.score), "boxes": boxes}


def write_tubes(path: PathLike, tubes: Iterable[Tube]) -> None:
    """Write tubes atomically, one tube per line inside the list (diff-friendly, still one JSON value)."""
    lines = [json.dumps(tube_to_dict(t), separators=(",", ":")) for t in tubes]
    atomic_write_text(path, "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n")


def read_tubes(path: PathLike) -> List[Tube]:
    """Read and validate TUBES.json."""
    path = str(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of tubes, got {type(data).__name__}")
    tubes = []
    for i, d in enumerate(data):
        where = f"tube {i}"
        if not isinstance(d, dict) or not {"video", "label", "score", "boxes"} <= set(d):
            raise DataError(path, "expected an object with keys video, label, score, boxes", where)
        if not isinstance(d["video"], str):
            raise DataError(path, "expected 'video' to be a string", where)
        label = d["label"]
        if isinstance(label, bool) or not isinstance(label, int) or label < 0:
            raise DataError(path, f"expected a 0-based integer label, got {label!r}", where)
        score = d["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise DataError(path, f"expected a numeric score, got {score!r}", where)
        try:
            rows = np.asarray(d["boxes"], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(path, "expected 'boxes' as [[frame, x1, y1, x2, y2], ...]", where) from None
        if rows.ndim != 2 or rows.shape[1] != 5 or rows.shape[0] == 0:
            raise DataError(path, f"expected 'boxes' as a non-empty [n, 5] list, got shape {rows.shape}", where)
        frames = rows[:, 0]
        if np.any(frames != np.round(frames)) or frames.min() < 1:
            raise DataError(path, "expected integer 1-based frame numbers", where)
        if np.any(np.diff(frames) <= 0):
            raise DataError(path, "expected increasing frame numbers", where)
        if not np.isfinite(rows).all():
            raise DataError(path, "expected finite coordinates", where)
        tubes.append(Tube(d["video"], label, float(score), frames.astype(np.int64), rows[:, 1:]))
    return tubes
