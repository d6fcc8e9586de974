"""Kinetics csv files, the crawler's file naming, and the two-stream repository's annotation json.

CSV (Kinetics-400/600/700), with a header::

    label,youtube_id,time_start,time_end,split[,is_cc]      train / val (K400 val adds is_cc)
    youtube_id,time_start,time_end,split                     test of the original release (no label)

``time_start`` / ``time_end`` are integer seconds (clips of ~10 s). The ActivityNet crawler saves a clip
as ``<label>/<youtube_id>_<%06d start>_<%06d end>.mp4``.

Annotation json of gurkirt/2D-kinectics (``prep/extract_resaveAnnots_kinetics.py``)::

    {"database": {youtube_id: {"label": str, "cls": int, "subset": "train"|"val"|"test",
                               "isthere": bool, "numf": int}},
     "classes": {name: index}}

Class index = 0-based order of first appearance in the train csv; test videos get cls 0; ``isthere`` is
true when the frame folder ``<frames_root>/<youtube_id>/`` holds more than 15 jpgs, ``numf`` their count.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

import pandas as pd

from core.errors import DataError
from core.io import PathLike, atomic_open, atomic_write_json, read_json

REQUIRED = ["youtube_id", "time_start", "time_end", "split"]


def read_kinetics_csv(path: PathLike) -> pd.DataFrame:
    """Read a Kinetics csv -> DataFrame with columns label (None for the label-less test file),
    youtube_id, time_start (int), time_end (int), split, and is_cc when present."""
    path = str(path)
    try:
        df = pd.read_csv(path, dtype={"youtube_id": str, "label": str, "split": str}, keep_default_na=False)
    except UnicodeDecodeError as e:
        raise DataError(path, f"not a UTF-8 csv file (byte {e.start})") from None
    except pd.errors.ParserError as e:
        raise DataError(path, f"not a csv file ({str(e).strip().splitlines()[-1]})") from None
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(path, f"expected a header with columns {REQUIRED} (and label), missing {missing}", "row 1")
    for col in ("time_start", "time_end"):
        values = pd.to_numeric(df[col], errors="coerce")
        if values.isna().any():
            i = int(values.isna().to_numpy().argmax())
            raise DataError(path, f"expected an integer {col}, got {df[col].iloc[i]!r}", f"row {i + 2}")
        df[col] = values.astype("int64")
    if "label" not in df.columns:
        df.insert(0, "label", None)
    return df


def write_kinetics_csv(path: PathLike, df: pd.DataFrame) -> None:
    """Write the csv; the label column is omitted when every label is None (test-file layout)."""
    cols = list(df.columns)
    if "label" in cols and df["label"].isna().all():
        cols.remove("label")
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        df[cols].to_csv(f, index=False)


def crawler_path(label: str, youtube_id: str, time_start: int, time_end: int, ext: str = "mp4") -> str:
    """Relative path the ActivityNet Kinetics crawler gives a clip."""
    return f"{label}/{youtube_id}_{int(time_start):06d}_{int(time_end):06d}.{ext}"


def count_frames(frames_dir: str) -> int:
    if not os.path.isdir(frames_dir):
        return 0
    return sum(1 for n in os.listdir(frames_dir) if n.endswith(".jpg"))


def build_annotations(csvs: Mapping[str, PathLike], frames_root: Optional[PathLike] = None,
                      min_frames: int = 15) -> Dict[str, Any]:
    """Build the annotation json from csv files keyed by subset ("train", "val", "test").

    Classes are indexed by first appearance in the train csv. ``frames_root`` (folders of
    ``%05d.jpg`` per youtube id) fills ``isthere`` (> ``min_frames`` jpgs) and ``numf``.
    """
    if "train" not in csvs:
        raise ValueError("build_annotations needs the train csv (it defines the class indices)")
    frames = {s: read_kinetics_csv(p) for s, p in csvs.items()}
    classes: Dict[str, int] = {}
    for label in frames["train"]["label"]:
        classes.setdefault(label, len(classes))
    database: Dict[str, Any] = {}
    for subset, df in frames.items():
        for i, (label, yid) in enumerate(zip(df["label"], df["youtube_id"])):
            if subset != "test" and label not in classes:
                raise DataError(str(csvs[subset]), f"label {label!r} does not appear in the train csv", f"row {i + 2}")
            numf = count_frames(os.path.join(str(frames_root), yid)) if frames_root is not None else 0
            database[yid] = {"label": label if subset != "test" else None,
                             "cls": classes[label] if subset != "test" else 0,
                             "subset": subset, "isthere": numf > min_frames, "numf": numf}
    return {"database": database, "classes": classes}


def read_annotation_json(path: PathLike) -> Dict[str, Any]:
    path = str(path)
    data = read_json(path)
    if not isinstance(data, dict) or "database" not in data or "classes" not in data:
        raise DataError(path, "expected a json object with keys 'database' and 'classes'")
    for yid, v in data["database"].items():
        if not isinstance(v, dict) or not {"cls", "subset", "numf"} <= set(v):
            raise DataError(path, "expected an entry with cls, subset, numf", f"database['{yid}']")
    return data


def write_annotation_json(path: PathLike, data: Dict[str, Any]) -> None:
    atomic_write_json(path, data, indent=None)
