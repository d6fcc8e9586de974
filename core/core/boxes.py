"""Box conversions, IoU and SSD encoding, with every convention an explicit argument.

Formats (last dimension of 4):
    xyxy    x1, y1, x2, y2
    xywh    x, y, w, h (top-left corner and size)
    cxcywh  centre and size

Conventions:
    ``inclusive=False`` (torchvision, SSD, AVA): a box covers the continuous interval [x1, x2],
        width = x2 - x1, area = (x2 - x1) * (y2 - y1).
    ``inclusive=True`` (MATLAB, ACT detector, VOC devkit): a box covers the pixels x1..x2,
        width = x2 - x1 + 1, area = (x2 - x1 + 1) * (y2 - y1 + 1).
    0- or 1-based pixel indices are a shift of the origin: ``shift(boxes, -1)`` turns 1-based into 0-based.

Every function accepts numpy arrays or torch tensors and returns the same kind. Integer inputs
(the UCF24 ``pyannot.pkl`` boxes are uint8/uint16, where ``x + w`` silently wraps) are cast to
float64 (numpy) or float32 (torch) before any arithmetic; float inputs keep their dtype.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch

Array = Union[np.ndarray, torch.Tensor]


def as_float(boxes: Array) -> Array:
    """Cast integer boxes to float (float64 numpy / float32 torch); floats are returned unchanged."""
    if isinstance(boxes, torch.Tensor):
        return boxes if boxes.is_floating_point() else boxes.to(torch.float32)
    boxes = np.asarray(boxes)
    return boxes if np.issubdtype(boxes.dtype, np.floating) else boxes.astype(np.float64)


def _stack(parts: Sequence[Array], like: Array) -> Array:
    if isinstance(like, torch.Tensor):
        return torch.stack(list(parts), dim=-1)
    return np.stack(parts, axis=-1)


def _unbind(boxes: Array):
    return boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]


def xywh_to_xyxy(boxes: Array, inclusive: bool = False) -> Array:
    """[..., 4] x, y, w, h -> x1, y1, x2, y2. Inclusive: x2 = x + w - 1."""
    b = as_float(boxes)
    x, y, w, h = _unbind(b)
    d = 1 if inclusive else 0
    return _stack([x, y, x + w - d, y + h - d], b)


def xyxy_to_xywh(boxes: Array, inclusive: bool = False) -> Array:
    """[..., 4] x1, y1, x2, y2 -> x, y, w, h. Inclusive: w = x2 - x1 + 1."""
    b = as_float(boxes)
    x1, y1, x2, y2 = _unbind(b)
    d = 1 if inclusive else 0
    return _stack([x1, y1, x2 - x1 + d, y2 - y1 + d], b)


def xyxy_to_cxcywh(boxes: Array) -> Array:
    """[..., 4] corners -> centre and size (continuous convention)."""
    b = as_float(boxes)
    x1, y1, x2, y2 = _unbind(b)
    return _stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], b)


def cxcywh_to_xyxy(boxes: Array) -> Array:
    """[..., 4] centre and size -> corners (continuous convention)."""
    b = as_float(boxes)
    cx, cy, w, h = _unbind(b)
    return _stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], b)


def shift(boxes: Array, delta: float) -> Array:
    """Add ``delta`` to every coordinate: ``shift(b, -1)`` converts 1-based pixel indices to 0-based."""
    return as_float(boxes) + delta


def scale(boxes: Array, sx: float, sy: float) -> Array:
    """Multiply x coordinates by ``sx`` and y coordinates by ``sy`` ([..., 4] xyxy or xywh)."""
    b = as_float(boxes)
    if isinstance(b, torch.Tensor):
        f = torch.tensor([sx, sy, sx, sy], dtype=b.dtype, device=b.device)
    else:
        f = np.array([sx, sy, sx, sy], dtype=b.dtype)
    return b * f


def clip(boxes: Array, x_min: float, y_min: float, x_max: float, y_max: float) -> Array:
    """Clamp xyxy boxes to [x_min, x_max] x [y_min, y_max]."""
    b = as_float(boxes)
    x1, y1, x2, y2 = _unbind(b)
    if isinstance(b, torch.Tensor):
        c = torch.clamp
    else:
        c = np.clip
    return _stack([c(x1, x_min, x_max), c(y1, y_min, y_max), c(x2, x_min, x_max), c(y2, y_min, y_max)], b)


def area(boxes: Array, inclusive: bool = False) -> Array:
    """[..., 4] xyxy -> [...] area; degenerate boxes (x2 < x1) have area 0."""
    b = as_float(boxes)
    d = 1 if inclusive else 0
    w = b[..., 2] - b[..., 0] + d
    h = b[..., 3] - b[..., 1] + d
    if isinstance(b, torch.Tensor):
        return w.clamp(min=0) * h.clamp(min=0)
    return np.maximum(w, 0) * np.maximum(h, 0)


def _inter(a: Array, b: Array, inclusive: bool) -> Array:
    """Intersection areas of broadcastable xyxy boxes a[..., 4] and b[..., 4]."""
    d = 1 if inclusive else 0
    if isinstance(a, torch.Tensor):
        w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]) + d).clamp(min=0)
        h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]) + d).clamp(min=0)
    else:
        w = np.maximum(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]) + d, 0)
        h = np.maximum(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]) + d, 0)
    return w * h


def _safe_div(inter: Array, union: Array) -> Array:
    if isinstance(inter, torch.Tensor):
        return torch.where(union > 0, inter / torch.where(union > 0, union, torch.ones_like(union)), torch.zeros_like(inter))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def iou(a: Array, b: Array, inclusive: bool = False) -> Array:
    """Pairwise IoU: a [N, 4], b [M, 4] xyxy -> [N, M]. Zero where the union is empty."""
    a = as_float(a)
    b = as_float(b)
    if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor):
        raise TypeError("iou: both inputs must be numpy arrays or both torch tensors")
    inter = _inter(a[:, None, :], b[None, :, :], inclusive)
    union = area(a, inclusive)[:, None] + area(b, inclusive)[None, :] - inter
    return _safe_div(inter, union)


def iou_aligned(a: Array, b: Array, inclusive: bool = False) -> Array:
    """Element-wise IoU of broadcastable a[..., 4] and b[..., 4] -> [...]."""
    a = as_float(a)
    b = as_float(b)
    inter = _inter(a, b, inclusive)
    union = area(a, inclusive) + area(b, inclusive) - inter
    return _safe_div(inter, union)


def ssd_encode(matched: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = (0.1, 0.2)) -> torch.Tensor:
    """Encode xyxy ground truth against cxcywh priors (SSD, Liu et al. 2016).

    matched [..., 4] xyxy, priors [..., 4] cxcywh (broadcastable) -> offsets [..., 4]:
    ((g_cx - p_cx) / (v0 p_w), (g_cy - p_cy) / (v0 p_h), log(g_w / p_w) / v1, log(g_h / p_h) / v1).
    """
    g = xyxy_to_cxcywh(matched)
    v0, v1 = variances
    cxy = (g[..., :2] - priors[..., :2]) / (v0 * priors[..., 2:])
    wh = torch.log(g[..., 2:] / priors[..., 2:]) / v1
    return torch.cat([cxy, wh], dim=-1)


_WH_CLIP = math.log(1000.0 / 16)


def ssd_decode(loc: torch.Tensor, priors: torch.Tensor, variances: Sequence[float] = (0.1, 0.2)) -> torch.Tensor:
    """Inverse of :func:`ssd_encode`: offsets [..., 4] and cxcywh priors -> xyxy boxes [..., 4] (not clipped).

    The log-size offset is clamped at log(1000 / 16) (torchvision's ``bbox_xform_clip``) so that a diverging
    or barely trained network gives large but finite boxes, never inf (whose interpolation would be NaN)."""
    v0, v1 = variances
    cxy = priors[..., :2] + loc[..., :2] * v0 * priors[..., 2:]
    wh = priors[..., 2:] * torch.exp((loc[..., 2:] * v1).clamp(max=_WH_CLIP))
    return cxcywh_to_xyxy(torch.cat([cxy, wh], dim=-1))
