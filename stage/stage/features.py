"""STAGE's feature extraction (never released by the authors; protocol from their issues #3, #5, #10):
actor boxes per keyframe with labels transferred from ground truth, I3D RoI features (RoIAlign on
Mixed_4f, then the remaining layers to Mixed_5c: [n, C, t, h, w]) and 2D-backbone object features
(RoIAlign on the last ResNet-50 stage, averaged: [m, 2048]).

Clips: ``frames`` frames every ``stride`` frames centred on the keyframe (edge frames repeated at
the video borders), resized to ``size`` (H, W), RGB scaled to [-1, 1] (pytorch-i3d's input).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np
import pandas as pd
import torch
from torchvision.ops import roi_align

from core.backbones.i3d import InceptionI3d
from core.boxes import iou
from core.video import read_video


@dataclass
class KeyframeActors:
    boxes: np.ndarray  # [n, 4] normalised x1, y1, x2, y2
    labels: np.ndarray  # [n, 81] multi-hot, column 0 = background
    from_gt: np.ndarray  # [n] bool


def gt_boxes(gt: pd.DataFrame) -> Tuple[np.ndarray, np.ndarray]:
    """Unique boxes of one keyframe's ground-truth rows and their multi-hot labels [n, 81]."""
    if len(gt) == 0:
        return np.zeros((0, 4)), np.zeros((0, 81))
    boxes, inv = np.unique(gt[["x1", "y1", "x2", "y2"]].to_numpy(np.float64), axis=0, return_inverse=True)
    labels = np.zeros((len(boxes), 81))
    ids = gt["action_id"].to_numpy()
    ok = (ids >= 1) & (ids <= 80)
    labels[inv.ravel()[ok], ids[ok]] = 1
    return boxes, labels


def keyframe_actors(gt: pd.DataFrame, dets: pd.DataFrame, use_gt: bool, det_score: float,
                    label_iou: float = 0.5) -> KeyframeActors:
    """Actor boxes of one keyframe: the ground-truth boxes (``use_gt``) plus the person detections
    with score >= ``det_score``; a detection takes the labels of the ground-truth box it overlaps
    most if IoU >= ``label_iou``, else it is background (column 0)."""
    gb, gl = gt_boxes(gt)
    d = dets[dets["extra"].fillna(1.0) >= det_score] if len(dets) else dets
    db = d[["x1", "y1", "x2", "y2"]].to_numpy(np.float64) if len(d) else np.zeros((0, 4))
    dl = np.zeros((len(db), 81))
    if len(db) and len(gb):
        ov = iou(db, gb)
        best = ov.argmax(1)
        hit = ov[np.arange(len(db)), best] >= label_iou
        dl[hit] = gl[best[hit]]
    dl[dl[:, 1:].sum(1) == 0, 0] = 1
    parts = [(gb, gl, True)] if use_gt else []
    parts.append((db, dl, False))
    boxes = np.concatenate([p[0] for p in parts]).reshape(-1, 4)
    labels = np.concatenate([p[1] for p in parts]).reshape(-1, 81)
    from_gt = np.concatenate([np.full(len(p[0]), p[2]) for p in parts]).astype(bool)
    return KeyframeActors(boxes.astype(np.float32), labels.astype(np.float32), from_gt)


