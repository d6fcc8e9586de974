"""Keyframes of STAGE feature files, the epoch's batch order, and the collate that builds the graph.

Sample order (the original ``AVADataset.shuffle_filename_blocks``): keyframes sorted by
(clip, int(timestamp)); each training epoch e (1-based) rotates that list by
``(batch_size // 4) * (e - 1)`` positions, cuts it into consecutive blocks of ``batch_size``, and
shuffles the blocks, so a batch is a run of consecutive seconds of one movie (it may straddle a
movie boundary). Differences from the original, both fixes: each block is one batch (the original
flattens and re-cuts, so once its short last block is shuffled into the middle every later batch
straddles two blocks), and the rotation is taken modulo the number of keyframes (the original's
list slicing stops rotating once the offset passes the list length). Validation keeps the sorted
order. Under torchrun, batch b of the epoch goes to rank b % world_size; training ranks get equal
counts by wrapping around to the first batches.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from core.errors import DataError
from core.formats.stage_h5 import ObjectFeatures, SlowFastFeatures, list_actor_files, read_actor_h5
from core.io import PathLike
from stage.graph import build_adjacency, keyframe_links

Item = Dict[str, Any]


def _empty_objects(dim: int) -> Dict[str, np.ndarray]:
    return {"features": np.zeros((0, dim), np.float32), "boxes": np.zeros((0, 4), np.float32)}


class _ObjectsMixin:
    """Lazily opened objects file, reopened in each DataLoader worker (h5py handles do not survive fork)."""

    objects_file: Optional[str]
    objects_features_size: Optional[int]

    def _objects(self, clip: str, ts: str) -> Dict[str, np.ndarray]:
        dim = self.objects_features_size or 0
        if not self.objects_file:
            return _empty_objects(dim)
        if getattr(self, "_objs_pid", None) != os.getpid():
            self._objs = ObjectFeatures(self.objects_file)
            self._objs_pid = os.getpid()
        o = self._objs[clip, ts]
        feats, boxes = o["features"], o["boxes"]
        if len(feats) == 0:
            return _empty_objects(dim)
        if feats.ndim != 2 or (self.objects_features_size and feats.shape[1] != self.objects_features_size):
            raise DataError(self.objects_file, f"expected features [n, {self.objects_features_size}], got "
                            f"{list(feats.shape)} (--objects_features_size)", f"{clip}_{int(ts)}_features")
        return {"features": feats, "boxes": boxes}

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_objs", None)
        state.pop("_objs_pid", None)
        return state


class StageDataset(_ObjectsMixin, Dataset):
    """One item per actor h5 file ``<actors_dir>/<clip>/<timestamp>.h5`` (sorted by clip, int(timestamp)),
    with that keyframe's objects from the single objects h5 (none when ``objects_file`` is None or
    the keyframe has no entry).

    Item: {'clip', 'timestamp' (str, as in the file name), 'actors_features' [n, C, t, h, w],
    'actors_boxes' [n, 4], 'labels' [n, num_classes], 'objects_features' [m, Co], 'objects_boxes' [m, 4]}.
    """

    def __init__(self, actors_dir: PathLike, objects_file: Optional[PathLike] = None, num_classes: int = 81,
                 actors_features_size: Optional[int] = None, objects_features_size: Optional[int] = None):
        self.actors_dir = str(actors_dir)
        self.files = list_actor_files(actors_dir)
        if not self.files:
            raise DataError(actors_dir, "no '<clip>/<timestamp>.h5' actor files")
        self.objects_file = str(objects_file) if objects_file else None
        if self.objects_file and not os.path.isfile(self.objects_file):
            raise FileNotFoundError(2, "No such file", self.objects_file)
        self.num_classes = num_classes
        self.actors_features_size = actors_features_size
        self.objects_features_size = objects_features_size

    def __len__(self) -> int:
        return len(self.files)

    def keys(self) -> List[tuple]:
        return [(c, t) for c, t, _ in self.files]

    def __getitem__(self, index: int) -> Item:
        clip, ts, path = self.files[index]
        a = read_actor_h5(path)
        feats, labels = a["features"], a["labels"]
        if feats.ndim < 2 or (self.actors_features_size and feats.shape[1] != self.actors_features_size):
            raise DataError(path, f"expected features [n, {self.actors_features_size}, t, h, w], got "
                            f"{list(feats.shape)} (--actors_features_size)")
        if labels.ndim != 2 or labels.shape[1] != self.num_classes:
            raise DataError(path, f"expected labels [n, {self.num_classes}] (--num_classes), got {list(labels.shape)}")
        o = self._objects(clip, ts)
        return {"clip": clip, "timestamp": ts, "actors_features": feats, "actors_boxes": a["boxes"],
                "labels": labels, "objects_features": o["features"], "objects_boxes": o["boxes"]}


class SlowFastDataset(_ObjectsMixin, Dataset):
    """The released SlowFast features: one h5 per split, groups ``<clip>_<timestamp>`` with ``boxes``,
    ``features`` [n, D] and ``labels`` [n, 80] (no background column: use ``--num_classes 80``).
    Objects are looked up under the same clip name."""

    def __init__(self, path: PathLike, objects_file: Optional[PathLike] = None, num_classes: int = 80,
                 actors_features_size: Optional[int] = None, objects_features_size: Optional[int] = None):
        self.path = str(path)
        self.objects_file = str(objects_file) if objects_file else None
        self.num_classes = num_classes
        self.actors_features_size = actors_features_size
        self.objects_features_size = objects_features_size
        f = SlowFastFeatures(path)
        try:
            keys = f.keys()
        finally:
            f.close()
        parsed = []
        for k in keys:
            clip, _, ts = k.rpartition("_")
            if not clip or not ts.isdigit():
                raise DataError(path, "expected groups named '<clip>_<timestamp>'", k)
            parsed.append((clip, ts, k))
        self.files = sorted(parsed, key=lambda x: (x[0], int(x[1])))

    def __len__(self) -> int:
        return len(self.files)

    def keys(self) -> List[tuple]:
        return [(c, t) for c, t, _ in self.files]

    def __getitem__(self, index: int) -> Item:
        clip, ts, key = self.files[index]
        if getattr(self, "_sf_pid", None) != os.getpid():
            self._sf = SlowFastFeatures(self.path)
            self._sf_pid = os.getpid()
        g = self._sf[key]
        if "labels" not in g:
            g["labels"] = np.zeros((len(g["boxes"]), self.num_classes), np.float32)
        if g["labels"].shape[1] != self.num_classes:
            raise DataError(self.path, f"expected labels [n, {self.num_classes}] (--num_classes)", key)
        o = self._objects(clip, ts)
        return {"clip": clip, "timestamp": ts, "actors_features": g["features"], "actors_boxes": g["boxes"],
                "labels": g["labels"], "objects_features": o["features"], "objects_boxes": o["boxes"]}

    def __getstate__(self) -> Dict[str, Any]:
        state = super().__getstate__()
        state.pop("_sf", None)
        state.pop("_sf_pid", None)
        return state


def epoch_batches(num_keyframes: int, batch_size: int, epoch: int, seed: int = 0,
                  shuffle: bool = True) -> List[np.ndarray]:
    """Batches (arrays of dataset indices into the sorted list) of 1-based ``epoch``: rotated by
    (batch_size // 4) * (epoch - 1), cut in blocks of batch_size, blocks shuffled with a generator
    seeded by (seed, epoch). ``shuffle=False``: the sorted list cut in blocks."""
    if batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
    idx = np.arange(num_keyframes)
    if shuffle and num_keyframes:
        idx = np.roll(idx, -(((batch_size // 4) * (epoch - 1)) % num_keyframes))
    blocks = [idx[i:i + batch_size] for i in range(0, num_keyframes, batch_size)]
    if shuffle:
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(len(blocks))
        blocks = [blocks[k] for k in order]
    return blocks


class KeyframeBatchSampler(Sampler):
    """Batch sampler of :func:`epoch_batches` for this rank; ``set_epoch(epoch, skip)`` picks the epoch
    and skips its first ``skip`` batches (mid-epoch resume)."""

    def __init__(self, num_keyframes: int, batch_size: int, shuffle: bool = True, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        self.n = num_keyframes
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 1
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch = int(epoch)
        self.skip = int(skip)

    def batches_per_rank(self) -> int:
        nb = math.ceil(self.n / self.batch_size)
        return math.ceil(nb / self.world_size) if self.shuffle else len(range(self.rank, nb, self.world_size))

    def _all(self) -> List[List[int]]:
        blocks = epoch_batches(self.n, self.batch_size, self.epoch, self.seed, self.shuffle)
        if self.shuffle and len(blocks) % self.world_size:
            blocks = blocks + blocks[: self.world_size - len(blocks) % self.world_size]
        return [b.tolist() for b in blocks[self.rank::self.world_size]]

    def __iter__(self) -> Iterator[List[int]]:
        return iter(self._all()[self.skip:])

    def __len__(self) -> int:
        return self.batches_per_rank() - self.skip


class BatchCollator:
    """Concatenate the keyframes of a batch (actors in keyframe order, then objects) and build the
    adjacency (:mod:`stage.graph`). Any batch size works, 1 included. Actor maps are averaged over
    (t, h, w) here, in the loader workers: the model's first step, and far less to transfer.

    ``temporal``: ``batch`` (original), ``video`` (no edges across clips) or ``none``.
    ``use_objects=False`` drops the object nodes (ablation). ``relations=False`` links every actor only to itself
    (no objects, no edges between actors): the per-actor baseline.
    """

    def __init__(self, temporal: str = "batch", tau: float = 1.0, use_objects: bool = True, relations: bool = True):
        keyframe_links(1, temporal, ["x"])  # validates the mode
        self.temporal = temporal
        self.tau = tau
        self.use_objects = use_objects and relations
        self.relations = relations

    def __call__(self, items: Sequence[Item]) -> Dict[str, Any]:
        feats = [torch.as_tensor(it["actors_features"]) for it in items]
        feats = [f.flatten(2).mean(2) if f.dim() > 2 else f for f in feats]
        n_act = torch.tensor([len(f) for f in feats])
        if self.use_objects:
            n_obj = torch.tensor([len(it["objects_boxes"]) for it in items])
            obj_feats = torch.cat([torch.as_tensor(it["objects_features"]) for it in items])
            obj_boxes = torch.cat([torch.as_tensor(it["objects_boxes"]).reshape(-1, 4) for it in items])
        else:
            n_obj = torch.zeros(len(items), dtype=torch.long)
            obj_feats = torch.zeros((0, np.shape(items[0]["objects_features"])[1]))
            obj_boxes = torch.zeros((0, 4))
        act_boxes = torch.cat([torch.as_tensor(it["actors_boxes"]).reshape(-1, 4) for it in items])
        frames = torch.arange(len(items))
        link = keyframe_links(len(items), self.temporal, [it["clip"] for it in items])
        if self.relations:
            adj = build_adjacency(act_boxes, obj_boxes, frames.repeat_interleave(n_act),
                                  frames.repeat_interleave(n_obj), link, self.tau)
        else:
            adj = torch.eye(len(act_boxes))
        return {
            "actors_features": torch.cat(feats).float(),
            "actors_boxes": act_boxes.float(),
            "labels": torch.cat([torch.as_tensor(it["labels"]) for it in items]).float(),
            "objects_features": obj_feats.float(),
            "objects_boxes": obj_boxes.float(),
            "adj": adj,
            "keys": [(it["clip"], it["timestamp"]) for it, n in zip(items, n_act.tolist()) for _ in range(n)],
            "num_actors": n_act,
            "num_objects": n_obj,
        }


def build_dataset(args: argparse.Namespace, actors_dir: Optional[str], objects_file: Optional[str]) -> Dataset:
    """The keyframe dataset of the flags: SlowFast groups (``--slowfast_file``) or actor h5 files, with the
    objects file unless ``--no_objects``."""
    objects = None if args.no_objects else (objects_file or None)
    if args.slowfast_file:
        return SlowFastDataset(args.slowfast_file, objects, args.num_classes, args.actors_features_size,
                               args.objects_features_size)
    return StageDataset(actors_dir, objects, args.num_classes, args.actors_features_size, args.objects_features_size)


def build_loader(args: argparse.Namespace, dataset: Dataset, shuffle: bool, rank: int, world_size: int) -> DataLoader:
    """Batches of consecutive keyframes (they share temporal edges), this rank's share, graph built in workers."""
    sampler = KeyframeBatchSampler(len(dataset), args.batch_size, shuffle=shuffle, seed=args.seed, rank=rank,
                                   world_size=world_size)
    collate = BatchCollator(args.temporal_edges, args.tau, use_objects=not args.no_objects,
                            relations=not getattr(args, "no_relations", False))
    # its own generator: a new iterator every epoch must not draw from the global RNG (dropout), or a run
    # resumed mid-epoch would see other dropout masks than an uninterrupted one
    return DataLoader(dataset, batch_sampler=sampler, num_workers=args.num_workers, collate_fn=collate,
                      persistent_workers=args.num_workers > 0,  # the batch sampler runs in this process
                      prefetch_factor=4 if args.num_workers > 0 else None,
                      generator=torch.Generator().manual_seed(args.seed))
