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

import argparse
import os
import sys
from typing import List, Optional

import torch
from torch import nn

from core.errors import DataError, cli_errors
from core.io import atomic_write_json, atomic_write_text, torch_save_atomic
from core.metrics import topk_accuracy
from core.train import (
    CheckpointManager,
    SmoothedValue,
    WarmupMultiStepLR,
    add_common_args,
    all_reduce_mean,
    args_to_dict,
    barrier,
    cleanup,
    init_distributed,
    is_main_process,
    load_weights_into,
    make_eval_loader,
    make_metric_logger,
    make_train_loader,
    resume,
    resume_batches,
    seed_everything,
    unwrap_model,
    wrap_ddp,
)
from kinetics2stream.data import KineticsFrames, build_transform, input_spec
from kinetics2stream.engine import score_frames
from kinetics2stream.models import build_model, load_imagenet, param_groups, set_bn_eval
from kinetics2stream.options import add_data_args, exp_name, pretrained_path, run_dir, str2bool


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
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


def validate(model: nn.Module, loader, device) -> dict:
    out = score_frames(model, loader, device)
    top1, top3 = topk_accuracy(out["logits"], out["labels"], (1, 3))
    return {"val_top1": 100.0 * top1, "val_top3": 100.0 * top3, "val_loss": float(out["loss"])}


def train(args: argparse.Namespace) -> int:
    if args.resume.lower() in ("true", "1", "yes"):
        args.resume = "auto"
    elif args.resume.lower() in ("false", "0", "no"):
        args.resume = ""
    if args.visdom:
        args.logger = "visdom"
    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)
    root = os.path.join(args.root, args.dataset)
    out = run_dir(args)
    milestones = [int(s) for s in args.step_values.split(",") if s.strip()]
    default_size, _, _ = input_spec(args.arch)
    size = args.isize or default_size

    train_tf = build_transform(args.arch, size, True, args.min_crop_area, args.color_jitter)
    train_set = KineticsFrames(root, args.input, args.datasubset, ["train"], train_tf,
                               frame_step=args.frame_step, seq_len=args.seq_len, gap=args.gap)
    val_set = KineticsFrames(root, args.input, args.datasubset, ["val"], build_transform(args.arch, size, False),
                             frame_step=args.val_frame_step or 4 * args.frame_step, seq_len=args.seq_len, gap=args.gap)
    if len(train_set) == 0:
        raise DataError(train_set.annot_file, "no train frames (no train videos with isthere and numf > 2*seq_len)")

    model = build_model(args.arch, train_set.num_classes, args.seq_len)
    weights = pretrained_path(args)
    if weights:
        n = len(load_imagenet(model, args.arch, weights))
        if is_main_process():
            print(f"ImageNet weights: {n} tensors from {weights}")
    if args.weights:
        load_weights_into(model, args.weights)
    model.to(info.device)
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
    criterion = nn.CrossEntropyLoss()

    def train_mode() -> None:
        ddp_model.train()
        if args.freeze_bn:
            set_bn_eval(ddp_model)

    train_mode()
    try:
        batches = resume_batches(loader, start, args.max_iterations)
        for it, epoch, (x, y, _, _) in logger.log_every(batches, args.print_freq, header="train",
                                                        total=args.max_iterations - start, start_step=start):
            x, y = x.to(info.device, non_blocking=True), y.to(info.device, non_blocking=True)
            lr = optimizer.param_groups[0]["lr"]
            output = ddp_model(x)
            loss = criterion(output, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            top1, top3 = topk_accuracy(output.detach(), y, (1, 3))
            logger.update(**all_reduce_mean({"loss": float(loss.detach()), "top1": 100 * top1, "top3": 100 * top3}),
                          lr=lr)
            done = it + 1
            if done % args.val_step == 0 or done == args.max_iterations:
                metrics = validate(model, val_loader, info.device)
                is_best = metrics["val_top1"] > best_top1
                best_top1 = max(best_top1, metrics["val_top1"])
                logger.write(done, metrics)
                manager.save(ddp_model, optimizer, scheduler, iteration=done, epoch=epoch, args=args,
                             extra={"best_top1": best_top1, **metrics})
                if is_main_process():
                    line = (f"iteration {done}: val top1 {metrics['val_top1']:.3f} top3 {metrics['val_top3']:.3f} "
                            f"loss {metrics['val_loss']:.4f} (best top1 {best_top1:.3f})")
                    logger.print(line)
                    atomic_write_text(out / f"results_{done:06d}.txt", line + "\n")
                    if is_best:
                        torch_save_atomic({"model": unwrap_model(model).state_dict(), "iteration": done,
                                           "arch": args.arch, **metrics}, out / "best.pth")
                train_mode()
    finally:
        logger.close()
    barrier()
    return 0


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    if args.seq_len % 2 != 1:
        raise SystemExit("error: --seq_len must be odd")
    if args.color_jitter > 0 and args.input != "rgb":
        raise SystemExit(f"error: --color_jitter is for RGB frames, not --input {args.input} (flow images encode vectors)")
    try:
        return train(args)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