def load_clip(video: str, t_sec: float, frames: int = 16, stride: int = 2, size: Tuple[int, int] = (192, 256),
              fps: Optional[float] = None) -> Tuple[torch.Tensor, np.ndarray]:
    """Clip [3, frames, H, W] in [-1, 1] centred on second ``t_sec`` of ``video``, and the keyframe
    image (RGB uint8, original size)."""
    rate = fps or 30.0
    half = frames * stride / 2
    start = max(0.0, t_sec - (half + 1) / rate)
    arr, rate = read_video(video, start_sec=start, end_sec=t_sec + (half + 1) / rate)
    rate = fps or rate or 30.0
    # frame times of the decoded range, assuming constant rate from its first frame
    key = int(round((t_sec - start) * rate))
    key = min(max(key, 0), len(arr) - 1)
    idx = np.clip(key + (np.arange(frames) - frames // 2) * stride, 0, len(arr) - 1)
    H, W = size
    clip = np.stack([cv2.resize(arr[i], (W, H), interpolation=cv2.INTER_AREA) for i in idx])
    x = torch.from_numpy(clip).permute(3, 0, 1, 2).float() / 127.5 - 1.0
    return x, arr[key]


def _rois(boxes: torch.Tensor, t: int, h: int, w: int) -> torch.Tensor:
    """RoIs [t * n, 5] (time index, x1, y1, x2, y2 in feature-map cells) of normalised boxes [n, 4]."""
    n = len(boxes)
    scaled = boxes * torch.tensor([w, h, w, h], dtype=boxes.dtype)
    return torch.cat((torch.arange(t).repeat_interleave(n)[:, None].to(boxes.dtype), scaled.repeat(t, 1)), 1)


def i3d_actor_features(model: InceptionI3d, clip: torch.Tensor, boxes: torch.Tensor, roi: int = 8) -> torch.Tensor:
    """Actor features [n, C, t', roi/2, roi/2]: clip [3, T, H, W] -> Mixed_4f [C4, t, h, w]; the same
    box RoI-aligned (``roi`` x ``roi``) at every time step; then MaxPool3d_5a .. Mixed_5c."""
    f = model.run(clip[None], end="Mixed_4f")[0]  # [C4, t, h, w]
    return roi_tail(model, f, boxes, roi)


def roi_tail(model: InceptionI3d, f: torch.Tensor, boxes: torch.Tensor, roi: int = 8) -> torch.Tensor:
    """Mixed_4f map [C4, t, h, w] + boxes [n, 4] -> [n, C, t', roi/2, roi/2] (see :func:`i3d_actor_features`)."""
    C, t, h, w = f.shape
    n = len(boxes)
    if n == 0:
        return model.run(f.new_zeros((0, C, t, roi, roi)), start="Mixed_4f", end="Mixed_5c")
    pooled = roi_align(f.permute(1, 0, 2, 3).contiguous(), _rois(boxes.to(f.dtype), t, h, w), (roi, roi),
                       spatial_scale=1.0, sampling_ratio=2, aligned=True)  # [t * n, C, roi, roi]
    x = pooled.view(t, n, C, roi, roi).permute(1, 2, 0, 3, 4).contiguous()
    return model.run(x, start="Mixed_4f", end="Mixed_5c")


class ObjectBackbone(torch.nn.Module):
    """ResNet-50 trunk (torchvision layout, to ``layer4``: stride 32, 2048 channels); object boxes are
    RoI-aligned 7 x 7 on it and averaged -> [m, 2048]. Input: RGB uint8 image, ImageNet normalisation."""

    MEAN = (0.485, 0.456, 0.406)
    STD = (0.229, 0.224, 0.225)

    def __init__(self):
        super().__init__()
        import torchvision

        net = torchvision.models.resnet50(weights=None)
        self.body = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3,
                                        net.layer4)
        self.out_channels = 2048

    def load(self, path: str) -> None:
        """Load a torchvision ResNet-50 state dict (``conv1.weight``, ``layer1.0...``) from a local file."""
        from core.io import load_weights

        state = load_weights(path)
        mapping = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
        own = {}
        for k, v in state.items():
            head, _, rest = k.partition(".")
            if head in mapping:
                own[f"{mapping[head]}.{rest}"] = v
        self.body.load_state_dict(own, strict=True)

    @torch.no_grad()
    def forward(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return np.zeros((0, self.out_channels), np.float32)
        x = torch.from_numpy(image).permute(2, 0, 1).float()[None] / 255.0
        x = (x - torch.tensor(self.MEAN)[:, None, None]) / torch.tensor(self.STD)[:, None, None]
        f = self.body(x)
        H, W = image.shape[:2]
        b = torch.as_tensor(boxes, dtype=torch.float32) * torch.tensor([W, H, W, H], dtype=torch.float32)
        rois = torch.cat((torch.zeros(len(b), 1), b), 1)
        pooled = roi_align(f, rois, (7, 7), spatial_scale=1 / 32, sampling_ratio=2, aligned=True)
        return pooled.mean((2, 3)).numpy()


def read_detector_json(path: str, exclude: Sequence[str] = ("person",), min_score: float = 0.0) -> Dict[str, np.ndarray]:
    """Object detections of one keyframe in the ACAM detector-output json (``box`` = [top, left,
    bottom, right] normalised, ``score``, ``class_str``) -> {'boxes' [m, 4] x1 y1 x2 y2, 'scores' [m]}."""
    import json

    from core.errors import DataError

    with open(path, encoding="utf-8") as f:
        try:
            dets = json.load(f)["detections"]
            kept = [d for d in dets if d["class_str"] not in exclude and float(d["score"]) >= min_score]
            boxes = np.array([[d["box"][1], d["box"][0], d["box"][3], d["box"][2]] for d in kept], np.float32)
            scores = np.array([float(d["score"]) for d in kept], np.float32)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise DataError(path, f"expected {{'detections': [{{'box', 'score', 'class_str'}}]}} ({e})") from None
    return {"boxes": boxes.reshape(-1, 4), "scores": scores}
