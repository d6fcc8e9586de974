"""Fine-tune an I3D as an AVA actor classifier, to extract actor features from (STAGE's backbone).

    python tools/train_actor_backbone.py --data_root AVA --out_dir OUT [--width 0.25] [--frames 8]
        [--size 112 144] [--epochs 8] [--batch_size 4] [--lr 1e-3] [--seed 0] [--resume auto]

The classifier: the I3D trunk to Mixed_4f, each ground-truth actor box RoI-aligned on it at every time step,
the rest of the I3D (MaxPool3d_5a .. Mixed_5c) on the RoI, a spatio-temporal average, dropout 0.3 and a
linear 81-way layer (column 0 = background), trained with a sigmoid BCE on the training keyframes' labels.
No pretrained weights can be assumed, so it starts from scratch (``--i3d_weights`` starts it from a local
pytorch-i3d file). Clips: ``--frames`` frames every 2nd frame around each keyframe, resized to ``--size``;
they are decoded once and kept in memory.

Writes ``OUT/checkpoints/`` (full state: ``--resume auto`` continues an interrupted run), ``OUT/log.txt``,
and at the end ``OUT/i3d_actor.pt`` (the I3D's state dict, pytorch-i3d names: what
``tools/extract_features.py --i3d_weights`` reads), ``OUT/baseline_fc.pt`` (the linear layer) and
``OUT/i3d_actor.json`` (keyframes, times, per-epoch losses).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from core.backbones.i3d import InceptionI3d, load_i3d_weights
from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.formats import ava
from core.io import atomic_write_json, torch_save_atomic
from core.train.args import add_common_args
from core.train.checkpoint import CheckpointManager, resume
from core.train.data import iters_per_epoch, make_train_loader, resume_batches
from core.train.distributed import cleanup, init_distributed, unwrap_model, wrap_ddp
from core.train.logger import SmoothedValue, make_metric_logger
from core.train.seed import seed_everything
from stage.features import keyframe_actors, load_clip, roi_tail

NUM_CLASSES = 81


class ActorClassifier(torch.nn.Module):
    """I3D trunk + RoI tail + average + Linear(81): actor logits of one clip."""

    def __init__(self, width: float, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.i3d = InceptionI3d(final_endpoint="Mixed_5c", width=width)
        self.fc = torch.nn.Linear(self.i3d.channels["Mixed_5c"], num_classes)

    def forward(self, clip: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """clip [3, T, H, W] in [-1, 1], boxes [n, 4] normalised x1y1x2y2 -> logits [n, 81]."""
        f = self.i3d.run(clip[None], end="Mixed_4f")[0]
        return self.fc(F.dropout(roi_tail(self.i3d, f, boxes).flatten(2).mean(2), 0.3, self.training))


class KeyframeClips(Dataset):
    """Training keyframes with ground-truth boxes: (clip uint8 [3, T, H, W], boxes [n, 4], labels [n, 81]),
    decoded once (``--video_start``: the movie second each mp4 starts at)."""

    def __init__(self, data_root: Path, frames: int, size: Tuple[int, int], video_start: float):
        csv = data_root / "annotations" / "ava_train_v2.2.csv"
        gt = ava.read_ava_csv(csv)
        gt = gt[np.isfinite(gt["x1"].to_numpy(float))]
        if len(gt) == 0:
            raise DataError(csv, "no ground-truth boxes to train on")
        self.items: List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for (vid, ts), g in gt.groupby(["video_id", "timestamp"]):
            ka = keyframe_actors(g, g.iloc[:0], True, 1.0)
            video = data_root / "movies" / "trainval" / f"{vid}.mp4"
            clip, _ = load_clip(str(video), ts - video_start, frames, 2, size)
            u8 = ((clip + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
            self.items.append((u8, torch.from_numpy(ka.boxes), torch.from_numpy(ka.labels)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        clip, boxes, labels = self.items[i]
        return clip.float() / 127.5 - 1.0, boxes, labels


def get_args_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_root", required=True, help="AVA layout: movies/trainval/*.mp4, annotations/*.csv")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--width", type=float, default=0.25, help="I3D channel width multiplier (1 = the real I3D)")
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, nargs=2, default=(112, 144), metavar=("H", "W"))
    p.add_argument("--video_start", type=float, default=900.0, help="movie second each video file starts at")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch_size", type=int, default=4, help="keyframes per step (losses averaged)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--i3d_weights", default="", help="start the I3D from this local pytorch-i3d state dict")
    p.add_argument("--print_freq", type=int, default=20)
    add_common_args(p, seed=0, num_workers=0, logger="none", device="cpu")
    return p


def train(args: argparse.Namespace) -> Dict[str, object]:
    info = init_distributed(args.device)
    seed_everything(args.seed + info.rank)
    out = Path(args.out_dir)
    t0 = time.time()
    dataset = KeyframeClips(Path(args.data_root), args.frames, tuple(args.size), args.video_start)
    load_s = time.time() - t0
    model = ActorClassifier(args.width).to(info.device)
    if args.i3d_weights:
        load_i3d_weights(model.i3d, args.i3d_weights)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    manager = CheckpointManager(out / "checkpoints", keep_last=2, prefix="actor")
    state = resume(args.resume, model, optimizer, directory=manager.directory)
    start = state.iteration if state else 0
    loader = make_train_loader(dataset, args.batch_size, seed=args.seed, num_workers=args.num_workers,
                               collate_fn=list, drop_last=False)
    per_epoch = iters_per_epoch(loader)
    total = per_epoch * args.epochs
    net = wrap_ddp(model, info.device)
    logger = make_metric_logger(out, args.logger, resume_step=start)
    logger.add_meter("loss", SmoothedValue(window_size=per_epoch, fmt="{avg:.4f}"))
    net.train()
    losses: List[float] = []
    t0 = time.time()
    try:
        for it, epoch, batch in logger.log_every(resume_batches(loader, start, total), args.print_freq,
                                                 header="actor classifier", total=total - start, start_step=start):
            loss = torch.stack([F.binary_cross_entropy_with_logits(net(c.to(info.device), b.to(info.device)),
                                                                   y.to(info.device)) for c, b, y in batch]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            logger.update(loss=loss.item())
            done = it + 1
            if done % per_epoch == 0 or done == total:
                losses.append(logger.meters["loss"].avg)
                manager.save(net, optimizer, iteration=done, epoch=epoch, args=args)
    finally:
        logger.close()
    info_out: Dict[str, object] = {"keyframes": len(dataset), "clip_load_s": load_s, "train_s": time.time() - t0,
                                   "losses": losses, "channels": unwrap_model(net).i3d.channels["Mixed_5c"]}
    if info.is_main:
        torch_save_atomic(unwrap_model(net).fc.state_dict(), out / "baseline_fc.pt")
        torch_save_atomic(unwrap_model(net).i3d.state_dict(), out / "i3d_actor.pt")
        atomic_write_json(out / "i3d_actor.json", info_out)
    return info_out


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    try:
        train(args)
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
