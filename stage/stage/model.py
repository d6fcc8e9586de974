"""STAGE: two graph-attention blocks over actor and object nodes, a sigmoid classifier on actors.

Parameter names follow the original ``Stage`` (``obj_reducer``, ``gat1.attention_0.W``, ``gat_fc``,
``l_norm``, ``gat2``, ``gat_fc2``, ``l_norm2``, ``logits``) so its checkpoints load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MASKED_LOGIT = -9e15  # the original's value: exp underflows to exactly 0 attention


class GraphAttentionLayer(nn.Module):
    """One attention head's parameters: W [in, out] and a [2 * out, 1], xavier-uniform (gain 1.414)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.W = nn.Parameter(torch.empty(in_features, out_features))
        self.a = nn.Parameter(torch.empty(2 * out_features, 1))
        nn.init.xavier_uniform_(self.W, gain=1.414)
        nn.init.xavier_uniform_(self.a, gain=1.414)


class GAT(nn.Module):
    """Multi-head graph attention with proximity-weighted logits.

    Per head: h = x W; e_jk = LeakyReLU(a^T [h_j || h_k]); the logit is e_jk * A_jk where A_jk > 0 and
    -9e15 elsewhere; alpha = softmax over k; out_j = ELU(dropout(sum_k alpha_jk h_k)). Input dropout
    once before all heads; head outputs are concatenated. All heads run as one batched product and
    a^T [h_j || h_k] is split as a1^T h_j + a2^T h_k, so memory is O(K N^2), not O(K N^2 2F).
    """

    def __init__(self, nfeat: int, nhid: int, dropout: float = 0.5, alpha: float = 0.2, nheads: int = 4):
        super().__init__()
        self.dropout = dropout
        self.alpha = alpha
        self.nheads = nheads
        self.nhid = nhid
        for i in range(nheads):
            self.add_module(f"attention_{i}", GraphAttentionLayer(nfeat, nhid))

    def heads(self) -> list:
        return [getattr(self, f"attention_{i}") for i in range(self.nheads)]

    def attention(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """Attention weights [K, N, N] of x [N, F] (no dropout applied to x here)."""
        return self._alpha(self._project(x), adj)

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, F] -> h [K, N, O]."""
        W = torch.stack([m.W for m in self.heads()])  # [K, F, O]
        return torch.einsum("nf,kfo->kno", x, W)

    def _alpha(self, h: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        a = torch.stack([m.a for m in self.heads()])  # [K, 2O, 1]
        src = h @ a[:, : self.nhid]  # [K, N, 1]
        dst = h @ a[:, self.nhid:]  # [K, N, 1]
        e = F.leaky_relu(src + dst.transpose(1, 2), self.alpha)  # [K, N, N]
        e = torch.where(adj > 0, e * adj, torch.full_like(e, MASKED_LOGIT))
        return torch.softmax(e, dim=-1)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """x [N, F], adj [N, N] -> [N, K * nhid]."""
        x = F.dropout(x, self.dropout, training=self.training)
        h = self._project(x)
        out = self._alpha(h, adj) @ h  # [K, N, O]
        out = F.elu(F.dropout(out, self.dropout, training=self.training))
        return out.permute(1, 0, 2).reshape(x.shape[0], self.nheads * self.nhid)


def box_geometry(boxes: torch.Tensor) -> torch.Tensor:
    """[n, 4] x1, y1, x2, y2 -> [n, 4] (h, w, xc, yc)."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    return torch.stack((h, w, boxes[:, 0] + w / 2, boxes[:, 1] + h / 2), dim=1)


