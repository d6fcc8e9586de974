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

import sys
from pathlib import Path
from typing import List, Optional

import numpy as np

from core.errors import DataError, cli_errors
from core.io import atomic_write_json
from core.train.checkpoint import CheckpointManager, load_weights_into
from core.train.distributed import all_gather_object, init_distributed, is_main_process, launch
from stage.data import build_dataset, build_loader
from stage.engine import evaluate_ava, predict, table_markdown, write_results_csv, write_table
from stage.model import build_model
from stage.options import parse_test_args


def test(args) -> None:
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
    if is_main_process():
        keys = [k for p in parts for k in p[0]]
        boxes = np.concatenate([p[1] for p in parts if len(p[1])] or [np.zeros((0, 4))])
        probs = np.concatenate([p[2] for p in parts if len(p[2])] or [np.zeros((0, args.num_classes))])
        n = write_results_csv(out / "results.csv", keys, boxes, probs)
        print(f"results: {out / 'results.csv'} ({n} rows, {len(keys)} actor boxes)")
        if args.groundtruth:
            result = evaluate_ava(out / "results.csv", args.groundtruth, args.labelmap, args.exclusions or None,
                                  args.max_dets_per_frame)
            atomic_write_json(out / "metrics.json", result)
            table = table_markdown([(args.name, result)], "frame-mAP@0.5 (%)")
            write_table(out / "table.md", table)
            print(table)


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(test, parse_test_args(argv))


if __name__ == "__main__":
    sys.exit(main())
