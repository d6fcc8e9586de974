"""Kinetics video classification: ActivityNet's classification evaluator (``eval_kinetics.py``).

    python -m evaluation.kinetics --gt ANNOTATIONS --predictions PRED.json [--subset NAME] [--json OUT]

ANNOTATIONS: an ActivityNet-format json (``{"database": {video: {"subset", "annotations": [{"label"}]}}}``),
the two-stream repository's annotation json (``{"database": {video: {"label", "subset", ...}},
"classes": {...}}``) or a Kinetics csv (``label,youtube_id,...,split``). ``--subset`` picks the split
(default "validation" for ActivityNet json, "val" otherwise; "all" keeps everything).

PRED.json: ``{"results": {video: [{"label": name, "score": float}, ...]}, ...}`` (ActivityNet format).

Reported, as the original: hit@1 and hit@5 (per ground-truth video, 1 if one of its labels is among
its k best-scored predictions; videos without predictions count 0), their mean (the Kinetics
challenge's "mean error" is 1 minus it) and mAP (per class, predictions ranked by score, TP when the
video has that label and was not already matched, VOC all-point AP, mean over the classes present in
the ground truth). The original fetches a list of blocked videos from a server that no longer
exists; none are blocked here. The original stops on a predicted label it has not seen in the ground
truth; here labels named in the annotation file's class list are accepted (they only take top-k slots).
"""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from core.errors import DataError, cli_errors
from core.formats.kinetics import read_kinetics_csv
from core.io import atomic_write_json, read_json
from core.metrics import classification_ap, hit_at_k
from evaluation.report import nan_to_none, print_table


def read_ground_truth(path: str, subset: Optional[str] = None) -> Tuple[List[Tuple[str, str]], List[str]]:
    """-> (unique (video, label) pairs in file order, class names: ground-truth labels in order of first
    appearance, then any other names the file lists)."""
    if path.endswith(".csv"):
        df = read_kinetics_csv(path)
        if df["label"].isna().all():
            raise DataError(path, "expected a label column (the test csv of the original release has none)")
        if subset not in (None, "all"):
            df = df[df["split"] == subset]
        pairs = list(zip(df["youtube_id"].astype(str), df["label"].astype(str)))
        extra: List[str] = []
    else:
        data = read_json(path)
        if not isinstance(data, dict) or "database" not in data:
            raise DataError(path, "expected a json object with a 'database' key")
        pairs = []
        anet = any(isinstance(v, dict) and "annotations" in v for v in data["database"].values())
        want = subset if subset is not None else ("validation" if anet else "val")
        for vid, v in data["database"].items():
            if not isinstance(v, dict) or "subset" not in v:
                raise DataError(path, "expected an entry with 'subset'", f"database['{vid}']")
            if want != "all" and v["subset"] != want:
                continue
            if anet:
                for ann in v.get("annotations", []):
                    if "label" not in ann:
                        raise DataError(path, "expected annotations with a 'label'", f"database['{vid}']")
                    pairs.append((str(vid), str(ann["label"])))
            else:
                if "label" not in v:
                    raise DataError(path, "expected an entry with 'label'", f"database['{vid}']")
                pairs.append((str(vid), str(v["label"])))
        extra = list(data.get("classes", {})) + [n.get("nodeName") for n in data.get("taxonomy", [])
                                                 if isinstance(n, dict) and n.get("nodeName")]
    pairs = list(dict.fromkeys(pairs))  # drop_duplicates, first occurrence kept
    names = list(dict.fromkeys([lab for _, lab in pairs] + extra))
    return pairs, names


def read_predictions(path: str, class_index: Dict[str, int]):
    """-> (video [P] str, label [P] int, score [P]) in file order."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise DataError(path, "expected a json object with 'results': {video: [{label, score}, ...]}")
    videos, labels, scores = [], [], []
    for vid, preds in data["results"].items():
        if not isinstance(preds, list):
            raise DataError(path, "expected a list of {label, score}", f"results['{vid}']")
        for i, p in enumerate(preds):
            where = f"results['{vid}'][{i}]"
            if not isinstance(p, dict) or "label" not in p or "score" not in p:
                raise DataError(path, "expected {label, score}", where)
            if p["label"] not in class_index:
                raise DataError(path, f"unknown class {p['label']!r} (not in the ground truth)", where)
            s = p["score"]
            if not isinstance(s, (int, float)) or isinstance(s, bool) or not np.isfinite(s):
                raise DataError(path, f"expected a finite score, got {s!r}", where)
            videos.append(str(vid))
            labels.append(class_index[p["label"]])
            scores.append(float(s))
    return np.array(videos, dtype=object), np.array(labels, dtype=np.int64), np.array(scores, dtype=np.float64)


def evaluate(gt_path: str, pred_path: str, subset: Optional[str] = None) -> dict:
    pairs, names = read_ground_truth(gt_path, subset)
    if not pairs:
        raise DataError(gt_path, f"no ground-truth videos in subset {subset!r}")
    class_index = {n: i for i, n in enumerate(names)}
    pv, pl, ps = read_predictions(pred_path, class_index)
    video_ids = {v: i for i, v in enumerate(dict.fromkeys([v for v, _ in pairs] + list(pv)))}
    gv = np.array([video_ids[v] for v, _ in pairs], dtype=np.int64)
    gl = np.array([class_index[lab] for _, lab in pairs], dtype=np.int64)
    pvi = np.array([video_ids[v] for v in pv], dtype=np.int64)
    h1 = hit_at_k(pvi, pl, ps, gv, gl, 1)
    h5 = hit_at_k(pvi, pl, ps, gv, gl, 5)
    ap = classification_ap(pvi, pl, ps, gv, gl, len(names))
    with np.errstate(invalid="ignore"):
        m = float(np.nanmean(ap))
    per_class = {n: float(ap[i]) for i, n in enumerate(names) if not np.isnan(ap[i])}
    return {"hit@1": h1, "hit@5": h5, "mean_hit": (h1 + h5) / 2, "mAP": m, "per_class": per_class}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evaluation.kinetics", description=__doc__.split("\n")[0])
    p.add_argument("--gt", required=True, help="annotations: ActivityNet json, two-stream json or Kinetics csv")
    p.add_argument("--predictions", required=True, help="ActivityNet classification-format json")
    p.add_argument("--subset", default=None, help="split to evaluate (default validation / val; 'all')")
    p.add_argument("--json", default=None, help="write the numbers to this JSON file")
    return p.parse_args(argv)


@cli_errors
def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    for f in (args.gt, args.predictions):
        if not os.path.exists(f):
            raise FileNotFoundError(2, "No such file", f)
    res = evaluate(args.gt, args.predictions, args.subset)
    print_table(("metric", "value"), [("hit@1", res["hit@1"]), ("hit@5", res["hit@5"]),
                                      ("mean hit (1 - mean error)", res["mean_hit"]), ("mAP", res["mAP"])])
    if args.json:
        atomic_write_json(args.json, nan_to_none(res))
    return res


if __name__ == "__main__":
    main()
