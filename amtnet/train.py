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

import sys
from pathlib import Path
from typing import List, Optional

import torch

from amtnet.augmentation import AUGMENT_STEPS, MicroTubeAugmentation
from amtnet.data import MatchCollate, MicroTubeDataset
from amtnet.engine import train_loop
from amtnet.model import AMTNet, param_groups
from amtnet.options import data_root_or_synthetic, exp_name, parse_train_args, run_dir
from amtnet.priors import prior_boxes
from amtnet.weights import init_model, single_stream_path
from core.errors import cli_errors
from core.io import torch_save_atomic
from core.train.amp import grad_scaler
from core.train.checkpoint import CheckpointManager, load_weights_into, resume
from core.train.data import make_train_loader, resume_batches
from core.train.distributed import (
    init_distributed,
    is_main_process,
    launch,
    place_model,
    unwrap_model,
    wrap_ddp,
)
from core.train.logger import SmoothedValue, make_metric_logger
from core.train.schedules import WarmupMultiStepLR
from core.train.seed import seed_everything


def train(args) -> None:
    if not args.cuda and args.device == "auto":
        args.device = "cpu"
    if args.visdom:
        args.logger = "visdom"
        args.visdom_port = args.vis_port
    data_root_or_synthetic(args)
    info = init_distributed(args.device)
    seed_everything(args.man_seed + info.rank, deterministic=args.deterministic)
    out = Path(run_dir(args))
    log = print if info.is_main else (lambda *a, **k: None)
    log(f"run: {exp_name(args)} -> {out}")

    # data: micro-tubes of the training videos, SSD augmentation, prior matching in the workers
    two_streams = args.fusion_type != "none"
    dataset = MicroTubeDataset(args.data_root, args.dataset, args.train_split, "train", args.seq_len, args.seq_gap,
                               args.input_type_base, args.input_type_extra, args.input_frames_base,
                               args.input_frames_extra, two_streams, args.ssd_dim)
    if args.no_augment or not args.augment:
        dataset.transform = None
    else:
        dataset.transform = MicroTubeAugmentation(args.ssd_dim, **{k: k in args.augment for k in AUGMENT_STEPS})
    num_classes = len(dataset.classes) + 1
    log(f"data: {len(dataset)} training micro-tubes from {len(dataset.videos)} videos")
    priors = prior_boxes()
    collate = MatchCollate(priors, args.jaccard_threshold)
    loader = make_train_loader(dataset, args.batch_size, seed=args.man_seed, num_workers=args.num_workers,
                               collate_fn=collate, persistent_workers=args.num_workers > 0)
    val_loader = None
    if args.val_step > 0 and info.is_main:
        val_set = MicroTubeDataset(args.data_root, args.dataset, args.train_split, "val", args.seq_len,
                                   0 if args.seq_gap == 20 else args.seq_gap, args.input_type_base,
                                   args.input_type_extra, args.input_frames_base, args.input_frames_extra,
                                   two_streams, args.ssd_dim)
        val_loader = torch.utils.data.DataLoader(val_set, args.val_batch_size, num_workers=args.num_workers,
                                                 collate_fn=collate)
        log(f"data: {len(val_set)} validation micro-tubes")

    # model: initial weights from local files (single-stream runs for a fusion, else SSD / VGG), then --weights
    model = AMTNet(num_classes, args.seq_len, args.fusion_type, args.input_frames_base, args.input_frames_extra,
                   args.width_mult, args.batch_norm)
    model = place_model(model, info.device)
    sources = init_model(model, args, log if info.is_main else (lambda *a: None))
    if args.weights:
        load_weights_into(model, args.weights)

    # optimisation: SGD (the paper) or AdamW, step schedule with optional warm-up; full state resumes
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
    logger = make_metric_logger(out, args.logger, resume_step=start, visdom_server=args.visdom_server,
                                visdom_port=args.visdom_port, visdom_env=args.visdom_env or exp_name(args))
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.6f}"))
    try:
        train_loop(args, net, resume_batches(loader, start, args.max_iter), optimizer, scheduler, scaler, manager,
                   logger, info.device, start, num_classes, sources, val_loader,
                   out / "val.json" if info.is_main else None)
    finally:
        logger.close()
    if is_main_process() and args.fusion_type == "none":
        path = single_stream_path(args.save_root, args.input_type_base, args.train_split)
        torch_save_atomic(unwrap_model(net).state_dict(), path)
        log(f"single-stream weights for fusion runs: {path}")


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(train, parse_train_args(argv))


if __name__ == "__main__":
    sys.exit(main())
