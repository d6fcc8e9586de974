"""A tiny but complete training script on ``core.train``, used by the tests (and a template for
the papers' train.py): fixed seed, a shuffling DataLoader, dropout, SGD with momentum and weight
decay, a per-iteration warm-up + MultiStep schedule, checkpoints every ``--ckpt_every`` steps,
``--resume PATH|auto``, ``--weights PATH``, ``log.txt``/tensorboard logging, and torchrun::

    python tests/core/tiny_train.py --output_dir OUT --iters 25
    python tests/core/tiny_train.py --output_dir OUT --iters 25 --stop_after 13   # "crash" at 13
    python tests/core/tiny_train.py --output_dir OUT --iters 25 --resume auto     # from checkpoint 10
    torchrun --nproc_per_node=2 tests/core/tiny_train.py --output_dir OUT --batch_size 4

Every rank writes its final parameters to ``OUT/final_rank{R}.pth``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

import torch
from torch import nn
from torch.utils.data import TensorDataset

from core.errors import cli_errors
from core.io import torch_save_atomic
from core.train import (
    CheckpointManager,
    SmoothedValue,
    WarmupMultiStepLR,
    add_common_args,
    all_reduce_mean,
    barrier,
    cleanup,
    init_distributed,
    load_weights_into,
    make_metric_logger,
    make_train_loader,
    resume,
    resume_batches,
    seed_everything,
    unwrap_model,
    wrap_ddp,
)


class TinyNet(nn.Module):
    def __init__(self, in_dim: int = 8, hidden: int = 16, num_classes: int = 3, dropout: float = 0.5):
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


def make_dataset(n: int, seed: int = 1234) -> TensorDataset:
    """Fixed data, independent of ``--seed``: 8-d inputs, labels from a fixed linear rule + noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    w = torch.randn(8, 3, generator=g)
    y = (x @ w + 0.5 * torch.randn(n, 3, generator=g)).argmax(1)
    return TensorDataset(x, y)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output_dir", required=True, help="checkpoints/, log.txt, tensorboard/, final_rank*.pth")
    p.add_argument("--iters", type=int, default=25, help="optimizer steps in all")
    p.add_argument("--batch_size", type=int, default=4, help="per process")
    p.add_argument("--dataset_size", type=int, default=40)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight_decay", type=float, default=1e-4)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--milestones", type=int, nargs="+", default=[12, 18], help="LR x0.1 at these iterations")
    p.add_argument("--warmup_iters", type=int, default=3)
    p.add_argument("--ckpt_every", type=int, default=5)
    p.add_argument("--keep_last", type=int, default=2)
    p.add_argument("--print_freq", type=int, default=5)
    p.add_argument("--stop_after", type=int, default=0, help="exit after this many steps (simulated crash)")
    p.add_argument("--no_restore_rng", action="store_true", help="(tests) resume without the RNG states")
    add_common_args(p, num_workers=0, logger="none", device="cpu")
    return p


def train(args: argparse.Namespace) -> int:
    info = init_distributed(args.device)
    out = Path(args.output_dir)
    seed_everything(args.seed + info.rank, deterministic=args.deterministic)

    model = TinyNet(dropout=args.dropout).to(info.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    scheduler = WarmupMultiStepLR(optimizer, args.milestones, gamma=0.1, warmup_iters=args.warmup_iters)
    if args.weights:
        load_weights_into(model, args.weights)
    manager = CheckpointManager(out / "checkpoints", keep_last=args.keep_last)
    state = resume(args.resume, model, optimizer, scheduler, directory=manager.directory,
                   restore_rng=not args.no_restore_rng)
    start = state.iteration if state else 0

    ddp_model = wrap_ddp(model, info.device)
    loader = make_train_loader(make_dataset(args.dataset_size), args.batch_size, seed=args.seed,
                               num_workers=args.num_workers)
    logger = make_metric_logger(out, args.logger, resume_step=start, visdom_server=args.visdom_server,
                                visdom_port=args.visdom_port, visdom_env=args.visdom_env)
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.6f}"))
    logger.add_meter("epoch", SmoothedValue(window_size=1, fmt="{value:.0f}"))
    criterion = nn.CrossEntropyLoss()
    ddp_model.train()
    try:
        batches = resume_batches(loader, start, args.iters)
        for it, epoch, (x, y) in logger.log_every(batches, args.print_freq, header="train",
                                                  total=args.iters - start, start_step=start):
            x, y = x.to(info.device), y.to(info.device)
            lr = optimizer.param_groups[0]["lr"]
            loss = criterion(ddp_model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            logger.update(loss=all_reduce_mean(loss.detach()), lr=lr, epoch=epoch)
            done = it + 1
            if done % args.ckpt_every == 0 or done == args.iters:
                manager.save(ddp_model, optimizer, scheduler, iteration=done, epoch=epoch, args=args)
            if args.stop_after and done == args.stop_after:
                logger.print(f"stopping after {done} steps (simulated interruption)")
                return 0
    finally:
        logger.close()
    torch_save_atomic(unwrap_model(model).state_dict(), out / f"final_rank{info.rank}.pth")
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
