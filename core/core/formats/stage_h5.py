"""STAGE feature files (aimagelab/STAGE_action_detection), read with the h5py >= 3 API.

Actors, one file per keyframe: ``<actors_dir>/<clip_id>/<timestamp>.h5`` (timestamp as in the file
name, e.g. ``0902``) with datasets

    features  float32 [num_actors, C, t, h, w]   (C = 1024 for I3D Mixed_5c)
    boxes     float32 [num_actors, 4]            x1, y1, x2, y2 normalised to [0, 1]
    labels    float32 [num_actors, 81]           multi-hot; column 0 = background, 1..80 = AVA ids

Objects, one file for a split, flat keys ``<clip_id>_<timestamp without leading zeros>_<field>``
(``-5KQ66BBWC4`` at ``0902`` -> ``-5KQ66BBWC4_902_features``) with fields ``features`` [n, 2048],
``boxes`` [n, 4] (same convention as actors) and ``cls_prob`` [n, num_object_classes].

SlowFast variant (one file per split): groups ``<clip>_<timestamp>`` holding ``boxes``, ``features``
[n, D] and ``labels`` [n, 80] (no background column).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Tuple

import h5py
import numpy as np

from core.errors import DataError
from core.io import PathLike

ACTOR_FIELDS = ("features", "boxes", "labels")
OBJECT_FIELDS = ("features", "boxes", "cls_prob")


@contextlib.contextmanager
def _atomic_h5(path: PathLike) -> Iterator[h5py.File]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _open(path: str) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise
    except OSError as e:
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file", path) from None
        raise DataError(path, f"not a readable h5 file ({e})") from None


def actor_h5_path(actors_dir: PathLike, clip_id: str, timestamp: str) -> str:
    return os.path.join(str(actors_dir), clip_id, f"{timestamp}.h5")


def list_actor_files(actors_dir: PathLike) -> List[Tuple[str, str, str]]:
    """All ``<clip>/<timestamp>.h5`` under ``actors_dir`` as (clip_id, timestamp, path), sorted by
    (clip_id, int(timestamp))."""
    out = []
    root = str(actors_dir)
    if not os.path.isdir(root):
        raise FileNotFoundError(2, "No such directory", root)
    for clip in os.listdir(root):
        d = os.path.join(root, clip)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.endswith(".h5"):
                ts = name[:-3]
                if not ts.isdigit():
                    raise DataError(os.path.join(d, name), "expected '<timestamp>.h5' with an integer timestamp")
                out.append((clip, ts, os.path.join(d, name)))
    out.sort(key=lambda x: (x[0], int(x[1])))
    return out


def read_actor_h5(path: PathLike, fields: Tuple[str, ...] = ACTOR_FIELDS) -> Dict[str, np.ndarray]:
    """Read one keyframe's actor file -> {'features', 'boxes', 'labels'} as float32 arrays."""
    path = str(path)
    with _open(path) as f:
        out = {}
        for k in fields:
            if k not in f:
                raise DataError(path, f"missing dataset '{k}' (expected {list(ACTOR_FIELDS)})")
            out[k] = np.asarray(f[k][()], dtype=np.float32)
    n = {k: len(v) for k, v in out.items()}
    if len(set(n.values())) > 1:
        raise DataError(path, f"expected the same number of actors in every dataset, got {n}")
    if "boxes" in out and (out["boxes"].ndim != 2 or out["boxes"].shape[1] != 4):
        raise DataError(path, f"expected boxes [n, 4], got {out['boxes'].shape}")
    return out


def write_actor_h5(path: PathLike, features: np.ndarray, boxes: np.ndarray, labels: np.ndarray) -> None:
    with _atomic_h5(path) as f:
        f.create_dataset("features", data=np.asarray(features, dtype=np.float32))
        f.create_dataset("boxes", data=np.asarray(boxes, dtype=np.float32))
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.float32))


def object_key(clip_id: str, timestamp: object, field: str) -> str:
    """``<clip>_<int timestamp>_<field>``: the timestamp loses its leading zeros."""
    return f"{clip_id}_{int(timestamp)}_{field}"


class ObjectFeatures:
    """Read access to the single objects h5 file: ``objs[clip_id, timestamp] -> {'features', 'boxes', 'cls_prob'}``.

    A keyframe absent from the file has no objects: arrays with 0 rows (feature size taken from the file).
    """

    def __init__(self, path: PathLike):
        self.path = str(path)
        self._file = _open(self.path)
        self._feat_dim = None
        for k in self._file:
            if k.endswith("_features"):
                self._feat_dim = self._file[k].shape[1]
                break

    def __contains__(self, key: Tuple[str, object]) -> bool:
        return object_key(key[0], key[1], "features") in self._file

    def __getitem__(self, key: Tuple[str, object]) -> Dict[str, np.ndarray]:
        clip, ts = key
        if key not in self:
            dim = self._feat_dim or 0
            return {"features": np.zeros((0, dim), np.float32), "boxes": np.zeros((0, 4), np.float32),
                    "cls_prob": np.zeros((0, 0), np.float32)}
        out = {}
        for field in OBJECT_FIELDS:
            k = object_key(clip, ts, field)
            if k not in self._file:
                raise DataError(self.path, f"missing dataset '{k}'")
            out[field] = np.asarray(self._file[k][()], dtype=np.float32)
        if len(out["features"]) != len(out["boxes"]):
            raise DataError(self.path, "features and boxes have different lengths", object_key(clip, ts, "*"))
        return out

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ObjectFeatures:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_object_h5(path: PathLike, entries: Mapping[Tuple[str, object], Mapping[str, np.ndarray]]) -> None:
    """Write the objects file from {(clip_id, timestamp): {'features', 'boxes', 'cls_prob'}}."""
    with _atomic_h5(path) as f:
        for (clip, ts), e in entries.items():
            for field in OBJECT_FIELDS:
                f.create_dataset(object_key(clip, ts, field), data=np.asarray(e[field], dtype=np.float32))


class SlowFastFeatures:
    """The SlowFast-feature variant: one h5 per split, groups ``<clip>_<timestamp>`` with boxes,
    features [n, D] and labels [n, 80]."""

    def __init__(self, path: PathLike):
        self.path = str(path)
        self._file = _open(self.path)

    def keys(self) -> List[str]:
        return list(self._file.keys())

    def __getitem__(self, key: str) -> Dict[str, np.ndarray]:
        if key not in self._file:
            raise DataError(self.path, "no such group", key)
        g = self._file[key]
        return {k: np.asarray(g[k][()], dtype=np.float32) for k in ("boxes", "features", "labels") if k in g}

    def close(self) -> None:
        self._file.close()


def write_slowfast_h5(path: PathLike, entries: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    with _atomic_h5(path) as f:
        for key, e in entries.items():
            g = f.create_group(key)
            for k, v in e.items():
                g.create_dataset(k, data=np.asarray(v, dtype=np.float32))
