"""Prepare Kinetics for the two-stream frame-level baseline (kinetics2stream).

    python tools/prepare_kinetics.py --videos kinetics400/ --csv_dir kinetics400/ --out data/kinetics --workers 8
    python tools/prepare_kinetics.py ... --mini200 lists/      # also hfiles/Annots_200.json

Writes under ``--out`` (= ``<root>/kinetics``, what train.py's ``--root <root>`` reads):

    rgb-images/<youtube_id>/00001.jpg ...      16 fps frames, JPEG quality of ``ffmpeg -qscale:v 15``
    farneback-images/<youtube_id>/00001.jpg    Farneback flow (R = x, G = y, B = magnitude, bound 8)
    hfiles/Annots_<datasubset>.json            {database: {id: {label, cls, subset, isthere, numf}}, classes}
    hfiles/Annots_200.json                     Mini-Kinetics-200 (with --mini200)

``--videos`` is searched recursively (the crawler's ``<label>/<id>_<start>_<end>.mp4`` tree or a flat
folder); a frame folder is named by the first 11 characters of the file name (the YouTube id). The
csv files are ``kinetics_{train,val,test}.csv`` (or ``{train,validate,val,test}.csv``) in ``--csv_dir``.
Every stage runs in ``--workers`` processes with a progress bar and skips finished folders, so an
interrupted run resumes; failed videos are listed one line each and the exit status is 2.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Dict, List, Tuple

from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.formats.kinetics import build_annotations, write_annotation_json
from core.video import FFMPEG_QSCALE15_QUALITY, VIDEO_EXTENSIONS, extract_frames, flow_folder
from core.video.batch import run_jobs
from kinetics2stream.data import mini_subset_annotations, read_id_list

ID_CHARS = 11
CSV_NAMES = {"train": ("kinetics_train.csv", "train.csv"),
             "val": ("kinetics_val.csv", "validate.csv", "val.csv"),
             "test": ("kinetics_test.csv", "test.csv")}


def find_videos(root: Path) -> List[Tuple[Path, str]]:
    """(video, youtube id) for every video under ``root``; two files with one id is an error."""
    if not root.is_dir():
        raise FileNotFoundError(2, "No such directory", str(root))
    seen: Dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file() and not p.name.startswith("."):
            yid = p.name[:ID_CHARS]
            if yid in seen:
                raise DataError(p, f"same YouTube id {yid!r} as {seen[yid]}")
            seen[yid] = p
    return [(p, y) for y, p in seen.items()]


def find_csvs(csv_dir: Path) -> Dict[str, Path]:
    found = {}
    for subset, names in CSV_NAMES.items():
        for n in names:
            if (csv_dir / n).is_file():
                found[subset] = csv_dir / n
                break
    if "train" not in found:
        raise DataError(csv_dir, f"no train csv ({' or '.join(CSV_NAMES['train'])}); it defines the class indices")
    return found


def _frames_job(item: Tuple[str, str], fps: float, quality: int, qscale) -> int:
    return extract_frames(item[0], item[1], fps=fps or None, quality=quality, qscale=qscale)


def _flow_job(item: Tuple[str, str], method: str, bound: int, quality: int) -> int:
    return flow_folder(item[0], item[1], method=method, bound=bound, quality=quality)


def _report(results, what: str) -> int:
    failed = [r.error for r in results if r.error]
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    print(f"{what}: {len(results) - len(failed)} of {len(results)} done, "
          f"{sum(r.value for r in results if r.value)} images", file=sys.stderr)
    return len(failed)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--out", required=True, type=Path, help="<root>/kinetics")
    p.add_argument("--videos", type=Path, help="folder of downloaded clips (for the frames stage)")
    p.add_argument("--csv_dir", type=Path, help="folder of the Kinetics csv files (for the annots stage)")
    p.add_argument("--stages", default="frames,flow,annots", help="comma list of frames, flow, annots")
    p.add_argument("--datasubset", default="400", help="name of the full annotation file Annots_<datasubset>.json")
    p.add_argument("--mini200", type=Path, default=None,
                   help="folder with kinetics_200_train.txt and kinetics_200_val.txt: also write Annots_200.json")
    p.add_argument("--fps", type=float, default=16.0, help="frame rate of the extracted frames (0 = native)")
    p.add_argument("--quality", type=int, default=FFMPEG_QSCALE15_QUALITY,
                   help=f"JPEG quality (default {FFMPEG_QSCALE15_QUALITY}, the PSNR of ffmpeg -qscale:v 15)")
    p.add_argument("--qscale", type=int, default=None, help="encode with FFmpeg's MJPEG at this qscale (15) instead")
    p.add_argument("--flow_method", default="farneback", choices=["farneback", "tvl1"])
    p.add_argument("--flow_dir", default=None, help="flow folder name (default <flow_method>-images)")
    p.add_argument("--bound", type=int, default=8, help="flow quantisation bound in pixels")
    p.add_argument("--flow_quality", type=int, default=95, help="flow JPEG quality (OpenCV imwrite default)")
    p.add_argument("--min_frames", type=int, default=15, help="isthere = more than this many frames")
    p.add_argument("--workers", type=int, default=1)
    return p


@cli_errors
def main(argv: List[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = set(stages) - {"frames", "flow", "annots"}
    if unknown:
        parser.error(f"--stages: unknown stage(s) {sorted(unknown)} (frames, flow, annots)")
    if "frames" in stages and args.videos is None:
        parser.error("the frames stage needs --videos")
    if "annots" in stages and args.csv_dir is None:
        parser.error("the annots stage needs --csv_dir")
    rgb = args.out / "rgb-images"
    flow = args.out / (args.flow_dir or f"{args.flow_method}-images")
    failed = 0
    if "frames" in stages:
        items = [(str(v), str(rgb / yid)) for v, yid in find_videos(args.videos)]
        job = functools.partial(_frames_job, fps=args.fps, quality=args.quality, qscale=args.qscale)
        failed += _report(run_jobs(job, items, workers=args.workers, desc="frames"), f"frames -> {rgb}")
    if "flow" in stages:
        folders = sorted(d for d in os.listdir(rgb) if not d.startswith(".")) if rgb.is_dir() else []
        items = [(str(rgb / d), str(flow / d)) for d in folders]
        job = functools.partial(_flow_job, method=args.flow_method, bound=args.bound, quality=args.flow_quality)
        failed += _report(run_jobs(job, items, workers=args.workers, desc=f"{args.flow_method} flow"), f"flow -> {flow}")
    if "annots" in stages:
        annots = build_annotations(find_csvs(args.csv_dir), frames_root=rgb, min_frames=args.min_frames)
        path = args.out / "hfiles" / f"Annots_{args.datasubset}.json"
        write_annotation_json(path, annots)
        there = sum(v["isthere"] for v in annots["database"].values())
        print(f"annots: {len(annots['database'])} videos ({there} with frames), {len(annots['classes'])} classes "
              f"-> {path}", file=sys.stderr)
        if args.mini200 is not None:
            ids = {s: read_id_list(args.mini200 / f"kinetics_200_{s}.txt") for s in ("train", "val")}
            mini = mini_subset_annotations(annots, ids)
            write_annotation_json(args.out / "hfiles" / "Annots_200.json", mini)
            print(f"annots: Mini-200 {len(mini['database'])} videos, {len(mini['classes'])} classes", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
