"""Train STAGE on precomputed actor/object features (aimagelab/STAGE_action_detection's train.py).

    python train.py --actors_dir FEATS/train --objects_file FEATS/objects_train.h5 --output_dir OUT \
        --batch_size 6 --lr 0.0000625
    torchrun --nproc_per_node=2 train.py ...    (batch b of an epoch goes to rank b % 2)

Adam, no schedule. Every epoch ends with ``OUT/model_ep_<epoch:03d>_iter_<iter:07d>.pth`` named in
``OUT/last_checkpoint``; a new run in the same OUT resumes from it (``--resume auto``, the default).
``--ckpt_every N`` also saves every N iterations inside an epoch; resuming replays the epoch's order
from there. The loss is logged as ``train/class_loss`` every 20 iterations (log.txt, tensorboard).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

import torch

from core.errors import cli_errors
from core.io import atomic_write_json
from core.train import (
    CheckpointManager,
    JsonLinesWriter,
    MetricLogger,
    SmoothedValue,
    TensorboardWriter,
    add_common_args,
    all_reduce_mean,
    all_reduce_sum,
    barrier,
    cleanup,
    init_distributed,
    is_main_process,
    load_weights_into,
    resume,
    seed_everything,
    wrap_ddp,
)
from stage.cli import add_model_args, build_dataset, build_loader, build_model
from stage.engine import to_device
from stage.model import stage_loss


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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


def checkpoint_name(epoch: int, iteration: int) -> str:
    return f"model_ep_{epoch:03d}_iter_{iteration:07d}.pth"


def train(args: argparse.Namespace) -> dict:
    info = init_distributed(args.device)
    torch.set_num_threads(max(1, torch.get_num_threads() // info.world_size))
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)

    dataset = build_dataset(args, args.actors_dir, args.objects_file)
    loader = build_loader(args, dataset, shuffle=True, rank=info.rank, world_size=info.world_size)
    per_epoch = loader.batch_sampler.batches_per_rank()
    model = build_model(args).to(info.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if args.weights:
        load_weights_into(model, args.weights)
    manager = CheckpointManager(out, keep_last=0, prefix="model")
    state = resume(args.resume, model, optimizer, directory=out)
    start_epoch, skip = 1, 0
    if state is not None:
        epoch_iter = int(state.extra.get("epoch_iter", per_epoch))
        start_epoch, skip = (state.epoch + 1, 0) if epoch_iter >= per_epoch else (state.epoch, epoch_iter)
        if args.impose_lr:
            for g in optimizer.param_groups:
                g["lr"] = args.impose_lr
    step = (start_epoch - 1) * per_epoch + skip
    ddp = wrap_ddp(model, info.device)

    writers = []
    if is_main_process():
        writers.append(JsonLinesWriter(out / "log.txt", resume_step=step))
        if args.logger == "tensorboard":
            writers.append(TensorboardWriter(args.log_tensorboard_dir or out / "tensorboard", resume_step=step))
    logger = MetricLogger(writers, stream=sys.stdout)
    logger.add_meter("train/class_loss", SmoothedValue(window_size=1, fmt="{value:.5f}"))
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.2e}"))
    stats = {"epochs": [], "iters_per_epoch": per_epoch, "keyframes": len(dataset)}
    ddp.train()
    try:
        for epoch in range(start_epoch, args.n_epochs + 1):
            loader.batch_sampler.set_epoch(epoch, skip)
            wait = compute = 0.0
            t_epoch = time.time()
            t0 = time.time()
            for i, batch in enumerate(loader, start=skip + 1):
                t1 = time.time()
                b = to_device(batch, info.device)
                logits = ddp(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"],
                             b["adj"])
                loss = stage_loss(logits, b["labels"])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                t2 = time.time()
                wait += t1 - t0
                compute += t2 - t1
                if i % args.print_freq == 0 or i == per_epoch:
                    logger.update(**{"train/class_loss": all_reduce_mean(loss.detach()).item(),
                                     "lr": optimizer.param_groups[0]["lr"]})
                    logger.write(step)
                    logger.print(f"epoch: {epoch}, iter: {i}/{per_epoch}, lr: {optimizer.param_groups[0]['lr']:g}, "
                                 f"class_loss: {logger.meters['train/class_loss'].value:.5f}")
                if i == per_epoch or (args.ckpt_every and i % args.ckpt_every == 0):
                    manager.save(ddp, optimizer, iteration=step, epoch=epoch, args=args, extra={"epoch_iter": i},
                                 name=checkpoint_name(epoch, i))
                t0 = time.time()
            skip = 0
            wait, compute = (float(v) for v in all_reduce_sum(torch.tensor([wait, compute], dtype=torch.float64)))
            e = {"epoch": epoch, "seconds": time.time() - t_epoch, "data_wait_s": wait, "compute_s": compute,
                 "data_wait_fraction": wait / max(wait + compute, 1e-12)}
            stats["epochs"].append(e)
            logger.print(f"Epoch {epoch} ended: {e['seconds']:.1f} s, data wait {100 * e['data_wait_fraction']:.1f}%")
    finally:
        logger.close()
    manager.save(ddp, optimizer, iteration=step, epoch=args.n_epochs, args=args, extra={"epoch_iter": per_epoch},
                 name="final_model.pth")
    if is_main_process() and stats["epochs"]:
        atomic_write_json(out / "train_stats.json", stats)
    barrier()
    return stats


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        train(args)
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
