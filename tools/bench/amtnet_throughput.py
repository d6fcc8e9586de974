"""Training (micro-tubes/s) and test (frames/s) throughput of AMTNet on this machine.

    python tools/bench/amtnet_throughput.py [--data_root DATA] [--width_mult 1.0] [--iters 5] [--batch_size 4]
                                            [--frames 16] [--batch_norm] [--amp] [--nchw]

Training: the real loader (augmentation, matching in workers) feeding SGD steps; reports the fraction of
step time spent waiting for the next batch. Test: the per-frame backbone + micro-tube heads of test.py.
Without ``--data_root`` a synthetic UCF24 ``tiny`` set is written to a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from amtnet.data import MatchCollate, MicroTubeDataset, VideoFrames, dataset_dir, load_videos, split_videos
from amtnet.engine import VideoRunner
from amtnet.loss import multibox_loss
from amtnet.model import AMTNet, param_groups
from amtnet.priors import prior_boxes
from core.train import autocast, make_train_loader, place_model


def train_throughput(args) -> dict:
    ds = MicroTubeDataset(args.data_root, "ucf24", 1, "train")
    loader = make_train_loader(ds, args.batch_size, num_workers=args.num_workers, collate_fn=MatchCollate(prior_boxes()))
    cpu = torch.device("cpu")
    model = place_model(AMTNet(25, width=args.width_mult, batch_norm=args.batch_norm), cpu, not args.nchw)
    opt = torch.optim.SGD(param_groups(model, 5e-4, 1e-4), lr=5e-4, momentum=0.9)
    wait = step = 0.0
    it = iter(loader)
    next(it)  # start the workers before timing
    for _ in range(args.iters):
        t0 = time.perf_counter()
        base, _, loc_t, conf_t, _, _ = next(it)
        t1 = time.perf_counter()
        with autocast(cpu, args.amp):
            loc, conf = model(base)
        loss_l, loss_c, _ = multibox_loss(loc.float(), conf.float(), loc_t, conf_t)
        opt.zero_grad()
        (loss_l + loss_c).backward()
        opt.step()
        t2 = time.perf_counter()
        wait += t1 - t0
        step += t2 - t0
    return {"microtubes_per_s": args.iters * args.batch_size / step, "data_wait_fraction": wait / step,
            "s_per_iter": step / args.iters}


@torch.no_grad()
def test_throughput(args) -> dict:
    root = dataset_dir(args.data_root, "ucf24")
    db, _, test = split_videos(root, 1)
    (video,) = load_videos(root, "ucf24", test[:1], db)
    video.numf = min(video.numf, args.frames)
    cpu = torch.device("cpu")
    model = place_model(AMTNet(25, width=args.width_mult, batch_norm=args.batch_norm), cpu, not args.nchw).eval()
    frames = VideoFrames(root, [video])
    loader = torch.utils.data.DataLoader(frames, 8, num_workers=args.num_workers)
    runner = VideoRunner(model, 2, 0, cpu, amp=args.amp)
    start = time.perf_counter()
    n = sum(1 for _ in runner.run(loader, {0: video.numf}))
    elapsed = time.perf_counter() - start
    return {"frames_per_s": video.numf / elapsed, "microtubes": n}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data_root", default=None, help="a UCF24 layout (default: a synthetic tiny set in a temp folder)")
    p.add_argument("--width_mult", type=float, default=1.0)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--batch_size", type=int, default=4)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--num_workers", type=int, default=2)
    p.add_argument("--batch_norm", action="store_true", help="the batch-norm VGG of the demo recipe")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (train.py / test.py --amp)")
    p.add_argument("--nchw", action="store_true", help="keep NCHW weights (before core.train.place_model)")
    args = p.parse_args(argv)
    if args.data_root is None:
        from core.synthetic.datasets import write_dataset

        args.data_root = tempfile.mkdtemp(prefix="amtnet_throughput_")
        write_dataset("ucf24", args.data_root, "tiny", seed=0, workers=1)
    out = {"width_mult": args.width_mult, "batch_norm": args.batch_norm, "amp": args.amp, "nchw": args.nchw,
           "threads": torch.get_num_threads(),
           **train_throughput(args),
           **test_throughput(args)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
