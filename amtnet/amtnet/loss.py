"""Micro-tube prior matching and the multibox loss (SSD with AMTNet's mean-IoU-over-frames overlap).

Matching (SSD's bipartite + threshold, per sample): the overlap of a ground-truth micro-tube and a prior
is the IoU of the prior with the tube's box, averaged over the seq_len frames. Each prior takes its
best tube; each tube forces its best prior (overlap set to 2, the last tube winning a shared prior);
label = tube label + 1 where the overlap is >= ``threshold``, else 0 (background). Regression targets
are the SSD encodings of the tube's boxes frame after frame: [P, 4 * seq_len].
"""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
import torch.nn.functional as F

from core.boxes import cxcywh_to_xyxy, iou, ssd_encode

VARIANCE = (0.1, 0.2)


def mean_iou(tubes: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """tubes [G, S, 4] xyxy, priors [P, 4] cxcywh -> [G, P] IoU averaged over the S frames."""
    g, s = tubes.shape[:2]
    pts = cxcywh_to_xyxy(priors)
    return iou(tubes.reshape(g * s, 4), pts).view(g, s, -1).mean(1)


def match(
    tubes: torch.Tensor,
    labels: torch.Tensor,
    priors: torch.Tensor,
    threshold: float = 0.5,
    variances: Sequence[float] = VARIANCE,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """tubes [G, S, 4] normalised xyxy, labels [G] (0-based), priors [P, 4] cxcywh
    -> (loc targets [P, 4 * S], conf targets [P] long with 0 = background)."""
    p = priors.shape[0]
    s = tubes.shape[1] if tubes.dim() == 3 else 1
    if tubes.numel() == 0:
        return priors.new_zeros(p, 4 * s), torch.zeros(p, dtype=torch.long, device=priors.device)
    overlaps = mean_iou(tubes, priors)  # [G, P]
    best_prior = overlaps.argmax(1)  # [G]
    best_truth_overlap, best_truth = overlaps.max(0)  # [P]
    g = tubes.shape[0]
    forced = torch.full((p,), -1, dtype=torch.long, device=priors.device)
    forced.scatter_reduce_(0, best_prior, torch.arange(g, device=priors.device), reduce="amax")
    hit = forced >= 0
    best_truth = torch.where(hit, forced, best_truth)
    best_truth_overlap = torch.where(hit, torch.full_like(best_truth_overlap, 2.0), best_truth_overlap)
    conf = labels.to(torch.long)[best_truth] + 1
    conf[best_truth_overlap < threshold] = 0
    matched = tubes[best_truth]  # [P, S, 4]
    loc = ssd_encode(matched, priors[:, None, :], variances).reshape(p, 4 * s)
    return loc, conf


def multibox_loss(
    loc_pred: torch.Tensor,
    conf_pred: torch.Tensor,
    loc_t: torch.Tensor,
    conf_t: torch.Tensor,
    neg_pos_ratio: int = 3,
) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """SSD loss with hard negative mining.

    loc_pred [B, P, 4S], conf_pred [B, P, K] logits, loc_t [B, P, 4S], conf_t [B, P] long (0 = background)
    -> (loss_l, loss_c, num_pos). Per sample, all positives and the ``neg_pos_ratio * num_pos``
    negatives with the largest background loss (-log softmax[..., 0]) are kept (none for a sample without
    positives). Smooth-L1 is summed over every coordinate of the positives, cross-entropy over the kept
    priors; both are divided by the number of positives in the batch (at least 1).
    """
    pos = conf_t > 0  # [B, P]
    num_pos_per = pos.sum(1, keepdim=True)  # [B, 1]
    num_pos = int(num_pos_per.sum())
    loss_l = F.smooth_l1_loss(loc_pred[pos], loc_t[pos], reduction="sum", beta=1.0)
    with torch.no_grad():
        bg = -F.log_softmax(conf_pred.float(), dim=-1)[..., 0]  # [B, P]
        bg[pos] = 0.0
        order = bg.argsort(dim=1, descending=True)
        rank = order.argsort(dim=1)
        num_neg = torch.clamp(neg_pos_ratio * num_pos_per, max=pos.shape[1] - 1)
        neg = rank < num_neg
    keep = pos | neg
    loss_c = F.cross_entropy(conf_pred[keep], conf_t[keep], reduction="sum")
    n = max(num_pos, 1)
    return loss_l / n, loss_c / n, num_pos
