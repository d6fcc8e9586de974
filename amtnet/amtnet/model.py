"""AMTNet: SSD300 on VGG16 reduced-fc, run on the seq_len frames of a micro-tube, with linear heads.

Per stream (``SSDCore``): VGG16 reduced-fc (``core.backbones.vgg``), L2Norm(20) on conv4_3, the SSD extra
layers; six source maps (38, 19, 10, 5, 3, 1 cells; 512, 1024, 512, 256, 256, 256 channels at width 1),
each divided by kd^2 = 9. Every cell is described by its replication-padded 3x3 neighbourhood
(row-major TL, T, TR, L, C, R, BL, B, BR, each a C-vector), the descriptors of the same cell in the
seq_len frames are concatenated (frame t first), two streams are fused (NONE / SUM / MEAN / CAT) and
one ``nn.Linear`` per level gives 4 * seq_len box offsets and C + 1 class scores per anchor.

Gathering neighbourhoods and then applying a linear layer is a 3x3 convolution with replication
padding whose kernel is the linear weight rearranged; :func:`linear_as_conv` does that, so the heads
never build the 9x larger descriptor tensor. The parameters stay ``nn.Linear`` (AMTNet key names
``loc.k.weight [out, seq_len * 9 * C]``).
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from core.backbones.vgg import L2Norm, conv4_3_end, scaled, vgg16_reducedfc, vgg_out_channels

from .priors import anchors_per_cell

FUSIONS = ("none", "sum", "mean", "cat")
# Extra layers: (out channels, kernel, stride, padding) of each conv; a source map after every second one.
EXTRAS: Sequence[Tuple[int, int, int, int]] = (
    (256, 1, 1, 0), (512, 3, 2, 1),
    (128, 1, 1, 0), (256, 3, 2, 1),
    (128, 1, 1, 0), (256, 3, 1, 0),
    (128, 1, 1, 0), (256, 3, 1, 0),
)
KD = 3  # neighbourhood size of the spatial pooling


def source_channels(width: float = 1.0) -> List[int]:
    """Channels of the six source maps: [512, 1024, 512, 256, 256, 256] at width 1."""
    c43, c7 = vgg_out_channels(width)
    return [c43, c7] + [scaled(e[0], width) for e in EXTRAS[1::2]]


class SSDCore(nn.Module):
    """One stream: VGG + L2Norm + extras. Keys ``vgg.N.*``, ``L2Norm.weight``, ``extras.N.*`` as in
    ssd.pytorch / realtime-action-detection, so their checkpoints load by name."""

    def __init__(self, in_channels: int = 3, width: float = 1.0, batch_norm: bool = False):
        super().__init__()
        self.vgg = vgg16_reducedfc(in_channels, width, batch_norm)
        self.split = conv4_3_end(self.vgg)
        c43, c = vgg_out_channels(width)
        self.L2Norm = L2Norm(c43, 20.0)
        extras = []
        for out, k, s, p in EXTRAS:
            o = scaled(out, width)
            extras.append(nn.Conv2d(c, o, kernel_size=k, stride=s, padding=p))
            c = o
        self.extras = nn.ModuleList(extras)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialisation for training without pretrained weights: VGG convs He-normal (fan-out, as
        torchvision's VGG: the net has no normalisation layers, so the default init would let activations
        shrink through 15 layers), extras Xavier-uniform (ssd.pytorch), biases 0."""
        for m in self.vgg:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
        for m in self.extras:
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        self.L2Norm.reset_parameters()

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        """x [N, in_channels, 300, 300] -> six maps [N, C_k, H_k, W_k], divided by 9."""
        for m in self.vgg[:self.split]:
            x = m(x)
        sources = [self.L2Norm(x)]
        for m in self.vgg[self.split:]:
            x = m(x)
        sources.append(x)
        for k, m in enumerate(self.extras):
            x = F.relu(m(x), inplace=True)
            if k % 2 == 1:
                sources.append(x)
        return [s / (KD * KD) for s in sources]


def linear_as_conv(weight: torch.Tensor, groups_in: int) -> torch.Tensor:
    """Linear weight [O, G * 9 * C] over descriptors ordered (group g, neighbour p, channel c) ->
    conv kernel [O, G * C, 3, 3] over channel-concatenated maps (channel g * C + c, tap p = ky * 3 + kx)."""
    o, n = weight.shape
    c = n // (groups_in * KD * KD)
    return weight.view(o, groups_in, KD * KD, c).permute(0, 1, 3, 2).reshape(o, groups_in * c, KD, KD)


