"""UCF101-24 / JHMDB-21 frame-mAP and video-mAP, in the ACT detector's or realtime-action-detection's rules.

    python -m evaluation.ucf24 frame-map --gt GT --detections DETS.csv [--protocol act|road] [--split 1] [--iou 0.5] [--json OUT]
    python -m evaluation.ucf24 video-map --gt GT --tubes TUBES.json [--protocol act|road] [--split 1] [--json OUT]

GT: a gurkirt ``pyannot.pkl`` (with ``trainlist/testlist{split:02d}.txt`` beside it) or an ACT
``*-GT.pkl``, told apart by structure (:func:`core.formats.act.read_gt_any`). Only the test videos of
the split are evaluated; detections of other known videos are ignored (with a note on stderr).

DETS.csv: ``video,frame,label,score,x1,y1,x2,y2`` (optional header; frame 1-based, label 0-based,
pixels 0-based inclusive as ACT). TUBES.json: ``[{"video", "label", "score", "boxes": [[frame, x1,
y1, x2, y2], ...]}, ...]`` with frames increasing.

``--protocol act`` (vkalogeiton/caffe ``act-detector-scripts/ACT.py``): frame-AP over all frames of
the test videos, ``iou2d`` with +1 areas, best remaining ground truth, TP at IoU >= threshold, float32
precision/recall, trapezoid AP; detections within a (video, frame, class) are taken in file order and
the rows laid out as ACT's (video in test-list order, frame, class) before its ``argsort(-score)``.
Video-AP: ACT's ``nms3dt`` at 0.3 per (video, class) first (idempotent on tubes already suppressed),
``iou3dt``, TP at >= threshold, trapezoid AP. Classes without ground truth are left out of the mean.

``--protocol road`` (gurkirt/realtime-action-detection ``online-tubes``, MATLAB): frame-AP as
``frameAp.m`` (rectint +1 IoU, TP at >= threshold), video-AP as ``get_PR_curve.m``: ST-IoU =
temporal IoU (with its +1 rule) x mean per-frame IoU, TP only strictly above the threshold, VOC
all-point AP (xVOCap), classes without ground truth count 0 in the mean (the original's NaN -> 0).
MATLAB accumulates in single precision; these numbers are float64 (scores are rounded to single first,
which is what decides ties).

Video-mAP is reported at 0.2, 0.5, 0.75 and "0.5:0.95" (the mean over 0.5, 0.55, ..., 0.95), with the
video classification accuracy (label of each test video's highest-scoring tube vs its ground-truth
label; videos without tubes count as wrong).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from core.errors import DataError, cli_errors
from core.formats.act import read_gt_any
from core.io import atomic_write_json
from core.metrics import act_frame_ap, act_video_ap, make_tubes, nms3dt, road_frame_ap, road_video_ap
from evaluation.report import nan_to_none, print_table

PROTOCOLS = ("act", "road")
VIDEO_THRESHOLDS = (0.2, 0.5, 0.75) + tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


class GroundTruth:
    """The test split of an ACT-form ground truth, flattened.

    videos: test videos in list order; nframes [V]; labels: class names; tubes: list of [n, 5] arrays
    with tube_video [T] (index into videos) and tube_label [T], in (video, label, tube) order.
    """

    def __init__(self, path: str, split: int):
        gt = read_gt_any(path, split=split)
        splits = gt["test_videos"]
        if len(splits) == 1:
            videos = list(splits[0])
        elif 1 <= split <= len(splits):
            videos = list(splits[split - 1])
        else:
            raise DataError(path, f"expected a split in 1..{len(splits)}, got {split}")
        self.path = path
        self.labels: List[str] = list(gt["labels"])
        self.videos = videos
        self.known = set(gt["nframes"])
        self.index = {v: i for i, v in enumerate(videos)}
        self.nframes = np.array([int(gt["nframes"][v]) for v in videos], dtype=np.int64)
        self.tubes: List[np.ndarray] = []
        tv, tl = [], []
        for i, v in enumerate(videos):
            for label in sorted(gt["gttubes"].get(v, {})):
                for t in gt["gttubes"][v][label]:
                    t = np.asarray(t)
                    if len(t):
                        self.tubes.append(t)
                        tv.append(i)
                        tl.append(int(label))
        self.tube_video = np.array(tv, dtype=np.int64)
        self.tube_label = np.array(tl, dtype=np.int64)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def frame_boxes(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every ground-truth box -> (video [B], frame [B], label [B], box [B, 4]) in tube order."""
        if not self.tubes:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4))
        lengths = np.array([len(t) for t in self.tubes])
        flat = np.concatenate(self.tubes).astype(np.float64)
        return (np.repeat(self.tube_video, lengths), flat[:, 0].astype(np.int64),
                np.repeat(self.tube_label, lengths), flat[:, 1:5])

    def video_labels(self) -> np.ndarray:
        """[V] label of each test video (its last tube's, as get_PR_curve.m), -1 without tubes."""
        out = np.full(len(self.videos), -1, dtype=np.int64)
        out[self.tube_video] = self.tube_label  # later tubes overwrite earlier ones
        return out


