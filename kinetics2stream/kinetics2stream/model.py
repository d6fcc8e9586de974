"""The frame-level classifiers: InceptionV3, the SSD-VGG16 variant, ResNet-18/34/50/101/152 for 112 input.

Every model takes a stack of ``seq_len`` images as ``3 * seq_len`` input channels and returns logits
[N, num_classes]. ImageNet weights come from a local file only (``load_imagenet``): the first conv's
RGB kernel is repeated ``seq_len`` times and divided by ``seq_len`` (a stack of identical images then
gives the RGB response), the ImageNet classifier is dropped.
"""

from __future__ import annotations

import os
from typing import Dict, List, Union

import torch
from torch import nn
from torchvision.models import inception_v3, resnet

from core.backbones.vgg import load_vgg16_reducedfc, replicate_first_conv, vgg16_reducedfc
from core.errors import DataError
from core.io import load_weights
from core.train import load_weights_into

RESNETS = {"resnet18": resnet.resnet18, "resnet34": resnet.resnet34, "resnet50": resnet.resnet50,
           "resnet101": resnet.resnet101, "resnet152": resnet.resnet152}
ARCHS = ("inceptionV3", "vgg16", *RESNETS)
# File names the original looked for in --global_models_dir.
IMAGENET_FILES = {"inceptionV3": "inception_v3.pth", "vgg16": "vgg16_reducedfc.pth",
                  **{k: f"{k}.pth" for k in RESNETS}}


def _stack_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """The same conv layer with ``in_channels`` inputs."""
    return nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, conv.groups, conv.bias is not None)


def inception_v3_kinetics(num_classes: int, seq_len: int = 1, dropout: float = 0.6) -> nn.Module:
    """torchvision's Inception3 (BN eps 0.001) without the aux head, first conv on 3*seq_len channels,
    global average pool -> Dropout(0.6) -> Linear(2048, C); truncated-normal (std 0.02) init."""
    model = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=num_classes,
                         transform_input=False, dropout=dropout)
    model.Conv2d_1a_3x3.conv = _stack_conv(model.Conv2d_1a_3x3.conv, 3 * seq_len)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class VGGKinetics(nn.Module):
    """SSD reduced-fc VGG16 to conv7 (1024 @ 19x19 for 300 input) -> maxpool 2 -> conv 3x3 stride 3
    (1024) + ReLU -> Dropout 0.6 -> Linear(9216, 1024) -> ReLU -> Dropout 0.6 -> Linear(1024, C)."""

    def __init__(self, num_classes: int, seq_len: int = 1, dropout: float = 0.6):
        super().__init__()
        self.vgg = vgg16_reducedfc(in_channels=3 * seq_len)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv_kin = nn.Conv2d(1024, 1024, kernel_size=3, stride=3)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(9216, 1024), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout), nn.Linear(1024, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, 3*seq_len, 300, 300] -> logits [N, C]."""
        for layer in self.vgg:
            x = layer(x)
        x = torch.relu(self.conv_kin(self.pool(x)))
        return self.classifier(torch.flatten(x, 1))


def resnet_kinetics(arch: str, num_classes: int, seq_len: int = 1) -> nn.Module:
    """torchvision ResNet with a 3*seq_len-channel conv1 and **no max-pool** (so 112 input ends at 7x7,
    like 224 input with it); the original's AvgPool(7) is an adaptive average pool (identical at 112)."""
    model = RESNETS[arch](weights=None, num_classes=num_classes)
    model.conv1 = _stack_conv(model.conv1, 3 * seq_len)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def build_model(arch: str, num_classes: int, seq_len: int = 1) -> nn.Module:
    if arch == "inceptionV3":
        return inception_v3_kinetics(num_classes, seq_len)
    if arch == "vgg16":
        return VGGKinetics(num_classes, seq_len)
    if arch in RESNETS:
        return resnet_kinetics(arch, num_classes, seq_len)
    raise ValueError(f"unknown --arch {arch!r}; choose one of {', '.join(ARCHS)}")


def first_conv_key(arch: str) -> str:
    return {"inceptionV3": "Conv2d_1a_3x3.conv.weight", "vgg16": "vgg.0.weight"}.get(arch, "conv1.weight")


def load_imagenet(model: nn.Module, arch: str, path: Union[str, os.PathLike[str]]) -> List[str]:
    """Load ImageNet weights from ``path`` (a torchvision state dict; ``vgg16_reducedfc.pth`` for VGG)
    into ``model``, replicating the first conv over the stack and skipping the classifier. Returns the
    keys loaded; a backbone tensor missing from the file raises DataError."""
    name = os.fspath(path)
    if arch == "vgg16":
        load_vgg16_reducedfc(model.vgg, name)
        return [f"vgg.{k}" for k in model.vgg.state_dict()]
    state = load_weights(name)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(name, "expected a state dict of ImageNet weights")
    own = model.state_dict()
    key = first_conv_key(arch)
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
    if key not in state:
        raise DataError(name, f"no '{key}' tensor: not torchvision {arch} ImageNet weights")
    state[key] = replicate_first_conv(state[key], own[key].shape[1])
    backbone = [k for k in own if not k.startswith("fc.")]
    missing = [k for k in backbone if k not in state]
    if missing:
        raise DataError(name, f"missing {len(missing)} backbone tensors, first '{missing[0]}'")
    report = load_weights_into(model, state, verbose=False)
    if report.mismatched:
        k, got, want = report.mismatched[0]
        raise DataError(name, f"'{k}' has shape {list(got)}, the model needs {list(want)}")
    return report.loaded


def set_bn_eval(model: nn.Module) -> None:
    """Put every BatchNorm layer in eval mode: running statistics frozen (affine parameters still train).
    Call after every ``model.train()``."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def param_groups(model: nn.Module, lr: float, weight_decay: float) -> List[Dict]:
    """The original's SGD groups: biases at 2x LR without weight decay, everything else at LR with it."""
    biases: List[nn.Parameter] = []
    weights: List[nn.Parameter] = []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (biases if name.endswith("bias") else weights).append(p)
    return [{"params": weights, "lr": lr, "weight_decay": weight_decay},
            {"params": biases, "lr": 2 * lr, "weight_decay": 0.0}]


