"""AVA annotation files: csv rows, label maps (both pbtxt flavours), excluded timestamps.

CSV (no header), one row per (box, action)::

    video_id, timestamp, x1, y1, x2, y2, action_id[, person_id | score]

- ``timestamp``: integer second of the keyframe, 902..1798 (keyframes at 1 Hz of minutes 15-30);
  ``0902`` and ``902`` are the same keyframe (the official evaluator's key normalisation).
- ``x1, y1, x2, y2``: normalised to [0, 1], top-left / bottom-right (continuous, no +1).
- ``action_id``: 1..80. The 8th column is the person id in ground truth and the score in detections.
- A 2-column row ``video_id, timestamp`` is a keyframe with no box (newer ground-truth files).
- Person-box (detector proposal) csv files have the same columns with an empty ``action_id`` and a score.

Label maps: ``item { name: "..." id: N }`` (the 60-class ``..._for_activitynet_*.pbtxt``) or
``label { name: "..." label_id: N label_type: PERSON_MOVEMENT }`` (the full 80-class list).
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional, Set, Tuple

import numpy as np
import pandas as pd

from core.errors import DataError
from core.io import PathLike, atomic_open, atomic_write_text, read_text

# The 60 action ids evaluated by the ActivityNet challenge (80 minus 20 rare classes).
AVA_EVAL_IDS: List[int] = [
    1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 20, 22, 24, 26, 27, 28, 29, 30, 34, 36, 37, 38, 41, 43,
    45, 46, 47, 48, 49, 51, 52, 54, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 72, 73, 74, 76,
    77, 78, 79, 80,
]  # fmt: skip

GROUPS = ("person_movement", "object_manipulation", "person_interaction")
LABEL_TYPES = ("PERSON_MOVEMENT", "OBJECT_MANIPULATION", "PERSON_INTERACTION")

COLUMNS = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "extra"]


def action_group(action_id: int) -> str:
    """AVA's three action families by id: <= 14 person movement, 15..63 object manipulation, >= 64 interaction."""
    if action_id <= 14:
        return GROUPS[0]
    if action_id <= 63:
        return GROUPS[1]
    return GROUPS[2]


def _numeric(path: str, df: pd.DataFrame, col: int, name: str, rows: np.ndarray) -> np.ndarray:
    """Column ``col`` as float64; a present but unparsable or NaN/inf entry raises DataError with its row."""
    raw = df[col]
    present = raw.notna().to_numpy()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    bad = present & ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"expected a finite number for {name}, got {raw.iloc[i]!r}", f"row {rows[i]}")
    return values


def read_ava_csv(path: PathLike) -> pd.DataFrame:
    """Read an AVA ground-truth, detection or person-box csv.

    Returns a DataFrame with columns ``video_id`` (str), ``timestamp`` (int64), ``x1, y1, x2, y2``
    (float64, NaN on 2-column rows), ``action_id`` (int64; -1 on 2-column rows and empty action fields),
    ``extra`` (float64: 8th column, score or person id; NaN when absent) and ``row`` (1-based line number).
    Raises DataError naming the row on: a column count other than 2, 7 or 8; a non-numeric or NaN value;
    ``x2 < x1`` or ``y2 < y1``; a non-integer timestamp or action id.
    """
    path = str(path)
    try:
        df = pd.read_csv(path, header=None, names=range(9), dtype={0: str}, keep_default_na=False,
                         na_values=[""], skip_blank_lines=False, engine="c")
    except FileNotFoundError:
        raise
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({i: pd.Series(dtype=object) for i in range(9)})
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        m = re.search(r"line (\d+)", str(e))
        raise DataError(path, "expected 2, 7 or 8 comma-separated columns", f"row {m.group(1)}" if m else None) from None
    rows = np.arange(1, len(df) + 1, dtype=np.int64)
    blank = df.isna().all(axis=1).to_numpy()
    df, rows = df[~blank].reset_index(drop=True), rows[~blank]
    if df[8].notna().any():
        i = int(np.argmax(df[8].notna().to_numpy()))
        raise DataError(path, "expected 2, 7 or 8 columns, got more", f"row {rows[i]}")

    present = df.notna().to_numpy()
    has_box = present[:, 2:6].all(axis=1)
    two_col = ~present[:, 2:8].any(axis=1)
    ok = present[:, 0] & present[:, 1] & (two_col | has_box)
    if not ok.all():
        i = int(np.argmax(~ok))
        n = int(present[i].sum())
        raise DataError(path, f"expected 2, 7 or 8 columns, got {n}", f"row {rows[i]}")

    ts = _numeric(path, df, 1, "timestamp", rows)
    coords = np.stack([_numeric(path, df, c, n, rows) for c, n in zip(range(2, 6), ("x1", "y1", "x2", "y2"))], 1)
    action = _numeric(path, df, 6, "action_id", rows)
    extra = _numeric(path, df, 7, "score/person_id", rows)
    if np.any(ts != np.round(ts)):
        i = int(np.argmax(ts != np.round(ts)))
        raise DataError(path, f"expected an integer timestamp, got {df[1].iloc[i]!r}", f"row {rows[i]}")
    bad_action = ~np.isnan(action) & (action != np.round(action))
    if bad_action.any():
        i = int(np.argmax(bad_action))
        raise DataError(path, f"expected an integer action_id, got {df[6].iloc[i]!r}", f"row {rows[i]}")
    with np.errstate(invalid="ignore"):
        inverted = (coords[:, 2] < coords[:, 0]) | (coords[:, 3] < coords[:, 1])
    if inverted.any():
        i = int(np.argmax(inverted))
        raise DataError(path, f"expected x1 <= x2 and y1 <= y2, got box {coords[i].tolist()}", f"row {rows[i]}")

    return pd.DataFrame({
        "video_id": df[0].astype(str).to_numpy(),
        "timestamp": ts.astype(np.int64),
        "x1": coords[:, 0], "y1": coords[:, 1], "x2": coords[:, 2], "y2": coords[:, 3],
        "action_id": np.where(np.isnan(action), -1, action).astype(np.int64),
        "extra": extra,
        "row": rows,
    })


