"""Train a frame-level Kinetics classifier (one stream: RGB frames or optical-flow images).

    python train.py --root DATA --save_root RUNS --arch resnet101 --input rgb --isize 112 \
        --datasubset 200 --max_iterations 60000 --step_values 25000,40000,55000
    torchrun --nproc_per_node=2 train.py ...                 # DDP (gloo on CPU); -b is per process

Frames are sampled every --frame_step (6) frames of the train videos; every --val_step iterations the
model is scored on every 4*frame_step-th frame of the val videos (frame top-1 / top-3). Writes
``<save_root>/<dataset>/cache/<exp_name>/``: ``checkpoints/model_<iter>.pth`` (full state, for
``--resume`` and test.py), ``best.pth`` (model of the best val top-1), ``results_<iter>.txt``,
``log.txt`` and ``tensorboard/``.
"""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import torch

from core.errors import DataError, cli_errors
from core.io import atomic_write_json
from core.train.args import args_to_dict
from core.train.checkpoint import CheckpointManager, load_weights_into, resume
from core.train.data import make_eval_loader, make_train_loader, resume_batches
from core.train.distributed import init_distributed, is_main_process, launch, wrap_ddp
from core.train.logger import SmoothedValue, make_metric_logger
from core.train.schedules import WarmupMultiStepLR
from core.train.seed import seed_everything
from kinetics2stream.data import KineticsFrames, build_transform, input_spec
from kinetics2stream.engine import train_loop
from kinetics2stream.model import build_model, load_imagenet, param_groups
from kinetics2stream.options import exp_name, parse_train_args, pretrained_path, run_dir


def train(args) -> None:
    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)
    root = os.path.join(args.root, args.dataset)
    out = run_dir(args)

    # data: every frame_step-th frame of the train videos; every 4 * frame_step-th of the val videos
    size = args.isize or input_spec(args.arch)[0]
    train_tf = build_transform(args.arch, size, True, args.min_crop_area, args.color_jitter)
    train_set = KineticsFrames(root, args.input, args.datasubset, ["train"], train_tf,
                               frame_step=args.frame_step, seq_len=args.seq_len, gap=args.gap)
    val_set = KineticsFrames(root, args.input, args.datasubset, ["val"], build_transform(args.arch, size, False),
                             frame_step=args.val_frame_step or 4 * args.frame_step, seq_len=args.seq_len, gap=args.gap)
    if len(train_set) == 0:
        raise DataError(train_set.annot_file, "no train frames (no train videos with isthere and numf > 2*seq_len)")

    # model: ImageNet weights from a local file (first conv replicated over a stack), then --weights
    model = build_model(args.arch, train_set.num_classes, args.seq_len)
    weights = pretrained_path(args)
    if weights:
        n = len(load_imagenet(model, args.arch, weights))
        if is_main_process():
            print(f"ImageNet weights: {n} tensors from {weights}")
    if args.weights:
        load_weights_into(model, args.weights)
    model.to(info.device)

    # optimisation: SGD, step schedule; the full state resumes
    milestones = [int(s) for s in args.step_values.split(",") if s.strip()]
    optimizer = torch.optim.SGD(param_groups(model, args.lr, args.weight_decay), lr=args.lr, momentum=args.momentum)
    scheduler = WarmupMultiStepLR(optimizer, milestones, gamma=args.gamma, warmup_iters=0)
    manager = CheckpointManager(out / "checkpoints", keep_last=0, prefix="model")
    state = resume(args.resume, model, optimizer, scheduler, directory=manager.directory)
    start = state.iteration if state else 0
    best_top1 = float(state.extra.get("best_top1", 0.0)) if state else 0.0
    if is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / "args.json", args_to_dict(args))
        print(f"{exp_name(args)}: {len(train_set)} train frames of {len(train_set.videos)} videos, "
              f"{len(val_set)} val frames, {train_set.num_classes} classes -> {out}")

    ddp_model = wrap_ddp(model, info.device)
    loader = make_train_loader(train_set, args.batch_size, seed=args.seed, num_workers=args.num_workers,
                               pin_memory=info.device.type == "cuda")
    val_loader = make_eval_loader(val_set, args.batch_size, num_workers=args.num_workers)
    logger = make_metric_logger(out, args.logger, resume_step=start, visdom_server=args.visdom_server,
                                visdom_port=args.visdom_port, visdom_env=args.visdom_env or exp_name(args))
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.6f}"))
    try:
        train_loop(args, model, ddp_model, resume_batches(loader, start, args.max_iterations), val_loader, optimizer,
                   scheduler, manager, logger, info.device, start, best_top1, out)
    finally:
        logger.close()


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(train, parse_train_args(argv))


if __name__ == "__main__":
    sys.exit(main())
