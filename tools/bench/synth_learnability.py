"""Learnability of the synthetic world: a small CNN trained on the `demo` Kinetics-format clips.

Three inputs of the same network family, trained and tested on the same videos:
single frame (the middle frame), clip (8 frames: the middle one and the 7 frame-to-frame RGB
differences, stacked as channels) and flow (Farneback flow of
those 8 frames, core.video), on 96x72 RGB frames. Reports validation accuracy on all classes and on the motion-defined
ones (pairs whose single frames look alike: jogging/marching, cartwheeling/somersaulting, climbing a
rope/abseiling, high jump/bouncing on trampoline). The single frame is the baseline; the last line
compares it with the clip stream:

    synth_learnability: ratio=R (baseline frame acc A, ours clip acc B), agree=true|false

``agree`` is true when the clip and flow streams beat chance by far (>= 3x) and beat the single
frame on the motion-defined classes.

    python tools/bench/synth_learnability.py [--data DIR] [--epochs 25] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from core.formats import kinetics
from core.synthetic.actions import KINETICS
from core.synthetic.datasets import write_dataset
from core.video import read_video, video_flow

SIZE = (96, 72)  # network input (w, h)
STEPS = 8  # frames per clip sample
STRIDE = 3  # frames between samples (covers 22 frames of 25 fps = 0.9 s)


def load(root: Path, split: str):
    """-> list of RGB uint8 [T, 72, 96, 3] videos, labels [N]."""
    df = kinetics.read_kinetics_csv(root / f"kinetics_{split}.csv")
    names = [c.name for c in KINETICS]
    videos, labels = [], []
    for row in df.itertuples():
        frames, _ = read_video(root / split / kinetics.crawler_path(row.label, row.youtube_id, row.time_start,
                                                                    row.time_end))
        small = np.stack([cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) for f in frames])
        videos.append(small)
        labels.append(names.index(row.label))
    return videos, np.array(labels)


def windows(video: np.ndarray, start: int):
    """8 frames from ``start`` with STRIDE -> (frame [3,H,W], clip [24,H,W] (middle frame + 7 RGB
    differences), flow [14,H,W]) float32; flow channels alternate x, y."""
    idx = start + STRIDE * np.arange(STEPS)
    clip = video[idx]
    H, W = clip.shape[1:3]
    flow = video_flow(clip)[:-1]  # [7, H, W, 2]
    flow = np.clip(flow, -8, 8).transpose(0, 3, 1, 2).reshape(-1, H, W) / 4.0
    c = (clip.astype(np.float32) / 127.5 - 1).transpose(0, 3, 1, 2)  # [8, 3, H, W]
    # clip input: the middle frame and the 7 frame differences (TSN's RGB-difference stream), which
    # suppress the static clutter a from-scratch network would otherwise have to learn to ignore
    stack = np.concatenate([c[STEPS // 2][None], 2 * np.diff(c, axis=0)], axis=0)
    return c[STEPS // 2], stack.reshape(-1, H, W), flow.astype(np.float32)


def make_set(videos, labels, starts_per_video: int, rng: np.random.Generator, centre: bool = False):
    xs = [[], [], []]
    ys = []
    span = STRIDE * (STEPS - 1) + 1
    for v, y in zip(videos, labels):
        last = len(v) - span
        starts = [last // 2] if centre else rng.integers(0, last + 1, size=starts_per_video)
        for s in starts:
            for k, arr in enumerate(windows(v, int(s))):
                xs[k].append(arr)
            ys.append(y)
    return [torch.from_numpy(np.stack(x)) for x in xs], torch.from_numpy(np.array(ys))


def net(in_ch: int, classes: int) -> nn.Module:
    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, stride=2, padding=1), nn.BatchNorm2d(o), nn.ReLU())

    return nn.Sequential(block(in_ch, 32), block(32, 48), block(48, 64), block(64, 96),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(96, classes))


def train_eval(xtr, ytr, xva, classes: int, epochs: int, seed: int, flow: bool) -> np.ndarray:
    """Train on (xtr, ytr), return predicted labels of xva."""
    torch.manual_seed(seed)
    model = net(xtr.shape[1], classes)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(xtr) + 63) // 64))
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(xtr), generator=g).split(64):
            x = xtr[idx]
            if torch.rand(1, generator=g).item() < 0.5:  # mirror: these classes are symmetric left/right
                x = x.flip(-1)
                if flow:
                    x[:, 0::2] = -x[:, 0::2]
            loss = nn.functional.cross_entropy(model(x), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        return model(xva).argmax(1).numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="train a small CNN on synthetic Kinetics-format demo clips")
    p.add_argument("--data", default=None, help="a `--format kinetics --size demo` folder (written if absent)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--samples", type=int, default=6, help="random windows per training video")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.data or tmp)
        if not (root / "kinetics_train.csv").exists():
            t = time.time()
            write_dataset("kinetics", root, "demo", args.seed, args.workers)
            print(f"wrote kinetics demo in {time.time() - t:.1f} s")
        t = time.time()
        vtr, ytr = load(root, "train")
        vva, yva = load(root, "val")
    rng = np.random.default_rng(args.seed)
    xtr, ytr_t = make_set(vtr, ytr, args.samples, rng)
    xva, _ = make_set(vva, yva, 1, rng, centre=True)
    print(f"{len(vtr)} train / {len(vva)} val videos, {len(ytr_t)} training windows ({time.time() - t:.1f} s)")
    motion = np.array([KINETICS[y].motion_defined for y in yva])
    chance = 1.0 / len(KINETICS)
    acc = {}
    for k, name in enumerate(("frame", "clip", "flow")):
        t = time.time()
        pred = train_eval(xtr[k], ytr_t, xva[k], len(KINETICS), args.epochs, args.seed, flow=name == "flow")
        ok = pred == yva
        acc[name] = (ok.mean(), ok[motion].mean(), ok[~motion].mean())
        print(f"{name:6s} acc all {acc[name][0]:.3f}  motion-defined {acc[name][1]:.3f}  "
              f"other {acc[name][2]:.3f}  (chance {chance:.3f}, {time.time() - t:.0f} s)")
    agree = (acc["clip"][0] >= 3 * chance and acc["flow"][0] >= 3 * chance
             and acc["clip"][1] > acc["frame"][1] and acc["flow"][1] > acc["frame"][1])
    ratio = acc["clip"][1] / max(acc["frame"][1], 1e-9)
    print(f"synth_learnability: ratio={ratio:.2f} (baseline frame acc {acc['frame'][1]:.3f}, "
          f"ours clip acc {acc['clip'][1]:.3f}; motion-defined classes), agree={str(agree).lower()}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
