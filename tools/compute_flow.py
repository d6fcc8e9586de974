"""Optical-flow JPEGs for every frame folder under a root, mirroring the tree.

    python tools/compute_flow.py --frames rgb-images --out farneback-images --method farneback --workers 8

Each folder holding numbered frames (``00001.jpg, ...``) gets a folder at the same relative path
under ``--out`` with one flow image per frame, under the same file name: R = x, G = y,
B = magnitude, each ``v * (128 // bound) + 128`` (gurkirt/optical-flow). Flow of frame t goes to
t+1; the last frame repeats the previous pair. Finished folders are skipped (resumable); folders
that fail are listed, one line each, and the exit status is 2.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import List, Tuple

from core.cli import ArgumentParser
from core.errors import cli_errors
from core.video import flow_folder, tvl1_available
from core.video.batch import run_jobs
from core.video.decode import FRAME_FILE_RE
from core.video.flow import tvl1_missing_message


def find_frame_folders(root: Path) -> List[Path]:
    """Folders under ``root`` (itself included) that directly hold numbered frame images,
    skipping hidden folders (staging folders of an interrupted run among them)."""
    if not root.is_dir():
        raise FileNotFoundError(2, "No such directory", str(root))
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any(FRAME_FILE_RE.match(f) for f in filenames):
            found.append(Path(dirpath))
    return found


def _job(item: Tuple[str, str], method: str, bound: int, quality: int) -> int:
    return flow_folder(item[0], item[1], method=method, bound=bound, quality=quality)


@cli_errors
def main(argv: List[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", required=True, type=Path, help="root of the RGB frame folders")
    p.add_argument("--out", required=True, type=Path, help="root of the flow folders (same tree)")
    p.add_argument("--method", default="farneback", choices=["farneback", "tvl1"])
    p.add_argument("--bound", type=int, default=8, help="flow clipped to +-bound pixels (default 8)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality (default 95, OpenCV imwrite's)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    if args.method == "tvl1" and not tvl1_available():
        p.error(tvl1_missing_message())
    if args.out.resolve() == args.frames.resolve():
        p.error("--out must differ from --frames")
    folders = find_frame_folders(args.frames)
    items = [(str(f), str(args.out / f.relative_to(args.frames))) for f in folders]
    job = functools.partial(_job, method=args.method, bound=args.bound, quality=args.quality)
    results = run_jobs(job, items, workers=args.workers, desc=f"{args.method} flow")
    failed = [r.error for r in results if r.error]
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    total = sum(r.value for r in results if r.value)
    print(
        f"{len(items) - len(failed)} of {len(items)} folders -> {total} flow images in {args.out}",
        file=sys.stderr,
    )
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
