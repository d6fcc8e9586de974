"""AMTNet's loops: training (iterations, checkpoints, validation), and testing over whole videos.

Testing runs every frame's backbone once and the micro-tube heads on pairs. The test micro-tubes of a video start every (seq_len - 1)(seq_gap + 1) frames, so consecutive ones share
a frame (``data.full_test_starts``). Each frame's source maps are computed once and kept only while a
micro-tube still needs them; the heads then run on batches of micro-tubes. Output per micro-tube: softmax
scores [P, C + 1] and decoded boxes [P, seq_len, 4] (normalised x1y1x2y2, not clipped).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from core.boxes import ssd_decode
from core.cli import markdown_table
from core.errors import DataError
from core.io import atomic_write_json, atomic_write_text, load_weights
from core.nms import classwise_nms_flat
from core.train import (
    CheckpointManager,
    MetricLogger,
    all_reduce_mean,
    autocast,
    barrier,
    place_model,
    strip_prefix,
    unwrap_model,
)

from .data import (
    VideoFrames,
    classes_of,
    dataset_dir,
    full_test_starts,
    load_videos,
    microtube_frames,
    split_videos,
)
from .detections import VideoWriter, collect_csv, late_fusion, video_done, write_video_tubes
from .loss import multibox_loss
from .model import AMTNet
from .options import MODEL_FIELDS
from .priors import prior_boxes

TABLE_COLUMNS = ["IoU 0.20", "0.50", "0.75", "0.5:0.95", "frame-mAP@0.5", "accuracy"]


def decode(loc: torch.Tensor, priors: torch.Tensor, seq_len: int) -> torch.Tensor:
    """loc [..., P, 4 S], priors [P, 4] cxcywh -> boxes [..., P, S, 4] normalised x1y1x2y2."""
    shape = loc.shape[:-1] + (seq_len, 4)
    return ssd_decode(loc.reshape(shape), priors[:, None, :])


def nms_microtube(boxes: torch.Tensor, scores: torch.Tensor, conf_thresh: float, nms_thresh: float,
                  topk: int, keep_top_k: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """boxes [P, S, 4], scores [P, C + 1] softmax -> (prior index [K], label [K] 0-based, score [K]).

    Class-wise NMS on the boxes of the micro-tube's first frame (AMTNet's evaluation), background excluded."""
    det = classwise_nms_flat(boxes[:, 0], scores[:, 1:], score_thresh=conf_thresh, iou_thresh=nms_thresh,
                             top_k=topk, keep_top_k=keep_top_k)
    return det.box_index, det.label, det.score


class VideoRunner:
    """Feeds frames in order (``push``) and yields the micro-tubes that become computable."""

    def __init__(self, model: AMTNet, seq_len: int, seq_gap: int, device: torch.device, head_batch: int = 8,
                 amp: bool = False):
        self.model = model
        self.amp = amp  # mixed-precision network (core.train.autocast); decoding and scores in float32
        self.seq_len, self.gap = seq_len, seq_gap
        self.device = device
        self.priors = prior_boxes().to(device)
        self.head_batch = head_batch

    @torch.no_grad()
    def frame_maps(self, base: torch.Tensor, extra: Optional[torch.Tensor]) -> List[torch.Tensor]:
        """base [N, 3k, D, D] (extra likewise) -> six fused maps [N, C_k, H_k, W_k]."""
        with autocast(self.device, self.amp):
            maps = self.model.features(base.to(self.device))
            if self.model.fusion:
                maps = self.model.fuse(maps, self.model.features(extra.to(self.device), "extra"))
        return maps

    @torch.no_grad()
    def run(self, batches: Iterable[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
            numf: Dict[int, int]) -> Iterator[Tuple[int, List[int], torch.Tensor, torch.Tensor]]:
        """batches of (base [N, ...], extra [N, ...], video [N], frame [N]) in video/frame order ->
        (video, frames, boxes [P, S, 4], scores [P, C + 1]) per micro-tube, in order."""
        cache: Dict[Tuple[int, int], List[torch.Tensor]] = {}
        pending: List[Tuple[int, int]] = []  # (video, start) whose frames are not all computed yet
        starts_of: Dict[int, np.ndarray] = {}
        for base, extra, videos, frames in batches:
            maps = self.frame_maps(base, extra if extra.numel() else None)
            ready: List[Tuple[int, int]] = []
            for i, (v, f) in enumerate(zip(videos.tolist(), frames.tolist())):
                cache[(v, f)] = [m[i:i + 1] for m in maps]
                if v not in starts_of:
                    starts_of[v] = full_test_starts(numf[v], self.seq_len, self.gap)
                    pending.extend((v, int(s)) for s in starts_of[v])
            still = []
            for v, s in pending:
                if all((v, fr) in cache for fr in microtube_frames(s, self.seq_len, self.gap)):
                    ready.append((v, s))
                else:
                    still.append((v, s))
            pending = still
            for j in range(0, len(ready), self.head_batch):
                chunk = ready[j:j + self.head_batch]
                per_frame = []
                for t in range(self.seq_len):
                    keys = [(v, s + t * (self.gap + 1)) for v, s in chunk]
                    per_frame.append([torch.cat([cache[key][k] for key in keys]) for k in range(len(maps))])
                with autocast(self.device, self.amp):
                    loc, conf = self.model.heads(per_frame)
                boxes = decode(loc.float(), self.priors, self.seq_len)
                scores = torch.softmax(conf.float(), -1)
                for n, (v, s) in enumerate(chunk):
                    yield v, microtube_frames(s, self.seq_len, self.gap), boxes[n], scores[n]
            # drop the maps of frames no pending micro-tube needs (every start of a seen video is pending)
            need = {(v, fr) for v, s in pending for fr in microtube_frames(s, self.seq_len, self.gap)}
            for key in [k for k in cache if k not in need]:
                del cache[key]


@torch.no_grad()
def validate(model: AMTNet, loader: Iterable, num_classes: int, conf_thresh: float = 0.01, nms_thresh: float = 0.45,
             topk: int = 50, iou_thresh: float = 0.5, size: int = 300) -> Tuple[float, np.ndarray]:
    """Frame-AP of the first frame of each validation micro-tube (AMTNet's in-training check), in
    ``size`` x ``size`` pixels -> (mAP over classes with ground truth, AP per class)."""
    from core.metrics import road_frame_ap

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    priors = prior_boxes().to(device)
    det = {"image": [], "label": [], "score": [], "box": []}
    gt = {"image": [], "label": [], "box": []}
    image = 0
    for base, extra, _, _, gts, _ in loader:
        loc, conf = model(base.to(device), extra.to(device) if extra.numel() else None)
        boxes = decode(loc, priors, model.seq_len) * size
        scores = torch.softmax(conf, -1)
        for b in range(len(gts)):
            idx, lab, sc = nms_microtube(boxes[b], scores[b], conf_thresh, nms_thresh, topk)
            det["image"].append(np.full(len(idx), image))
            det["label"].append(lab.cpu().numpy())
            det["score"].append(sc.cpu().numpy())
            det["box"].append(boxes[b, idx, 0].clamp(0, size).cpu().numpy().reshape(-1, 4))
            g_boxes, g_labels = gts[b]
            gt["image"].append(np.full(len(g_labels), image))
            gt["label"].append(g_labels.numpy())
            gt["box"].append(g_boxes[:, 0].numpy().reshape(-1, 4) * size)
            image += 1
    model.train(was_training)
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in det.items()}
    gcat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in gt.items()}
    res = road_frame_ap(cat["image"], cat["label"], cat["score"], cat["box"].reshape(-1, 4),
                        gcat["image"], gcat["label"], gcat["box"].reshape(-1, 4), num_classes, iou_thresh)
    has_gt = res.num_gt > 0
    return float(np.mean(res.ap[has_gt])) if has_gt.any() else 0.0, res.ap


def train_loop(args: argparse.Namespace, net: torch.nn.Module, batches: Iterable, optimizer: torch.optim.Optimizer,
               scheduler, scaler, manager: CheckpointManager, logger: MetricLogger, device: torch.device,
               start: int, num_classes: int, sources: Dict[str, str],
               val_loader: Optional[Iterable] = None, val_path: Optional[Path] = None) -> None:
    """Iterations ``start`` .. ``args.max_iter``: SGD/AdamW steps on the micro-tube loss, a checkpoint (and a
    validation frame-mAP into ``val_path``) every ``--val_step`` iterations, at 1000 and at the end."""
    val_results: Dict[str, dict] = {}
    if val_path is not None and val_path.is_file():  # keep the history from before a resume
        import json

        val_results = {k: v for k, v in json.loads(val_path.read_text()).items() if int(k) <= start}
    net.train()
    for it, epoch, (base, extra, loc_t, conf_t, _, _) in logger.log_every(
            batches, args.print_freq, header="train", total=args.max_iter - start, start_step=start):
        base, loc_t, conf_t = base.to(device), loc_t.to(device), conf_t.to(device)
        extra = extra.to(device) if extra.numel() else None
        lr = args.lr * scheduler.factor(it)
        with autocast(device, args.amp):
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
            if val_loader is not None and val_path is not None:
                mean_ap, ap = validate(unwrap_model(net), val_loader, num_classes - 1, args.conf_thresh,
                                       args.nms_thresh, args.topk, args.iou_thresh, args.ssd_dim)
                val_results[str(done)] = {"frame_mAP": mean_ap, "ap": [float(a) for a in ap]}
                logger.write(done, {"val_frame_mAP": mean_ap})
                logger.print(f"validation at {done}: frame-mAP@{args.iou_thresh} = {mean_ap:.4f}")
                atomic_write_json(val_path, val_results)
            barrier()


def load_checkpoint(path: str, args: argparse.Namespace) -> dict:
    """A training checkpoint; the network flags of ``args`` (MODEL_FIELDS) are set from the checkpoint's."""
    ckpt = load_weights(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise DataError(path, "not an AMTNet training checkpoint (no 'model')")
    saved = ckpt.get("args") or {}
    for k in MODEL_FIELDS:
        if k in saved and getattr(args, k) != saved[k]:
            print(f"test: using the checkpoint's --{k} {saved[k]} (not {getattr(args, k)})")
            setattr(args, k, saved[k])
    return ckpt


def test_checkpoint(args: argparse.Namespace, ckpt_path: str, gap: int, out_dir: str, info) -> str:
    """Detections of every test video (this process's share; finished videos are skipped), then on the main
    process frame_detections.csv, TUBES.json and, unless --no_eval, metrics.json and table.md."""
    ckpt = load_checkpoint(ckpt_path, args)
    root = dataset_dir(args.data_root, args.dataset)
    classes = classes_of(args.dataset)
    db, _, test_names = split_videos(root, args.train_split)
    videos = load_videos(root, args.dataset, test_names, db, args.input_type_base)
    mine = [v for i, v in enumerate(videos) if i % info.world_size == info.rank and not video_done(out_dir, v.name)]
    model = AMTNet(len(classes) + 1, args.seq_len, args.fusion_type, args.input_frames_base, args.input_frames_extra,
                   args.width_mult, args.batch_norm)
    model.load_state_dict(strip_prefix(ckpt["model"]))
    place_model(model, info.device).eval()
    span = (args.seq_len - 1) * (gap + 1)
    if mine:
        frames = VideoFrames(root, mine, args.input_type_base, args.input_type_extra, args.input_frames_base,
                             args.input_frames_extra, args.fusion_type != "none", args.ssd_dim)
        loader = torch.utils.data.DataLoader(frames, args.test_batch_size, shuffle=False, num_workers=args.num_workers)
        runner = VideoRunner(model, args.seq_len, gap, info.device, amp=args.amp)
        writers: Dict[int, VideoWriter] = {}
        start, n_frames, n_videos = time.time(), 0, 0
        for vi, fr, boxes, scores in runner.run(loader, {i: v.numf for i, v in enumerate(mine)}):
            v = mine[vi]
            if vi not in writers:
                writers[vi] = VideoWriter(out_dir, v, full_test_starts(v.numf, args.seq_len, gap), span,
                                          len(classes), args.conf_thresh, args.nms_thresh, args.topk)
            w = writers[vi]
            w.add(fr[0], boxes.cpu().numpy(), scores.cpu().numpy())
            if fr[0] == w.starts[-1]:
                w.finish()
                del writers[vi]
                n_frames += v.numf
                n_videos += 1
                if info.is_main:
                    print(f"test: [{n_videos}/{len(mine)}] videos, {v.name} ({v.numf} frames), "
                          f"{n_frames / (time.time() - start):.1f} frames/s", flush=True)
        if info.is_main:
            print(f"test: {n_frames} frames in {time.time() - start:.1f} s "
                  f"({n_frames / max(time.time() - start, 1e-9):.2f} frames/s, this process)")
    barrier()
    if not info.is_main:
        return ""
    names = [v.name for v in videos]
    collect_csv(out_dir, names, os.path.join(out_dir, "frame_detections.csv"))
    tubes_json = os.path.join(out_dir, "TUBES.json")
    n = write_video_tubes(os.path.join(out_dir, "detections", "micro"), names, tubes_json)
    print(f"test: {n} tubes -> {tubes_json}")
    if args.no_eval:
        return ""
    name = args.name or os.path.basename(os.path.dirname(os.path.dirname(ckpt_path)))
    return report(args, out_dir, name, root)


def ground_truth(args: argparse.Namespace, root: str) -> str:
    return args.gt or os.path.join(root, "splitfiles", "pyannot.pkl")


def report(args: argparse.Namespace, out_dir: str, name: str, root: str) -> str:
    """Evaluate ``out_dir``'s frame_detections.csv and TUBES.json; write metrics.json and table.md."""
    metrics = evaluate(ground_truth(args, root), os.path.join(out_dir, "frame_detections.csv"),
                       os.path.join(out_dir, "TUBES.json"), args.protocol, args.train_split, args.iou_thresh)
    atomic_write_json(os.path.join(out_dir, "metrics.json"), {"name": name, **metrics})
    table = format_table([table_row(name, metrics)])
    atomic_write_text(os.path.join(out_dir, "table.md"), table)
    print(table)
    return table


def run_late_fusion(args: argparse.Namespace) -> str:
    """Late fusions (args.late_fusion: mean / union / boost) of the --rgb_dir and --flow_dir test outputs."""
    root = dataset_dir(args.data_root, args.dataset)
    _, _, test_names = split_videos(root, args.train_split)
    rows = []
    for kind in args.late_fusion:
        out = os.path.join(args.out_dir, kind)
        late_fusion(args.rgb_dir, args.flow_dir, test_names, kind, out, args.conf_thresh)
        if not args.no_eval:
            metrics = evaluate(ground_truth(args, root), os.path.join(out, "frame_detections.csv"),
                               os.path.join(out, "TUBES.json"), args.protocol, args.train_split, args.iou_thresh)
            name = f"RGB + flow ({kind})"
            atomic_write_json(os.path.join(out, "metrics.json"), {"name": name, **metrics})
            rows.append(table_row(name, metrics))
    if not rows:
        return ""
    table = format_table(rows)
    atomic_write_text(os.path.join(args.out_dir, "table.md"), table)
    print(table)
    return table


def evaluate(gt: str, dets_csv: str, tubes_json: str, protocol: str = "road", split: int = 1,
             iou: float = 0.5) -> Dict[str, object]:
    """frame-mAP and video-mAP + accuracy with ``evaluation.ucf24`` (what its ``frame-map`` / ``video-map``
    commands compute) -> {"frame_mAP", "video_mAP": {"0.2", "0.5", "0.75", "0.5:0.95"}, "accuracy", ...}."""
    from evaluation.report import nan_to_none
    from evaluation.ucf24 import GroundTruth, frame_map, read_detections, read_tubes, video_map

    truth = GroundTruth(gt, split)
    frame = frame_map(truth, read_detections(dets_csv, truth), protocol, iou)
    tubes, video, label, score = read_tubes(tubes_json, truth)
    vid = video_map(truth, tubes, video, label, score, protocol)
    return nan_to_none({"frame_mAP": frame["frame_mAP"], "video_mAP": vid["video_mAP"], "accuracy": vid["accuracy"],
                        "frame_per_class": frame.get("per_class"), "video_per_class": vid.get("per_class")})


def table_row(name: str, metrics: Dict[str, object]) -> List[object]:
    """One row of the AMTNet table: name, video-mAP at 0.2/0.5/0.75/0.5:0.95, frame-mAP, accuracy (percent)."""
    vm = metrics["video_mAP"]
    vals = [vm.get("0.2"), vm.get("0.5"), vm.get("0.75"), vm.get("0.5:0.95"), metrics["frame_mAP"], metrics["accuracy"]]
    return [name] + [None if v is None else 100 * float(v) for v in vals]


def format_table(rows: Sequence[Sequence[object]], title: str = "") -> str:
    """Markdown table with the paper's performance columns (percent, one decimal)."""
    return markdown_table(["Method"] + TABLE_COLUMNS, rows, title=title, digits=1)
