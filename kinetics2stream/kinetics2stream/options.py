"""Flags train.py, test.py and eval.py share, and the run folder they name."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional

from kinetics2stream.models import ARCHS, IMAGENET_FILES


def str2bool(v: str) -> bool:
    return str(v).lower() in ("yes", "true", "t", "1")


def add_data_args(p: argparse.ArgumentParser) -> None:
    """Flags train.py, test.py and eval.py share (they name the run folder)."""
    p.add_argument("--dataset", default="kinetics", help="sub-folder of --root holding the data")
    p.add_argument("--datasubset", default="200", help="annotation file hfiles/Annots_<datasubset>.json (200, 400, 600)")
    p.add_argument("--arch", "-a", default="resnet101", choices=ARCHS)
    p.add_argument("--input", "-i", default="rgb", help="image folder <input>-images (rgb, farneback, ...)")
    p.add_argument("--isize", "--is", type=int, default=112, help="crop size (InceptionV3 299, VGG 300)")
    p.add_argument("-j", "--workers", "--num_workers", dest="num_workers", type=int, default=4,
                   help="data loading workers")
    p.add_argument("--seq_len", type=int, default=1, help="frames stacked along channels (odd)")
    p.add_argument("--gap", type=int, default=1, help="frame spacing inside a stack")
    p.add_argument("--frame_step", type=int, default=6, help="train on every frame_step-th frame")
    p.add_argument("-b", "--batch-size", dest="batch_size", type=int, default=64, help="per process")
    p.add_argument("--lr", "--learning-rate", dest="lr", type=float, default=0.0005)
    p.add_argument("--global_models_dir", default="~/global-models/pytorch-imagenet",
                   help="folder of ImageNet weights used by --pretrained 1")
    p.add_argument("--pretrained", default="0",
                   help="ImageNet weights: a file, 1 (= <global_models_dir>/<arch file>) or 0 (none)")
    p.add_argument("--root", default="data/", help="dataset root (<root>/<dataset>/ holds the images)")
    p.add_argument("--save_root", default="runs/", help="runs go to <save_root>/<dataset>/cache/<exp_name>/")


def pretrained_path(args) -> Optional[str]:
    v = str(args.pretrained)
    if v in ("", "0", "false", "False", "none"):
        return None
    if v in ("1", "true", "True"):
        return os.path.join(os.path.expanduser(args.global_models_dir), IMAGENET_FILES[args.arch])
    return os.path.expanduser(v)


def run_dir(args) -> Path:
    return Path(args.save_root) / args.dataset / "cache" / exp_name(args)


def exp_name(args) -> str:
    """The run's folder name, train.py's pattern (test.py and eval.py use the same one):
    ``<dataset>-<datasubset>-<input>-<arch>--P<pretrained>-is<isize>-sl<seq_len:02d>-g<gap>-fs<frame_step>-<bs>-<lr*1e6:06d>``."""
    pre = 1 if str(args.pretrained) not in ("", "0", "False", "false", "none") else 0
    return (f"{args.dataset}-{args.datasubset}-{args.input}-{args.arch}--P{pre}-is{args.isize}-sl{args.seq_len:02d}"
            f"-g{args.gap}-fs{args.frame_step}-{args.batch_size}-{int(round(args.lr * 1e6)):06d}")
