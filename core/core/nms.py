"""Class-wise score threshold + top-k + NMS over an [N boxes x C classes] score matrix, in one call.

The original repositories (ssd.pytorch, realtime-action-detection, AMTNet) loop over classes in Python
and run a greedy NMS per class; here every (box, class) pair that passes the threshold goes through
one ``torchvision.ops.batched_nms`` call with the class as the group index. The result is the same:
per class, candidates ``score > score_thresh``, the ``top_k`` highest kept, greedy suppression of
boxes whose IoU with a kept box is ``> iou_thresh``, then at most ``keep_top_k`` survivors.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Union

import numpy as np
import torch
from torchvision.ops import batched_nms

Array = Union[np.ndarray, torch.Tensor]


class Detections(NamedTuple):
    """Flat NMS output, sorted by class (ascending) then score (descending).

    box_index [K] long: row of the input box; label [K] long: column of the score matrix; score [K].
    """

    box_index: torch.Tensor
    label: torch.Tensor
    score: torch.Tensor


def _rank_within_group(group: torch.Tensor, num_groups: int) -> torch.Tensor:
    """For ``group`` sorted ascending, the 0-based position of each element inside its group."""
    counts = torch.bincount(group, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(group.numel(), device=group.device) - starts[group]


def _sort_class_then_score(label: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
    order = torch.argsort(score, descending=True, stable=True)
    return order[torch.argsort(label[order], stable=True)]


def classwise_nms_flat(
    boxes: Array,
    scores: Array,
    score_thresh: float = 0.01,
    iou_thresh: float = 0.45,
    top_k: Optional[int] = 200,
    keep_top_k: Optional[int] = None,
    inclusive: bool = False,
) -> Detections:
    """Class-wise NMS of boxes [N, 4] xyxy under scores [N, C].

    ``top_k``: candidates per class before NMS (None = all); ``keep_top_k``: survivors per class
    (None = all); ``inclusive``: IoU with +1 widths (MATLAB/ACT convention). Empty input, or no score
    above the threshold, gives empty outputs.
    """
    b = torch.as_tensor(boxes)
    s = torch.as_tensor(scores)
    if not b.is_floating_point():
        b = b.to(torch.float32)
    if not s.is_floating_point():
        s = s.to(torch.float32)
    if s.dim() != 2 or b.dim() != 2 or b.shape[-1] != 4 or b.shape[0] != s.shape[0]:
        raise ValueError(f"classwise_nms: expected boxes [N, 4] and scores [N, C], got {tuple(b.shape)} and {tuple(s.shape)}")
    num_classes = s.shape[1]
    box_index, label = torch.nonzero(s > score_thresh, as_tuple=True)
    score = s[box_index, label]
    if top_k is not None:
        order = _sort_class_then_score(label, score)
        box_index, label, score = box_index[order], label[order], score[order]
        keep = _rank_within_group(label, num_classes) < top_k
        box_index, label, score = box_index[keep], label[keep], score[keep]
    if box_index.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=s.device)
        return Detections(empty, empty.clone(), s.new_zeros(0))
    cand = b[box_index]
    if inclusive:
        cand = cand + torch.tensor([0, 0, 1, 1], dtype=cand.dtype, device=cand.device)
    keep = batched_nms(cand, score, label, iou_thresh)
    box_index, label, score = box_index[keep], label[keep], score[keep]
    order = _sort_class_then_score(label, score)
    box_index, label, score = box_index[order], label[order], score[order]
    if keep_top_k is not None:
        keep = _rank_within_group(label, num_classes) < keep_top_k
        box_index, label, score = box_index[keep], label[keep], score[keep]
    return Detections(box_index, label, score)


def classwise_nms(
    boxes: Array,
    scores: Array,
    score_thresh: float = 0.01,
    iou_thresh: float = 0.45,
    top_k: Optional[int] = 200,
    keep_top_k: Optional[int] = None,
    inclusive: bool = False,
) -> List[torch.Tensor]:
    """Like :func:`classwise_nms_flat`, returned per class: a list of C long tensors of box indices,
    each sorted by that class's score, descending."""
    num_classes = torch.as_tensor(scores).shape[-1]
    det = classwise_nms_flat(boxes, scores, score_thresh, iou_thresh, top_k, keep_top_k, inclusive)
    counts = torch.bincount(det.label, minlength=num_classes).tolist()
    return list(torch.split(det.box_index, counts))