class AMTNet(nn.Module):
    """Two-frame (``seq_len``) action micro-tube detector.

    ``forward(base, extra=None)``: base [B, seq_len, 3 * input_frames_base, 300, 300] (extra likewise for
    the second stream when fusing) -> (loc [B, 8732, 4 * seq_len], conf [B, 8732, num_classes]) with
    ``num_classes`` = C + 1 (background first). ``features`` / ``heads`` split the same computation so a
    test run computes every frame's backbone once and pairs the frames afterwards.
    """

    def __init__(
        self,
        num_classes: int,
        seq_len: int = 2,
        fusion_type: str = "none",
        input_frames_base: int = 1,
        input_frames_extra: int = 5,
        width: float = 1.0,
        batch_norm: bool = False,
    ):
        super().__init__()
        fusion_type = fusion_type.lower()
        if fusion_type not in FUSIONS:
            raise ValueError(f"fusion_type must be one of {FUSIONS}, got {fusion_type!r}")
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        self.num_classes = num_classes
        self.seq_len = seq_len
        self.fusion_type = fusion_type
        self.fusion = fusion_type != "none"
        self.width = width
        self.batch_norm = batch_norm
        self.core_base = SSDCore(3 * input_frames_base, width, batch_norm)
        if self.fusion:
            self.core_extra = SSDCore(3 * input_frames_extra, width, batch_norm)
        self.anchors = anchors_per_cell()
        mult = 2 if fusion_type == "cat" else 1
        self.in_features = [c * seq_len * KD * KD * mult for c in source_channels(width)]
        self.loc = nn.ModuleList(nn.Linear(n, a * 4 * seq_len) for n, a in zip(self.in_features, self.anchors))
        self.conf = nn.ModuleList(nn.Linear(n, a * num_classes) for n, a in zip(self.in_features, self.anchors))
        for m in list(self.loc) + list(self.conf):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def backbone_params(self) -> List[Tuple[str, nn.Parameter]]:
        """Parameters the original trains at lr / seq_len (names containing vgg, extra or L2Norm)."""
        return [(n, p) for n, p in self.named_parameters() if any(k in n for k in ("vgg", "extra", "L2Norm"))]

    def features(self, frames: torch.Tensor, stream: str = "base") -> List[torch.Tensor]:
        """frames [N, 3k, 300, 300] -> six source maps of one stream (see :class:`SSDCore`)."""
        core = self.core_base if stream == "base" else self.core_extra
        return core(frames)

    def fuse(self, base: List[torch.Tensor], extra: List[torch.Tensor] | None) -> List[torch.Tensor]:
        """Fuse per-frame maps of the two streams (pooling is linear, so fusing maps = fusing descriptors)."""
        if not self.fusion:
            return base
        if extra is None:
            raise ValueError(f"fusion_type {self.fusion_type} needs the extra stream's input")
        if self.fusion_type == "sum":
            return [b + e for b, e in zip(base, extra)]
        if self.fusion_type == "mean":
            return [(b + e) / 2 for b, e in zip(base, extra)]
        return [torch.cat([b, e], 1) for b, e in zip(base, extra)]

    def heads(self, maps: Sequence[List[torch.Tensor]]) -> Tuple[torch.Tensor, torch.Tensor]:
        """maps: seq_len lists (frame t, t + delta, ...) of six fused maps [B, C_k, H_k, W_k]
        -> loc [B, P, 4 * seq_len], conf [B, P, num_classes]."""
        if len(maps) != self.seq_len:
            raise ValueError(f"expected {self.seq_len} frames of maps, got {len(maps)}")
        locs, confs = [], []
        for k in range(len(self.anchors)):
            per_frame = [m[k] for m in maps]
            if self.fusion_type == "cat":  # descriptor order: base (frames, taps, C) then extra
                c = per_frame[0].shape[1] // 2
                x = torch.cat([f[:, :c] for f in per_frame] + [f[:, c:] for f in per_frame], 1)
                groups = 2 * self.seq_len
            else:
                x = torch.cat(per_frame, 1)
                groups = self.seq_len
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
            b = x.shape[0]
            for head, out in ((self.loc[k], locs), (self.conf[k], confs)):
                y = F.conv2d(x, linear_as_conv(head.weight, groups), head.bias)  # [B, A * D, H, W]
                out.append(y.permute(0, 2, 3, 1).reshape(b, -1))
        loc = torch.cat(locs, 1).view(locs[0].shape[0], -1, 4 * self.seq_len)
        conf = torch.cat(confs, 1).view(confs[0].shape[0], -1, self.num_classes)
        return loc, conf

    def forward(self, base: torch.Tensor, extra: torch.Tensor | None = None) -> Tuple[torch.Tensor, torch.Tensor]:
        b, s = base.shape[:2]
        if s != self.seq_len:
            raise ValueError(f"expected {self.seq_len} frames per micro-tube, got input of shape {tuple(base.shape)}")
        maps = self.features(base.flatten(0, 1))
        if self.fusion:
            if extra is None:
                raise ValueError(f"fusion_type {self.fusion_type} needs the extra stream's input")
            maps = self.fuse(maps, self.features(extra.flatten(0, 1), "extra"))
        per_frame = [[m.view(b, s, *m.shape[1:])[:, t] for m in maps] for t in range(s)]
        return self.heads(per_frame)


def param_groups(model: AMTNet, lr: float, weight_decay: float) -> List[dict]:
    """AMTNet's SGD groups: biases at 2 lr without decay; backbone (vgg / extra / L2Norm) at lr / seq_len."""
    backbone = {n for n, _ in model.backbone_params()}
    groups = []
    for n, p in model.named_parameters():
        scale = (2.0 if n.endswith("bias") else 1.0) / (model.seq_len if n in backbone else 1.0)
        groups.append({"params": [p], "lr": lr * scale, "weight_decay": 0.0 if n.endswith("bias") else weight_decay,
                       "name": n})
    return groups


def parameter_counts(model: AMTNet) -> Dict[str, int]:
    """Number of parameters per top-level part (core_base, core_extra, loc, conf) and in all."""
    counts: Dict[str, int] = {}
    for n, p in model.named_parameters():
        part = n.split(".")[0]
        counts[part] = counts.get(part, 0) + p.numel()
    counts["total"] = sum(p.numel() for p in model.parameters())
    return counts
