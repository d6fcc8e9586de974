"""Replay of Python ``heapq`` pushes and replacements for many independent heaps at once.

ActivityNet's AVA reader keeps each keyframe's rows in a ``heapq`` of tuples (score, action_id, y1,
x1, y2, x2) (a bounded one for detections: ``heappush`` while short of capacity, else ``heapreplace``
when the score beats the smallest), then stably sorts the heap *array* by decreasing score. Rows with
equal scores therefore come out in heap-array order, which depends on the whole push history. When
that order matters (equal scores of one class with different boxes, or ties at the capacity
boundary) the evaluator replays the heap exactly with :func:`heap_layout`: one round per row position,
vectorised over all heaps, following CPython's ``_siftdown`` / ``_siftup``.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def heap_layout(
    group: np.ndarray, rank: np.ndarray, score: np.ndarray, capacity: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """Replay heaps fed row by row.

    group [n] int64: heap id of each row, rows in feeding order (file order). rank [n] int64: order of
    the rows' tuples (equal tuples equal rank) -- Python's tuple ``<``. score [n]: the first tuple
    field, compared alone (strict ``>``) to decide a replacement. ``capacity`` 0 = unbounded.

    Returns survivors [n] bool and position [n] int64: index of each survivor in its heap array (-1
    for rows that were rejected or evicted).
    """
    group = np.asarray(group, np.int64)
    rank = np.asarray(rank, np.int64)
    score = np.asarray(score, np.float64)
    n = len(group)
    survivors = np.zeros(n, dtype=bool)
    position = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return survivors, position
    uniq, g = np.unique(group, return_inverse=True)
    num_groups = len(uniq)
    by_group = np.argsort(g, kind="stable")
    sizes = np.bincount(g, minlength=num_groups)
    starts = np.cumsum(sizes) - sizes
    seq = np.empty(n, dtype=np.int64)
    seq[by_group] = np.arange(n) - np.repeat(starts, sizes)
    cap = int(capacity) if capacity > 0 else int(sizes.max())
    heap = np.full((num_groups, cap), -1, dtype=np.int64)  # row index at each heap slot
    size = np.zeros(num_groups, dtype=np.int64)
    by_round = np.argsort(seq, kind="stable")
    bounds = np.searchsorted(seq[by_round], np.arange(int(sizes.max()) + 1))

    def sift_down(gs: np.ndarray, rows: np.ndarray, pos: np.ndarray) -> None:
        """CPython ``_siftdown(heap, 0, pos)`` with ``rows`` as the new items, for heaps ``gs``."""
        active = pos > 0
        while active.any():
            a = np.flatnonzero(active)
            parent = (pos[a] - 1) >> 1
            lt = rank[rows[a]] < rank[heap[gs[a], parent]]
            mv = a[lt]
            heap[gs[mv], pos[mv]] = heap[gs[mv], parent[lt]]
            pos[mv] = parent[lt]
            active[a[~lt]] = False
            active[mv] = pos[mv] > 0
        heap[gs, pos] = rows

    for r in range(len(bounds) - 1):  # rounds over row positions; each vectorised over heaps
        rows = by_round[bounds[r]:bounds[r + 1]]
        gs = g[rows]
        push = size[gs] < cap
        if push.any():
            pr, pg = rows[push], gs[push]
            pos = size[pg].copy()
            size[pg] += 1
            sift_down(pg, pr, pos)
        full = ~push
        if full.any():
            fr, fg = rows[full], gs[full]
            rep = score[fr] > score[heap[fg, 0]]
            fr, fg = fr[rep], fg[rep]
            if len(fr):
                # CPython _siftup(heap, 0): move the smaller child up until a leaf, then sift down.
                pos = np.zeros(len(fr), dtype=np.int64)
                limit = cap >> 1
                active = pos < limit
                while active.any():
                    a = np.flatnonzero(active)
                    child = 2 * pos[a] + 1
                    right = child + 1
                    has_right = right < cap
                    rc = np.where(has_right, right, child)
                    take_right = has_right & ~(rank[heap[fg[a], child]] < rank[heap[fg[a], rc]])
                    child = np.where(take_right, right, child)
                    heap[fg[a], pos[a]] = heap[fg[a], child]
                    pos[a] = child
                    active[a] = pos[a] < limit
                sift_down(fg, fr, pos)
    filled = heap >= 0
    rows = heap[filled]
    survivors[rows] = True
    position[rows] = np.nonzero(filled)[1]
    return survivors, position


def tuple_rank(*fields: np.ndarray) -> np.ndarray:
    """Dense rank of rows by their tuple of fields (first field most significant); equal tuples share a rank."""
    order = np.lexsort(tuple(np.asarray(f) for f in reversed(fields)))
    diff = np.zeros(len(order), dtype=bool)
    for f in fields:
        f = np.asarray(f)[order]
        diff[1:] |= f[1:] != f[:-1]
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.cumsum(diff)
    return rank
