"""Flags shared by train.py and test.py (the original names and defaults), run names and directories."""

from __future__ import annotations

import argparse
import os
import sys

from .model import FUSIONS

DEFAULT_DATA = os.path.join("runs", "amtnet", "data")
DEFAULT_SAVE = os.path.join("runs", "amtnet")


def str2bool(v: str) -> bool:
    if isinstance(v, bool):
        return v
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if v.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean, got {v!r}")


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", default="v2", help="prior configuration (only v2)")
    p.add_argument("--basenet", default="vgg16_reducedfc.pth",
                   help="ssd.pytorch VGG weights: a path, or a file name under <data_root>/weights or train_data")
    p.add_argument("--dataset", default="ucf24", choices=["ucf24", "jhmdb21"])
    p.add_argument("--train_split", default=1, type=int, help="split: splitfiles/trainlist<split:02d>.txt")
    p.add_argument("--ssd_dim", default=300, type=int, help="input size (only 300)")
    p.add_argument("--seq_len", default=2, type=int, help="frames per micro-tube")
    p.add_argument("--seq_gap", default=0, type=int,
                   help="frames skipped between micro-tube frames (delta = seq_gap + 1); 20 = mixed gaps 0,1,3,7 "
                        "in training, 1 in testing")
    p.add_argument("--fusion_type", default="NONE", type=str.lower, choices=FUSIONS,
                   help="two-stream fusion: NONE (single stream), SUM, MEAN or CAT")
    p.add_argument("--input_type_base", default="rgb", choices=["rgb", "brox", "fastOF"])
    p.add_argument("--input_type_extra", default="brox", choices=["rgb", "brox", "fastOF"])
    p.add_argument("--input_frames_base", default=1, type=int, help="images stacked per time step (rgb 1, flow 5)")
    p.add_argument("--input_frames_extra", default=5, type=int)
    p.add_argument("--width_mult", default=1.0, type=float,
                   help="channel width multiplier of the backbone and extras (1.0 = the paper; small for CPU runs)")
    p.add_argument("--batch_norm", default=False, type=str2bool,
                   help="BatchNorm after each VGG conv (ssd.pytorch's vgg(batch_norm=True)); not the paper's "
                        "network: for training from random weights")
    p.add_argument("--data_root", default=None,
                   help=f"folder holding <dataset>/ (default {DEFAULT_DATA}, a synthetic UCF24 set written on first use)")
    p.add_argument("--save_root", default=DEFAULT_SAVE, help="runs go to <save_root>/<dataset>/cache/<exp>/")
    p.add_argument("--iou_thresh", default=0.5, type=float, help="frame-AP IoU threshold")
    p.add_argument("--conf_thresh", default=0.01, type=float, help="score threshold before NMS")
    p.add_argument("--nms_thresh", default=0.45, type=float)
    p.add_argument("--topk", default=50, type=int, help="NMS candidates per class")


def check_args(args: argparse.Namespace) -> None:
    if args.ssd_dim != 300:
        raise SystemExit("error: --ssd_dim: only 300 is supported (the v2 priors need 38/19/10/5/3/1 maps)")
    if args.version != "v2":
        raise SystemExit("error: --version: only v2 priors exist")
    if args.seq_len < 2:
        raise SystemExit("error: --seq_len must be >= 2 (a micro-tube spans at least two frames)")
    if args.width_mult <= 0:
        raise SystemExit("error: --width_mult must be positive")
    if args.data_root is None:
        args.data_root = ensure_synthetic(DEFAULT_DATA, args.dataset)


def ensure_synthetic(root: str, dataset: str, size: str = "demo", workers: int = 2) -> str:
    """Write the synthetic dataset under ``root/<dataset>`` on first use (tools/synthesize.py's writer)."""
    from core.synthetic.datasets import write_dataset

    target = os.path.join(root, dataset)
    if not os.path.isfile(os.path.join(target, "splitfiles", "pyannot.pkl")):
        fmt = "ucf24" if dataset == "ucf24" else "jhmdb"
        print(f"data: writing the synthetic {fmt} '{size}' set to {target} (first use)", file=sys.stderr)
        write_dataset(fmt, target, size, seed=0, workers=workers)
    return root


def exp_name(args: argparse.Namespace) -> str:
    """The original run name (lower-case types), plus ``-w<width>`` when the width is not 1."""
    stream = (f"{args.fusion_type}-{args.input_type_base}-{args.input_type_extra}" if args.fusion_type != "none"
              else args.input_type_base)
    name = (f"AMTNet-{args.dataset}-s{args.train_split}-{stream}-sl{args.seq_len:02d}sg{args.seq_gap:02d}"
            f"-bs{args.batch_size:02d}-lr{int(args.lr * 100000):05d}")
    if args.width_mult != 1.0:
        name += f"-w{args.width_mult:g}"
    if getattr(args, "batch_norm", False):
        name += "-bn"
    return name


def run_dir(args: argparse.Namespace) -> str:
    return os.path.join(args.save_root, args.dataset, "cache", exp_name(args))
