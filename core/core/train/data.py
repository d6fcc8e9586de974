"""Resumable data order: a sampler whose permutation is a function of (seed, epoch) only, that can
skip the samples already consumed in the current epoch, and the loader helpers built on it.

Why: resuming mid-epoch must replay exactly the batches the interrupted run would have seen next.
``ResumableSampler`` is torch's ``DistributedSampler`` (same permutation: ``randperm`` seeded with
``seed + epoch``, same split over ranks, works without a process group) plus a ``skip``. The loaders
made here carry their own ``torch.Generator``: otherwise creating a DataLoader iterator draws its
worker base seed from the *global* torch RNG, so a resumed run that creates its iterator mid-epoch
would shift every later dropout mask.

Limit: with ``num_workers > 0``, random augmentations drawn inside workers depend on which worker
loads a batch; after a mid-epoch resume batch ``k`` may go to another worker. Bitwise resume of
in-worker randomness needs augmentations seeded per sample (e.g. from ``(seed, epoch, index)``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from core.train.distributed import get_rank, get_world_size
from core.train.seed import seed_worker

__all__ = [
    "ResumableSampler",
    "ShardedEvalSampler",
    "make_train_loader",
    "make_eval_loader",
    "loader_seed",
    "set_loader_epoch",
    "iters_per_epoch",
    "resume_batches",
]


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` that can start part-way into an epoch.

    ``set_epoch(epoch, skip)`` selects the permutation of ``epoch`` and drops the first ``skip``
    indices of this rank's share. ``num_replicas`` / ``rank`` default to the current process group
    (1 / 0 without one).
    """

    def __init__(
        self,
        dataset: Dataset,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: Optional[int] = None,
        rank: Optional[int] = None,
    ):
        super().__init__(
            dataset,
            num_replicas=get_world_size() if num_replicas is None else num_replicas,
            rank=get_rank() if rank is None else rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        if not 0 <= skip <= self.num_samples:
            raise ValueError(f"skip={skip} outside [0, {self.num_samples}] samples of this rank's epoch")
        super().set_epoch(epoch)
        self.skip = int(skip)

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(super().__iter__(), self.skip, None)

    def __len__(self) -> int:
        return self.num_samples - self.skip


class ShardedEvalSampler(torch.utils.data.Sampler):
    """Evaluation sampler: rank ``r`` of ``n`` gets indices ``r, r+n, r+2n, ...`` in order, with no
    padding (``DistributedSampler`` repeats samples to even out ranks, which double-counts them in
    metrics). Gather the per-rank results with ``all_gather_object``."""

    def __init__(self, dataset: Dataset, num_replicas: Optional[int] = None, rank: Optional[int] = None):
        self.length = len(dataset)  # type: ignore[arg-type]
        self.num_replicas = get_world_size() if num_replicas is None else num_replicas
        self.rank = get_rank() if rank is None else rank

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.num_replicas))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.num_replicas))


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of a train loader's generator for ``epoch`` on ``rank`` (independent streams)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(rank)]).generate_state(1, dtype=np.uint64)[0] >> 1)


def make_train_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = True,
    collate_fn: Optional[Callable[[list], Any]] = None,
    pin_memory: bool = False,
    **kwargs: Any,
) -> DataLoader:
    """A DataLoader over a :class:`ResumableSampler` (per-rank ``batch_size``), with its own
    generator and :func:`~core.train.seed.seed_worker` as ``worker_init_fn``. Call
    :func:`set_loader_epoch` (or use :func:`resume_batches`) before each epoch."""
    sampler = ResumableSampler(dataset, shuffle=shuffle, seed=seed, drop_last=False)
    generator = torch.Generator()
    generator.manual_seed(loader_seed(seed, 0, sampler.rank))
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        generator=generator,
        **kwargs,
    )
    loader.resume_seed = int(seed)  # type: ignore[attr-defined]
    return loader


def make_eval_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    num_workers: int = 0,
    collate_fn: Optional[Callable[[list], Any]] = None,
    pin_memory: bool = False,
    **kwargs: Any,
) -> DataLoader:
    """A DataLoader over this rank's :class:`ShardedEvalSampler` shard, in order, no padding."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=ShardedEvalSampler(dataset),
        num_workers=num_workers,
        collate_fn=collate_fn,
        pin_memory=pin_memory,
        worker_init_fn=seed_worker,
        **kwargs,
    )


def _resumable_sampler(loader: DataLoader) -> ResumableSampler:
    sampler = loader.sampler
    if not isinstance(sampler, ResumableSampler):
        raise TypeError("loader must use a ResumableSampler (build it with make_train_loader)")
    return sampler


def iters_per_epoch(loader: DataLoader) -> int:
    """Batches in a full epoch of this rank (ignoring any current skip)."""
    n = _resumable_sampler(loader).num_samples
    b = int(loader.batch_size)  # type: ignore[arg-type]
    return n // b if loader.drop_last else math.ceil(n / b)


def set_loader_epoch(loader: DataLoader, epoch: int, start_iter: int = 0) -> None:
    """Select ``epoch``'s permutation, skip the first ``start_iter`` batches of it, and reseed the
    loader's generator (worker seeds) from ``(seed, epoch, rank)``."""
    sampler = _resumable_sampler(loader)
    sampler.set_epoch(epoch, skip=start_iter * int(loader.batch_size))  # type: ignore[arg-type]
    if loader.generator is not None:
        loader.generator.manual_seed(loader_seed(getattr(loader, "resume_seed", sampler.seed), epoch, sampler.rank))


def resume_batches(loader: DataLoader, start_iter: int, max_iters: int) -> Iterator[Tuple[int, int, Any]]:
    """Yield ``(iteration, epoch, batch)`` for iterations ``start_iter .. max_iters - 1`` of an
    iteration-based schedule, crossing epochs as needed. ``iteration`` is the 0-based index of the
    step about to be taken; epoch ``e`` covers iterations ``[e * P, (e + 1) * P)`` with ``P =
    iters_per_epoch(loader)``. Starting at any ``start_iter`` yields exactly the batches an
    uninterrupted run would have seen from there."""
    per_epoch = iters_per_epoch(loader)
    if per_epoch <= 0:
        raise ValueError("the loader yields no full batch per epoch (dataset smaller than batch_size x ranks?)")
    it = int(start_iter)
    while it < max_iters:
        epoch, within = divmod(it, per_epoch)
        set_loader_epoch(loader, epoch, within)
        n = min(per_epoch - within, max_iters - it)
        for batch in itertools.islice(loader, n):
            yield it, epoch, batch
            it += 1
