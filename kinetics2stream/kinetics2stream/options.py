"""Command-line flags of train.py, test.py and eval.py (the original names and defaults), and the run folder
they name."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import List, Optional

from core.cli import ArgumentParser, str2bool
from core.train import add_common_args
from kinetics2stream.aggregate import CLASS_TOPK
from kinetics2stream.model import ARCHS, IMAGENET_FILES


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


def get_train_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Train a frame-level Kinetics classifier (one stream: RGB frames or "
                       "optical-flow images).")
    add_data_args(p)
    p.add_argument("--max_iterations", type=int, default=250000)
    p.add_argument("--start-iteration", dest="start_iteration", type=int, default=0,
                   help="(kept for compatibility; --resume restores the iteration)")
    p.add_argument("--ngpu", type=int, default=1, help="(kept for compatibility; use torchrun for several)")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", "--wd", dest="weight_decay", type=float, default=1e-4)
    p.add_argument("--step_values", default="100000,180000", help="iterations where the LR is multiplied by --gamma")
    p.add_argument("--gamma", type=float, default=0.1)
    p.add_argument("--print-freq", "-p", dest="print_freq", type=int, default=20)
    p.add_argument("--val_step", type=int, default=10000, help="validate and checkpoint every N iterations")
    p.add_argument("--val_frame_step", type=int, default=0, help="validation frame step (default 4 * frame_step)")
    p.add_argument("--freeze_bn", type=int, default=1,
                   help="1: every BatchNorm in eval mode during training (the original); 0: BN trains "
                        "(from scratch there are no ImageNet statistics to freeze)")
    p.add_argument("--min_crop_area", type=float, default=0.0,
                   help="> 0: scale jitter, random square crops of [min_crop_area, 1] of the largest square's "
                        "area (0: the original's fixed-scale random crop)")
    p.add_argument("--color_jitter", type=float, default=0.0,
                   help="> 0: brightness/contrast/saturation factors in [1 - j, 1 + j] per stack (RGB input only)")
    p.add_argument("--resume", default="", metavar="PATH|auto",
                   help="checkpoint file/dir, 'auto' (latest of this run; 'true' means auto), or empty")
    p.add_argument("--visdom", default=False, type=str2bool, help="log to visdom (same as --logger visdom)")
    add_common_args(p, num_workers=4, logger="tensorboard", device="auto")
    return p


def parse_train_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check train.py's flags (a bad combination is a usage error, exit 2)."""
    p = get_train_parser()
    args = p.parse_args(argv)
    if args.seq_len % 2 != 1:
        p.error("--seq_len must be odd")
    if args.color_jitter > 0 and args.input != "rgb":
        p.error(f"--color_jitter is for RGB frames, not --input {args.input} (flow images encode vectors)")
    if args.resume.lower() in ("true", "1", "yes"):
        args.resume = "auto"
    elif args.resume.lower() in ("false", "0", "no"):
        args.resume = ""
    if args.visdom:
        args.logger = "visdom"
    return args


def get_test_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Score every 2nd frame of every validation video with trained "
                       "checkpoints; frame and video metrics.")
    add_data_args(p)
    p.add_argument("--test-iterations", "--test_iterations", dest="test_iterations", default="30000,60000",
                   help="checkpoints to test: iterations (checkpoints/model_<iter>.pth) and/or 'best'")
    p.add_argument("--test_frame_step", type=int, default=2, help="score every N-th frame (the original: 2)")
    p.add_argument("--classtopk", default=",".join(map(str, CLASS_TOPK)), help="k of the top-k frame aggregation")
    p.add_argument("--subset", default="val")
    p.add_argument("--print-freq", "-p", dest="print_freq", type=int, default=10)
    p.add_argument("--device", default="auto")
    return p


def parse_test_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = get_test_parser()
    args = p.parse_args(argv)
    try:
        args.classtopk = [int(s) for s in str(args.classtopk).split(",") if s.strip()]
    except ValueError:
        p.error(f"--classtopk: expected a comma list of integers, got {args.classtopk!r}")
    return args


def get_eval_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description="Video-level evaluation (hit@1, hit@5, mean, mean-error, mAP) and "
                       "RGB+Flow fusion.")
    add_data_args(p)
    p.add_argument("--test-iteration", "--test_iteration", dest="test_iteration", default="60000",
                   help="run-folder mode: the checkpoint tag test.py used (an iteration or 'best')")
    p.add_argument("--gt", default=None, help="annotation json (default <root>/<dataset>/hfiles/Annots_<datasubset>.json)")
    p.add_argument("--predictions", nargs="+", default=None, help="ActivityNet classification json file(s)")
    p.add_argument("--rgb", default=None, help="fusion: per-video RGB scores (test.py output_val_*.pkl)")
    p.add_argument("--flow", default=None, help="fusion: per-video flow scores")
    p.add_argument("--fusion_weight", type=float, default=0.5, help="weight of RGB; flow gets 1 - w")
    p.add_argument("--classtopk", type=int, default=30, help="fusion: k of the top-k frame aggregation")
    p.add_argument("--out_dir", default=None, help="fusion: where the fused json and results go")
    p.add_argument("--subset", default="val")
    p.add_argument("--json", default=None, help="write the numbers to this json file")
    return p


def parse_eval_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = get_eval_parser()
    args = p.parse_args(argv)
    if bool(args.rgb) != bool(args.flow):
        p.error("fusion needs both --rgb and --flow")
    return args


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
