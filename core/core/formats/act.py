"""The ACT detector's ground-truth pickles (``UCF101v2-GT.pkl``, ``JHMDB-GT.pkl``) and pyannot conversion.

An ACT GT pickle (Python 2, read with latin1) is a dict::

    labels        [C] class names, index = 0-based label
    gttubes       {video: {label: [tube, ...]}}, tube = float32 [n, 5] (frame, x1, y1, x2, y2)
    nframes       {video: int}
    train_videos  [split][video, ...]   (UCF101-24: 1 split, JHMDB-21: 3)
    test_videos   [split][video, ...]
    resolution    {video: (h, w)}

Frame numbers are **1-based**; boxes are **0-based pixel indices, inclusive** (areas with +1).

Conversion with gurkirt's pyannot (:mod:`core.formats.ucf24`): a pyannot tube with 0-based ``sf``,
exclusive ``ef`` and 1-based ``[x, y, w, h]`` becomes frames ``sf + 1 .. ef`` and
``x1 = x - 1, y1 = y - 1, x2 = x1 + w - 1, y2 = y1 + h - 1`` (the pixels x .. x + w - 1 in 1-based terms).
The conversion is exact both ways for integer boxes.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from core.errors import DataError
from core.formats import ucf24
from core.io import PathLike, dump_pickle, safe_load_pickle

ActGT = Dict[str, Any]
_KEYS = ("labels", "gttubes", "nframes", "train_videos", "test_videos", "resolution")


def validate_act_gt(gt: Any, path: str) -> ActGT:
    if not isinstance(gt, dict) or not set(_KEYS) <= set(gt):
        have = sorted(gt) if isinstance(gt, dict) else type(gt).__name__
        raise DataError(path, f"expected an ACT GT dict with keys {list(_KEYS)}, got {have}")
    num_classes = len(gt["labels"])
    for video, by_label in gt["gttubes"].items():
        if video not in gt["nframes"]:
            raise DataError(path, "video has tubes but no nframes entry", f"gttubes['{video}']")
        for label, tubes in by_label.items():
            if not 0 <= int(label) < num_classes:
                raise DataError(path, f"expected a label in 0..{num_classes - 1}, got {label}", f"gttubes['{video}']")
            for i, t in enumerate(tubes):
                t = np.asarray(t)
                if t.ndim != 2 or t.shape[1] != 5:
                    raise DataError(path, f"expected a tube [n, 5], got shape {t.shape}", f"gttubes['{video}'][{label}][{i}]")
                if t.shape[0] and (t[:, 0].min() < 1 or t[:, 0].max() > int(gt["nframes"][video])):
                    raise DataError(path, "expected 1-based frame numbers within nframes", f"gttubes['{video}'][{label}][{i}]")
    return gt


def read_act_gt(path: PathLike) -> ActGT:
    """Read and validate an ACT ``*-GT.pkl``."""
    path = str(path)
    return validate_act_gt(safe_load_pickle(path), path)


def write_act_gt(path: PathLike, gt: ActGT) -> None:
    """Write an ACT GT pickle (protocol 2; tubes as float32 arrays)."""
    out = {
        "labels": list(gt["labels"]),
        "gttubes": {v: {int(lab): [np.asarray(t, dtype=np.float32) for t in tubes] for lab, tubes in d.items()}
                    for v, d in gt["gttubes"].items()},
        "nframes": {v: int(n) for v, n in gt["nframes"].items()},
        "train_videos": [list(s) for s in gt["train_videos"]],
        "test_videos": [list(s) for s in gt["test_videos"]],
        "resolution": {v: (int(r[0]), int(r[1])) for v, r in gt["resolution"].items()},
    }
    dump_pickle(path, out)


def pyannot_to_act(
    db: Dict[str, Any],
    labels: Sequence[str],
    train_videos: Sequence[Sequence[str]],
    test_videos: Sequence[Sequence[str]],
    resolution: Optional[Dict[str, Tuple[int, int]]] = None,
    default_resolution: Tuple[int, int] = (240, 320),
) -> ActGT:
    """Convert a pyannot dict (see :mod:`core.formats.ucf24`) to the ACT GT structure.

    ``train_videos`` / ``test_videos``: one list of video names per split. Tubes keep their pyannot order
    within each label.
    """
    gttubes: Dict[str, Dict[int, List[np.ndarray]]] = {}
    for video, ann in db.items():
        by_label: Dict[int, List[np.ndarray]] = {}
        for t in ann["annotations"]:
            sf, ef = int(t["sf"]), int(t["ef"])
            frames = np.arange(sf + 1, ef + 1, dtype=np.float64)[:, None]
            xyxy = ucf24.pyannot_boxes_to_xyxy(t["boxes"], inclusive=True)
            by_label.setdefault(int(t["label"]), []).append(np.hstack([frames, xyxy]).astype(np.float32))
        gttubes[video] = by_label
    return {
        "labels": list(labels),
        "gttubes": gttubes,
        "nframes": {v: int(ann["numf"]) for v, ann in db.items()},
        "train_videos": [list(s) for s in train_videos],
        "test_videos": [list(s) for s in test_videos],
        "resolution": {v: tuple((resolution or {}).get(v, default_resolution)) for v in db},
    }


def act_to_pyannot(gt: ActGT, path: str = "<act gt>") -> Dict[str, Any]:
    """Convert an ACT GT dict to a pyannot dict. A video's ``label`` is the label of its tubes.

    Raises DataError for tubes with missing frames (pyannot tubes are contiguous) or non-integer boxes.
    """
    db: Dict[str, Any] = {}
    for video in sorted(gt["nframes"]):
        tubes = []
        for label, lst in sorted(gt["gttubes"].get(video, {}).items()):
            for i, t in enumerate(lst):
                t = np.asarray(t, dtype=np.float64)
                frames = t[:, 0].astype(np.int64)
                if len(frames) == 0 or np.any(np.diff(frames) != 1):
                    raise DataError(path, "expected a tube over consecutive frames", f"gttubes['{video}'][{label}][{i}]")
                tubes.append({"label": int(label), "sf": int(frames[0] - 1), "ef": int(frames[-1]),
                              "boxes": ucf24.xyxy_to_pyannot_boxes(t[:, 1:], inclusive=True)})
        video_label = tubes[0]["label"] if tubes else -1
        db[video] = {"label": video_label, "numf": np.uint16(int(gt["nframes"][video])), "annotations": tubes}
    return db


def read_gt_any(path: PathLike, split: int = 1, labels: Optional[Sequence[str]] = None) -> ActGT:
    """Read a UCF24/JHMDB ground truth that is either an ACT ``*-GT.pkl`` or a gurkirt ``pyannot.pkl``,
    detected from its structure, and return it in ACT form.

    For a pyannot file the split comes from ``trainlist{split:02d}.txt`` / ``testlist{split:02d}.txt``
    beside it: test = the test list when present, else every video not in the train list (the original
    loaders' rule). Class names default to UCF101-24's or JHMDB-21's (:func:`core.formats.ucf24.guess_classes`).
    """
    path = str(path)
    obj = safe_load_pickle(path)
    if isinstance(obj, dict) and "gttubes" in obj:
        return validate_act_gt(obj, path)
    db = ucf24.read_pyannot(path)
    folder = os.path.dirname(path)
    train_file = os.path.join(folder, f"trainlist{split:02d}.txt")
    test_file = os.path.join(folder, f"testlist{split:02d}.txt")
    train = ucf24.read_split_list(train_file) if os.path.exists(train_file) else []
    if os.path.exists(test_file):
        test = [v for v in ucf24.read_split_list(test_file) if v in db]
    elif train:
        test = ucf24.test_videos(db, train)
    else:
        raise DataError(path, f"pyannot ground truth needs {os.path.basename(train_file)} or "
                              f"{os.path.basename(test_file)} beside it to know the split")
    return pyannot_to_act(db, labels or ucf24.guess_classes(db), [train], [test])
