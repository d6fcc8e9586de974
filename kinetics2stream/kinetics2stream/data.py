"""Frame-level Kinetics samples: which frames of which videos, how a stack is built, and transforms.

On disk (``<root>/<dataset>/``, as ``tools/prepare_kinetics.py`` writes it)::

    <input>-images/<youtube_id>/00001.jpg ...   rgb-images (16 fps frames), farneback-images (flow)
    hfiles/Annots_<datasubset>.json             {database: {id: {label, cls, subset, isthere, numf}}, classes}

A sample is one frame number ``fn`` (1-based) of one video; its input is the stack of frames
``fn - (seq_len // 2) * gap, ..., fn + (seq_len // 2) * gap`` (step ``gap``), concatenated along
channels, all with the same crop and flip.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.errors import DataError
from core.formats.kinetics import read_annotation_json

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG_MEAN_BGR = (104.0, 117.0, 123.0)


def frame_samples(numf: int, seq_len: int = 1, gap: int = 1, frame_step: int = 6) -> np.ndarray:
    """1-based centre frame numbers sampled from a video of ``numf`` frames -> int64 [n].

    ``fid in arange((seq_len // 2) * gap, numf - (seq_len // 2) * gap - 1, frame_step)``, frame
    number ``fid + 1``; a video with ``numf <= 2 * seq_len`` gives none (the original's rule)."""
    if seq_len % 2 != 1:
        raise ValueError(f"seq_len must be odd, got {seq_len}")
    if numf <= 2 * seq_len:
        return np.zeros(0, np.int64)
    half = (seq_len // 2) * gap
    return np.arange(half, numf - half - 1, frame_step, dtype=np.int64) + 1


def stack_frame_numbers(fn: int, seq_len: int = 1, gap: int = 1) -> np.ndarray:
    """Frame numbers of the stack centred on frame ``fn`` -> int64 [seq_len]."""
    half = (seq_len // 2) * gap
    return np.arange(fn - half, fn + half + 1, gap, dtype=np.int64)


def input_spec(arch: str) -> Tuple[int, Tuple[float, ...], Tuple[float, ...]]:
    """(default input size, mean, std) of an architecture (the original's ``get_mean_size``).
    VGG works on 0..255 BGR-mean-subtracted pixels, the others on ToTensor() [0, 1] values."""
    if arch.startswith("inception"):
        return 299, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
    if arch.startswith("vgg"):
        return 300, VGG_MEAN_BGR, (1.0, 1.0, 1.0)
    return 224, IMAGENET_MEAN, IMAGENET_STD


def resize_shorter(img: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize so the shorter side is ``size`` (longer side ``int(size * long / short)``,
    torchvision's ``Scale(int)``); unchanged if it already is."""
    h, w = img.shape[:2]
    if min(h, w) == size:
        return img
    if w < h:
        ow, oh = size, int(size * h / w)
    else:
        oh, ow = size, int(size * w / h)
    return cv2.resize(img, (ow, oh), interpolation=cv2.INTER_LINEAR)


def color_jitter(frames: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """Frames float32 [..., 3] in 0..255 -> same shape: pixel values times ``brightness``, then
    blended with their mean grey level by ``contrast`` (``c * x + (1 - c) * mean``), then with each
    pixel's grey value by ``saturation``; clipped to 0..255. Grey = 0.299 R + 0.587 G + 0.114 B;
    the contrast mean is over the whole stack, so every frame gets the same change."""
    x = frames * brightness
    grey = x @ np.asarray([0.299, 0.587, 0.114], np.float32)
    x = contrast * x + (1.0 - contrast) * float(grey.mean())
    grey = x @ np.asarray([0.299, 0.587, 0.114], np.float32)
    x = saturation * x + (1.0 - saturation) * grey[..., None]
    return np.clip(x, 0.0, 255.0).astype(np.float32)


def random_square(h: int, w: int, min_area: float) -> Tuple[int, int, int]:
    """A random square crop (top, left, side) of an h x w image whose area is a uniform fraction in
    ``[min_area, 1]`` of the largest square's (``min(h, w) ** 2``), anywhere inside the image."""
    side = max(1, int(round(min(h, w) * np.sqrt(random.uniform(min_area, 1.0)))))
    return random.randint(0, h - side), random.randint(0, w - side), side


@dataclass
class StackTransform:
    """Crop/flip/normalise a stack of frames uint8 [S, H, W, 3] RGB -> float32 tensor [3S, size, size].

    ``train``: shorter side to ``scale_size``, one random ``size`` crop and one horizontal flip
    (p 0.5) for the whole stack (flow x is not negated, as in the original). Eval: same scale, centre
    crop. ``vgg``: the SSD-style path instead (random crop of 0.6-1.0 of each side at train, then
    resize to size x size, 0..255 minus the BGR means, channels back in RGB order).

    Extra train-time augmentation (off by default; the original has none): ``min_area`` > 0 replaces
    the fixed-scale crop by a random square of ``[min_area, 1]`` of the largest square's area
    (scale jitter) resized to ``size``; ``jitter`` > 0 draws brightness, contrast and saturation
    factors in ``[1 - jitter, 1 + jitter]`` (:func:`color_jitter`; for RGB frames only, flow images
    encode vectors). One draw of every parameter per stack, so the frames of a stack stay aligned."""

    size: int
    scale_size: int
    mean: Sequence[float]
    std: Sequence[float]
    train: bool = False
    vgg: bool = False
    min_area: float = 0.0
    jitter: float = 0.0

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        if self.vgg:
            out = self._vgg(frames)
        else:
            out = self._crop(frames)
        x = torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2)  # [S, 3, h, w]
        return x.reshape(-1, *x.shape[2:])

    def _crop(self, frames: np.ndarray) -> np.ndarray:
        s = self.size
        if self.train and self.min_area > 0:
            i, j, side = random_square(frames.shape[1], frames.shape[2], self.min_area)
            crop = np.stack([cv2.resize(np.ascontiguousarray(f[i:i + side, j:j + side]), (s, s),
                                        interpolation=cv2.INTER_AREA if side > s else cv2.INTER_LINEAR)
                             for f in frames])
        else:
            scaled = np.stack([resize_shorter(f, self.scale_size) for f in frames])
            h, w = scaled.shape[1:3]
            if self.train:
                i, j = random.randint(0, h - s), random.randint(0, w - s)
            else:
                i, j = int(round((h - s) / 2.0)), int(round((w - s) / 2.0))
            crop = scaled[:, i:i + s, j:j + s]
        if self.train and random.random() < 0.5:
            crop = crop[:, :, ::-1]
        out = crop.astype(np.float32)
        if self.train and self.jitter > 0:
            b, c, sat = (random.uniform(1 - self.jitter, 1 + self.jitter) for _ in range(3))
            out = color_jitter(out, b, c, sat)
        mean = np.asarray(self.mean, np.float32) * 255.0
        std = np.asarray(self.std, np.float32) * 255.0
        return (out - mean) / std

    def _vgg(self, frames: np.ndarray) -> np.ndarray:
        h, w = frames.shape[1:3]
        if self.train:
            cw, ch = np.random.uniform(0.6 * w, w), np.random.uniform(0.6 * h, h)
            left, top = np.random.uniform(w - cw), np.random.uniform(h - ch)
            x1, y1, x2, y2 = int(left), int(top), int(left + cw), int(top + ch)
            frames = frames[:, y1:y2, x1:x2]
            # The original drew this flip and never applied it; applied here.
            if random.random() < 0.5:
                frames = frames[:, :, ::-1]
        out = np.stack([cv2.resize(np.ascontiguousarray(f), (self.size, self.size)) for f in frames])
        bgr_mean = np.asarray(self.mean, np.float32)
        return out.astype(np.float32) - bgr_mean[::-1]  # frames are RGB: subtract (123, 117, 104)


def build_transform(arch: str, size: int, train: bool, min_area: float = 0.0, jitter: float = 0.0) -> StackTransform:
    """The original's train / val transform for ``arch`` at crop ``size`` (scale ``int(1.1 * size)``),
    plus the optional scale and colour jitter of :class:`StackTransform` (not for VGG's own path)."""
    _, mean, std = input_spec(arch)
    if not 0.0 <= min_area <= 1.0 or not 0.0 <= jitter < 1.0:
        raise ValueError(f"min_area must be in [0, 1] and jitter in [0, 1), got {min_area}, {jitter}")
    return StackTransform(size=size, scale_size=int(size * 1.1), mean=mean, std=std, train=train,
                          vgg=arch.startswith("vgg"), min_area=min_area, jitter=jitter)


def annotation_path(root: str, datasubset: str) -> str:
    return os.path.join(root, "hfiles", f"Annots_{datasubset}.json")


def load_image(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(path, "missing or unreadable frame image (expected a JPEG written by prepare_kinetics)")
    return img[:, :, ::-1]


class KineticsFrames(Dataset):
    """Frame samples of the videos of ``subsets`` (``isthere`` true), videos in sorted id order.

    Item: ``(stack [3*seq_len, size, size] float32, label, video index, frame number)``; label is
    ``cls`` (0 for the label-less test subset). ``samples`` is int64 [N, 3] (video index, frame
    number, label); ``videos`` the ids, ``video_labels`` their labels.
    """

    def __init__(self, root: str, input_type: str, datasubset: str, subsets: Sequence[str],
                 transform: Optional[StackTransform], frame_step: int = 6, seq_len: int = 1, gap: int = 1,
                 annot_file: Optional[str] = None):
        if seq_len % 2 != 1:
            raise ValueError(f"--seq_len can only be odd, got {seq_len}")
        self.root = root
        self.annot_file = annot_file or annotation_path(root, datasubset)
        self.img_dir = os.path.join(root, f"{input_type}-images")
        self.transform = transform
        self.seq_len, self.gap = seq_len, gap
        annots = read_annotation_json(self.annot_file)
        database: Dict[str, dict] = annots["database"]
        self.classes: Dict[str, int] = annots["classes"]
        self.num_classes = len(self.classes)
        self.idx_to_class = {int(v): k for k, v in self.classes.items()}
        self.videos: List[str] = []
        self.video_labels: List[int] = []
        self.video_numf: List[int] = []
        parts = []
        for yid in sorted(database):
            info = database[yid]
            if not info.get("isthere", True) or info["subset"] not in subsets:
                continue
            label = 0 if info["subset"] == "test" else int(info["cls"])
            if not 0 <= label < self.num_classes:
                raise DataError(self.annot_file, f"cls {label} outside 0..{self.num_classes - 1}", f"database['{yid}']")
            fns = frame_samples(int(info["numf"]), seq_len, gap, frame_step)
            vi = len(self.videos)
            self.videos.append(yid)
            self.video_labels.append(label)
            self.video_numf.append(int(info["numf"]))
            if len(fns):
                parts.append(np.stack([np.full_like(fns, vi), fns, np.full_like(fns, label)], 1))
        self.samples = np.concatenate(parts) if parts else np.zeros((0, 3), np.int64)

    def __len__(self) -> int:
        return len(self.samples)

    def frame_paths(self, index: int) -> List[str]:
        vi, fn, _ = self.samples[index]
        folder = os.path.join(self.img_dir, self.videos[vi])
        return [os.path.join(folder, f"{n:05d}.jpg") for n in stack_frame_numbers(int(fn), self.seq_len, self.gap)]

    def __getitem__(self, index: int) -> Tuple[torch.Tensor, int, int, int]:
        vi, fn, label = (int(v) for v in self.samples[index])
        frames = np.stack([load_image(p) for p in self.frame_paths(index)])
        x = self.transform(frames) if self.transform is not None else torch.from_numpy(frames)
        return x, label, vi, fn


# The Mini-Kinetics-200 subset's annotations (the original's prep/extract_resaveAnnots_kinetics.py: save_200_annots)

def read_id_list(path: os.PathLike | str) -> List[str]:
    """One YouTube id per line (blank lines skipped; a longer name keeps its first 11 characters)."""
    ids = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if len(line) < 11:
            raise DataError(path, f"expected an 11-character YouTube id, got {line!r}", f"line {i}")
        ids.append(line[:11])
    return ids


def mini_subset_annotations(annots: Mapping[str, Any], ids: Mapping[str, Iterable[str]]) -> Dict[str, Any]:
    """The Mini-200 annotation dict from the full one and the subset's id lists ``{"train": [...],
    "val": [...]}``.

    Classes are re-indexed by order of first appearance among the *sorted* val videos that are in
    the val list and present (``isthere``); the subset's videos keep their label/numf/isthere with
    the new ``cls`` and the list's subset. Ids absent from the full annotation are skipped (missing
    downloads), as are videos not present on disk."""
    db = annots["database"]
    val_ids = set(ids.get("val", ()))
    classes: Dict[str, int] = {}
    for yid in sorted(db):
        info = db[yid]
        if info.get("isthere") and info["subset"] == "val" and yid in val_ids and info["label"] not in classes:
            classes[info["label"]] = len(classes)
    database: Dict[str, Any] = {}
    for subset, vids in ids.items():
        for yid in vids:
            info = db.get(yid)
            if info is None or not info.get("isthere"):
                continue
            if info["label"] not in classes:
                raise DataError(f"{subset} id list", f"class {info['label']!r} has no val video in the subset", yid)
            database[yid] = {"label": info["label"], "cls": classes[info["label"]], "subset": subset,
                             "isthere": True, "numf": info["numf"]}
    return {"database": database, "classes": classes}