def _note_ignored(path: str, n: int, what: str) -> None:
    if n:
        print(f"note: {path}: {n} {what} of videos outside the test split were ignored", file=sys.stderr)


def read_detections(path: str, gt: GroundTruth) -> Dict[str, np.ndarray]:
    """Read DETS.csv -> arrays video (test index), frame, label, score, box [N, 4], in file order."""
    cols = ["video", "frame", "label", "score", "x1", "y1", "x2", "y2"]
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    header = first.split(",")[:2] == ["video", "frame"]
    try:
        df = pd.read_csv(path, header=None, names=cols, skiprows=1 if header else 0, dtype={"video": str},
                         keep_default_na=False, na_values=[""], skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    except pd.errors.ParserError as e:
        raise DataError(path, f"expected 8 comma-separated columns {','.join(cols)} ({str(e).strip()})") from None
    rows = np.arange(1, len(df) + 1) + (1 if header else 0)
    values = {}
    for c in cols[1:]:
        raw = df[c]
        v = raw.to_numpy(np.float64) if raw.dtype.kind in "fiu" else pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(v)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(path, f"expected a finite number for {c}, got {raw.iloc[i]!r}", f"row {rows[i]}")
        values[c] = v
    codes, uniq = pd.factorize(df["video"].to_numpy(dtype=object))
    video = np.asarray(uniq, dtype=object)
    known = np.array([v in gt.known for v in video], dtype=bool)
    if len(codes) and not known[codes].all():
        i = int(np.argmax(~known[codes]))
        raise DataError(path, f"unknown video {video[codes[i]]!r} (not in the ground truth {gt.path})", f"row {rows[i]}")
    vidx = np.array([gt.index.get(v, -1) for v in video], dtype=np.int64)[codes] if len(codes) else np.zeros(0, np.int64)
    video = video[codes] if len(codes) else video
    frame, label = values["frame"], values["label"]
    for name, arr in (("frame", frame), ("label", label)):
        bad = arr != np.round(arr)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(path, f"expected an integer {name}, got {arr[i]}", f"row {rows[i]}")
    bad = (label < 0) | (label >= gt.num_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"unknown class id {int(label[i])} (expected 0..{gt.num_classes - 1})", f"row {rows[i]}")
    box = np.stack([values[c] for c in ("x1", "y1", "x2", "y2")], axis=1)
    bad = (box[:, 2] < box[:, 0]) | (box[:, 3] < box[:, 1])
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"expected x1 <= x2 and y1 <= y2, got box {box[i].tolist()}", f"row {rows[i]}")
    test = vidx >= 0
    nf = np.where(test, gt.nframes[np.maximum(vidx, 0)], 0)
    bad = test & ((frame < 1) | (frame > nf))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"frame {int(frame[i])} outside 1..{int(nf[i])} of video {video[i]!r}", f"row {rows[i]}")
    _note_ignored(path, int((~test).sum()), "detections")
    return {"video": vidx[test], "frame": frame[test].astype(np.int64), "label": label[test].astype(np.int64),
            "score": values["score"][test], "box": box[test]}


