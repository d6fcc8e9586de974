"""UCF101-24 and JHMDB-21 micro-tube samples on the real layouts (AMTNet ``data/shared.py``, ``dataset.py``).

Layout (``<data_root>/<dataset>/``, or ``<data_root>`` itself when it holds ``splitfiles/``)::

    rgb-images/<Class>/<video>/00001.jpg ...    brox-images/... fastOF-images/...   (1-based frame files)
    splitfiles/pyannot.pkl   splitfiles/trainlist01.txt (test = every other pyannot video)

A sample is a micro-tube: frames (f, f + delta, ..., f + (seq_len - 1) delta), 0-based, delta = seq_gap + 1.
Each time step is ``input_frames`` consecutive images stacked channel-wise (flow: 5 images centred on
the frame, shifted to stay inside the video). Ground truth: the tubes present in all of the sample's
frames, boxes [G, seq_len, 4] as normalised x1y1x2y2 (UCF24 pyannot boxes are 1-based x, y, w, h ->
x - 1, y - 1, x - 1 + w, y - 1 + h; JHMDB boxes are taken as 0-based x, y, w, h, as the original does).
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from core.errors import DataError
from core.formats import ucf24 as fmt

from .augmentation import BaseTransform, MicroTubeAugmentation
from .loss import match

INPUT_DIRS = {"rgb": "rgb-images", "brox": "brox-images", "fastOF": "fastOF-images"}
# Per-class fractional sampling steps of the training pairs (AMTNet, seq_len 2, class order of UCF24_CLASSES).
UCF24_TRAIN_RATIOS = [1.00, 0.80, 4.19, 1.30, 0.85, 2.34, 1.98, 2.64, 2.66, 4.49, 5.53, 2.44, 3.15, 2.74, 3.77,
                      2.26, 4.00, 3.06, 6.04, 3.25, 1.47, 3.02, 0.70, 3.82]
MIXED_GAPS = (0, 1, 3, 7)  # --seq_gap 20: training pairs at these gaps; testing at gap 1


def dataset_dir(data_root: str, dataset: str) -> str:
    """``<data_root>/<dataset>`` (the original layout), or ``data_root`` when it is the dataset folder."""
    sub = os.path.join(data_root, dataset)
    if os.path.isdir(os.path.join(sub, "splitfiles")):
        return sub
    if os.path.isdir(os.path.join(data_root, "splitfiles")):
        return data_root
    raise DataError(sub, f"no splitfiles/ folder: expected the {dataset} layout (rgb-images/, splitfiles/pyannot.pkl)")


def ensure_synthetic(root: str, dataset: str, size: str = "demo", workers: int = 2) -> str:
    """Write the synthetic dataset under ``root/<dataset>`` on first use (what ``tools/synthesize.py`` writes);
    returns ``root``."""
    from core.synthetic.datasets import write_dataset

    target = os.path.join(root, dataset)
    if not os.path.isfile(os.path.join(target, "splitfiles", "pyannot.pkl")):
        fmt_name = "ucf24" if dataset == "ucf24" else "jhmdb"
        print(f"data: writing the synthetic {fmt_name} '{size}' set to {target} (first use)", file=sys.stderr)
        write_dataset(fmt_name, target, size, seed=0, workers=workers)
    return root


def input_dir(input_type: str) -> str:
    try:
        return INPUT_DIRS[input_type]
    except KeyError:
        raise ValueError(f"input type must be one of {sorted(INPUT_DIRS)}, got {input_type!r}") from None


def classes_of(dataset: str) -> List[str]:
    if dataset == "ucf24":
        return list(fmt.UCF24_CLASSES)
    if dataset == "jhmdb21":
        return list(fmt.JHMDB_CLASSES)
    raise ValueError(f"dataset must be ucf24 or jhmdb21, got {dataset!r}")


@dataclass
class Video:
    """One annotated video: name, frame count, tubes as (label, sf, per-frame boxes [n, 4] normalised)."""

    name: str
    numf: int
    label: int
    tubes: List[Tuple[int, int, np.ndarray]]
    width: int
    height: int

    def boxes_at(self, frames: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Tubes present in every frame of ``frames`` -> (boxes [G, S, 4], labels [G])."""
        boxes, labels = [], []
        for label, sf, b in self.tubes:
            if all(sf <= f < sf + len(b) for f in frames):
                boxes.append(b[np.asarray(frames) - sf])
                labels.append(label)
        if not boxes:
            return np.zeros((0, len(frames), 4), np.float32), np.zeros(0, np.int64)
        return np.stack(boxes).astype(np.float32), np.asarray(labels, np.int64)

    def present(self, f: int) -> np.ndarray:
        """[num tubes] bool: which tubes have a box at frame f."""
        return np.array([sf <= f < sf + len(b) for _, sf, b in self.tubes], dtype=bool)


