"""Command-line flags of train.py and test.py (the original names and defaults), run names and folders."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from core.cli import ArgumentParser, str2bool
from core.train import add_common_args

from .augmentation import parse_augment
from .model import FUSIONS

DEFAULT_DATA = os.path.join("runs", "amtnet", "data")
DEFAULT_SAVE = os.path.join("runs", "amtnet")
# The flags that define a trained network: test.py takes them from the checkpoint.
MODEL_FIELDS = ("dataset", "seq_len", "fusion_type", "input_type_base", "input_type_extra", "input_frames_base",
                "input_frames_extra", "width_mult", "batch_norm")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """Flags train.py and test.py share: the network, the data and the run's name."""
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
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: bfloat16 autocast on the CPU, float16 (+ loss scaling in training) on CUDA")


def get_train_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Train AMTNet (action micro-tubes: SSD300 on two frames, optional "
                       "two-stream fusion).")
    add_model_args(p)
    p.add_argument("--jaccard_threshold", default=0.5, type=float, help="prior matching IoU threshold")
    p.add_argument("--batch_size", default=4, type=int, help="micro-tubes per iteration (per process)")
    p.add_argument("--num_workers", "-j", default=4, type=int, help="data loading workers")
    p.add_argument("--max_iter", default=40000, type=int)
    p.add_argument("--val_step", default=10000, type=int,
                   help="checkpoint + validation every N iterations (also at 1000 and max_iter); 0: no validation")
    p.add_argument("--cuda", default=1, type=int, help="0 forces the CPU (same as --device cpu)")
    p.add_argument("--ngpu", default=1, type=int, help=">1: DataParallel over that many GPUs (else use torchrun)")
    p.add_argument("--lr", "--learning-rate", default=0.0005, type=float)
    p.add_argument("--momentum", default=0.9, type=float)
    p.add_argument("--optim", default="sgd", choices=["sgd", "adamw"],
                   help="sgd (the paper) or adamw (betas 0.9/0.999, decoupled decay; for training from random weights)")
    p.add_argument("--warmup", default=0, type=int, help="linear lr warm-up iterations (from lr / 3)")
    p.add_argument("--stepvalues", default="10000,30000", type=str, help="iterations where lr is multiplied by gamma")
    p.add_argument("--weight_decay", default=1e-4, type=float)
    p.add_argument("--gamma", default=0.1, type=float)
    p.add_argument("--visdom", default=False, type=str2bool, help="plot losses and validation mAP in visdom")
    p.add_argument("--vis_port", default=8095, type=int, help="visdom port")
    p.add_argument("--default_mult", default=1.0, type=float, help="(unused, kept for the original command lines)")
    p.add_argument("--man_seed", "--seed", dest="man_seed", default=123, type=int, help="random seed")
    p.add_argument("--base_weights", default="", help="initialise the base stream from this file (overrides the search)")
    p.add_argument("--extra_weights", default="", help="initialise the extra stream from this file")
    p.add_argument("--print_freq", default=20, type=int)
    p.add_argument("--augment", default="photometric,expand,crop,mirror", type=parse_augment,
                   help="comma list of SSD augmentation steps to apply (default all four, ssd.pytorch's "
                        "SSDAugmentation), or 'none'")
    p.add_argument("--no_augment", action="store_true", help="train without augmentation (same as --augment none)")
    p.add_argument("--val_batch_size", default=8, type=int)
    add_common_args(p, num_workers=4, logger="tensorboard", device="auto")
    return p


def get_test_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Test AMTNet over every frame of the test videos: detections, "
                       "frame-mAP, tubes, video-mAP, table.md.")
    add_model_args(p)
    p.set_defaults(topk=20)
    p.add_argument("--eval_iters", default="", help="comma list of checkpoint iterations (default: the latest)")
    p.add_argument("--eval_gaps", default="", help="comma list of seq_gap values to test at (default: the run's; 20 -> 1)")
    p.add_argument("--checkpoint", default="", help="test this checkpoint file (its run flags are used)")
    p.add_argument("--out_dir", default="", help="output folder (default <run>/test-<iter>-eg<gap>)")
    p.add_argument("--batch_size", default=4, type=int, help="the training run's batch size (names the run)")
    p.add_argument("--lr", default=0.0005, type=float, help="the training run's lr (names the run)")
    p.add_argument("--test_batch_size", default=8, type=int, help="frames per backbone batch")
    p.add_argument("--num_workers", "-j", default=2, type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--protocol", default="road", choices=["road", "act"], help="evaluation.ucf24 protocol")
    p.add_argument("--gt", default="", help="ground truth for evaluation (default <dataset>/splitfiles/pyannot.pkl)")
    p.add_argument("--name", default="", help="row name in table.md (default: the run name)")
    p.add_argument("--late_fusion", default="", help="comma list of mean, union, boost: fuse --rgb_dir and --flow_dir")
    p.add_argument("--rgb_dir", default="", help="test output folder of the RGB run (late fusion)")
    p.add_argument("--flow_dir", default="", help="test output folder of the flow run (late fusion)")
    p.add_argument("--no_eval", action="store_true", help="write detections and tubes only")
    return p


def _parse(p: argparse.ArgumentParser, argv: Optional[List[str]]) -> argparse.Namespace:
    """Parse ``argv`` and check the flags train.py and test.py share (a bad one is a usage error, exit 2)."""
    args = p.parse_args(argv)
    if args.ssd_dim != 300:
        p.error("--ssd_dim: only 300 is supported (the v2 priors need 38/19/10/5/3/1 maps)")
    if args.version != "v2":
        p.error("--version: only v2 priors exist")
    if args.seq_len < 2:
        p.error("--seq_len must be >= 2 (a micro-tube spans at least two frames)")
    if args.width_mult <= 0:
        p.error("--width_mult must be positive")
    return args


def parse_train_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    return _parse(get_train_parser(), argv)


def parse_test_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = get_test_parser()
    args = _parse(p, argv)
    if args.late_fusion:
        if not (args.rgb_dir and args.flow_dir and args.out_dir):
            p.error("--late_fusion needs --rgb_dir, --flow_dir and --out_dir")
        kinds = [k.strip() for k in args.late_fusion.split(",") if k.strip()]
        bad = [k for k in kinds if k not in ("mean", "union", "boost")]
        if bad:
            p.error(f"--late_fusion: unknown fusion '{bad[0]}' (mean, union, boost)")
        args.late_fusion = kinds
    return args


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


def data_root_or_synthetic(args: argparse.Namespace) -> str:
    """``--data_root``, or the synthetic set under DEFAULT_DATA (written on first use)."""
    if args.data_root is None:
        from .data import ensure_synthetic

        print(f"data: no --data_root; using the synthetic set under {DEFAULT_DATA}", file=sys.stderr)
        args.data_root = ensure_synthetic(DEFAULT_DATA, args.dataset)
    return args.data_root
