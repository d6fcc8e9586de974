"""Running a trained AMTNet over whole videos: every frame's backbone once, micro-tubes from pairs.

The test micro-tubes of a video start every (seq_len - 1)(seq_gap + 1) frames, so consecutive ones share
a frame (``data.full_test_starts``). Each frame's source maps are computed once and kept only while a
micro-tube still needs them; the heads then run on batches of micro-tubes. Output per micro-tube: softmax
scores [P, C + 1] and decoded boxes [P, seq_len, 4] (normalised x1y1x2y2, not clipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import torch

from core.boxes import ssd_decode
from core.nms import classwise_nms_flat
from core.train.amp import autocast

from .data import full_test_starts, microtube_frames
from .model import AMTNet
from .priors import prior_boxes


@dataclass
class MicroTubeDetections:
    """Class-wise NMS survivors of one micro-tube: frames [S] (0-based), boxes [K, S, 4] normalised,
    labels [K] (0-based, background removed), scores [K], and the full score vectors [K, C + 1]."""

    video: int
    frames: List[int]
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    score_vectors: np.ndarray


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
