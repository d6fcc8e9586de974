"""Initial weights for an AMTNet run, from local files only.

* single stream: a realtime-action-detection SSD checkpoint ``<data_root>/weights/<type>-ssd300_ucf24_120000.pth``
  (keys ``vgg.*``, ``L2Norm.weight``, ``extras.*``; its conv heads are ignored), else ssd.pytorch's
  ``vgg16_reducedfc.pth`` (``--basenet``; VGG only), else random initialisation (with a message);
* fusion: each stream from a single-stream AMTNet checkpoint
  ``<save_root>/weights/AMTNet_single_stream_<type>_s<split:02d>.pth`` (written at the end of a
  single-stream run), else as a single stream.

A stacked-image stream (flow, 5 images = 15 channels) loaded from an RGB kernel gets it repeated along
the input channels and divided by 5 (AMTNet's ``load_my_state_dict``).
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional

import torch

from core.backbones.vgg import conv_indices, load_vgg16_reducedfc, replicate_first_conv
from core.errors import DataError
from core.io import load_weights

from .model import AMTNet, SSDCore


def _state(path: str) -> Dict[str, torch.Tensor]:
    obj = load_weights(path)
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict):
        raise DataError(path, "not a state dict")
    return obj


def load_core(core: SSDCore, path: str, prefixes: Optional[List[str]] = None) -> str:
    """Load one stream's VGG + L2Norm + extras from ``path``, whose keys are ``<prefix>vgg.0.weight`` ...
    The prefix is found among ``prefixes`` (default: the SSD and AMTNet namings, with or without DataParallel's
    ``module.``). Every tensor of the stream must be there with the right shape. Returns the prefix used."""
    state = _state(path)
    candidates = prefixes or ["", "module.", "core_base.", "module.core_base.", "core_extra.", "module.core_extra."]
    prefix = next((p for p in candidates if f"{p}vgg.0.weight" in state), None)
    if prefix is None:
        raise DataError(path, "no VGG tensors (expected keys like 'vgg.0.weight' or 'core_base.vgg.0.weight')")
    own = core.state_dict()
    first = f"vgg.{conv_indices(core.vgg)[0]}.weight"
    new = {}
    for k, target in own.items():
        src = prefix + k
        if src not in state:
            raise DataError(path, f"missing tensor '{src}'")
        v = state[src]
        if k == first and v.shape[1] != target.shape[1]:
            v = replicate_first_conv(v, target.shape[1])
        if v.shape != target.shape:
            raise DataError(path, f"'{src}' has shape {list(v.shape)}, the model needs {list(target.shape)}")
        new[k] = v
    core.load_state_dict(new, strict=True)
    return prefix


def find_file(name: str, *dirs: str) -> Optional[str]:
    """``name`` if it is an existing path, else the first ``dir/name`` that exists."""
    if name and os.path.isfile(name):
        return name
    for d in dirs:
        p = os.path.join(d, name)
        if name and os.path.isfile(p):
            return p
    return None


def init_stream(core: SSDCore, input_type: str, data_root: str, basenet: str, log=print) -> str:
    """Initialise a stream from the ROAD SSD checkpoint of its input type, else VGG16 reduced-fc, else
    leave it random. Returns what was loaded."""
    ssd = find_file(f"{input_type}-ssd300_ucf24_120000.pth", os.path.join(data_root, "weights"))
    if ssd:
        load_core(core, ssd)
        log(f"weights: {input_type} stream from SSD checkpoint {ssd}")
        return ssd
    vgg = find_file(basenet, os.path.join(data_root, "weights"), os.path.join(data_root, "train_data"))
    if vgg:
        load_vgg16_reducedfc(core.vgg, vgg)
        log(f"weights: {input_type} stream VGG from {vgg} (L2Norm and extras random)")
        return vgg
    log(f"weights: no {input_type}-ssd300_ucf24_120000.pth or {basenet} under {data_root}; "
        f"{input_type} stream starts from random weights")
    return "random"


def single_stream_path(save_root: str, input_type: str, split: int) -> str:
    return os.path.join(save_root, "weights", f"AMTNet_single_stream_{input_type}_s{split:02d}.pth")


def init_model(model: AMTNet, args, log=print) -> Dict[str, str]:
    """Initial weights of every stream of ``model`` for the run described by ``args`` (train.py flags)."""
    sources = {}
    streams = [("base", model.core_base, args.input_type_base, args.base_weights)]
    if model.fusion:
        streams.append(("extra", model.core_extra, args.input_type_extra, args.extra_weights))
    for name, core, itype, explicit in streams:
        if explicit:
            load_core(core, explicit)
            sources[name] = explicit
            log(f"weights: {name} stream from {explicit}")
            continue
        if model.fusion:
            single = single_stream_path(args.save_root, itype, args.train_split)
            if os.path.isfile(single):
                load_core(core, single)
                sources[name] = single
                log(f"weights: {name} stream from single-stream AMTNet {single}")
                continue
        sources[name] = init_stream(core, itype, args.data_root, args.basenet, log)
    return sources
