"""Regenerate the small evaluation fixtures in this folder (deterministic).

    python tests/evaluation/data/make_fixtures.py

The expected numbers in tests/evaluation/test_*_golden.py were computed once by running the original
evaluators (ActivityNet ``get_ava_performance.py`` at af461c3 and be7854e, the ACT detector's
``ACT.py`` frameAP/videoAP, ActivityNet ``eval_kinetics.py``) on these files, from checkouts kept
outside the repository. Regenerating the files changes them only if this script changes.
"""

from __future__ import annotations

import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(x):
    return repr(float(np.float32(x)))


def ucf_fixture(rng: np.random.Generator) -> None:
    from core.formats.act import write_act_gt

    labels = ["walk", "jump", "wave"]
    nframes = {"walk/v1": 24, "walk/v2": 18, "jump/v3": 30, "jump/v4": 16, "wave/v5": 20, "walk/v0": 12}
    gttubes = {
        "walk/v1": {0: [np.c_[np.arange(1, 21), np.tile([10, 20, 60, 90], (20, 1))].astype(float)]},
        "walk/v2": {0: [np.c_[np.arange(3, 19), np.tile([100, 40, 150, 120], (16, 1))].astype(float)]},
        "jump/v3": {1: [np.c_[np.arange(1, 16), np.tile([50, 50, 100, 140], (15, 1))].astype(float),
                        np.c_[np.arange(10, 31), np.tile([150, 60, 220, 170], (21, 1))].astype(float)]},
        "jump/v4": {1: [np.c_[np.arange(2, 17), np.tile([30, 30, 80, 100], (15, 1))].astype(float)]},
        "wave/v5": {2: [np.c_[np.arange(1, 21), np.tile([200, 10, 300, 200], (20, 1))].astype(float)]},
        "walk/v0": {0: [np.c_[np.arange(1, 13), np.tile([0, 0, 50, 50], (12, 1))].astype(float)]},
    }
    for d in gttubes.values():  # move the boxes a little over time
        for tubes in d.values():
            for t in tubes:
                t[:, 1:] += np.round(rng.normal(0, 2, (len(t), 4)))
                t[:, 3] = np.maximum(t[:, 3], t[:, 1] + 5)
                t[:, 4] = np.maximum(t[:, 4], t[:, 2] + 5)
    test = ["walk/v1", "walk/v2", "jump/v3", "jump/v4", "wave/v5"]
    gt = {"labels": labels, "gttubes": {v: {k: [t.astype(np.float32) for t in ts] for k, ts in d.items()}
                                        for v, d in gttubes.items()},
          "nframes": nframes, "train_videos": [["walk/v0"]], "test_videos": [test],
          "resolution": {v: (240, 320) for v in nframes}}
    write_act_gt(os.path.join(HERE, "ucf_gt.pkl"), gt)

    # Frame detections: noisy copies of the ground truth (some far off), false positives, wrong
    # classes, scores on a 0.05 grid so that ties occur, boxes partly outside the frame.
    lines = ["video,frame,label,score,x1,y1,x2,y2"]
    for v in test:
        for f in range(1, nframes[v] + 1):
            for lab, tubes in gt["gttubes"][v].items():
                for t in tubes:
                    hit = np.flatnonzero(t[:, 0] == f)
                    if len(hit) and rng.random() < 0.85:
                        b = t[hit[0], 1:] + rng.normal(0, rng.choice([2, 12]), 4)
                        b[2:] = np.maximum(b[2:], b[:2] + 1)
                        lab_d = lab if rng.random() < 0.85 else int(rng.integers(0, 3))
                        lines.append(f"{v},{f},{lab_d},{f32(np.round(rng.random() * 20) / 20)},"
                                     + ",".join(f32(x) for x in b))
            for _ in range(int(rng.integers(0, 2))):
                x, y = rng.uniform(-20, 300), rng.uniform(-20, 220)
                w, h = rng.uniform(10, 80, 2)
                lines.append(f"{v},{f},{int(rng.integers(0, 3))},{f32(np.round(rng.random() * 20) / 20)},"
                             + ",".join(f32(z) for z in (x, y, x + w, y + h)))
    with open(os.path.join(HERE, "ucf_dets.csv"), "w") as fh:
        fh.write("\n".join(lines) + "\n")

    # Tubes: ground-truth tubes cut and shifted in time, jittered, plus false tubes.
    tubes = []
    for v in test:
        for lab, ts in gt["gttubes"][v].items():
            for t in ts:
                for _ in range(int(rng.integers(1, 4))):
                    a = int(rng.integers(0, len(t) // 8 + 1))
                    b = int(rng.integers(max(a + 2, len(t) - len(t) // 8), len(t) + 1))
                    seg = t[a:b].astype(np.float64).copy()
                    seg[:, 1:] += rng.normal(0, rng.choice([0.3, 1, 4]), (len(seg), 4))
                    seg[:, 3] = np.maximum(seg[:, 3], seg[:, 1] + 1)
                    seg[:, 4] = np.maximum(seg[:, 4], seg[:, 2] + 1)
                    lab_d = lab if rng.random() < 0.8 else int(rng.integers(0, 3))
                    tubes.append({"video": v, "label": lab_d, "score": float(np.float32(np.round(rng.random() * 10) / 10)),
                                  "boxes": [[int(r[0])] + [float(np.float32(x)) for x in r[1:]] for r in seg]})
        s = int(rng.integers(1, nframes[v] - 3))
        e = int(rng.integers(s + 2, nframes[v] + 1))
        tubes.append({"video": v, "label": int(rng.integers(0, 3)), "score": float(np.float32(rng.random())),
                      "boxes": [[f, 10.0, 10.0, 60.0, 60.0] for f in range(s, e + 1)]})
    with open(os.path.join(HERE, "ucf_tubes.json"), "w") as fh:
        json.dump(tubes, fh)


def ava_fixture(rng: np.random.Generator) -> None:
    ids = [1, 3, 5, 8, 12, 17, 64, 80]  # 80 never appears in the ground truth
    names = ["bend/bow", "crouch", "fall down", "lie/sleep", "stand", "carry/hold", "fight/hit", "watch"]
    types = ["PERSON_MOVEMENT"] * 5 + ["OBJECT_MANIPULATION", "PERSON_INTERACTION", "PERSON_INTERACTION"]
    with open(os.path.join(HERE, "ava_labelmap_item.pbtxt"), "w") as fh:
        fh.write("".join(f'item {{\n  name: "{n}"\n  id: {i}\n}}\n' for i, n in zip(ids, names)))
    with open(os.path.join(HERE, "ava_labelmap_label.pbtxt"), "w") as fh:
        fh.write("".join(f'label {{\n  name: "{n}"\n  label_id: {i}\n  label_type: {t}\n}}\n'
                         for i, n, t in zip(ids, names, types)))
    gt_lines, det_lines = [], []
    keyframes = [(v, t) for v in ("vidA", "vidB", "vid_C-1") for t in range(902, 909)]
    gt_actions = [1, 3, 5, 8, 12, 17, 64, 2]  # 2 is not in the label map: dropped
    for k, (v, t) in enumerate(keyframes):
        ts = f"{t:04d}" if k % 3 else str(t)  # 0902 and 902 name the same keyframe
        if k % 7 == 6:
            gt_lines.append(f"{v},{ts}")  # keyframe without boxes (2-column row)
            persons = []
        else:
            persons = []
            for p in range(int(rng.integers(1, 4))):
                x1, y1 = rng.uniform(-0.05, 0.6, 2)
                w, h = rng.uniform(0.1, 0.5, 2)
                box = np.round([x1, y1, min(x1 + w, 1.05), min(y1 + h, 1.02)], 3)
                acts = rng.choice(gt_actions, size=int(rng.integers(1, 3)), replace=False)
                persons.append((box, set(int(a) for a in acts)))
                for a in acts:
                    gt_lines.append(f"{v},{ts}," + ",".join(f"{c:.3f}" for c in box) + f",{a},{p}")
        # detections: each person jittered, scored for every label-map class on a coarse grid (ties)
        boxes = [(b + np.round(rng.normal(0, rng.choice([0.01, 0.08]), 4), 3), acts) for b, acts in persons]
        boxes += [(np.round(np.r_[xy, xy + rng.uniform(0.05, 0.3, 2)], 3), set())
                  for xy in rng.uniform(0, 0.7, (int(rng.integers(0, 2)), 2))]
        if k == 4:  # a crowded keyframe: more than 50 rows, ties at the cap boundary
            boxes += [(np.round(np.r_[xy, xy + 0.2], 3), set()) for xy in rng.uniform(0, 0.7, (6, 2))]
        for b, acts in boxes:
            b = np.r_[b[:2], np.maximum(b[2:], b[:2])]
            for a in ids + [2]:
                sc = np.round((0.4 + 0.6 * rng.random() if a in acts else 0.7 * rng.random()) * 10) / 10
                det_lines.append(f"{v},{ts}," + ",".join(f"{c:.3f}" for c in b) + f",{a},{sc:.1f}")
    det_lines.append("vidA,0905,0.2,0.2,0.2,0.6,12")  # 7 columns: score 1.0
    det_lines.append("vidA,0906,0.3,0.3,0.3,0.5,12,0.9")  # zero width: dropped by the evaluator
    det_lines += [f"vidZ,0903,0.1,0.1,0.5,0.5,{a},0.5" for a in (1, 12)]  # keyframe absent from GT
    order = rng.permutation(len(det_lines))  # rows of a keyframe need not be contiguous
    det_lines = [det_lines[i] for i in np.sort(order[: len(order) // 3])] + [det_lines[i] for i in np.sort(order[len(order) // 3:])]
    with open(os.path.join(HERE, "ava_gt.csv"), "w") as fh:
        fh.write("\n".join(gt_lines) + "\n")
    with open(os.path.join(HERE, "ava_dets.csv"), "w") as fh:
        fh.write("\n".join(det_lines) + "\n")
    with open(os.path.join(HERE, "ava_gt_7col.csv"), "w") as fh:  # for the 2018 evaluator (no 2-column rows)
        fh.write("\n".join(line for line in gt_lines if line.count(",") > 1) + "\n")
    with open(os.path.join(HERE, "ava_exclusions.csv"), "w") as fh:
        fh.write("vidB,0904\nvid_C-1,907\n")
    open(os.path.join(HERE, "ava_dets_empty.csv"), "w").close()


def kinetics_fixture(rng: np.random.Generator) -> None:
    classes = [f"class {c}" for c in "abcdefgh"]
    database, results = {}, {}
    for i in range(40):
        vid = f"yt{i:03d}"
        labels = [classes[int(rng.integers(0, 7))]]  # "class h" has no ground truth
        if i % 9 == 0:
            labels.append(classes[int(rng.integers(0, 7))])  # multi-label (maybe duplicated)
        database[vid] = {"subset": "validation" if i % 10 else "training",
                         "annotations": [{"label": lab, "segment": [0, 10]} for lab in labels]}
        if i % 13 == 5:
            continue  # no predictions for this video
        k = 5 if i % 4 else 7
        pred = rng.choice(classes[:7], size=k, replace=False)  # the original stops on unseen labels
        scores = np.round(rng.random(k) * 5) / 5  # coarse: ties, also at the top-5 boundary
        results[vid] = [{"label": str(c), "score": float(s)} for c, s in zip(pred, scores)]
    results["not_in_gt"] = [{"label": "class a", "score": 0.9}]
    gt = {"version": "fixture", "taxonomy": [{"nodeName": c} for c in classes], "database": database}
    with open(os.path.join(HERE, "kinetics_gt.json"), "w") as fh:
        json.dump(gt, fh)
    with open(os.path.join(HERE, "kinetics_pred.json"), "w") as fh:
        json.dump({"version": "fixture", "results": results, "external_data": {}}, fh)


if __name__ == "__main__":
    ucf_fixture(np.random.default_rng(7))
    ava_fixture(np.random.default_rng(11))
    kinetics_fixture(np.random.default_rng(5))
