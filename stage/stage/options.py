"""Command-line flags of train.py and test.py (the original names and defaults, and core.train's shared
ones); a bad combination is a usage error (exit 2)."""

from __future__ import annotations

import argparse
from typing import List, Optional

from core.cli import ArgumentParser
from core.train import add_common_args
from stage.graph import TEMPORAL_MODES


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch_size", type=int, default=6,
                   help="keyframes per batch (consecutive seconds share temporal edges; 1 works too)")
    p.add_argument("--n_workers", "--num_workers", dest="num_workers", type=int, default=2,
                   help="DataLoader workers")
    p.add_argument("--num_classes", type=int, default=81,
                   help="81 = background + 80 AVA actions (I3D features); 80 for SlowFast features")
    p.add_argument("--actors_features_size", type=int, default=1024, help="channels of the actor features")
    p.add_argument("--objects_features_size", type=int, default=2048, help="size of the object features")
    p.add_argument("--n_heads", type=int, default=4, help="GAT heads (1, 2 or 4 for 1024-d features)")
    p.add_argument("--slowfast_file", default="",
                   help="read actors from one SlowFast-feature h5 (groups <clip>_<timestamp>) instead of --actors_dir")
    p.add_argument("--temporal_edges", default="batch", choices=TEMPORAL_MODES,
                   help="batch: to the previous/next keyframe of the batch (original); video: only inside one "
                        "clip; none: no temporal edges (ablation)")
    p.add_argument("--no_objects", action="store_true", help="leave the object nodes out of the graph (ablation)")
    p.add_argument("--no_relations", action="store_true",
                   help="the like-for-like baseline: each actor node linked only to itself (no actor, object or "
                        "temporal edges), i.e. STAGE's layers as a per-actor head on the same features")
    p.add_argument("--tau", type=float, default=1.0, help="edge weight exp(-tau * centre distance)")


def get_train_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Train STAGE on precomputed actor/object features "
                       "(aimagelab/STAGE_action_detection's train.py).")
    p.add_argument("--actors_dir", help="root of the per-keyframe actor h5 files (<clip>/<timestamp>.h5)")
    p.add_argument("--objects_file", help="the objects h5 file")
    p.add_argument("--output_dir", required=True, help="checkpoints, last_checkpoint, log.txt")
    p.add_argument("--log_tensorboard_dir", default="", help="tensorboard logs (default OUT/tensorboard)")
    add_model_args(p)
    p.add_argument("--lr", type=float, default=0.0000625, help="Adam learning rate (README: 6.25e-5 at batch 6)")
    p.add_argument("--impose_lr", type=float, default=0.0, help="if not 0, override the LR of a resumed optimizer")
    p.add_argument("--n_epochs", type=int, default=50)
    p.add_argument("--print_freq", type=int, default=20, help="log the loss every N iterations")
    p.add_argument("--ckpt_every", type=int, default=0, help="also save every N iterations inside an epoch (0: no)")
    p.add_argument("--resume", default="auto", metavar="PATH|auto",
                   help="checkpoint file/dir, or auto = OUT/last_checkpoint if present (default)")
    add_common_args(p, num_workers=2, logger="tensorboard", device="auto")
    return p


def get_test_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Run a trained STAGE on validation features, write results.csv (AVA "
                       "format) and evaluate it.")
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


def _parse(p: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    """Parse ``argv`` and check the flags train.py and test.py share (a bad one is a usage error, exit 2)."""
    args = p.parse_args(argv)
    if args.no_relations:  # no object nodes to read, no temporal links to build
        args.no_objects, args.temporal_edges = True, "none"
    if not (args.actors_dir or args.slowfast_file):
        p.error("--actors_dir (or --slowfast_file) is required")
    if args.batch_size < 1:
        p.error(f"--batch_size must be >= 1, got {args.batch_size}")
    d = args.actors_features_size + 4
    nhid = args.actors_features_size // max(args.n_heads, 1) + 4 // max(args.n_heads, 1)
    if args.n_heads < 1 or nhid * args.n_heads != d:
        p.error(f"--n_heads {args.n_heads}: heads of {nhid} do not add up to {d} = actors_features_size + 4; "
                "use a number of heads dividing both the feature size and 4 (1, 2 or 4)")
    return args


def parse_test_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = get_test_parser()
    args = _parse(p, argv)
    if args.groundtruth and not args.labelmap:
        p.error("--groundtruth needs --labelmap")
    return args


def parse_train_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    return _parse(get_train_parser(), argv)
