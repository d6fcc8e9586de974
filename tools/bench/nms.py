"""Benchmark: core.nms.classwise_nms against the per-class greedy loop of the original repositories.

The baseline is the NMS of ssd.pytorch as used at test time by realtime-action-detection and AMTNet:
for each class a Python loop that thresholds the scores, keeps the ``top_k`` best and runs a greedy
``while`` loop in torch (one IoU row per kept box). Inputs are SSD300-shaped: 8732 priors x 24 classes
(softmax scores, background dropped), per image. Both must keep exactly the same boxes. Both run on one
thread; the ratio is taken on process CPU time, which other jobs on the machine barely change.

    python tools/bench/nms.py [--images 20] [--top_k 200] [--conf 0.01] [--iou 0.45]
"""

from __future__ import annotations

import argparse
import time

import torch

from core.nms import classwise_nms


def ssd_pytorch_nms(boxes: torch.Tensor, scores: torch.Tensor, overlap: float, top_k: int) -> torch.Tensor:
    """Greedy NMS as in ssd.pytorch's ``box_utils.nms`` (ascending sort, take the last top_k, pop the max)."""
    keep = []
    if scores.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1) * (y2 - y1)
    _, idx = scores.sort(0)
    idx = idx[-top_k:]
    while idx.numel() > 0:
        i = idx[-1]
        keep.append(int(i))
        idx = idx[:-1]
        if idx.numel() == 0:
            break
        xx1 = torch.clamp(x1[idx], min=float(x1[i]))
        yy1 = torch.clamp(y1[idx], min=float(y1[i]))
        xx2 = torch.clamp(x2[idx], max=float(x2[i]))
        yy2 = torch.clamp(y2[idx], max=float(y2[i]))
        inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
        iou = inter / (area[idx] - inter + area[i])
        idx = idx[iou.le(overlap)]
    return torch.tensor(keep, dtype=torch.long)


def baseline(boxes: torch.Tensor, scores: torch.Tensor, conf: float, iou: float, top_k: int):
    out = []
    for c in range(scores.shape[1]):
        mask = scores[:, c] > conf
        ids = torch.nonzero(mask).flatten()
        keep = ssd_pytorch_nms(boxes[ids], scores[ids, c], iou, top_k)
        out.append(ids[keep] if keep.numel() else keep)
    return out


def make_image(gen: torch.Generator, n: int = 8732, c: int = 25):
    cxcy = torch.rand(n, 2, generator=gen)
    wh = 0.02 + 0.5 * torch.rand(n, 2, generator=gen)
    boxes = torch.cat([cxcy - wh / 2, cxcy + wh / 2], 1)
    scores = torch.softmax(2.5 * torch.randn(n, c, generator=gen), 1)[:, 1:]
    return boxes, scores


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20)
    p.add_argument("--top_k", type=int, default=200)
    p.add_argument("--conf", type=float, default=0.01)
    p.add_argument("--iou", type=float, default=0.45)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    images = [make_image(gen) for _ in range(args.images)]

    w0, c0 = time.perf_counter(), time.process_time()
    ref = [baseline(b, s, args.conf, args.iou, args.top_k) for b, s in images]
    w_base, t_base = time.perf_counter() - w0, time.process_time() - c0
    w0, c0 = time.perf_counter(), time.process_time()
    ours = [classwise_nms(b, s, args.conf, args.iou, top_k=args.top_k) for b, s in images]
    w_ours, t_ours = time.perf_counter() - w0, time.process_time() - c0

    # the baseline's per-class keeps are in descending score order too; compare as sets and order
    agree = all(len(r) == len(o) and all(torch.equal(a, b) for a, b in zip(r, o)) for r, o in zip(ref, ours))
    kept = sum(len(k) for img in ours for k in img)
    print(f"{args.images} images x 8732 boxes x 24 classes, {kept} boxes kept")
    print(f"baseline (per-class Python greedy loop): {t_base / args.images * 1e3:.1f} ms CPU/image "
          f"({w_base / args.images * 1e3:.1f} ms wall)")
    print(f"ours (all classes at once):             {t_ours / args.images * 1e3:.1f} ms CPU/image "
          f"({w_ours / args.images * 1e3:.1f} ms wall)")
    print(f"wall-clock ratio {w_base / w_ours:.2f}; the ratio below is on CPU time (robust to a loaded machine)")
    print(f"nms: ratio={t_base / t_ours:.2f} (baseline {t_base:.3f} s, ours {t_ours:.3f} s), agree={str(agree).lower()}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
