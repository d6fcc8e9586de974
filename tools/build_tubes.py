"""Build action tubes (TUBES.json) from per-video frame-detection files.

    python tools/build_tubes.py --detections DIR --out TUBES.json \\
        [--fusion none|mean|union|boost --flow_detections DIR] [--alpha 5] [--workers 4]

``DIR`` holds one ``<video>.npz`` per video in the format of :mod:`core.tubes.detfile` (what the detectors'
``test.py`` write). Per video: per-frame candidates (``dofilter``, or two-stream fusion), online
incremental linking, Viterbi temporal labelling and cutting (realtime-action-detection's MATLAB
``online-tubes`` pipeline, see :mod:`core.tubes`). Micro-tube files (AMTNet, ``delta > 0``) are linked
with :mod:`core.tubes.microtubes`. Evaluate with ``python -m evaluation.ucf24 video-map --tubes TUBES.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence

from core.errors import DataError, cli_errors
from core.formats.ucf24 import read_split_list
from core.parallel import map_jobs
from core.tubes import OnlineLinker, trim_paths
from core.tubes.detfile import list_detection_files, read_detections, video_path
from core.tubes.fusion import FUSE_IOU, fuse_frame
from core.tubes.microtubes import link_microtubes
from core.tubes.tubes_json import write_tubes
from core.tubes.types import Tube


def build_video_tubes(path: str, flow_path: Optional[str] = None, fusion: str = "none", alpha: float = 5.0,
                      iou_thresh: float = 0.1, gap: int = 3, min_num_frames: int = 8, topk: int = 40,
                      fuse_iou: float = FUSE_IOU, matlab_quirk: bool = False) -> List[Tube]:
    """Tubes of one video from its detection file (and the flow stream's, for a fusion)."""
    det = read_detections(path)
    if det.delta > 0:
        if fusion != "none":
            raise DataError(path, "two-stream fusion of micro-tube detections is not supported (fuse in the network)")
        paths = link_microtubes(det, iou_thresh=iou_thresh, gap=gap)
        return trim_paths(paths, det.video, alpha, min_num_frames, topk)
    linker = OnlineLinker(det.num_classes, iou_thresh, gap)
    if fusion == "none":
        for t in range(1, det.num_frames + 1):
            linker.update(*det.frame(t))
    else:
        if flow_path is None:
            raise DataError(path, f"fusion '{fusion}' needs the flow stream's detections (--flow_detections)")
        flow = read_detections(flow_path)
        if flow.video != det.video or flow.num_frames != det.num_frames or flow.num_classes != det.num_classes:
            raise DataError(flow_path, f"expected video '{det.video}' with {det.num_frames} frames and "
                            f"{det.num_classes} classes like {path}, got '{flow.video}', {flow.num_frames}, "
                            f"{flow.num_classes}")
        for t in range(1, det.num_frames + 1):
            try:
                cand = fuse_frame(fusion, det.frame(t), flow.frame(t), det.frame_priors(t), flow.frame_priors(t),
                                  fuse_iou=fuse_iou, matlab_quirk=matlab_quirk)
            except ValueError as e:
                raise DataError(flow_path, str(e), f"frame {t}") from None
            linker.update_candidates(cand)
    return trim_paths(linker.finish(), det.video, alpha, min_num_frames, topk)


def _work(job):
    path, flow_path, kwargs = job
    return build_video_tubes(path, flow_path, **kwargs)


def build_tubes(detections: str, flow_detections: Optional[str] = None, fusion: str = "none",
                videos: Optional[Sequence[str]] = None, workers: int = 0, progress: bool = True,
                **kwargs) -> List[Tube]:
    """Tubes of every video under ``detections`` (or of ``videos``), in video order."""
    if videos is None:
        files = list_detection_files(detections)
    else:
        files = [(v, video_path(detections, v)) for v in videos]
        missing = [str(p) for _, p in files if not p.exists()]
        if missing:
            raise DataError(missing[0], f"no detection file for this video ({len(missing)} missing in all)")
    jobs = []
    for video, p in files:
        flow_path = None
        if fusion != "none":
            if flow_detections is None:
                raise DataError(detections, f"fusion '{fusion}' needs --flow_detections")
            flow_path = str(video_path(flow_detections, video))
            if not os.path.exists(flow_path):
                raise DataError(flow_path, "no flow detection file for this video")
        jobs.append((str(p), flow_path, dict(fusion=fusion, **kwargs)))
    tubes: List[Tube] = []
    for result in map_jobs(_work, jobs, workers, desc="tubes", progress=progress):
        tubes.extend(result)
    return tubes


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Link frame detections into action tubes (TUBES.json).")
    ap.add_argument("--detections", required=True, help="folder of <video>.npz detection files (RGB stream)")
    ap.add_argument("--out", required=True, help="TUBES.json to write")
    ap.add_argument("--fusion", default="none", choices=["none", "mean", "union", "boost"])
    ap.add_argument("--flow_detections", default=None, help="folder of the flow stream's detection files")
    ap.add_argument("--alpha", type=float, default=5.0, help="Viterbi label-switch penalty (paper: 3 and 5)")
    ap.add_argument("--iou_thresh", type=float, default=0.1, help="linking IoU threshold")
    ap.add_argument("--gap", type=int, default=3, help="misses that end a path; minimum detections per path")
    ap.add_argument("--min_num_frames", type=int, default=8, help="keep tubes with end - start > this")
    ap.add_argument("--topk", type=int, default=40, help="tube score = mean of the top-k frame scores")
    ap.add_argument("--fuse_iou", type=float, default=FUSE_IOU, help="boost fusion: minimum IoU of a flow match")
    ap.add_argument("--boost_matlab_quirk", action="store_true",
                    help="boost fusion exactly as the MATLAB code (one boost per class, see core.tubes.fusion)")
    ap.add_argument("--videos", default=None, help="text file of videos to process (default: every file)")
    ap.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1), help="worker processes (0: none)")
    ap.add_argument("--no_progress", action="store_true")
    return ap.parse_args(argv)


@cli_errors
def main(argv=None) -> int:
    args = parse_args(argv)
    videos = read_split_list(args.videos) if args.videos else None
    tubes = build_tubes(
        args.detections, args.flow_detections, args.fusion, videos, args.workers, not args.no_progress,
        alpha=args.alpha, iou_thresh=args.iou_thresh, gap=args.gap, min_num_frames=args.min_num_frames,
        topk=args.topk, fuse_iou=args.fuse_iou, matlab_quirk=args.boost_matlab_quirk,
    )
    write_tubes(args.out, tubes)
    print(f"{len(tubes)} tubes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
