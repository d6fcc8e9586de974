"""Train AMTNet (action micro-tubes: SSD300 on two frames, optional two-stream fusion).

    python train.py --data_root DATA --save_root RUNS --fusion_type NONE --input_type_base rgb
    python train.py --data_root DATA --save_root RUNS --fusion_type NONE --input_type_base brox --input_frames_base 5
    python train.py --data_root DATA --save_root RUNS --fusion_type SUM --input_type_base rgb --input_type_extra brox
    torchrun --nproc_per_node=2 train.py ...      (DDP; --batch_size is per process)

Writes <save_root>/<dataset>/cache/<exp>/: checkpoints/AMTNet_<iter>.pth, log.txt, tensorboard/, val.json;
a single-stream run also writes <save_root>/weights/AMTNet_single_stream_<type>_s<split>.pth, which a fusion
run loads into its streams.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from amtnet.augmentation import AUGMENT_STEPS, MicroTubeAugmentation, parse_augment  # noqa: E402
from amtnet.config import add_model_args, check_args, exp_name, run_dir, str2bool  # noqa: E402
from amtnet.data import MatchCollate, MicroTubeDataset  # noqa: E402
from amtnet.detect import validate  # noqa: E402
from amtnet.loss import multibox_loss  # noqa: E402
from amtnet.model import AMTNet, param_groups  # noqa: E402
from amtnet.priors import prior_boxes  # noqa: E402
from amtnet.weights import init_model, single_stream_path  # noqa: E402
from core.errors import cli_errors  # noqa: E402
from core.io import atomic_write_json, torch_save_atomic  # noqa: E402
from core.train import (  # noqa: E402
    CheckpointManager,
    SmoothedValue,
    WarmupMultiStepLR,
    add_common_args,
    all_reduce_mean,
    autocast,
    barrier,
    cleanup,
    grad_scaler,
    init_distributed,
    is_main_process,
    load_weights_into,
    make_metric_logger,
    make_train_loader,
    place_model,
    resume,
    resume_batches,
    seed_everything,
    unwrap_model,
    wrap_ddp,
)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
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
    p.add_argument("--amp", action="store_true",
                   help="mixed precision: bfloat16 autocast on the CPU, float16 + loss scaling on CUDA")
    p.add_argument("--augment", default="photometric,expand,crop,mirror", type=parse_augment,
                   help="comma list of SSD augmentation steps to apply (default all four, ssd.pytorch's "
                        "SSDAugmentation), or 'none'")
    p.add_argument("--no_augment", action="store_true", help="train without augmentation (same as --augment none)")
    p.add_argument("--val_batch_size", default=8, type=int)
    add_common_args(p, num_workers=4, logger="tensorboard", device="auto")
    return p


def train(args: argparse.Namespace) -> int:
    check_args(args)
    if not args.cuda and args.device == "auto":
        args.device = "cpu"
    if args.visdom:
        args.logger = "visdom"
        args.visdom_port = args.vis_port
    info = init_distributed(args.device)
    seed_everything(args.man_seed + info.rank, deterministic=args.deterministic)
    out = Path(run_dir(args))
    log = print if info.is_main else (lambda *a, **k: None)
    log(f"run: {exp_name(args)} -> {out}")

    dataset = MicroTubeDataset(args.data_root, args.dataset, args.train_split, "train", args.seq_len, args.seq_gap,
                               args.input_type_base, args.input_type_extra, args.input_frames_base,
                               args.input_frames_extra, args.fusion_type != "none", args.ssd_dim)
    if args.no_augment or not args.augment:
        dataset.transform = None
    else:
        dataset.transform = MicroTubeAugmentation(args.ssd_dim, **{k: k in args.augment for k in AUGMENT_STEPS})
    num_classes = len(dataset.classes) + 1
    log(f"data: {len(dataset)} training micro-tubes from {len(dataset.videos)} videos")
    model = AMTNet(num_classes, args.seq_len, args.fusion_type, args.input_frames_base, args.input_frames_extra,
                   args.width_mult, args.batch_norm)
    model = place_model(model, info.device)
    sources = init_model(model, args, log) if info.is_main else init_model(model, args, lambda *a: None)
    if args.weights:
        load_weights_into(model, args.weights)
    groups = param_groups(model, args.lr, args.weight_decay)
    if args.optim == "adamw":
        optimizer = torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    milestones = [int(s) for s in args.stepvalues.split(",") if s.strip()]
    scheduler = WarmupMultiStepLR(optimizer, milestones, gamma=args.gamma, warmup_iters=args.warmup)
    manager = CheckpointManager(out / "checkpoints", keep_last=3, prefix="AMTNet")
    state = resume(args.resume, model, optimizer, scheduler, directory=manager.directory)
    scaler = grad_scaler(info.device, args.amp)  # float16 loss scale (CUDA --amp), kept in checkpoints
    if state and scaler.is_enabled() and state.extra.get("grad_scaler"):
        scaler.load_state_dict(state.extra["grad_scaler"])
    start = state.iteration if state else 0

    net = wrap_ddp(model, info.device)
    if args.ngpu > 1 and not info.distributed and info.device.type == "cuda":
        net = torch.nn.DataParallel(model, device_ids=list(range(args.ngpu)))
    priors = prior_boxes()
    loader = make_train_loader(dataset, args.batch_size, seed=args.man_seed, num_workers=args.num_workers,
                               collate_fn=MatchCollate(priors, args.jaccard_threshold),
                               persistent_workers=args.num_workers > 0)
    val_loader = None
    if args.val_step > 0 and info.is_main:
        val_set = MicroTubeDataset(args.data_root, args.dataset, args.train_split, "val", args.seq_len,
                                   0 if args.seq_gap == 20 else args.seq_gap, args.input_type_base,
                                   args.input_type_extra, args.input_frames_base, args.input_frames_extra,
                                   args.fusion_type != "none", args.ssd_dim)
        val_loader = torch.utils.data.DataLoader(val_set, args.val_batch_size, num_workers=args.num_workers,
                                                 collate_fn=MatchCollate(priors, args.jaccard_threshold))
        log(f"data: {len(val_set)} validation micro-tubes")
    logger = make_metric_logger(out, args.logger, resume_step=start, visdom_server=args.visdom_server,
                                visdom_port=args.visdom_port, visdom_env=args.visdom_env or exp_name(args))
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.6f}"))
    val_results = {}
    net.train()
    try:
        batches = resume_batches(loader, start, args.max_iter)
        for it, epoch, (base, extra, loc_t, conf_t, _, _) in logger.log_every(
                batches, args.print_freq, header="train", total=args.max_iter - start, start_step=start):
            base, loc_t, conf_t = base.to(info.device), loc_t.to(info.device), conf_t.to(info.device)
            extra = extra.to(info.device) if extra.numel() else None
            lr = args.lr * scheduler.factor(it)
            with autocast(info.device, args.amp):
                loc, conf = net(base, extra)
            loss_l, loss_c, num_pos = multibox_loss(loc.float(), conf.float(), loc_t, conf_t)
            loss = loss_l + loss_c
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            logger.update(loss=all_reduce_mean(loss.detach()), loc_loss=all_reduce_mean(loss_l.detach()),
                          conf_loss=all_reduce_mean(loss_c.detach()), num_pos=num_pos, lr=lr)
            done = it + 1
            if (args.val_step > 0 and (done % args.val_step == 0 or done == 1000)) or done == args.max_iter:
                manager.save(net, optimizer, scheduler, iteration=done, epoch=epoch, args=args,
                             extra={"num_classes": num_classes, "init": sources,
                                    **({"grad_scaler": scaler.state_dict()} if scaler.is_enabled() else {})})
                if val_loader is not None:
                    mean_ap, ap = validate(unwrap_model(net), val_loader, num_classes - 1, args.conf_thresh,
                                           args.nms_thresh, args.topk, args.iou_thresh, args.ssd_dim)
                    val_results[done] = {"frame_mAP": mean_ap, "ap": [float(a) for a in ap]}
                    logger.write(done, {"val_frame_mAP": mean_ap})
                    logger.print(f"validation at {done}: frame-mAP@{args.iou_thresh} = {mean_ap:.4f}")
                    atomic_write_json(out / "val.json", val_results)
                barrier()
    finally:
        logger.close()
    if is_main_process() and args.fusion_type == "none":
        path = single_stream_path(args.save_root, args.input_type_base, args.train_split)
        torch_save_atomic(unwrap_model(net).state_dict(), path)
        log(f"single-stream weights for fusion runs: {path}")
    barrier()
    return 0


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        return train(args)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
