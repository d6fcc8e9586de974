"""UCF101-24 and JHMDB-21 in gurkirt's ``pyannot.pkl`` format, split lists and frame paths.

``pyannot.pkl`` (a Python-2 pickle) is a dict keyed ``"<Class>/<video>"``::

    {'label': int 0..C-1 (video class),
     'numf': numpy uint16 (number of frames),
     'annotations': [tube, ...]}

    tube = {'label': int, 'sf': int, 'ef': int, 'boxes': numpy uint16 [ef - sf, 4]}

- ``sf`` is the 0-based index of the tube's first frame, ``ef`` is exclusive (``ef - sf == len(boxes)``).
  The frame file of 0-based index ``i`` is ``rgb-images/<video>/{i + 1:05d}.jpg``.
- ``boxes`` are ``[x, y, w, h]`` in 1-based MATLAB pixels on the 320x240 frame (x >= 1, x + w <= 320).
  They are uint8/uint16 on disk: convert with :func:`pyannot_boxes_to_xyxy`, never ``x + w`` in place.

The split lists ``splitfiles/trainlist01.txt`` / ``testlist01.txt`` hold one ``<Class>/<video>`` per line.
The training code of realtime-action-detection and AMTNet takes as test set every pyannot video that is not
in the train list (:func:`test_videos`).
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List

import numpy as np

from core.errors import DataError
from core.io import PathLike, atomic_write_text, dump_pickle, safe_load_pickle

UCF24_CLASSES = [
    "Basketball", "BasketballDunk", "Biking", "CliffDiving", "CricketBowling", "Diving", "Fencing",
    "FloorGymnastics", "GolfSwing", "HorseRiding", "IceDancing", "LongJump", "PoleVault", "RopeClimbing",
    "SalsaSpin", "SkateBoarding", "Skiing", "Skijet", "SoccerJuggling", "Surfing", "TennisSwing",
    "TrampolineJumping", "VolleyballSpiking", "WalkingWithDog",
]  # fmt: skip

JHMDB_CLASSES = [
    "brush_hair", "catch", "clap", "climb_stairs", "golf", "jump", "kick_ball", "pick", "pour", "pullup",
    "push", "run", "shoot_ball", "shoot_bow", "shoot_gun", "sit", "stand", "swing_baseball", "throw", "walk",
    "wave",
]  # fmt: skip

VideoAnnot = Dict[str, Any]


def _check_tube(path: str, video: str, i: int, tube: Any, numf: int) -> None:
    where = f"video '{video}' tube {i}"
    if not isinstance(tube, dict) or not {"label", "sf", "ef", "boxes"} <= set(tube):
        raise DataError(path, "expected a dict with keys label, sf, ef, boxes", where)
    boxes = tube["boxes"]
    if not isinstance(boxes, np.ndarray) or boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DataError(path, f"expected boxes as an [n, 4] array, got {getattr(boxes, 'shape', type(boxes))}", where)
    sf, ef = int(tube["sf"]), int(tube["ef"])
    if not 0 <= sf < ef or ef - sf != len(boxes):
        raise DataError(path, f"expected 0 <= sf < ef and ef - sf == len(boxes), got sf={sf} ef={ef} n={len(boxes)}", where)
    if ef > numf:
        raise DataError(path, f"expected ef <= numf ({numf}), got ef={ef}", where)


def read_pyannot(path: PathLike) -> Dict[str, VideoAnnot]:
    """Read ``pyannot.pkl`` exactly as stored (numpy dtypes kept), validating its structure."""
    path = str(path)
    db = safe_load_pickle(path)
    if isinstance(db, dict) and "db" in db and "classes" in db:  # pyannot_with_class_names.pkl
        db = db["db"]
    if not isinstance(db, dict):
        raise DataError(path, f"expected a dict of videos, got {type(db).__name__}")
    for video, ann in db.items():
        if not isinstance(ann, dict) or not {"label", "numf", "annotations"} <= set(ann):
            raise DataError(path, "expected a dict with keys label, numf, annotations", f"video '{video}'")
        numf = int(ann["numf"])
        for i, tube in enumerate(ann["annotations"]):
            _check_tube(path, video, i, tube, numf)
    return db


def write_pyannot(path: PathLike, db: Dict[str, VideoAnnot]) -> None:
    """Write ``pyannot.pkl`` with the original dtypes (numf and boxes as uint16, ints for the rest)."""
    out = {}
    for video, ann in db.items():
        tubes = []
        for t in ann["annotations"]:
            boxes = np.asarray(t["boxes"])
            if boxes.min(initial=0) < 0 or boxes.max(initial=0) > np.iinfo(np.uint16).max:
                raise DataError(str(path), "box coordinates do not fit uint16", f"video '{video}'")
            tubes.append({"label": int(t["label"]), "sf": int(t["sf"]), "ef": int(t["ef"]),
                          "boxes": np.round(boxes).astype(np.uint16)})
        out[video] = {"label": int(ann["label"]), "numf": np.uint16(int(ann["numf"])), "annotations": tubes}
    dump_pickle(path, out)


def pyannot_boxes_to_xyxy(boxes: np.ndarray, inclusive: bool) -> np.ndarray:
    """[n, 4] 1-based ``x, y, w, h`` (any integer dtype) -> float64 [n, 4] 0-based ``x1, y1, x2, y2``.

    ``inclusive=False`` gives the continuous box AMTNet trains on (x2 = x - 1 + w);
    ``inclusive=True`` the ACT convention of pixel indices (x2 = x - 1 + w - 1, width = x2 - x1 + 1 = w).
    """
    b = np.asarray(boxes, dtype=np.float64)
    x1 = b[:, 0] - 1
    y1 = b[:, 1] - 1
    d = 1 if inclusive else 0
    return np.stack([x1, y1, x1 + b[:, 2] - d, y1 + b[:, 3] - d], axis=1)


def xyxy_to_pyannot_boxes(xyxy: np.ndarray, inclusive: bool) -> np.ndarray:
    """Inverse of :func:`pyannot_boxes_to_xyxy`: float [n, 4] -> uint16 [n, 4] 1-based x, y, w, h (rounded)."""
    b = np.asarray(xyxy, dtype=np.float64)
    d = 1 if inclusive else 0
    xywh = np.stack([b[:, 0] + 1, b[:, 1] + 1, b[:, 2] - b[:, 0] + d, b[:, 3] - b[:, 1] + d], axis=1)
    return np.round(xywh).astype(np.uint16)


def read_split_list(path: PathLike) -> List[str]:
    """One ``<Class>/<video>`` per line; blank lines ignored, surrounding whitespace stripped."""
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def write_split_list(path: PathLike, videos: Iterable[str]) -> None:
    atomic_write_text(path, "".join(f"{v}\n" for v in videos))


def test_videos(db: Dict[str, VideoAnnot], train_videos: Iterable[str]) -> List[str]:
    """Videos of ``db`` not in the train list, in sorted order (what the original loaders test on)."""
    train = set(train_videos)
    return sorted(v for v in db if v not in train)


test_videos.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def guess_classes(db: Dict[str, VideoAnnot]) -> List[str]:
    """UCF101-24's or JHMDB-21's class list, from the class folders of the video keys
    (``Basketball/v_...`` or ``brush_hair/...``); by the number of labels when the keys do not tell."""
    folders = {v.split("/", 1)[0] for v in db}
    if folders and folders <= set(UCF24_CLASSES):
        return UCF24_CLASSES
    if folders and folders <= set(JHMDB_CLASSES):
        return JHMDB_CLASSES
    n = 1 + max((int(a["label"]) for a in db.values()), default=-1)
    return JHMDB_CLASSES if n <= len(JHMDB_CLASSES) else UCF24_CLASSES


def frame_path(root: PathLike, video: str, index0: int, kind: str = "rgb-images", ext: str = "jpg") -> str:
    """Path of the frame with 0-based index ``index0``: ``<root>/<kind>/<video>/{index0 + 1:05d}.<ext>``."""
    return os.path.join(str(root), kind, video, f"{index0 + 1:05d}.{ext}")


def frame_boxes(ann: VideoAnnot, inclusive: bool = False) -> Dict[int, np.ndarray]:
    """Per 0-based frame index, the [k, 5] array (x1, y1, x2, y2, label) of the tubes present there."""
    rows: Dict[int, list] = {}
    for t in ann["annotations"]:
        xyxy = pyannot_boxes_to_xyxy(t["boxes"], inclusive)
        for k, f in enumerate(range(int(t["sf"]), int(t["ef"]))):
            rows.setdefault(f, []).append([*xyxy[k], float(t["label"])])
    return {f: np.asarray(r, dtype=np.float64) for f, r in sorted(rows.items())}
