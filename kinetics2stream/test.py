"""Score every 2nd frame of every validation video with trained checkpoints; frame and video metrics.

    python test.py --root DATA --save_root RUNS --arch resnet101 --input rgb --isize 112 --test-iterations 30000,60000
    python test.py ... --test-iterations best

Same run-folder flags as train.py (the folder is found by the same name). Per checkpoint it writes,
in the run folder: ``output_val_<iter>.pkl`` (raw logits per video, sorted by frame; reused if
present), ``output_val_<iter>-clstk-<010|030|050>.json`` (ActivityNet classification format: video
scores = mean of each class's top-k frame logits), ``results_val_<iter>.json`` (frame top-1/top-3,
hit@1, hit@5, mean, mean-error, mAP per k, frames/s) and appends to ``test_log.txt``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

from core.errors import DataError, cli_errors
from core.train.distributed import init_distributed, is_main_process, launch
from kinetics2stream.data import KineticsFrames, build_transform, input_spec
from kinetics2stream.engine import test_checkpoint
from kinetics2stream.options import parse_test_args, run_dir


def test(args) -> None:
    info = init_distributed(args.device)
    size = args.isize or input_spec(args.arch)[0]
    root = str(Path(args.root) / args.dataset)
    dataset = KineticsFrames(root, args.input, args.datasubset, [args.subset], build_transform(args.arch, size, False),
                             frame_step=args.test_frame_step, seq_len=args.seq_len, gap=args.gap)
    if len(dataset) == 0:
        raise DataError(dataset.annot_file, f"no '{args.subset}' frames to test")
    out = run_dir(args)
    lines: List[str] = []

    def log(line: str) -> None:
        if is_main_process():
            print(line)
            lines.append(line)

    log(f"{out.name}: {len(dataset)} {args.subset} frames of {len(dataset.videos)} videos")
    for tag in (t.strip() for t in args.test_iterations.split(",") if t.strip()):
        test_checkpoint(args, tag, out, dataset, info.device, log)
    if is_main_process():
        with open(out / "test_log.txt", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.write(json.dumps({"args": vars(args)}, default=str) + "\n")


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(test, parse_test_args(argv))


if __name__ == "__main__":
    sys.exit(main())
