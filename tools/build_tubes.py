"""Build action tubes (TUBES.json) from per-video frame-detection files.

    python tools/build_tubes.py --detections DIR --out TUBES.json \\
        [--fusion none|mean|union|boost --flow_detections DIR] [--alpha 5] [--workers 4]

``DIR`` holds one ``<video>.npz`` per video in the format of :mod:`core.tubes.detfile` (what the detectors'
``test.py`` write). Per video: per-frame candidates (``dofilter``, or two-stream fusion), online
incremental linking, Viterbi temporal labelling and cutting (realtime-action-detection's MATLAB
``online-tubes`` pipeline, see :mod:`core.tubes`). Micro-tube files (AMTNet, ``delta > 0``) are linked
with :mod:`core.tubes.microtubes` (all in :mod:`core.tubes.build`). Evaluate with ``python -m evaluation.ucf24 video-map --tubes TUBES.json``.
"""

from __future__ import annotations

import argparse
import os
import sys

from core.cli import ArgumentParser
from core.errors import cli_errors
from core.formats.ucf24 import read_split_list
from core.tubes.build import FUSIONS, build_tubes
from core.tubes.fusion import FUSE_IOU
from core.tubes.tubes_json import write_tubes


def parse_args(argv=None) -> argparse.Namespace:
    ap = ArgumentParser(description="Link frame detections into action tubes (TUBES.json).")
    ap.add_argument("--detections", required=True, help="folder of <video>.npz detection files (RGB stream)")
    ap.add_argument("--out", required=True, help="TUBES.json to write")
    ap.add_argument("--fusion", default="none", choices=FUSIONS)
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
    args = ap.parse_args(argv)
    if args.fusion != "none" and not args.flow_detections:
        ap.error(f"--fusion {args.fusion} needs --flow_detections (the flow stream's detection files)")
    return args


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
