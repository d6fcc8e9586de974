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

import sys
from pathlib import Path
from typing import List, Optional

import torch

from core.errors import cli_errors
from core.io import atomic_write_json
from core.train.checkpoint import CheckpointManager, load_weights_into, resume
from core.train.distributed import init_distributed, is_main_process, launch, wrap_ddp
from core.train.logger import JsonLinesWriter, MetricLogger, TensorboardWriter
from core.train.seed import seed_everything
from stage.data import build_dataset, build_loader
from stage.engine import train_epochs
from stage.model import build_model
from stage.options import parse_train_args


def train(args) -> None:
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
    try:
        stats = train_epochs(args, ddp, loader, optimizer, manager, logger, info.device, start_epoch, skip, step)
    finally:
        logger.close()
    stats["keyframes"] = len(dataset)
    manager.save(ddp, optimizer, iteration=stats["step"], epoch=args.n_epochs, args=args,
                 extra={"epoch_iter": per_epoch}, name="final_model.pth")
    if is_main_process() and stats["epochs"]:
        atomic_write_json(out / "train_stats.json", stats)


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    return launch(train, parse_train_args(argv))


if __name__ == "__main__":
    sys.exit(main())
