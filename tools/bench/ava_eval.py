"""Benchmark: ``python -m evaluation.ava`` against the official ActivityNet evaluator on an AVA-val-sized case.

    python tools/bench/ava_eval.py [--official PATH_TO_ActivityNet] [--videos 64] [--keyframes 901] [--quick]

The case: ``videos`` x ``keyframes`` keyframes, 1-5 actors per keyframe with 1-3 of the 60 evaluated
actions each; detections = each actor's box jittered plus 0-2 false positives, every box scored for
all 60 classes (scores with 6 decimals, higher on the true actions), written as fixed-width rows.

Baseline: with ``--official`` the checkout's ``Evaluation/get_ava_performance.py`` (run as is; numpy
aliases it needs that numpy 2 removed are restored), otherwise a straightforward per-keyframe
implementation below (csv module, heapq cap of 50, per keyframe and class greedy matching). Each
evaluator runs in its own process; wall time, CPU time and peak resident memory come from
``os.wait4``. Both evaluators are single-threaded, so the ratio is taken on CPU time (user + sys), which
does not depend on what else the machine runs; wall times are printed too. The last line reads
``ava_eval: ratio=R.RR (baseline X s, ours Y s), agree=true, peak_mem=(...)``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _measure import run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EVAL_IDS = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 20, 22, 24, 26, 27, 28, 29, 30, 34, 36, 37, 38,
            41, 43, 45, 46, 47, 48, 49, 51, 52, 54, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70,
            72, 73, 74, 76, 77, 78, 79, 80]


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Non-negative ints [N] -> ASCII digits [N, width], zero padded."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64).copy()
    for i in range(width - 1, -1, -1):
        out[:, i] = 48 + v % 10
        v //= 10
    return out


def _fixed(values: np.ndarray, decimals: int) -> np.ndarray:
    """Floats in [0, 1) -> "0.ddd" ASCII [N, 2 + decimals]."""
    ints = np.minimum(np.round(values * 10 ** decimals), 10 ** decimals - 1)
    head = np.tile(np.frombuffer(b"0.", np.uint8), (len(values), 1))
    return np.concatenate([head, _digits(ints, decimals)], axis=1)


def _write_rows(path: str, columns) -> None:
    """Join ASCII column blocks [N, w_i] with commas and newlines, write in one go."""
    n = len(columns[0])
    comma = np.full((n, 1), ord(","), np.uint8)
    parts = []
    for i, c in enumerate(columns):
        parts.append(c)
        parts.append(comma if i < len(columns) - 1 else np.full((n, 1), ord("\n"), np.uint8))
    np.concatenate(parts, axis=1).tofile(path)


def make_case(folder: str, videos: int, keyframes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    with open(os.path.join(folder, "labelmap.pbtxt"), "w") as f:
        f.write("".join(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n' for i in EVAL_IDS))
    n_key = videos * keyframes
    vid_names = np.array([np.frombuffer(f"vid{v:08d}".encode(), np.uint8) for v in range(videos)])
    key_video = np.repeat(np.arange(videos), keyframes)
    key_ts = 902 + np.tile(np.arange(keyframes), videos)
    # actors
    n_act = rng.integers(1, 6, n_key)
    a_key = np.repeat(np.arange(n_key), n_act)
    xy = rng.uniform(0, 0.6, (len(a_key), 2))
    wh = rng.uniform(0.1, 0.39, (len(a_key), 2))
    a_box = np.c_[xy, xy + wh]
    n_lab = rng.integers(1, 4, len(a_key))
    g_actor = np.repeat(np.arange(len(a_key)), n_lab)
    g_action = np.array(EVAL_IDS)[rng.integers(0, 60, len(g_actor))]
    g_key = a_key[g_actor]
    gt_cols = [vid_names[key_video[g_key]], _digits(key_ts[g_key], 4)] + \
              [_fixed(a_box[g_actor, i], 3) for i in range(4)] + [_digits(g_action, 2), _digits(g_actor % 1000, 3)]
    _write_rows(os.path.join(folder, "gt.csv"), gt_cols)
    # detection boxes: actors jittered, plus false positives
    jit = np.clip(a_box + rng.normal(0, 0.03, a_box.shape), 0, 0.999)
    n_fp = rng.integers(0, 3, n_key)
    fp_key = np.repeat(np.arange(n_key), n_fp)
    fxy = rng.uniform(0, 0.7, (len(fp_key), 2))
    fp_box = np.c_[fxy, fxy + rng.uniform(0.05, 0.29, (len(fp_key), 2))]
    d_key = np.r_[a_key, fp_key]
    d_box = np.r_[jit, fp_box]
    d_box[:, 2:] = np.maximum(d_box[:, 2:], d_box[:, :2] + 0.002)
    d_actor = np.r_[np.arange(len(a_key)), np.full(len(fp_key), -1)]
    o = np.argsort(d_key, kind="stable")
    d_key, d_box, d_actor = d_key[o], d_box[o], d_actor[o]
    true = np.zeros((len(d_key), 81), dtype=bool)
    pos_of_actor = np.full(len(a_key), -1)
    pos_of_actor[d_actor[d_actor >= 0]] = np.flatnonzero(d_actor >= 0)
    true[pos_of_actor[g_actor], g_action] = True
    rows = np.repeat(np.arange(len(d_key)), 60)
    act = np.tile(np.array(EVAL_IDS), len(d_key))
    is_true = true[rows, act]
    score = np.where(is_true, rng.uniform(0.3, 1.0, len(rows)), rng.uniform(0, 0.5, len(rows)) ** 2)
    det_cols = [vid_names[key_video[d_key[rows]]], _digits(key_ts[d_key[rows]], 4)] + \
               [_fixed(d_box[rows, i], 3) for i in range(4)] + [_digits(act, 2), _fixed(score, 6)]
    _write_rows(os.path.join(folder, "det.csv"), det_cols)
    return len(g_actor), len(rows)


BASELINE = r'''
import csv, heapq, json, sys
import numpy as np

def read(path, white, cap):
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

labelmap, gt_path, det_path, out = sys.argv[1:5]
ids = [int(l.split(":")[1]) for l in open(labelmap) if l.strip().startswith("id:")]
white = set(ids)
gt, gt_keys = read(gt_path, white, 0)
det, _ = read(det_path, white, 50)
scores = {c: [] for c in ids}
tps = {c: [] for c in ids}
for key, rows in det.items():
    if key not in gt_keys:
        continue
    g_rows = gt.get(key, [])
    for c in ids:
        g = np.array([r[2:] for r in g_rows if r[1] == c]).reshape(-1, 4)
        used = np.zeros(len(g), bool)
        for r in rows:
            if r[1] != c or not (r[2] < r[4] and r[3] < r[5]):
                continue
            tp = False
            if len(g):
                ih = np.maximum(0.0, np.minimum(r[4], g[:, 2]) - np.maximum(r[2], g[:, 0]))
                iw = np.maximum(0.0, np.minimum(r[5], g[:, 3]) - np.maximum(r[3], g[:, 1]))
                inter = ih * iw
                iou = inter / ((r[4] - r[2]) * (r[5] - r[3]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter)
                j = int(np.argmax(iou))
                if iou[j] >= 0.5 and not used[j]:
                    used[j] = True
                    tp = True
            scores[c].append(r[0])
            tps[c].append(tp)
res = {}
for c in ids:
    n = sum(1 for rows in gt.values() for r in rows if r[1] == c)
    if n == 0:
        res[str(c)] = None
        continue
    s = np.array(scores[c]); t = np.array(tps[c], int)[np.argsort(s)[::-1]]
    ctp, cfp = np.cumsum(t), np.cumsum(1 - t)
    prec = ctp / np.maximum(ctp + cfp, 1); rec = ctp / n
    mrec = np.r_[0, rec, 1]; mpre = np.r_[0, prec, 0]
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.where(mrec[1:] != mrec[:-1])[0] + 1
    res[str(c)] = float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))
json.dump(res, open(out, "w"))
'''

OFFICIAL = r'''
import json, os, sys
import numpy as np
for name, val in (("float", float), ("NAN", np.nan), ("bool", np.bool_), ("int", int)):
    if not hasattr(np, name):
        setattr(np, name, val)  # aliases removed in numpy 2 that the 2018-era code uses
root = os.path.join(sys.argv[1], "Evaluation")
sys.path[:0] = [root, os.path.join(root, "ava")]
import pprint, logging
logging.disable(logging.CRITICAL)
import get_ava_performance as g
metrics = {}
pprint.pprint = lambda m, indent=2: metrics.update(m)
out = sys.argv.pop()
sys.argv = ["get_ava_performance.py"] + sys.argv[2:]
g.main()
json.dump({k: (None if v != v else float(v)) for k, v in metrics.items()}, open(out, "w"))
'''


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--official", default=None, help="checkout of activitynet/ActivityNet")
    p.add_argument("--videos", type=int, default=64)
    p.add_argument("--keyframes", type=int, default=901)
    p.add_argument("--quick", action="store_true", help="4 videos x 100 keyframes")
    p.add_argument("--keep", default=None, help="write the case to this folder and keep it")
    p.add_argument("--make-only", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make_only:  # runs in a child so that the parent stays small (children inherit its peak RSS)
        print(json.dumps(make_case(args.make_only, args.videos, args.keyframes)))
        return
    if args.quick:
        args.videos, args.keyframes = 4, 100
    folder = args.keep or tempfile.mkdtemp(prefix="ava_bench_")
    os.makedirs(folder, exist_ok=True)
    t = time.perf_counter()
    made = subprocess.run([sys.executable, __file__, "--make-only", folder, "--videos", str(args.videos),
                           "--keyframes", str(args.keyframes)], capture_output=True, text=True, check=True)
    n_gt, n_det = json.loads(made.stdout)
    print(f"case: {args.videos} videos x {args.keyframes} keyframes, {n_gt} ground-truth rows, "
          f"{n_det} detection rows ({os.path.getsize(os.path.join(folder, 'det.csv')) / 1e6:.0f} MB), "
          f"written in {time.perf_counter() - t:.1f} s")
    lm, gt, det = (os.path.join(folder, f) for f in ("labelmap.pbtxt", "gt.csv", "det.csv"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "core"), os.path.join(ROOT, "evaluation"),
                                                       os.environ.get("PYTHONPATH", "")]))
    ours_json, base_json = os.path.join(folder, "ours.json"), os.path.join(folder, "baseline.json")
    ours = run_measured([sys.executable, "-m", "evaluation.ava", "-l", lm, "-g", gt, "-d", det, "--json", ours_json], env)
    if args.official:
        script = os.path.join(folder, "run_official.py")
        with open(script, "w") as f:
            f.write(OFFICIAL)
        base = run_measured([sys.executable, script, os.path.abspath(args.official), "-l", lm, "-g", gt, "-d", det, base_json])
        name = "official ActivityNet get_ava_performance.py"
        names = {str(i): f"PascalBoxes_PerformanceByCategory/AP@0.5IOU/action {i}" for i in EVAL_IDS}
        base_ap = {k: json.load(open(base_json))[v] for k, v in names.items()}
    else:
        script = os.path.join(folder, "baseline.py")
        with open(script, "w") as f:
            f.write(BASELINE)
        base = run_measured([sys.executable, script, lm, gt, det, base_json])
        name = "per-keyframe reference (csv + heapq + loops)"
        base_ap = json.load(open(base_json))
    ours_ap = {k: v["ap"] for k, v in json.load(open(ours_json))["per_class"].items()}
    agree = all((base_ap[k] is None and ours_ap[k] is None) or
                (base_ap[k] is not None and ours_ap[k] is not None and abs(base_ap[k] - ours_ap[k]) <= 1e-9)
                for k in base_ap)
    print(f"baseline ({name}): wall {base[0]:.1f} s, cpu {base[1]:.1f} s, peak {base[2]:.0f} MB")
    print(f"ours (python -m evaluation.ava): wall {ours[0]:.1f} s, cpu {ours[1]:.1f} s, peak {ours[2]:.0f} MB")
    print(f"wall-clock ratio {base[0] / ours[0]:.2f} (depends on other load on the machine)")
    print(f"ava_eval: ratio={base[1] / ours[1]:.2f} (baseline {base[1]:.1f} s, ours {ours[1]:.1f} s), "
          f"agree={'true' if agree else 'false'}, peak_mem=(baseline {base[2]:.0f} MB, ours {ours[2]:.0f} MB)")


if __name__ == "__main__":
    main()
