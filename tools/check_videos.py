"""List the videos under a folder that cannot be decoded to the end.

    python tools/check_videos.py VIDEOS_DIR [--workers 8]

Every frame of every video (searched recursively) is decoded. A video that does not open, fails
mid-stream, or yields fewer frames or seconds than its container declares (a truncated download) is
printed as one line ``PATH: reason`` on stdout; the exit status is 1 when any is found, 0 otherwise.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import List

from core.cli import ArgumentParser
from core.errors import cli_errors
from core.video import VIDEO_EXTENSIONS, check_video
from core.video.batch import run_jobs


def find_videos(root: Path) -> List[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(2, "No such file or directory", str(root))
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    )


@cli_errors
def main(argv: List[str] | None = None) -> int:
    p = ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("videos", type=Path, help="folder of videos (recursive) or one video")
    p.add_argument("--backend", default="pyav", choices=["pyav", "opencv"])
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)
    videos = find_videos(args.videos)
    results = run_jobs(
        functools.partial(check_video, backend=args.backend),
        [str(v) for v in videos],
        workers=args.workers,
        desc="check videos",
    )
    bad = [r.error for r in results if r.error]
    for line in bad:
        print(line)
    print(f"{len(bad)} of {len(videos)} videos unreadable or truncated", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