def frame_map(gt: GroundTruth, det: Dict[str, np.ndarray], protocol: str, iou: float = 0.5) -> dict:
    """Frame-mAP -> {"frame_mAP", "per_class": {name: ap}}."""
    span = int(gt.nframes.max()) + 1 if len(gt.nframes) else 1
    gv, gf, gl, gb = gt.frame_boxes()
    gt_image = gv * span + gf
    det_image = det["video"] * span + det["frame"]
    if protocol == "act":
        # ACT's alldets layout: videos in test-list order, frames, classes; file order inside.
        o = np.lexsort((det["label"], det_image))
        res = act_frame_ap(det_image[o], det["label"][o], det["score"][o], det["box"][o],
                           gt_image, gl, gb, gt.num_classes, iou)
        ap = res.ap
        mean = float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan")
    elif protocol == "road":
        res = road_frame_ap(det_image, det["label"], det["score"], det["box"], gt_image, gl, gb, gt.num_classes, iou)
        ap = res.ap
        mean = float(np.mean(ap)) if len(ap) else float("nan")
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    return {"frame_mAP": mean, "per_class": {name: float(a) for name, a in zip(gt.labels, ap)}}


def read_tubes(path: str, gt: GroundTruth):
    """Read TUBES.json -> (list of [n, 5] arrays, video [T] test index, label [T], score [T]) of test videos."""
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as e:
            raise DataError(path, f"not valid json ({e.msg})", f"line {e.lineno}") from None
    if not isinstance(data, list):
        raise DataError(path, "expected a json list of tubes {video, label, score, boxes}")
    tubes, video, label, score = [], [], [], []
    ignored = 0
    for i, t in enumerate(data):
        where = f"tube {i}"
        if not isinstance(t, dict) or not {"video", "label", "score", "boxes"} <= set(t):
            raise DataError(path, "expected an object with video, label, score, boxes", where)
        if t["video"] not in gt.known:
            raise DataError(path, f"unknown video {t['video']!r} (not in the ground truth {gt.path})", where)
        lab = t["label"]
        if not isinstance(lab, int) or isinstance(lab, bool) or not 0 <= lab < gt.num_classes:
            raise DataError(path, f"unknown class id {lab!r} (expected 0..{gt.num_classes - 1})", where)
        sc = t["score"]
        if not isinstance(sc, (int, float)) or isinstance(sc, bool) or not np.isfinite(sc):
            raise DataError(path, f"expected a finite score, got {sc!r}", where)
        try:
            b = np.asarray(t["boxes"], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(path, "expected boxes as [[frame, x1, y1, x2, y2], ...]", where) from None
        if b.ndim != 2 or b.shape[1] != 5 or len(b) == 0 or not np.isfinite(b).all():
            raise DataError(path, f"expected boxes as a non-empty [n, 5] list of finite numbers, got shape {b.shape}", where)
        fr = b[:, 0]
        if np.any(fr != np.round(fr)) or np.any(np.diff(fr) <= 0):
            raise DataError(path, "expected integer frames in increasing order", where)
        if np.any((b[:, 3] < b[:, 1]) | (b[:, 4] < b[:, 2])):
            raise DataError(path, "expected x1 <= x2 and y1 <= y2 in every box", where)
        vi = gt.index.get(t["video"], -1)
        if vi < 0:
            ignored += 1
            continue
        if fr[0] < 1 or fr[-1] > gt.nframes[vi]:
            raise DataError(path, f"frames outside 1..{int(gt.nframes[vi])} of video {t['video']!r}", where)
        tubes.append(b)
        video.append(vi)
        label.append(lab)
        score.append(float(sc))
    _note_ignored(path, ignored, "tubes")
    return tubes, np.array(video, np.int64), np.array(label, np.int64), np.array(score, np.float64)


def video_map(gt: GroundTruth, tubes, video, label, score, protocol: str, tube_nms: Optional[float] = None) -> dict:
    """Video-mAP -> {"video_mAP": {"0.2", "0.5", "0.75", "0.5:0.95"}, "accuracy", "per_class"}."""
    if protocol == "act":
        o = np.argsort(video, kind="stable")  # ACT collects tubes video by video (test-list order)
        tubes = [tubes[i] for i in o]
        video, label, score = video[o], label[o], score[o]
        dets = make_tubes(tubes, dtype=np.float32)  # ACT's tubes are float32
        nms = 0.3 if tube_nms is None else tube_nms
        if nms > 0 and len(tubes):
            keep = nms3dt(dets, video * gt.num_classes + label, score, nms)
            tubes = [tubes[i] for i in keep]
            video, label, score = video[keep], label[keep], score[keep]
            dets = make_tubes(tubes, dtype=np.float32)
        gts = make_tubes(gt.tubes, dtype=np.float32) if gt.tubes else make_tubes([], np.float32)
        res = act_video_ap(dets, video, label, score, gts, gt.tube_video, gt.tube_label, gt.num_classes,
                           VIDEO_THRESHOLDS)
        mean = lambda ap: float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan")  # noqa: E731
    elif protocol == "road":
        dets = make_tubes(tubes, dtype=np.float64)
        gts = make_tubes(gt.tubes, dtype=np.float64)
        res = road_video_ap(dets, video, label, score, gts, gt.tube_video, gt.tube_label, gt.num_classes,
                            VIDEO_THRESHOLDS)
        mean = lambda ap: float(np.mean(ap)) if len(ap) else float("nan")  # noqa: E731
    else:
        raise ValueError(f"unknown protocol {protocol!r}")
    maps = {th: mean(r.ap) for th, r in res.items()}
    out = {"video_mAP": {"0.2": maps[0.2], "0.5": maps[0.5], "0.75": maps[0.75],
                         "0.5:0.95": float(np.mean([maps[round(0.5 + 0.05 * i, 2)] for i in range(10)]))}}
    out["accuracy"] = video_accuracy(gt, video, label, score)
    out["per_class"] = {name: {"0.2": float(res[0.2].ap[c]), "0.5": float(res[0.5].ap[c]),
                               "0.75": float(res[0.75].ap[c])} for c, name in enumerate(gt.labels)}
    return out


def video_accuracy(gt: GroundTruth, video: np.ndarray, label: np.ndarray, score: np.ndarray) -> float:
    """get_PR_curve.m's classification accuracy: a video's prediction is the label of its best tube
    (first in a stable decreasing-score order); videos with no tube predict -1; videos without ground
    truth tubes are left out."""
    truth = gt.video_labels()
    pred = np.full(len(gt.videos), -1, dtype=np.int64)
    if len(video):
        o = np.lexsort((-score, video))
        first = np.r_[True, video[o][1:] != video[o][:-1]]
        pred[video[o][first]] = label[o][first]
    has = truth >= 0
    return float(np.mean(pred[has] == truth[has])) if has.any() else float("nan")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evaluation.ucf24", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("frame-map", "video-map"):
        s = sub.add_parser(name)
        s.add_argument("--gt", required=True, help="pyannot.pkl or ACT *-GT.pkl")
        if name == "frame-map":
            s.add_argument("--detections", required=True, help="csv video,frame,label,score,x1,y1,x2,y2")
            s.add_argument("--iou", type=float, default=0.5, help="IoU threshold")
        else:
            s.add_argument("--tubes", required=True, help="json list of tubes")
            s.add_argument("--tube_nms", type=float, default=None,
                           help="act: ACT's nms3dt threshold applied first (default 0.3, 0 = off)")
        s.add_argument("--protocol", choices=PROTOCOLS, default="act")
        s.add_argument("--split", type=int, default=1)
        s.add_argument("--json", default=None, help="write the numbers to this JSON file")
    return p.parse_args(argv)


@cli_errors
def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    gt = GroundTruth(args.gt, args.split)
    if args.command == "frame-map":
        res = frame_map(gt, read_detections(args.detections, gt), args.protocol, args.iou)
        rows = [(name, ap) for name, ap in res["per_class"].items()] + [(f"frame-mAP@{args.iou:g}", res["frame_mAP"])]
        print_table(("class", "AP"), rows)
    else:
        tubes, video, label, score = read_tubes(args.tubes, gt)
        res = video_map(gt, tubes, video, label, score, args.protocol, args.tube_nms)
        rows = [(name, v["0.2"], v["0.5"], v["0.75"]) for name, v in res["per_class"].items()]
        m = res["video_mAP"]
        rows.append(("video-mAP", m["0.2"], m["0.5"], m["0.75"]))
        print_table(("class", "0.2", "0.5", "0.75"), rows)
        print(f"video-mAP@0.5:0.95 {100 * m['0.5:0.95']:.2f}   accuracy {100 * res['accuracy']:.2f}")
    if args.json:
        atomic_write_json(args.json, nan_to_none(res))
    return res


if __name__ == "__main__":
    main()
