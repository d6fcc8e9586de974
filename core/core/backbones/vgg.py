"""VGG16 "reduced-fc" for SSD300 (amdegroot/ssd.pytorch), with its module indices and key names.

The backbone is one ``nn.ModuleList`` whose indices are those of ssd.pytorch's ``vgg()`` so that
``vgg16_reducedfc.pth`` (keys ``0.weight`` .. ``33.bias``) and SSD checkpoints (``vgg.0.weight`` ..)
load by name::

    0..22   conv1_1 .. conv4_3 + ReLU (pool3 is ceil_mode: 300 -> 38 x 38 after conv4_3)
    23..29  pool4, conv5_1 .. conv5_3 + ReLU
    30      pool5 = maxpool 3x3 stride 1 pad 1
    31, 32  conv6 = 3x3 dilation 6 (512 -> 1024) + ReLU
    33, 34  conv7 = 1x1 (1024 -> 1024) + ReLU

``CONV4_3_END = 23``: ``layers[:23]`` ends at conv4_3 + ReLU (the first SSD source map, which goes
through :class:`L2Norm`), ``layers[23:]`` at conv7 + ReLU (the second); :func:`conv4_3_end` gives the
index for any layer list.

``batch_norm=True`` is ssd.pytorch's ``vgg(cfg, i, batch_norm=True)``: a ``BatchNorm2d`` between each of the
13 VGG convs and its ReLU (not after conv6 / conv7), which shifts the module indices (conv4_3 + ReLU end at
33). Not the published network: it is for training from random weights (as in ScratchDet), where the plain
VGG trains far more slowly.

A ``width`` multiplier scales every channel count (``round(c * width)``, at least 1) for small CPU runs;
``width=1.0`` is the published network. ``in_channels`` other than 3 takes stacked frames (optical
flow stacks of 5 images = 15 channels).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Sequence, Union

import torch
from torch import nn

from core.errors import DataError
from core.io import load_weights

__all__ = [
    "VGG16_CFG", "CONV4_3_END", "scaled", "vgg16_reducedfc", "vgg_out_channels", "L2Norm",
    "replicate_first_conv", "load_vgg16_reducedfc", "conv_indices", "conv4_3_end",
]

VGG16_CFG: Sequence[Union[int, str]] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "C", 512, 512, 512, "M",
                                        512, 512, 512)
CONV4_3_END = 23


def scaled(channels: int, width: float) -> int:
    """Channel count under a width multiplier: ``max(1, round(channels * width))``."""
    return max(1, int(round(channels * width)))


def vgg16_reducedfc(in_channels: int = 3, width: float = 1.0, batch_norm: bool = False) -> nn.ModuleList:
    """The 35 modules of ssd.pytorch's VGG16 base (conv1_1 .. conv7 with ReLUs and pools); 48 with
    ``batch_norm`` (a BatchNorm2d after each of the 13 VGG convs)."""
    layers: List[nn.Module] = []
    c = in_channels
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "C":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=True))
        else:
            out = scaled(int(v), width)
            layers.append(nn.Conv2d(c, out, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
    fc = scaled(1024, width)
    layers += [
        nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
        nn.Conv2d(c, fc, kernel_size=3, padding=6, dilation=6),
        nn.ReLU(inplace=True),
        nn.Conv2d(fc, fc, kernel_size=1),
        nn.ReLU(inplace=True),
    ]
    return nn.ModuleList(layers)


def vgg_out_channels(width: float = 1.0) -> tuple:
    """Channels of the two VGG source maps (conv4_3, conv7): (512, 1024) at full width."""
    return scaled(512, width), scaled(1024, width)


def conv_indices(layers: nn.ModuleList) -> List[int]:
    """Indices of the Conv2d modules (0, 2, 5, ..., 31, 33 for the full list)."""
    return [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]


def conv4_3_end(layers: nn.ModuleList) -> int:
    """Index one past conv4_3's ReLU (the 10th conv): 23 for the plain list, 33 with batch norm."""
    convs = conv_indices(layers)
    i = convs[9] + 1
    while not isinstance(layers[i], nn.ReLU):
        i += 1
    return i + 1


class L2Norm(nn.Module):
    """Per-position L2 normalisation over channels with a learnable per-channel scale (ParseNet).

    x [N, C, H, W] -> weight[c] * x / (||x[:, :, h, w]||_2 + eps). ``weight`` starts at ``scale`` (20 in SSD).
    """

    def __init__(self, channels: int, scale: float = 20.0, eps: float = 1e-10):
        super().__init__()
        self.scale = float(scale)
        self.eps = eps
        self.weight = nn.Parameter(torch.full((channels,), float(scale)))

    def reset_parameters(self) -> None:
        nn.init.constant_(self.weight, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = x.pow(2).sum(dim=1, keepdim=True).sqrt() + self.eps
        return self.weight.view(1, -1, 1, 1) * (x / norm)


def replicate_first_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """An RGB first-conv kernel [O, 3, kh, kw] for ``in_channels = 3k`` stacked images: the kernel
    repeated k times along the input channels and divided by k (AMTNet's ``load_my_state_dict``),
    so a stack of k identical images gives the RGB response."""
    c = weight.shape[1]
    if in_channels == c:
        return weight
    if in_channels % c:
        raise ValueError(f"cannot replicate a {c}-channel kernel to {in_channels} channels")
    k = in_channels // c
    return weight.repeat(1, k, 1, 1) / k


def load_vgg16_reducedfc(
    layers: nn.ModuleList, source: Union[str, os.PathLike[str], Mapping[str, Any]], prefix: str = ""
) -> Dict[str, List[str]]:
    """Load ssd.pytorch VGG weights into ``layers`` (from :func:`vgg16_reducedfc`).

    ``source``: ``vgg16_reducedfc.pth`` (keys ``0.weight`` ..), an SSD checkpoint (``vgg.0.weight`` ..;
    pass ``prefix="vgg."`` or leave it empty to detect it), or a mapping. A first conv with another
    number of input channels is replicated (:func:`replicate_first_conv`). Every VGG conv must be
    present with the right shape, else :class:`DataError`. Returns ``{"loaded": [...], "ignored": [...]}``.
    """
    name = "<state dict>" if isinstance(source, Mapping) else os.fspath(source)
    state = dict(source) if isinstance(source, Mapping) else load_weights(name)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise DataError(name, "not a state dict")
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    if not prefix and "0.weight" not in state and "vgg.0.weight" in state:
        prefix = "vgg."
    own = layers.state_dict()
    first = conv_indices(layers)[0]
    out: Dict[str, torch.Tensor] = {}
    for key, target in own.items():
        src = prefix + key
        if src not in state:
            bn = any(isinstance(m, nn.BatchNorm2d) for m in layers)
            raise DataError(name, f"missing VGG tensor '{src}' (expected ssd.pytorch key names"
                                  f"{' of a batch-norm VGG' if bn else ''})")
        v = state[src]
        if key == f"{first}.weight" and v.shape[1] != target.shape[1]:
            v = replicate_first_conv(v, target.shape[1])
        if tuple(v.shape) != tuple(target.shape):
            raise DataError(name, f"'{src}' has shape {list(v.shape)}, the model needs {list(target.shape)} "
                                  "(is --width_mult 1.0?)")
        out[key] = v
    layers.load_state_dict(out, strict=True)
    ignored = sorted(k for k in state if not (k.startswith(prefix) and k[len(prefix):] in own))
    return {"loaded": sorted(prefix + k for k in own), "ignored": ignored}

