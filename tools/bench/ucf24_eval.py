"""Benchmark: ``python -m evaluation.ucf24`` (frame-mAP and video-mAP, ``--protocol act``) on a UCF24-test-sized case.

    python tools/bench/ucf24_eval.py [--videos 910] [--frames 180] [--quick]

The case: ``videos`` test videos of ~``frames`` frames (24 classes, 1-2 ground-truth tubes each),
~10 detections per frame (jittered ground truth with its class or a wrong one, false positives,
scores on a 1e-6 grid), and per video a few tubes (jittered, temporally cut ground truth plus false
tubes). The baseline is the ACT detector's frameAP / videoAP loops transcribed line by line to
Python 3 (ACT's own scripts need Python 2 and caffe): a dictionary of ground truth per frame, one
``iou2d`` / ``iou3dt`` call per detection, ``nms3dt`` per video and class. Each side runs in its own
process (wall, CPU and peak memory from ``os.wait4``); the ratio is on CPU time (both sides are
single-threaded; wall time depends on other load and is printed too); the last line reads
``ucf24_eval: ratio=R.RR (baseline X s, ours Y s), agree=true, ...``.
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
sys.path[:0] = [os.path.join(ROOT, "core")]


def make_case(folder: str, videos: int, frames: int, seed: int = 0):
    from core.formats.act import write_act_gt

    rng = np.random.default_rng(seed)
    labels = [f"class{c:02d}" for c in range(24)]
    names = [f"class{v % 24:02d}/v{v:04d}" for v in range(videos)]
    nframes = {n: int(rng.integers(frames * 2 // 3, frames * 4 // 3)) for n in names}
    gttubes = {}
    for v, n in enumerate(names):
        tubes = []
        for _ in range(int(rng.integers(1, 3))):
            s = int(rng.integers(1, nframes[n] // 3))
            e = int(rng.integers(2 * nframes[n] // 3, nframes[n] + 1))
            xy = rng.uniform(0, 200, 2)
            box = np.r_[xy, xy + rng.uniform(30, 110, 2)]
            walk = np.cumsum(rng.normal(0, 1, (e - s + 1, 4)), axis=0)
            b = np.round(box + walk)
            b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 10)
            tubes.append(np.c_[np.arange(s, e + 1), b].astype(np.float32))
        gttubes[n] = {v % 24: tubes}
    gt = {"labels": labels, "gttubes": gttubes, "nframes": nframes, "train_videos": [[]], "test_videos": [names],
          "resolution": {n: (240, 320) for n in names}}
    write_act_gt(os.path.join(folder, "gt.pkl"), gt)

    rows = []
    tubes_out = []
    for v, n in enumerate(names):
        lab = v % 24
        nf = nframes[n]
        for t in gttubes[n][lab]:
            f = t[:, 0].astype(int)
            keep = rng.random(len(f)) < 0.9
            m = int(keep.sum())
            wrong = rng.random(m) < 0.15
            dl = np.where(wrong, rng.integers(0, 24, m), lab)
            b = t[keep, 1:] + rng.normal(0, 4, (m, 4))
            b[:, 2:] = np.maximum(b[:, 2:], b[:, :2] + 1)
            sc = np.round(np.where(wrong, rng.uniform(0, 0.6, m), rng.uniform(0.3, 1, m)), 6)
            rows.append(np.c_[np.full(m, v), f[keep], dl, sc, b])
            for _ in range(int(rng.integers(1, 3))):  # tubes: cut and jittered copies
                a = int(rng.integers(0, len(t) // 4 + 1))
                z = int(rng.integers(max(a + 2, 3 * len(t) // 4), len(t) + 1))
                seg = t[a:z].astype(np.float64)
                seg[:, 1:] += rng.normal(0, 3, (len(seg), 4))
                seg[:, 3:] = np.maximum(seg[:, 3:], seg[:, 1:3] + 1)
                tubes_out.append({"video": n, "label": int(lab if rng.random() < 0.85 else rng.integers(0, 24)),
                                  "score": float(np.round(rng.random(), 6)),
                                  "boxes": np.round(seg, 2).tolist()})
        n_fp = 8 * nf
        fpf = rng.integers(1, nf + 1, n_fp)
        xy = rng.uniform(0, 250, (n_fp, 2))
        rows.append(np.c_[np.full(n_fp, v), fpf, rng.integers(0, 24, n_fp), np.round(rng.uniform(0, 0.7, n_fp), 6),
                          xy, xy + rng.uniform(10, 70, (n_fp, 2))])
        s = int(rng.integers(1, nf - 10))
        tubes_out.append({"video": n, "label": int(rng.integers(0, 24)), "score": float(np.round(rng.random() * 0.5, 6)),
                          "boxes": [[fr, 10.0, 10.0, 80.0, 90.0] for fr in range(s, min(nf, s + 40) + 1)]})
    det = np.concatenate(rows)
    det = det[np.lexsort((det[:, 1], det[:, 0]))]
    with open(os.path.join(folder, "dets.csv"), "w") as f:
        f.write("video,frame,label,score,x1,y1,x2,y2\n")
        vid = np.array(names, dtype=object)[det[:, 0].astype(int)]
        body = (vid + "," + det[:, 1].astype(int).astype(str).astype(object) + "," + det[:, 2].astype(int).astype(str).astype(object)
                + "," + np.char.mod("%.6f", det[:, 3]).astype(object))
        for k in range(4, 8):
            body = body + "," + np.char.mod("%.2f", det[:, k]).astype(object)
        f.write("\n".join(body) + "\n")
    with open(os.path.join(folder, "tubes.json"), "w") as f:
        json.dump(tubes_out, f)
    return len(det), len(tubes_out)


BASELINE = r'''
import csv, json, sys
import numpy as np
sys.path.insert(0, sys.argv[5])
from core.io import safe_load_pickle

def area2d(b):
    return (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)

def overlap2d(b1, b2):
    xmin = np.maximum(b1[:, 0], b2[:, 0]); ymin = np.maximum(b1[:, 1], b2[:, 1])
    xmax = np.minimum(b1[:, 2] + 1, b2[:, 2] + 1); ymax = np.minimum(b1[:, 3] + 1, b2[:, 3] + 1)
    return np.maximum(0, xmax - xmin) * np.maximum(0, ymax - ymin)

def iou2d(b1, b2):
    if b1.ndim == 1: b1 = b1[None, :]
    if b2.ndim == 1: b2 = b2[None, :]
    ov = overlap2d(b1, b2)
    return ov / (area2d(b1) + area2d(b2) - ov)

def iou3d(b1, b2):
    ov = overlap2d(b1[:, 1:5], b2[:, 1:5])
    return np.mean(ov / (area2d(b1[:, 1:5]) + area2d(b2[:, 1:5]) - ov))

def iou3dt(b1, b2):
    tmin = max(b1[0, 0], b2[0, 0]); tmax = min(b1[-1, 0], b2[-1, 0])
    if tmax < tmin: return 0.0
    ti = tmax - tmin + 1
    tu = max(b1[-1, 0], b2[-1, 0]) - min(b1[0, 0], b2[0, 0]) + 1
    t1 = b1[int(np.where(b1[:, 0] == tmin)[0][0]): int(np.where(b1[:, 0] == tmax)[0][0]) + 1, :]
    t2 = b2[int(np.where(b2[:, 0] == tmin)[0][0]): int(np.where(b2[:, 0] == tmax)[0][0]) + 1, :]
    return iou3d(t1, t2) * (ti / tu)

def nms3dt(tubes, overlap=0.5):
    if not tubes: return np.array([], dtype=np.int32)
    I = np.argsort([t[1] for t in tubes]); indices = np.zeros(I.size, dtype=np.int32); counter = 0
    while I.size > 0:
        i = I[-1]; indices[counter] = i; counter += 1
        ious = np.array([iou3dt(tubes[ii][0], tubes[i][0]) for ii in I[:-1]])
        I = I[np.where(ious <= overlap)[0]]
    return indices[:counter]

def pr_to_ap(pr):
    return np.sum((pr[1:, 1] - pr[:-1, 1]) * (pr[1:, 0] + pr[:-1, 0]) * 0.5)

gt = safe_load_pickle(sys.argv[1]); vlist = gt["test_videos"][0]; vidx = {v: i for i, v in enumerate(vlist)}
rows = list(csv.reader(open(sys.argv[2])))[1:]
alldets = np.array([[vidx[r[0]], int(r[1]), int(r[2]), float(r[3])] + [float(x) for x in r[4:8]] for r in rows], dtype=np.float32)
alldets = alldets[np.lexsort((alldets[:, 2], alldets[:, 1], alldets[:, 0]))]
out = {"frame": {}, "video": {}}
for ilabel, label in enumerate(gt["labels"]):
    detections = alldets[alldets[:, 2] == ilabel, :]
    g = {}
    for iv, v in enumerate(vlist):
        tubes = gt["gttubes"][v]
        if ilabel not in tubes: continue
        for tube in tubes[ilabel]:
            for i in range(tube.shape[0]):
                g.setdefault((iv, int(tube[i, 0])), []).append(tube[i, 1:5].tolist())
    g = {k: np.array(v) for k, v in g.items()}
    pr = np.empty((detections.shape[0] + 1, 2), dtype=np.float32); pr[0] = (1.0, 0.0)
    fn = sum(x.shape[0] for x in g.values()); fp = tp = 0
    for i, j in enumerate(np.argsort(-detections[:, 3])):
        k = (int(detections[j, 0]), int(detections[j, 1])); ok = False
        if k in g:
            ious = iou2d(g[k], detections[j, 4:8]); amax = np.argmax(ious)
            if ious[amax] >= 0.5:
                ok = True; g[k] = np.delete(g[k], amax, 0)
                if g[k].size == 0: del g[k]
        if ok: tp += 1; fn -= 1
        else: fp += 1
        pr[i + 1, 0] = tp / (tp + fp); pr[i + 1, 1] = tp / (tp + fn)
    out["frame"][label] = float(pr_to_ap(pr))
tubes = json.load(open(sys.argv[3]))
per = {}
for t in tubes:
    if t["video"] in vidx:
        per.setdefault((t["video"], t["label"]), []).append((np.array(t["boxes"], dtype=np.float32), np.float32(t["score"])))
alltubes = {l: [] for l in range(len(gt["labels"]))}
for v in vlist:
    for l in range(len(gt["labels"])):
        lt = per.get((v, l), [])
        alltubes[l] += [(v, lt[i][1], lt[i][0]) for i in nms3dt(lt, 0.3)]
for th in [0.2, 0.5, 0.75]:
    res = {}
    for l, label in enumerate(gt["labels"]):
        dets = alltubes[l]
        g = {v: list(gt["gttubes"][v][l]) for v in vlist if l in gt["gttubes"][v]}
        pr = np.empty((len(dets) + 1, 2), dtype=np.float32); pr[0] = (1.0, 0.0)
        fn = sum(len(x) for x in g.values()); fp = tp = 0
        for i, j in enumerate(np.argsort(-np.array([d[1] for d in dets]))):
            v, score, tube = dets[j]; ok = False
            if v in g:
                ious = [iou3dt(x, tube) for x in g[v]]; amax = np.argmax(ious)
                if ious[amax] >= th:
                    ok = True; del g[v][amax]
                    if not g[v]: del g[v]
            if ok: tp += 1; fn -= 1
            else: fp += 1
            pr[i + 1, 0] = tp / (tp + fp); pr[i + 1, 1] = tp / (tp + fn)
        res[label] = float(pr_to_ap(pr))
    out["video"][str(th)] = res
json.dump(out, open(sys.argv[4], "w"))
'''


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=910)
    p.add_argument("--frames", type=int, default=180)
    p.add_argument("--quick", action="store_true", help="60 videos")
    p.add_argument("--keep", default=None, help="write the case to this folder and keep it")
    p.add_argument("--make-only", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.make_only:  # runs in a child so that the parent stays small (children inherit its peak RSS)
        print(json.dumps(make_case(args.make_only, args.videos, args.frames)))
        return
    if args.quick:
        args.videos = 60
    folder = args.keep or tempfile.mkdtemp(prefix="ucf24_bench_")
    os.makedirs(folder, exist_ok=True)
    t = time.perf_counter()
    made = subprocess.run([sys.executable, __file__, "--make-only", folder, "--videos", str(args.videos),
                           "--frames", str(args.frames)], capture_output=True, text=True, check=True)
    n_det, n_tubes = json.loads(made.stdout)
    print(f"case: {args.videos} videos, {n_det} frame detections, {n_tubes} tubes, written in {time.perf_counter() - t:.1f} s")
    gt, dets, tubes = (os.path.join(folder, f) for f in ("gt.pkl", "dets.csv", "tubes.json"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "core"), os.path.join(ROOT, "evaluation"),
                                                       os.environ.get("PYTHONPATH", "")]))
    fj, vj, bj = (os.path.join(folder, f) for f in ("frame.json", "video.json", "baseline.json"))
    t1 = run_measured([sys.executable, "-m", "evaluation.ucf24", "frame-map", "--gt", gt, "--detections", dets, "--json", fj], env)
    t2 = run_measured([sys.executable, "-m", "evaluation.ucf24", "video-map", "--gt", gt, "--tubes", tubes, "--json", vj], env)
    ours = (t1[0] + t2[0], t1[1] + t2[1], max(t1[2], t2[2]))
    script = os.path.join(folder, "baseline.py")
    with open(script, "w") as f:
        f.write(BASELINE)
    base = run_measured([sys.executable, script, gt, dets, tubes, bj, os.path.join(ROOT, "core")], env)
    b = json.load(open(bj))
    fr, vr = json.load(open(fj))["per_class"], json.load(open(vj))["per_class"]
    agree = all(abs(fr[k] - v) <= 1e-9 for k, v in b["frame"].items())
    agree &= all(abs(vr[k][th] - v) <= 1e-9 for th, d in b["video"].items() for k, v in d.items())
    print(f"baseline (ACT frameAP/videoAP loops): wall {base[0]:.1f} s, cpu {base[1]:.1f} s, peak {base[2]:.0f} MB")
    print(f"ours (evaluation.ucf24 frame-map + video-map): wall {ours[0]:.1f} s, cpu {ours[1]:.1f} s, peak {ours[2]:.0f} MB")
    print(f"wall-clock ratio {base[0] / ours[0]:.2f} (depends on other load on the machine)")
    print(f"ucf24_eval: ratio={base[1] / ours[1]:.2f} (baseline {base[1]:.1f} s, ours {ours[1]:.1f} s), "
          f"agree={'true' if agree else 'false'}, peak_mem=(baseline {base[2]:.0f} MB, ours {ours[2]:.0f} MB)")


if __name__ == "__main__":
    main()
