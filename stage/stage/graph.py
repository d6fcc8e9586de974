"""The STAGE graph of one batch: nodes are [all actors; all objects] of B keyframes, edges join nodes
of the same keyframe and of neighbouring keyframes, weighted by the proximity of box centres.

For keyframes i, j of the batch (0..B-1, in batch order) and nodes u in i, v in j::

    A[u, v] = exp(-tau * ||c_u - c_v||)   if link[i, j]      (c = box centre, normalised coordinates)
    A[u, v] = 0                          otherwise (no edge)

``link`` is ``|i - j| <= 1`` (the original's "previous/next keyframe of the batch", also across a
movie boundary inside the batch), ``i == j`` without temporal edges, or ``|i - j| <= 1`` and the same
clip. This is exactly the block structure of the original collate (actor-actor, actor-object,
object-object blocks for i and i +- 1, object-actor the transpose), built in one shot.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

TEMPORAL_MODES = ("batch", "video", "none")


def box_centres(boxes: torch.Tensor) -> torch.Tensor:
    """[n, 4] x1, y1, x2, y2 -> [n, 2] (xc, yc)."""
    return torch.stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2), dim=1)


def keyframe_links(num_keyframes: int, temporal: str = "batch", clips: Optional[Sequence[str]] = None) -> torch.Tensor:
    """[B, B] bool: which keyframes of the batch are joined (always i == i).

    ``temporal``: ``batch`` |i - j| <= 1; ``video`` the same and only inside one clip (needs
    ``clips``); ``none`` no temporal edges."""
    if temporal not in TEMPORAL_MODES:
        raise ValueError(f"temporal must be one of {TEMPORAL_MODES}, got {temporal!r}")
    idx = torch.arange(num_keyframes)
    gap = (idx[:, None] - idx[None, :]).abs()
    link = gap == 0 if temporal == "none" else gap <= 1
    if temporal == "video":
        if clips is None or len(clips) != num_keyframes:
            raise ValueError("temporal='video' needs one clip id per keyframe")
        codes = {c: k for k, c in enumerate(dict.fromkeys(clips))}
        cid = torch.tensor([codes[c] for c in clips])
        link &= cid[:, None] == cid[None, :]
    return link


def build_adjacency(
    actor_boxes: torch.Tensor,
    object_boxes: torch.Tensor,
    actor_keyframe: torch.Tensor,
    object_keyframe: torch.Tensor,
    link: torch.Tensor,
    tau: float = 1.0,
) -> torch.Tensor:
    """Dense adjacency [Na + No, Na + No] of one batch (float32).

    actor_boxes [Na, 4], object_boxes [No, 4]: normalised x1, y1, x2, y2; actor_keyframe [Na] and
    object_keyframe [No]: batch position (0..B-1) of each node's keyframe; link [B, B] from
    :func:`keyframe_links`. Self-loops get exp(0) = 1.
    """
    boxes = torch.cat((actor_boxes, object_boxes), 0).float()
    frame = torch.cat((actor_keyframe, object_keyframe), 0).long()
    c = box_centres(boxes)
    # explicit differences, not cdist: its matrix-product path gives self-distances of ~1e-4, not 0
    dist = (c[:, None, :] - c[None, :, :]).pow(2).sum(-1).sqrt()
    return torch.exp(-tau * dist) * link[frame[:, None], frame[None, :]].to(dist.dtype)
