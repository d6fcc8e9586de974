"""evaluation.heap replays CPython heapq exactly (positions of every item in every heap)."""

import heapq

import numpy as np
import pytest

from evaluation.heap import heap_layout, tuple_rank


class Item:
    def __init__(self, key, i):
        self.key, self.i = key, i

    def __lt__(self, other):
        return self.key < other.key


@pytest.mark.parametrize("seed", range(50))
def test_heap_layout_matches_heapq(seed):
    rng = np.random.default_rng(seed)
    n, groups, cap = int(rng.integers(1, 120)), int(rng.integers(1, 6)), int(rng.integers(0, 9))
    group = rng.integers(0, groups, n)
    score = rng.integers(0, 5, n).astype(float)
    action = rng.integers(0, 3, n)
    box = rng.integers(0, 3, n).astype(float)
    survivors, position = heap_layout(group, tuple_rank(score, action, box), score, cap)
    heaps = {}
    for i in range(n):
        h = heaps.setdefault(group[i], [])
        item = Item((score[i], action[i], box[i]), i)
        if cap < 1 or len(h) < cap:
            heapq.heappush(h, item)
        elif score[i] > h[0].key[0]:
            heapq.heapreplace(h, item)
    want = np.full(n, -1)
    for h in heaps.values():
        for p, item in enumerate(h):
            want[item.i] = p
    assert position.tolist() == want.tolist() and survivors.tolist() == (want >= 0).tolist()
