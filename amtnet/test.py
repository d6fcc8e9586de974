"""Test AMTNet over every frame of the test videos: detections, frame-mAP, tubes, video-mAP, table.md.

    python test.py --data_root DATA --save_root RUNS [train.py's run flags] [--eval_iters 40000]
    python test.py --checkpoint RUN/checkpoints/AMTNet_00040000.pth --data_root DATA --out_dir OUT
    python test.py --late_fusion mean,union,boost --rgb_dir RGB_TEST_OUT --flow_dir FLOW_TEST_OUT --out_dir OUT
    torchrun --nproc_per_node=2 test.py ...      (test videos split over the processes)

Per checkpoint and gap, <run>/test-<iter>-eg<gap>/ receives detections/{micro,frames}/<video>.npz (core.tubes
format), frame_detections.csv, TUBES.json, metrics.json and table.md (IoU 0.20 | 0.50 | 0.75 | 0.5:0.95 |
frame-mAP@0.5 | accuracy, in percent). An interrupted test resumes at the first unfinished video.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

from amtnet.engine import run_late_fusion, test_checkpoint
from amtnet.options import data_root_or_synthetic, parse_test_args, run_dir
from core.errors import DataError, cli_errors
from core.io import load_weights
from core.train.checkpoint import CheckpointManager
from core.train.distributed import init_distributed, launch


def test(args) -> None:
    data_root_or_synthetic(args)
    if args.late_fusion:
        run_late_fusion(args)
        return
    info = init_distributed(args.device)

    # which checkpoints: --checkpoint, --eval_iters of this run, or its latest
    if args.checkpoint:
        ckpts = [(args.checkpoint, int(load_weights(args.checkpoint).get("iteration", 0)))]
        base_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.checkpoint)))
    else:
        base_dir = run_dir(args)
        manager = CheckpointManager(os.path.join(base_dir, "checkpoints"), prefix="AMTNet")
        if args.eval_iters:
            ckpts = [(str(manager.path_for(int(i))), int(i)) for i in args.eval_iters.split(",") if i.strip()]
        else:
            latest = manager.latest()
            if latest is None:
                raise DataError(manager.directory, "no checkpoint in this run (train first, or pass --checkpoint)")
            ckpts = [(str(latest), int(load_weights(latest)["iteration"]))]
    gaps = [int(g) for g in args.eval_gaps.split(",") if g.strip()] or [1 if args.seq_gap == 20 else args.seq_gap]

    for path, it in ckpts:
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file", path)
        for gap in gaps:
            out = args.out_dir if args.out_dir and len(ckpts) * len(gaps) == 1 else \
                os.path.join(args.out_dir or base_dir, f"test-{it:06d}-eg{gap:02d}")
            test_checkpoint(args, path, gap, out, info)


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(test, parse_test_args(argv))


if __name__ == "__main__":
    sys.exit(main())
