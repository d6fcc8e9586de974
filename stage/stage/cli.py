"""Flags shared by train.py and test.py (the original names and defaults) and the loaders they build."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from torch.utils.data import DataLoader, Dataset

from stage.data import BatchCollator, KeyframeBatchSampler, SlowFastDataset, StageDataset
from stage.graph import TEMPORAL_MODES
from stage.model import Stage


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
    p.add_argument("--tau", type=float, default=1.0, help="edge weight exp(-tau * centre distance)")


def build_dataset(args: argparse.Namespace, actors_dir: Optional[str], objects_file: Optional[str]) -> Dataset:
    objects = None if args.no_objects else (objects_file or None)
    if args.slowfast_file:
        return SlowFastDataset(args.slowfast_file, objects, args.num_classes, args.actors_features_size,
                               args.objects_features_size)
    if not actors_dir:
        raise SystemExit("error: --actors_dir (or --slowfast_file) is required")
    return StageDataset(actors_dir, objects, args.num_classes, args.actors_features_size, args.objects_features_size)


def build_loader(args: argparse.Namespace, dataset: Dataset, shuffle: bool, rank: int, world_size: int) -> DataLoader:
    sampler = KeyframeBatchSampler(len(dataset), args.batch_size, shuffle=shuffle, seed=args.seed, rank=rank,
                                   world_size=world_size)
    collate = BatchCollator(args.temporal_edges, args.tau, use_objects=not args.no_objects)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=args.num_workers, collate_fn=collate,
                      persistent_workers=args.num_workers > 0,  # the batch sampler runs in this process
                      prefetch_factor=4 if args.num_workers > 0 else None)


def build_model(args: argparse.Namespace) -> Stage:
    try:
        return Stage(args.num_classes, args.actors_features_size, args.objects_features_size, args.n_heads)
    except ValueError as e:  # inconsistent sizes on the command line: one line, exit 2 like bad input
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
