"""Something-Something v1 / v2 annotation files and TSM-style list files.

v1 (semicolon separated, no header): ``something-something-v1-labels.csv`` one template per line
(174); ``...-train.csv`` / ``...-validation.csv`` rows ``<video_id>;<template>``; ``...-test.csv`` rows
``<video_id>``. Frames ``20bn-something-something-v1/<id>/{i:05d}.jpg``, 1-based.

v2 (json): ``something-something-v2-labels.json`` maps template -> index **as a string**;
``...-train.json`` / ``...-validation.json`` are lists of ``{"id", "label", "template", "placeholders"}``;
``...-test.json`` has only ``id``. Label index = ``labels[template.replace("[", "").replace("]", "")]``.

TSM list files (``train_videofolder.txt``): ``<frame_dir> <num_frames> <label_idx>`` per line, space
separated; frames ``<prefix>/<frame_dir>/<tmpl.format(i)>`` with i from 1.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from core.errors import DataError
from core.io import PathLike, atomic_write_json, atomic_write_text, read_json


def _lines(path: str) -> List[Tuple[int, str]]:
    with open(path, encoding="utf-8") as f:
        return [(i, line.rstrip("\r\n")) for i, line in enumerate(f, 1) if line.strip()]


def read_v1_labels(path: PathLike) -> List[str]:
    """174 templates in file order (index = line order; note TSM's script sorts them first)."""
    return [line.strip() for _, line in _lines(str(path))]


def write_v1_labels(path: PathLike, templates: Iterable[str]) -> None:
    atomic_write_text(path, "".join(f"{t}\n" for t in templates))


def read_v1_split(path: PathLike) -> List[Tuple[str, Optional[str]]]:
    """Rows ``<video_id>;<template>`` -> [(video_id, template)]; test rows (id only) give template None."""
    path = str(path)
    out = []
    for lineno, line in _lines(path):
        parts = line.split(";")
        if len(parts) > 2 or not parts[0].strip():
            raise DataError(path, "expected '<video_id>;<template>' or '<video_id>'", f"row {lineno}")
        out.append((parts[0].strip(), parts[1].strip() if len(parts) == 2 else None))
    return out


def write_v1_split(path: PathLike, rows: Iterable[Tuple[str, Optional[str]]]) -> None:
    atomic_write_text(path, "".join(f"{v};{t}\n" if t is not None else f"{v}\n" for v, t in rows))


def read_v2_labels(path: PathLike) -> Dict[str, int]:
    """``{template: "index"}`` -> {template: int index}."""
    path = str(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a json object mapping template -> index")
    try:
        return {k: int(v) for k, v in data.items()}
    except (TypeError, ValueError):
        raise DataError(path, "expected integer indices (as strings)") from None


def write_v2_labels(path: PathLike, labels: Dict[str, int]) -> None:
    atomic_write_json(path, {k: str(v) for k, v in labels.items()}, indent=None)


def read_v2_split(path: PathLike) -> List[Dict[str, Any]]:
    path = str(path)
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(path, "expected a json list of videos")
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "id" not in item:
            raise DataError(path, "expected an object with an 'id'", f"item {i}")
    return data


def write_v2_split(path: PathLike, items: Sequence[Dict[str, Any]]) -> None:
    atomic_write_json(path, list(items), indent=None)


def v2_label_index(labels: Dict[str, int], template: str) -> int:
    """Index of a v2 video: its template with the square brackets removed, looked up in labels.json."""
    return labels[template.replace("[", "").replace("]", "")]


def read_list_file(path: PathLike) -> List[Tuple[str, int, int]]:
    """TSM list file -> [(frame_dir, num_frames, label)]."""
    path = str(path)
    out = []
    for lineno, line in _lines(path):
        parts = line.split()
        if len(parts) != 3:
            raise DataError(path, f"expected '<frame_dir> <num_frames> <label>', got {len(parts)} fields", f"row {lineno}")
        try:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        except ValueError:
            raise DataError(path, "expected integer num_frames and label", f"row {lineno}") from None
    return out


def write_list_file(path: PathLike, rows: Iterable[Tuple[str, int, int]]) -> None:
    atomic_write_text(path, "".join(f"{d} {int(n)} {int(lab)}\n" for d, n, lab in rows))
