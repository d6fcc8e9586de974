"""Annotation-file pieces of the data preparation that are specific to this baseline: the
Mini-Kinetics-200 subset (``prep/extract_resaveAnnots_kinetics.py: save_200_annots``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping

from core.errors import DataError


def read_id_list(path: os.PathLike | str) -> List[str]:
    """One YouTube id per line (blank lines skipped; a longer name keeps its first 11 characters)."""
    ids = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if len(line) < 11:
            raise DataError(path, f"expected an 11-character YouTube id, got {line!r}", f"line {i}")
        ids.append(line[:11])
    return ids


def mini_subset_annotations(annots: Mapping[str, Any], ids: Mapping[str, Iterable[str]]) -> Dict[str, Any]:
    """The Mini-200 annotation dict from the full one and the subset's id lists ``{"train": [...],
    "val": [...]}``.

    Classes are re-indexed by order of first appearance among the *sorted* val videos that are in
    the val list and present (``isthere``); the subset's videos keep their label/numf/isthere with
    the new ``cls`` and the list's subset. Ids absent from the full annotation are skipped (missing
    downloads), as are videos not present on disk."""
    db = annots["database"]
    val_ids = set(ids.get("val", ()))
    classes: Dict[str, int] = {}
    for yid in sorted(db):
        info = db[yid]
        if info.get("isthere") and info["subset"] == "val" and yid in val_ids and info["label"] not in classes:
            classes[info["label"]] = len(classes)
    database: Dict[str, Any] = {}
    for subset, vids in ids.items():
        for yid in vids:
            info = db.get(yid)
            if info is None or not info.get("isthere"):
                continue
            if info["label"] not in classes:
                raise DataError(f"{subset} id list", f"class {info['label']!r} has no val video in the subset", yid)
            database[yid] = {"label": info["label"], "cls": classes[info["label"]], "subset": subset,
                             "isthere": True, "numf": info["numf"]}
    return {"database": database, "classes": classes}