def _image_size(path: str) -> Tuple[int, int]:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(path, "cannot read the first frame of the video (missing or corrupt image)")
    return img.shape[1], img.shape[0]


def load_videos(root: str, dataset: str, names: Sequence[str], db: Dict[str, dict],
                input_type: str = "rgb") -> List[Video]:
    """Videos of ``names`` with normalised tube boxes (image size read from each video's first frame)."""
    pkl = os.path.join(root, "splitfiles", "pyannot.pkl")
    out = []
    for name in names:
        if name not in db:
            raise DataError(pkl, "video of the split list is not in pyannot.pkl", f"video '{name}'")
        ann = db[name]
        w, h = _image_size(fmt.frame_path(root, name, 0, input_dir(input_type)))
        tubes = []
        for t in ann["annotations"]:
            b = np.asarray(t["boxes"], dtype=np.float64)
            if dataset == "jhmdb21":
                xyxy = np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]], 1)
            else:
                xyxy = fmt.pyannot_boxes_to_xyxy(b, inclusive=False)
            xyxy = np.clip(xyxy, 0, [w, h, w, h]) / np.array([w, h, w, h])
            tubes.append((int(t["label"]), int(t["sf"]), xyxy.astype(np.float32)))
        numf = int(ann["numf"])
        if dataset == "jhmdb21" and ann["annotations"]:
            numf = len(ann["annotations"][0]["boxes"])  # JHMDB tubes span the whole (trimmed) clip
        out.append(Video(name, numf, int(ann["label"]), tubes, w, h))
    return out


def split_videos(root: str, split: int) -> Tuple[Dict[str, dict], List[str], List[str]]:
    """(pyannot db, train videos, test videos = every other pyannot video, sorted)."""
    db = fmt.read_pyannot(os.path.join(root, "splitfiles", "pyannot.pkl"))
    train_list = os.path.join(root, "splitfiles", f"trainlist{split:02d}.txt")
    train = fmt.read_split_list(train_list)
    missing = [v for v in train if v not in db]
    if missing:
        raise DataError(train_list, "video not in pyannot.pkl", f"video '{missing[0]}'")
    return db, train, fmt.test_videos(db, train)


def pair_starts(numf: int, seq_len: int, gap: int, step: float) -> np.ndarray:
    """First frames of the training/validation micro-tubes: int(arange(0, numf - ((S-1) gap + S), step))."""
    stop = numf - ((seq_len - 1) * gap + seq_len)
    if stop <= 0:
        return np.zeros(0, np.int64)
    return np.arange(0, stop, step).astype(np.int64)


def full_test_starts(numf: int, seq_len: int, gap: int) -> np.ndarray:
    """First frames of the test micro-tubes: step (S-1)(gap+1), so consecutive ones share a frame, plus the
    last micro-tube of the video (ending at its last frame)."""
    span = (seq_len - 1) * (gap + 1)
    last = numf - 1 - span
    if last < 0:
        return np.zeros(0, np.int64)
    starts = np.arange(0, last + 1, max(span, 1))
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts.astype(np.int64)


