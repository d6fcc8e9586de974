"""Randomised agreement: evaluation.ava (vectorised, heap replay only where ties need it) equals a
slow, line-by-line reference of the official reader + TF evaluator semantics on small random files
with many tied scores, a small detection cap and keyframes spread over the file."""

import csv
import heapq

import numpy as np
import pytest

from core.metrics import precision_recall, voc_ap
from evaluation import ava
from evaluation.report import nan_to_none


def slow_reference(labelmap_ids, gt_path, det_path, capacity):
    white = set(labelmap_ids)
    num_classes = max(white)

    def read(path, cap):
        entries, keys = {}, set()
        for row in csv.reader(open(path)):
            key = (row[0], int(row[1]))
            keys.add(key)
            if len(row) == 2:
                continue
            x1, y1, x2, y2 = map(float, row[2:6])
            a = int(row[6])
            if a not in white:
                continue
            s = float(row[7]) if len(row) == 8 else 1.0
            h = entries.setdefault(key, [])
            if cap < 1 or len(h) < cap:
                heapq.heappush(h, (s, a, y1, x1, y2, x2))
            elif s > h[0][0]:
                heapq.heapreplace(h, (s, a, y1, x1, y2, x2))
        return {k: sorted(v, key=lambda t: -t[0]) for k, v in entries.items()}, keys

    gt, gt_keys = read(gt_path, 0)
    det, _ = read(det_path, capacity)
    scores = {c: [] for c in range(1, num_classes + 1)}
    tps = {c: [] for c in range(1, num_classes + 1)}
    for key, rows in det.items():
        if key not in gt_keys:
            continue
        rows = [r for r in rows if r[2] < r[4] and r[3] < r[5]]
        g_rows = gt.get(key, [])
        for c in range(1, num_classes + 1):
            g = [r for r in g_rows if r[1] == c]
            used = set()
            for r in (r for r in rows if r[1] == c):
                tp = False
                if g:
                    ious = []
                    for q in g:
                        ih = max(0.0, min(r[4], q[4]) - max(r[2], q[2]))
                        iw = max(0.0, min(r[5], q[5]) - max(r[3], q[3]))
                        inter = ih * iw
                        ious.append(inter / ((r[4] - r[2]) * (r[5] - r[3]) + (q[4] - q[2]) * (q[5] - q[3]) - inter))
                    j = int(np.argmax(ious))
                    if ious[j] >= 0.5 and j not in used:
                        used.add(j)
                        tp = True
                scores[c].append(r[0])
                tps[c].append(tp)
    ap = {}
    for c in labelmap_ids:
        n = sum(1 for rows in gt.values() for r in rows if r[1] == c)
        if n == 0:
            ap[c] = float("nan")
            continue
        p, rc = precision_recall(np.array(tps[c], bool), n, scores=np.array(scores[c], float))
        ap[c] = voc_ap(p, rc)
    return ap


def write_case(rng, tmp_path):
    ids = [1, 2, 4]
    (tmp_path / "lm.pbtxt").write_text("".join(f'item {{\n  name: "c{i}"\n  id: {i}\n}}\n' for i in ids))
    gt_lines, det_lines = [], []
    for v in ("a", "b"):
        for t in (902, 903, 904):
            if rng.random() < 0.15:
                gt_lines.append(f"{v},{t}")
                continue
            persons = [np.round(np.r_[xy, xy + rng.uniform(0.1, 0.4, 2)], 2) for xy in rng.uniform(0, 0.6, (int(rng.integers(1, 4)), 2))]
            if rng.random() < 0.3 and persons:
                persons.append(persons[0].copy())  # identical ground-truth boxes: equal IoUs
            for p in persons:
                for a in rng.choice([1, 2, 3, 4], size=int(rng.integers(1, 3)), replace=False):
                    gt_lines.append(f"{v},{t:04d}," + ",".join(f"{x:.2f}" for x in p) + f",{a},0")
            for p in persons + [np.round(np.r_[xy, xy + 0.2], 2) for xy in rng.uniform(0, 0.6, (2, 2))]:
                for _ in range(int(rng.integers(1, 3))):
                    b = np.round(p + rng.normal(0, 0.03, 4), 2)
                    b[2:] = np.maximum(b[2:], b[:2])  # zero-size boxes happen and are dropped
                    for a in (1, 2, 3, 4):
                        det_lines.append(f"{v},{t}," + ",".join(f"{x:.2f}" for x in b) + f",{a},{rng.integers(0, 5) / 4}")
    det_lines.append("z,902,0.1,0.1,0.4,0.4,1,0.5")  # keyframe absent from the ground truth
    perm = rng.permutation(len(det_lines))
    (tmp_path / "gt.csv").write_text("\n".join(gt_lines) + "\n")
    (tmp_path / "det.csv").write_text("\n".join(det_lines[i] for i in perm) + "\n")
    return ids


@pytest.mark.parametrize("seed", range(50))
def test_ava_matches_slow_reference(seed, tmp_path):
    rng = np.random.default_rng(seed)
    ids = write_case(rng, tmp_path)
    cap = int(rng.choice([0, 3, 6, 50]))
    got = ava.evaluate(str(tmp_path / "lm.pbtxt"), str(tmp_path / "gt.csv"), str(tmp_path / "det.csv"),
                       max_dets_per_frame=cap)
    want = slow_reference(ids, str(tmp_path / "gt.csv"), str(tmp_path / "det.csv"), cap)
    for c in ids:
        g, w = got["per_class"][str(c)]["ap"], want[c]
        assert (g != g and w != w) or g == pytest.approx(w, abs=1e-12), (c, g, w)


def test_chunked_reading_equals_single_chunk(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    ids = write_case(rng, tmp_path)
    args = (str(tmp_path / "lm.pbtxt"), str(tmp_path / "gt.csv"), str(tmp_path / "det.csv"))
    whole = ava.evaluate(*args, max_dets_per_frame=4)
    monkeypatch.setattr(ava, "CHUNK_ROWS", 7)  # keyframes split over many chunks: re-read path
    assert nan_to_none(ava.evaluate(*args, max_dets_per_frame=4)) == nan_to_none(whole)
    want = slow_reference(ids, *args[1:], 4)
    for c in ids:
        g, w = whole["per_class"][str(c)]["ap"], want[c]
        assert (g != g and w != w) or g == pytest.approx(w, abs=1e-12)
