"""Run a paper's recipe end to end and print its table in the paper's columns, then its claims table.

    python tools/reproduce.py PAPER [--data_root DIR] [--quick | --claims] [--seeds 0,1,2] [--work_dir DIR]
                              [-- extra flags for the paper's train.py]

PAPER is one of the paper packages (amtnet, stage, kinetics2stream, acam, stabn); its recipe is
``tools/recipes/<paper>.py``. Modes: ``--quick`` (the demo: minutes on a CPU), ``--claims`` (the paper's
central claims on synthetic data, at most an hour on 2 CPU cores, over several seeds), default: the paper's
full schedule (real data, GPUs). Each recipe trains every row of the paper's table (streams, fusions,
ablations), evaluates, writes ``<work_dir>/table.md`` and ``<work_dir>/claims.md`` atomically and prints both.
Without ``--data_root`` the recipe first writes a synthetic dataset in the real format under the work directory
and reuses it on the next run. Every step resumes: rerun the same command after an interruption.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from typing import List, Optional

from core.cli import ArgumentParser, CommandError, format_duration
from core.errors import cli_errors

PAPERS = ("amtnet", "stage", "kinetics2stream", "acam", "stabn")


def _seeds(text: str) -> List[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}") from None


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paper", choices=PAPERS)
    p.add_argument("--data_root", default=None, help="real (or prepared) dataset root; default: synthetic data")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_const", dest="mode", const="quick",
                      help="short schedules (the demo); the table keeps every row")
    mode.add_argument("--claims", action="store_const", dest="mode", const="claims",
                      help="the paper's central claims in miniature, over several seeds (at most 60 min, 2 CPUs)")
    p.set_defaults(mode="full")
    p.add_argument("--seeds", type=_seeds, default=None, help="comma list of seeds (default: the recipe's)")
    p.add_argument("--work_dir", default=None, help="where runs, detections and tables go (default runs/<paper>)")
    args, extra = p.parse_known_args(argv)
    args.extra = [a for a in extra if a != "--"]
    return args


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        recipe = importlib.import_module(f"recipes.{args.paper}")
    except ModuleNotFoundError as e:
        if e.name in (f"recipes.{args.paper}", args.paper):
            print(f"error: {args.paper} has no recipe yet (tools/recipes/{args.paper}.py)", file=sys.stderr)
            return 2
        raise
    work_dir = args.work_dir or os.path.join("runs", args.paper)
    start = time.time()
    try:
        text = recipe.run(data_root=args.data_root, mode=args.mode, work_dir=work_dir, extra=args.extra,
                          seeds=args.seeds)
    except CommandError as e:
        # the step's own one-line error (bad input: exit 2), or its last line, and where its log is
        errors = [line for line in e.tail.splitlines() if line.startswith("error:")]
        why = errors[-1][len("error:"):].strip() if errors else (e.tail.splitlines() or ["(no output)"])[-1]
        step = next((a for a in e.cmd[1:] if a.endswith(".py")), e.cmd[0])
        print(f"error: {step} failed (exit {e.returncode}): {why} (log: {e.log_path})", file=sys.stderr)
        return 2 if e.returncode == 2 else 1
    print(text)
    print(f"\n{args.paper} ({args.mode}): table.md and claims.md written to {work_dir} in "
          f"{format_duration(time.time() - start)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
