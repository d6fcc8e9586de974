"""The loops: training (iterations, validation, checkpoints), frame scoring (shared by the in-training
validation and test.py; under torchrun each rank scores its shard and results are gathered on every rank),
testing one checkpoint, and the video-level numbers and two-stream fusion of eval.py."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Union

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from core.errors import DataError
from core.formats.kinetics import read_annotation_json
from core.io import atomic_write_json, atomic_write_text, dump_pickle, safe_load_pickle, torch_save_atomic
from core.metrics import topk_accuracy
from core.train import (
    CheckpointManager,
    MetricLogger,
    all_gather_object,
    all_reduce_mean,
    is_main_process,
    load_weights_into,
    make_eval_loader,
    unwrap_model,
)
from evaluation.kinetics import evaluate
from kinetics2stream.aggregate import (
    activitynet_json,
    frame_topk,
    fuse,
    fuse_frames,
    group_by_video,
    video_probabilities,
)
from kinetics2stream.data import KineticsFrames
from kinetics2stream.model import build_model, set_bn_eval

PathLike = Union[str, "os.PathLike[str]"]


@torch.no_grad()
def score_frames(model: nn.Module, loader: DataLoader, device: torch.device,
                 logger: Optional[object] = None, header: str = "test", print_freq: int = 10) -> Dict[str, np.ndarray]:
    """Raw logits of every frame sample of ``loader`` (all ranks' shards gathered).

    Returns ``logits`` float32 [N, C], ``labels`` [N], ``video`` [N] (dataset video index), ``frame``
    [N] (frame number), ``loss`` (mean cross-entropy) and ``fps`` (frames per second of this rank)."""
    model.eval()
    parts = {"logits": [], "labels": [], "video": [], "frame": []}
    loss_sum, n = 0.0, 0
    batches = loader if logger is None else logger.log_every(loader, print_freq, header=header, total=len(loader))
    start = time.perf_counter()
    for x, y, vid, fn in batches:
        out = model(x.to(device, non_blocking=True)).float().cpu()
        loss_sum += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        n += len(y)
        parts["logits"].append(out.numpy())
        parts["labels"].append(y.numpy())
        parts["video"].append(vid.numpy())
        parts["frame"].append(fn.numpy())
    elapsed = time.perf_counter() - start
    mine = {k: (np.concatenate(v) if v else np.zeros((0,), np.int64)) for k, v in parts.items()}
    gathered = all_gather_object((mine, loss_sum, n))
    out: Dict[str, np.ndarray] = {}
    for k in parts:
        arrays = [g[0][k] for g in gathered if len(g[0][k])]
        out[k] = np.concatenate(arrays) if arrays else mine[k]
    total = sum(g[2] for g in gathered)
    out["loss"] = sum(g[1] for g in gathered) / max(total, 1)
    out["fps"] = n / elapsed if elapsed > 0 else float("nan")
    return out


def validate(model: nn.Module, loader: DataLoader, device: torch.device) -> Dict[str, float]:
    """Frame top-1 / top-3 (percent) and mean loss on the validation frames."""
    out = score_frames(model, loader, device)
    top1, top3 = topk_accuracy(out["logits"], out["labels"], (1, 3))
    return {"val_top1": 100.0 * top1, "val_top3": 100.0 * top3, "val_loss": float(out["loss"])}


def train_loop(args: argparse.Namespace, model: nn.Module, ddp_model: nn.Module, batches: Iterable,
               val_loader: DataLoader, optimizer: torch.optim.Optimizer, scheduler, manager: CheckpointManager,
               logger: MetricLogger, device: torch.device, start: int, best_top1: float, out: Path) -> float:
    """Iterations ``start`` .. ``args.max_iterations`` of SGD on frame cross-entropy; every ``--val_step``
    (and at the end): validation, a full checkpoint, ``results_<iter>.txt`` and ``best.pth`` when the
    validation top-1 improves. Returns the best validation top-1."""
    criterion = nn.CrossEntropyLoss()

    def train_mode() -> None:
        ddp_model.train()
        if args.freeze_bn:
            set_bn_eval(ddp_model)

    train_mode()
    for it, epoch, (x, y, _, _) in logger.log_every(batches, args.print_freq, header="train",
                                                    total=args.max_iterations - start, start_step=start):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
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
            metrics = validate(model, val_loader, device)
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
    return best_top1


def checkpoint_file(out: Path, tag: str) -> Path:
    return out / "best.pth" if tag == "best" else out / "checkpoints" / f"model_{int(tag):08d}.pth"


def test_checkpoint(args: argparse.Namespace, tag: str, out: Path, dataset: KineticsFrames, device: torch.device,
                    log: Callable[[str], None]) -> Optional[dict]:
    """Score ``dataset`` with checkpoint ``tag`` (an iteration or 'best'; per-video scores are reused from
    ``output_<subset>_<tag>.pkl`` when present); on the main process write the ActivityNet json per
    ``--classtopk`` and ``results_<subset>_<tag>.json`` and return the results."""
    name = "best" if tag == "best" else f"{int(tag):06d}"
    pkl = out / f"output_{args.subset}_{name}.pkl"
    fps = None
    if pkl.is_file():
        allscores = safe_load_pickle(pkl)
        log(f"reusing {pkl}")
    else:
        ckpt = checkpoint_file(out, tag)
        if not ckpt.is_file():
            raise FileNotFoundError(2, "No such file", str(ckpt))
        model = build_model(args.arch, dataset.num_classes, args.seq_len)
        load_weights_into(model, ckpt, strict=True, verbose=False)
        model.to(device)
        loader = make_eval_loader(dataset, args.batch_size, num_workers=args.num_workers)
        res = score_frames(model, loader, device)
        fps = float(res["fps"])
        allscores = group_by_video(res["logits"], res["video"], res["frame"], dataset.videos)
        if is_main_process():
            dump_pickle(pkl, allscores)
        log(f"{ckpt}: {len(res['logits'])} frames of {len(allscores)} videos, {fps:.1f} frames/s")
    if not is_main_process():
        return None
    labels = dict(zip(dataset.videos, dataset.video_labels))
    ftop = frame_topk(allscores, labels, (1, 3))
    annots = read_annotation_json(dataset.annot_file)
    results = {"checkpoint": name, "frames": int(sum(v["count"] for v in allscores.values())),
               "frame_top1": ftop[1], "frame_top3": ftop[3], "fps": fps, "clstk": {}}
    log(f" * frame Prec@1 {ftop[1]:.3f} Prec@3 {ftop[3]:.3f}")
    for k in args.classtopk:
        preds = activitynet_json(video_probabilities(allscores, k), annots["database"], dataset.idx_to_class,
                                 args.subset, external="ImageNet" if str(args.pretrained) not in ("", "0") else None)
        pred_file = out / f"output_{args.subset}_{name}-clstk-{k:03d}.json"
        atomic_write_json(pred_file, preds, indent=None)
        if args.subset != "test":
            m = video_metrics(dataset.annot_file, pred_file, args.subset)
            results["clstk"][str(k)] = m
            log(f"clstk {k:3d}: {format_video_metrics(m)}")
    atomic_write_json(out / f"results_{args.subset}_{name}.json", results)
    return results


def video_metrics(gt_path: PathLike, pred_path: PathLike, subset: str = "val") -> Dict[str, float]:
    """hit@1, hit@5, their mean ("mean"; the Kinetics challenge's "mean error" is 1 - mean) and mAP of the
    ActivityNet-format prediction file ``pred_path``, as fractions (``evaluation.kinetics``)."""
    r = evaluate(os.fspath(gt_path), os.fspath(pred_path), subset)
    return {"hit@1": r["hit@1"], "hit@5": r["hit@5"], "mean": r["mean_hit"], "mean_error": 1.0 - r["mean_hit"],
            "mAP": r["mAP"]}


def format_video_metrics(m: Dict[str, float]) -> str:
    return (f"hit@1 {m['hit@1']:.4f} hit@5 {m['hit@5']:.4f} mean {m['mean']:.4f} "
            f"mean-error {m['mean_error']:.4f} mAP {m['mAP']:.4f}")


def fuse_streams(annots: dict, rgb_pkl: str, flow_pkl: str, weight: float, k: int, subset: str = "val") -> Dict:
    """Fused frame top-1/top-3 and the fused ActivityNet json of two per-video score files (test.py's
    ``output_<subset>_<tag>.pkl``): RGB weighted ``weight``, flow ``1 - weight``."""
    rgb, flow = safe_load_pickle(rgb_pkl), safe_load_pickle(flow_pkl)
    for path, d in ((rgb_pkl, rgb), (flow_pkl, flow)):
        if not isinstance(d, dict) or any(not isinstance(v, dict) or "scores" not in v for v in d.values()):
            raise DataError(path, "expected test.py's per-video scores {video: {scores, fids, count}}")
    database = annots["database"]
    idx_to_class = {int(v): c for c, v in annots["classes"].items()}
    labels = {v: int(i["cls"]) for v, i in database.items() if i["subset"] == subset}
    ftop = frame_topk(fuse_frames(rgb, flow, weight), labels, (1, 3))
    probs = fuse(video_probabilities(rgb, k), video_probabilities(flow, k), weight)
    preds = activitynet_json(probs, database, idx_to_class, subset)
    return {"frame_top1": ftop[1], "frame_top3": ftop[3], "predictions": preds}