def microtube_frames(start: int, seq_len: int, gap: int) -> List[int]:
    return [start + s * (gap + 1) for s in range(seq_len)]


def stack_window(frame: int, numf: int, k: int) -> List[int]:
    """0-based image indices of the k-image stack of ``frame``: centred, shifted to stay in [0, numf)."""
    if k == 1:
        return [frame]
    start = max(frame - k // 2, 0)
    start = max(min(start, numf - k), 0)
    return [min(start + i, numf - 1) for i in range(k)]


def make_samples(videos: List[Video], dataset: str, mode: str, seq_len: int, seq_gap: int) -> List[Tuple[int, int, int]]:
    """(video index, first frame, gap) of every micro-tube sample of ``mode`` (train | val)."""
    gaps = MIXED_GAPS if seq_gap == 20 else (seq_gap,)
    samples = []
    for vi, v in enumerate(videos):
        if dataset == "ucf24":
            ratio = UCF24_TRAIN_RATIOS[v.label]
        else:
            ratio = 1.0
        step = ratio if mode == "train" else max(1.0, ratio) * (4 if dataset == "ucf24" else 1.5)
        for gap in gaps:
            for f in pair_starts(v.numf, seq_len, gap, step):
                frames = microtube_frames(int(f), seq_len, gap)
                pres = np.stack([v.present(x) for x in frames]) if v.tubes else np.zeros((seq_len, 0), bool)
                both = pres.all(0)
                # every tube in all frames or in none, and at least one in all
                if both.any() and (both | ~pres.any(0)).all():
                    samples.append((vi, int(f), gap))
    return samples


def read_images(root: str, video: str, kind: str, indices: Sequence[int]) -> np.ndarray:
    """-> float32 [len(indices), H, W, 3] BGR; each distinct image is read once."""
    cache: Dict[int, np.ndarray] = {}
    out = []
    for i in indices:
        if i not in cache:
            path = fmt.frame_path(root, video, i, kind)
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is None:
                raise DataError(path, "cannot read image (missing or corrupt)")
            cache[i] = img
        out.append(cache[i])
    return np.stack(out).astype(np.float32)


class MicroTubeDataset(Dataset):
    """Training / validation micro-tubes. Item: (base [S, 3k, D, D], extra [S, 3k', D, D] or [0],
    boxes [G, S, 4] normalised, labels [G], index)."""

    def __init__(self, data_root: str, dataset: str = "ucf24", split: int = 1, mode: str = "train",
                 seq_len: int = 2, seq_gap: int = 0, input_type_base: str = "rgb", input_type_extra: str = "brox",
                 input_frames_base: int = 1, input_frames_extra: int = 5, fusion: bool = False,
                 ssd_dim: int = 300, augment: Optional[MicroTubeAugmentation] = None):
        if mode not in ("train", "val"):
            raise ValueError(f"mode must be train or val, got {mode!r}")
        self.root = dataset_dir(data_root, dataset)
        self.dataset, self.mode = dataset, mode
        self.seq_len, self.seq_gap = seq_len, seq_gap
        self.streams = [(input_dir(input_type_base), input_frames_base)]
        if fusion:
            self.streams.append((input_dir(input_type_extra), input_frames_extra))
        self.classes = classes_of(dataset)
        db, train, test = split_videos(self.root, split)
        self.videos = load_videos(self.root, dataset, train if mode == "train" else test, db, input_type_base)
        self.samples = make_samples(self.videos, dataset, mode, seq_len, seq_gap)
        self.transform = augment if augment is not None else (
            MicroTubeAugmentation(ssd_dim) if mode == "train" else None)
        self.base_transform = BaseTransform(ssd_dim)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        vi, f, gap = self.samples[index]
        v = self.videos[vi]
        frames = microtube_frames(f, self.seq_len, gap)
        boxes, labels = v.boxes_at(frames)
        stacks, counts = [], []
        for kind, k in self.streams:
            idx = [i for fr in frames for i in stack_window(fr, v.numf, k)]
            stacks.append(read_images(self.root, v.name, kind, idx))
            counts.append(len(idx))
        images = np.concatenate(stacks)  # one array: every random draw is shared by all images
        if self.transform is not None:
            images, boxes, labels = self.transform(images, boxes, labels)
        else:
            images = self.base_transform(images)
        parts = np.split(images, np.cumsum(counts)[:-1])
        d = images.shape[-1]
        tensors = [torch.from_numpy(np.ascontiguousarray(p)).view(self.seq_len, -1, d, d) for p in parts]
        extra = tensors[1] if len(tensors) > 1 else torch.zeros(0)
        return tensors[0], extra, torch.from_numpy(np.asarray(boxes, np.float32)), \
            torch.from_numpy(np.asarray(labels, np.int64)), index


class MatchCollate:
    """Batch micro-tube samples and compute the prior targets (in the loader's workers):
    -> (base [B, S, 3k, D, D], extra [B, S, 3k', D, D] or [B, 0], loc_t [B, P, 4S], conf_t [B, P],
    list of (boxes, labels), indices [B])."""

    def __init__(self, priors: torch.Tensor, threshold: float = 0.5):
        self.priors = priors
        self.threshold = threshold

    def __call__(self, batch):
        base = torch.stack([b[0] for b in batch])
        extra = torch.stack([b[1] for b in batch])
        targets = [match(b[2], b[3], self.priors, self.threshold) for b in batch]
        loc_t = torch.stack([t[0] for t in targets])
        conf_t = torch.stack([t[1] for t in targets])
        gts = [(b[2], b[3]) for b in batch]
        return base, extra, loc_t, conf_t, gts, torch.tensor([b[4] for b in batch])


class VideoFrames(Dataset):
    """Every frame of the given videos, in order, for testing. Item: (base [3k, D, D], extra [3k', D, D] or
    [0], video index, 0-based frame).

    Consecutive frames' flow stacks share k - 1 images: each process keeps its last few decoded and
    resized images, so a batch of consecutive frames decodes every image once (5x fewer decodes for
    5-image stacks)."""

    CACHE_IMAGES = 32

    def __init__(self, root: str, videos: List[Video], input_type_base: str = "rgb", input_type_extra: str = "brox",
                 input_frames_base: int = 1, input_frames_extra: int = 5, fusion: bool = False, ssd_dim: int = 300):
        self.root = root
        self.videos = videos
        self.streams = [(input_dir(input_type_base), input_frames_base)]
        if fusion:
            self.streams.append((input_dir(input_type_extra), input_frames_extra))
        self.items = [(vi, f) for vi, v in enumerate(videos) for f in range(v.numf)]
        self.transform = BaseTransform(ssd_dim)
        self._recent: OrderedDict[Tuple[int, str, int], np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self.items)

    def _image(self, vi: int, kind: str, i: int) -> np.ndarray:
        """Image i of video vi, transformed: [3, D, D] float32 (from the per-process cache when recent)."""
        key = (vi, kind, i)
        img = self._recent.get(key)
        if img is None:
            img = self.transform(read_images(self.root, self.videos[vi].name, kind, [i]))[0]
            self._recent[key] = img
            if len(self._recent) > self.CACHE_IMAGES:
                self._recent.popitem(last=False)
        return img

    def __getitem__(self, index: int):
        vi, f = self.items[index]
        v = self.videos[vi]
        out = []
        for kind, k in self.streams:
            imgs = np.stack([self._image(vi, kind, i) for i in stack_window(f, v.numf, k)])
            out.append(torch.from_numpy(imgs).flatten(0, 1))
        extra = out[1] if len(out) > 1 else torch.zeros(0)
        return out[0], extra, vi, f
