"""Write a synthetic dataset in a real dataset's on-disk format (see core.synthetic.datasets).

    python tools/synthesize.py --format ucf24 --out data/ucf24 --size demo --workers 2

Same --seed, same annotation files byte for byte, whatever --workers is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from core.cli import ArgumentParser
from core.errors import cli_errors
from core.synthetic.datasets import FORMATS, SIZES, write_dataset


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--format", required=True, choices=FORMATS, help="dataset layout to write")
    p.add_argument("--out", required=True, help="output folder (created)")
    p.add_argument("--size", default="tiny", choices=SIZES, help="tiny: seconds, for tests; demo: models learn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="processes rendering videos in parallel")
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error("--workers must be >= 1")
    return args


@cli_errors
def main(argv=None) -> int:
    args = parse_args(argv)
    t = time.time()
    summary = write_dataset(args.format, args.out, args.size, args.seed, args.workers)
    print(f"{args.format} ({args.size}, seed {args.seed}) -> {args.out} in {time.time() - t:.1f} s: "
          f"{json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
