"""Extract the frames of many videos to numbered JPEG folders (``OUT/<name>/00001.jpg, ...``).

    python tools/extract_frames.py --videos VIDEOS_DIR_OR_LIST --out rgb-images --fps 16 --workers 8

``--videos`` is a folder (searched recursively; sub-folders are mirrored under ``--out``, as UCF101's
class folders) or a text file with one video path per line. The defaults reproduce the Kinetics
two-stream preparation ``ffmpeg -i V -qscale:v 15 -r 16 OUT/%05d.jpg``; use ``--fps 0`` for the
native rate (UCF101-24, JHMDB) and ``--id_chars 11`` to name folders by YouTube id. Finished folders
are skipped, so an interrupted run resumes. Videos that fail are listed, one line each, and the
exit status is 2.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import List, Tuple

from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.video import FFMPEG_QSCALE15_QUALITY, VIDEO_EXTENSIONS, extract_frames
from core.video.batch import run_jobs


def list_videos(source: Path) -> List[Tuple[Path, Path]]:
    """(video path, output name relative to --out) for a folder tree or a list file."""
    if source.is_dir():
        videos = sorted(
            p
            for p in source.rglob("*")
            if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file() and not p.name.startswith(".")
        )
        return [(p, p.relative_to(source).with_suffix("")) for p in videos]
    if not source.exists():
        raise FileNotFoundError(2, "No such file", str(source))
    out = []
    for i, line in enumerate(source.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line) if os.path.isabs(line) else source.parent / line
        if p.suffix.lower() not in VIDEO_EXTENSIONS:
            raise DataError(
                source,
                f"expected a video path ({', '.join(VIDEO_EXTENSIONS)}), got {line!r}",
                row=f"line {i}",
            )
        out.append((p, Path(p.stem)))
    return out


def output_name(rel: Path, id_chars: int) -> Path:
    return rel.parent / rel.name[:id_chars] if id_chars > 0 else rel


def _job(item: Tuple[str, str], fps, quality, qscale, pattern, start_number, backend) -> int:
    video, out_dir = item
    return extract_frames(
        video,
        out_dir,
        fps=fps or None,
        quality=quality,
        pattern=pattern,
        start_number=start_number,
        qscale=qscale,
        backend=backend,
    )


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--videos", required=True, type=Path, help="folder of videos, or a text file of video paths"
    )
    p.add_argument("--out", required=True, type=Path, help="root folder of the frame folders")
    p.add_argument("--fps", type=float, default=16.0, help="output frame rate, 0 = native (default 16)")
    p.add_argument(
        "--quality",
        type=int,
        default=FFMPEG_QSCALE15_QUALITY,
        help=f"OpenCV JPEG quality (default {FFMPEG_QSCALE15_QUALITY} ~ ffmpeg -qscale:v 15)",
    )
    p.add_argument(
        "--qscale",
        type=int,
        default=None,
        help="encode with FFmpeg's MJPEG encoder at this qscale instead (15 = the original)",
    )
    p.add_argument("--pattern", default="%05d.jpg")
    p.add_argument("--start_number", type=int, default=1)
    p.add_argument(
        "--id_chars",
        type=int,
        default=0,
        help="name each folder by the first N characters of the file name (Kinetics: 11)",
    )
    p.add_argument("--backend", default="pyav", choices=["pyav", "opencv"])
    p.add_argument("--workers", type=int, default=1)
    return p


@cli_errors
def main(argv: List[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    pairs = list_videos(args.videos)
    items = [(str(v), str(args.out / output_name(rel, args.id_chars))) for v, rel in pairs]
    seen = {}
    for v, o in items:
        if o in seen:
            raise DataError(v, f"same output folder {o} as {seen[o]} (check --id_chars)")
        seen[o] = v
    job = functools.partial(
        _job,
        fps=args.fps,
        quality=args.quality,
        qscale=args.qscale,
        pattern=args.pattern,
        start_number=args.start_number,
        backend=args.backend,
    )
    results = run_jobs(job, items, workers=args.workers, desc="extract frames")
    failed = [r.error for r in results if r.error]
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    total = sum(r.value for r in results if r.value)
    print(
        f"{len(items) - len(failed)} of {len(items)} videos -> {total} frames in {args.out}", file=sys.stderr
    )
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