def write_ava_csv(path: PathLike, df: pd.DataFrame, box_decimals: Optional[int] = 3,
                  extra: str = "auto") -> None:
    """Write rows with columns ``video_id, timestamp, x1, y1, x2, y2, action_id[, extra]`` as AVA csv.

    Timestamps are written ``%04d``. Rows whose boxes are NaN become 2-column rows. ``extra``: "int"
    (person ids), "float" (scores), "none" (7 columns), or "auto" (none if the column is absent or all
    NaN, int if all integral, else float). An ``action_id`` of -1 is written empty (person-box files).
    """
    n = len(df)
    vid = df["video_id"].astype(str).to_numpy()
    ts = np.char.mod("%04d", df["timestamp"].to_numpy(dtype=np.int64))
    coords = df[["x1", "y1", "x2", "y2"]].to_numpy(dtype=np.float64)
    fmt = f"%.{box_decimals}f" if box_decimals is not None else "%r"
    if box_decimals is not None:
        cstr = [np.char.mod(fmt, coords[:, k]) for k in range(4)]
    else:
        cstr = [np.array([repr(float(x)) for x in coords[:, k]], dtype=object) for k in range(4)]
    action = df["action_id"].to_numpy(dtype=np.int64)
    astr = np.where(action < 0, "", np.char.mod("%d", action))
    ex = df["extra"].to_numpy(dtype=np.float64) if "extra" in df else np.full(n, np.nan)
    if extra == "auto":
        extra = "none" if np.isnan(ex).all() else ("int" if np.all(ex[~np.isnan(ex)] == np.round(ex[~np.isnan(ex)])) else "float")
    lines = vid.astype(object)
    for p in (ts, *cstr, astr):
        lines = lines + "," + p.astype(object)
    has_extra = ~np.isnan(ex)
    if extra == "int":
        lines[has_extra] += "," + np.char.mod("%d", ex[has_extra].astype(np.int64)).astype(object)
    elif extra == "float":
        lines[has_extra] += "," + np.array([repr(float(x)) for x in ex[has_extra]], dtype=object)
    empty = np.isnan(coords).any(axis=1)
    if empty.any():
        lines[empty] = vid[empty].astype(object) + "," + ts[empty].astype(object)
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(line + "\n" for line in lines))


def read_labelmap(path: PathLike) -> List[Dict[str, object]]:
    """Parse a label-map pbtxt of either flavour -> [{'id': int, 'name': str, 'type': str | None}, ...]."""
    path = str(path)
    text = read_text(path)
    classes = []
    for m in re.finditer(r"\b(item|label)\s*\{(.*?)\}", text, flags=re.S):
        body = m.group(2)
        name = re.search(r'\bname:\s*"((?:[^"\\]|\\.)*)"', body)
        cid = re.search(r"\b(?:label_id|id):\s*(-?\d+)", body)
        ctype = re.search(r"\blabel_type:\s*(\w+)", body)
        line = text.count("\n", 0, m.start()) + 1
        if not name or not cid:
            raise DataError(path, "expected an entry with name and id (or label_id)", f"line {line}")
        classes.append({"id": int(cid.group(1)), "name": name.group(1), "type": ctype.group(1) if ctype else None})
    if not classes:
        raise DataError(path, "expected 'item { name: ... id: ... }' or 'label { name: ... label_id: ... }' entries")
    ids = [c["id"] for c in classes]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(path, f"duplicate class id {dup}")
    return classes


def write_labelmap(path: PathLike, classes: Iterable[Dict[str, object]], flavour: str = "item") -> None:
    """Write a label map: ``flavour="item"`` (``name``/``id``) or ``"label"`` (``name``/``label_id``/``label_type``)."""
    out = []
    for c in classes:
        name = str(c["name"]).replace('"', '\\"')
        if flavour == "item":
            out.append(f'item {{\n  name: "{name}"\n  id: {int(c["id"])}\n}}\n')
        elif flavour == "label":
            ctype = c.get("type") or LABEL_TYPES[GROUPS.index(action_group(int(c["id"])))]
            out.append(f'label {{\n  name: "{name}"\n  label_id: {int(c["id"])}\n  label_type: {ctype}\n}}\n')
        else:
            raise ValueError(f"unknown label-map flavour {flavour!r} (expected 'item' or 'label')")
    atomic_write_text(path, "".join(out))


def read_exclusions(path: PathLike) -> Set[Tuple[str, int]]:
    """Excluded keyframes ``video_id,timestamp`` -> set of (video_id, int timestamp)."""
    path = str(path)
    out: Set[Tuple[str, int]] = set()
    for lineno, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.split(",")
        if len(parts) != 2:
            raise DataError(path, f"expected 2 columns video_id,timestamp, got {len(parts)}", f"row {lineno}")
        try:
            out.add((parts[0], int(parts[1])))
        except ValueError:
            raise DataError(path, f"expected an integer timestamp, got {parts[1]!r}", f"row {lineno}") from None
    return out


def write_exclusions(path: PathLike, keys: Iterable[Tuple[str, int]]) -> None:
    atomic_write_text(path, "".join(f"{v},{int(t):04d}\n" for v, t in sorted(keys)))
