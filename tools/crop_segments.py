"""Cut AVA movies into 2-second segments around their annotated keyframes (ACAM data preparation).

    python tools/crop_segments.py --movies movies/trainval --csv ava_train_v2.2.csv --split train --out segments
    python tools/crop_segments.py --movies movies/test --test_range 902 1798 \\
        --exclusions ava_test_excluded_timestamps_v2.2.csv --split test --out segments

For every (video_id, timestamp) key it writes the keyframe (first frame at or after the timestamp)
``OUT/<split>/midframes/<video_id>/<timestamp>.jpg`` and the clip from timestamp-1 s to timestamp+1 s,
re-encoded with every frame a keyframe, ``OUT/<split>/clips/<video_id>/<timestamp>.mp4``;
``<timestamp>`` is written with 4 digits as in the csv (``0902``). Keys come from an AVA csv (its
first two columns) or, for the test split, from every second of ``--test_range`` of every movie
minus the ``--exclusions`` csv. Finished keys are skipped (resumable); failures are listed one line
each and the exit status is 2.
"""

from __future__ import annotations

import csv
import functools
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.io import read_text
from core.video import VIDEO_EXTENSIONS, crop_segment
from core.video.batch import run_jobs

Key = Tuple[str, int]


def read_keys(path: Path) -> List[Key]:
    """Unique (video_id, timestamp) pairs of an AVA csv (annotations, or excluded timestamps), in
    first-appearance order. Only the first two columns are read."""
    keys: Dict[Key, None] = {}
    for i, row in enumerate(csv.reader(read_text(path).splitlines()), 1):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise DataError(
                path, f"expected video_id,timestamp,... got {len(row)} column(s)", row=f"row {i}"
            )
        try:
            ts = float(row[1])
        except ValueError:
            raise DataError(path, f"timestamp {row[1]!r} is not a number", row=f"row {i}") from None
        if ts != int(ts) or ts < 0:
            raise DataError(
                path, f"timestamp {row[1]!r} is not a whole number of seconds", row=f"row {i}"
            )
        keys[(row[0].strip(), int(ts))] = None
    return list(keys)


def index_movies(movies: Path) -> Dict[str, Path]:
    """video_id (file name without extension) -> movie path."""
    if not movies.is_dir():
        raise FileNotFoundError(2, "No such directory", str(movies))
    found: Dict[str, Path] = {}
    for p in sorted(movies.iterdir()):
        if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file():
            if p.stem in found:
                raise DataError(p, f"two movies for video id {p.stem!r} ({found[p.stem].name} too)")
            found[p.stem] = p
    return found


def output_paths(out: Path, split: str, video_id: str, ts: int) -> Tuple[Path, Path]:
    name = f"{ts:04d}"
    return (
        out / split / "midframes" / video_id / f"{name}.jpg",
        out / split / "clips" / video_id / f"{name}.mp4",
    )


def _job(item: Tuple[str, str, str, str, int], duration: float, video_start: float = 0.0) -> int:
    movie, jpg, clip, _vid, ts = item
    if Path(jpg).exists() and Path(clip).exists():
        return 0
    return crop_segment(movie, clip, float(ts) - video_start, duration=duration, keyframe_path=jpg)


@cli_errors
def main(argv: List[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--movies", required=True, type=Path, help="folder of <video_id>.<ext> movies")
    p.add_argument("--out", required=True, type=Path, help="segments root")
    p.add_argument("--split", required=True, help="train, val or test (names the output folder)")
    p.add_argument("--csv", type=Path, help="AVA annotation csv giving the keys")
    p.add_argument(
        "--test_range",
        type=int,
        nargs=2,
        metavar=("FIRST", "LAST"),
        help="every second FIRST..LAST of every movie (AVA test: 902 1798)",
    )
    p.add_argument("--exclusions", type=Path, help="csv of video_id,timestamp keys to leave out")
    p.add_argument("--duration", type=float, default=2.0, help="clip length in seconds (default 2)")
    p.add_argument("--video_start", type=float, default=0.0,
                   help="movie second at the file's first frame: 0 for the full AVA movies, 900 for files cut "
                        "to [900 s, 1800 s] (as the synthetic AVA set is)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    if (args.csv is None) == (args.test_range is None):
        p.error("give exactly one of --csv and --test_range")

    movies = index_movies(args.movies)
    if args.csv is not None:
        keys = read_keys(args.csv)
    else:
        first, last = args.test_range
        keys = [(vid, ts) for vid in sorted(movies) for ts in range(first, last + 1)]
    if args.exclusions is not None:
        excluded: Set[Key] = set(read_keys(args.exclusions))
        keys = [k for k in keys if k not in excluded]

    items, missing = [], {}
    for vid, ts in keys:
        if vid not in movies:
            missing.setdefault(vid, 0)
            missing[vid] += 1
            continue
        jpg, clip = output_paths(args.out, args.split, vid, ts)
        items.append((str(movies[vid]), str(jpg), str(clip), vid, ts))
    for vid, n in missing.items():
        print(f"error: {args.movies / vid}: no movie file for video id {vid!r} ({n} keys)", file=sys.stderr)

    results = run_jobs(
        functools.partial(_job, duration=args.duration, video_start=args.video_start),
        items,
        workers=args.workers,
        desc=f"crop {args.split}",
    )
    failed = [r.error for r in results if r.error]
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
    print(f"{len(items) - len(failed)} of {len(keys)} segments in {args.out / args.split}", file=sys.stderr)
    return 2 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