class Stage(nn.Module):
    """STAGE on one batch graph.

    ``num_classes``: 81 (I3D features: column 0 background, 1..80 AVA ids) or 80 (SlowFast features:
    column c is AVA id c + 1). Node width D = actors_features_size + 4; each head outputs
    actors_features_size // n_heads + 4 // n_heads, so n_heads must make the heads sum to D
    (1, 2 or 4 for 1024-d features).
    """

    def __init__(self, num_classes: int = 81, actors_features_size: int = 1024, objects_features_size: int = 2048,
                 n_heads: int = 4, dropout: float = 0.5, alpha: float = 0.2):
        super().__init__()
        self.num_classes = num_classes
        self.actors_features_size = actors_features_size
        self.objects_features_size = objects_features_size
        self.n_heads = n_heads
        d = actors_features_size + 4
        nhid = actors_features_size // n_heads + 4 // n_heads
        if n_heads < 1 or nhid * n_heads != d:
            raise ValueError(f"--n_heads {n_heads}: heads of {nhid} do not add up to {d} = actors_features_size + 4; "
                             "use a number of heads dividing both the feature size and 4 (1, 2 or 4)")
        # The original only reduces larger object features; any other size mismatch is reduced too.
        if objects_features_size != actors_features_size:
            self.obj_reducer = nn.Linear(objects_features_size, actors_features_size)
        self.gat1 = GAT(d, nhid, dropout, alpha, n_heads)
        self.gat_fc = nn.Linear(d, d)
        self.l_norm = nn.LayerNorm(d)
        self.gat2 = GAT(d, nhid, dropout, alpha, n_heads)
        self.gat_fc2 = nn.Linear(d, d)
        self.l_norm2 = nn.LayerNorm(d)
        self.logits = nn.Linear(d, num_classes)

    def nodes(self, actors_features: torch.Tensor, actors_boxes: torch.Tensor, objects_features: torch.Tensor,
              objects_boxes: torch.Tensor) -> torch.Tensor:
        """Node features [Na + No, D]: actor maps [Na, C, t, h, w] (or [Na, C]) averaged over t, h, w;
        objects [No, Co] reduced to C (Linear + ReLU); each with (h, w, xc, yc) appended."""
        with torch.no_grad():
            if actors_features.dim() > 2:
                actors_features = actors_features.flatten(2).mean(2)
        if hasattr(self, "obj_reducer"):
            objects_features = F.relu(self.obj_reducer(objects_features))
        actors = torch.cat((actors_features, box_geometry(actors_boxes)), 1)
        objects = torch.cat((objects_features, box_geometry(objects_boxes)), 1)
        return torch.cat((actors, objects), 0)

    def forward(self, actors_features: torch.Tensor, actors_boxes: torch.Tensor, objects_features: torch.Tensor,
                objects_boxes: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        """-> logits [Na, num_classes] for the actor nodes (probabilities are their sigmoid)."""
        x = self.nodes(actors_features, actors_boxes, objects_features, objects_boxes)
        x = self.l_norm(x + self.gat_fc(self.gat1(x, adj)))
        x = self.l_norm2(x + self.gat_fc2(self.gat2(x, adj)))
        return self.logits(x[: actors_features.shape[0]])


def build_model(args) -> Stage:
    return Stage(args.num_classes, args.actors_features_size, args.objects_features_size, args.n_heads)


def stage_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE with logits averaged over actors x classes (background column included); 0 without actors
    (kept in the autograd graph so every process of a DDP run still takes part)."""
    if logits.numel() == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits, labels)


def parameter_count(num_classes: int = 81, actors_features_size: int = 1024, objects_features_size: int = 2048,
                    n_heads: int = 4) -> int:
    """The spec's formula: 2 GATs x K heads x (D*o + 2o) + 2 x (D^2 + D) + 2 LayerNorms (2D each)
    + classifier (D*C + C) + object reducer (Co*Ca + Ca) with D = Ca + 4, o = D / K."""
    d = actors_features_size + 4
    o = d // n_heads
    reducer = objects_features_size * actors_features_size + actors_features_size \
        if objects_features_size != actors_features_size else 0
    return 2 * n_heads * (d * o + 2 * o) + 2 * (d * d + d) + 2 * 2 * d + d * num_classes + num_classes + reducer
