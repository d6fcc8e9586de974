"""Run a trained STAGE on validation features, write ``results.csv`` (AVA format) and evaluate it.

    python test.py --actors_dir FEATS/val --objects_dir FEATS/objects_val.h5 --output_dir OUT --batch_size 6 \
        [--groundtruth ava_val_v2.2.csv --labelmap ava_action_list_v2.2_for_activitynet_2019.pbtxt \
         --exclusions ava_val_excluded_timestamps_v2.2.csv]

Loads the checkpoint named in ``OUT/last_checkpoint`` (or ``--weights PATH``). Keyframes run in
sorted order, so consecutive seconds share temporal edges as in training. Writes
``OUT/results.csv`` (``video_id,timestamp,x1,y1,x2,y2,action_id,score``, every action of every
actor box), and with ground truth ``OUT/metrics.json`` and ``OUT/table.md`` (frame-mAP@0.5 by
``python -m evaluation.ava``, per group). ``--objects_dir`` is the original's name of the objects
*file*; ``--objects_file`` is accepted too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch

from core.errors import DataError, cli_errors
from core.io import atomic_write_json
from core.train import (
    CheckpointManager,
    add_common_args,
    all_gather_object,
    cleanup,
    init_distributed,
    is_main_process,
    load_weights_into,
)
from stage.cli import add_model_args, build_dataset, build_loader, build_model
from stage.engine import evaluate_ava, predict, table_markdown, write_results_csv, write_table


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--actors_dir", help="root of the validation actor h5 files")
    p.add_argument("--objects_dir", "--objects_file", dest="objects_file", help="the objects h5 file")
    p.add_argument("--output_dir", required=True, help="holds last_checkpoint; results.csv is written here")
    add_model_args(p)
    p.add_argument("--groundtruth", "-g", default="", help="AVA ground-truth csv: evaluate results.csv")
    p.add_argument("--labelmap", "-l", default="", help="label map pbtxt (the 60-class one for the official mAP)")
    p.add_argument("--exclusions", "-e", default="", help="excluded timestamps csv")
    p.add_argument("--max_dets_per_frame", type=int, default=50, help="evaluator's cap per keyframe (0: none)")
    p.add_argument("--name", default="STAGE", help="row name in table.md")
    add_common_args(p, num_workers=2, logger="none", device="auto")
    return p


def test(args: argparse.Namespace) -> dict:
    info = init_distributed(args.device)
    out = Path(args.output_dir)
    model = build_model(args).to(info.device)
    if args.weights:
        load_weights_into(model, args.weights, strict=True, verbose=False)
    else:
        ckpt = CheckpointManager(out, prefix="model").latest()
        if ckpt is None:
            raise DataError(out, "no checkpoint found (no last_checkpoint / model_*.pth); train first or pass --weights")
        load_weights_into(model, ckpt, strict=True, verbose=False)
    dataset = build_dataset(args, args.actors_dir, args.objects_file)
    loader = build_loader(args, dataset, shuffle=False, rank=info.rank, world_size=info.world_size)
    keys, boxes, probs = predict(model, loader, info.device, progress=is_main_process())
    parts = all_gather_object((keys, boxes, probs))
    result: dict = {}
    if is_main_process():
        keys = [k for p in parts for k in p[0]]
        boxes = np.concatenate([p[1] for p in parts if len(p[1])] or [np.zeros((0, 4))])
        probs = np.concatenate([p[2] for p in parts if len(p[2])] or [np.zeros((0, args.num_classes))])
        n = write_results_csv(out / "results.csv", keys, boxes, probs)
        print(f"results: {out / 'results.csv'} ({n} rows, {len(keys)} actor boxes)")
        if args.groundtruth:
            if not args.labelmap:
                raise SystemExit("error: --groundtruth needs --labelmap")
            result = evaluate_ava(out / "results.csv", args.groundtruth, args.labelmap, args.exclusions or None,
                                  args.max_dets_per_frame)
            atomic_write_json(out / "metrics.json", result)
            table = table_markdown([(args.name, result)], "frame-mAP@0.5 (%)")
            write_table(out / "table.md", table)
            print(table)
    return result


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        test(args)
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
