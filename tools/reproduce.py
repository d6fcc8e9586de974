"""Run a paper's recipe end to end and print its table in the paper's columns.

    python tools/reproduce.py PAPER [--data_root DIR] [--quick] [--work_dir DIR] [extra recipe flags]

PAPER is one of the paper packages (amtnet, stage, kinetics2stream, acam, stabn). Each package holds
its recipe in ``<paper>/<paper>/reproduce.py`` as ``run(data_root, quick, work_dir, extra) -> str``:
it trains every row of the paper's table (streams, fusions, ablations), evaluates, writes
``<work_dir>/table.md`` atomically and returns the table. Without ``--data_root`` the recipe first writes
a synthetic dataset in the real format (``tools/synthesize.py``) under the work directory, and reuses it
on the next run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from core.errors import cli_errors

PAPERS = ("amtnet", "stage", "kinetics2stream", "acam", "stabn")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paper", choices=PAPERS)
    p.add_argument("--data_root", default=None, help="real (or prepared) dataset root; default: synthetic data")
    p.add_argument("--quick", action="store_true", help="short schedules (the demo); the table keeps every row")
    p.add_argument("--work_dir", default=None, help="where runs, detections and table.md go (default runs/<paper>)")
    args, extra = p.parse_known_args(argv)
    args.extra = [a for a in extra if a != "--"]
    return args


@cli_errors
def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        recipe = importlib.import_module(f"{args.paper}.reproduce")
    except ModuleNotFoundError as e:
        if e.name in (args.paper, f"{args.paper}.reproduce"):
            print(f"error: {args.paper} has no reproduce recipe yet ({args.paper}/{args.paper}/reproduce.py)", file=sys.stderr)
            sys.exit(2)
        raise
    work_dir = args.work_dir or os.path.join("runs", args.paper)
    start = time.time()
    table = recipe.run(data_root=args.data_root, quick=args.quick, work_dir=work_dir, extra=args.extra)
    print(table)
    print(f"\n{args.paper}: table written to {os.path.join(work_dir, 'table.md')} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
