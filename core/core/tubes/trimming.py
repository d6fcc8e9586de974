"""Temporal labelling and trimming of action paths into tubes (``PARactionPathSmoother.m``,
``dpEM_max.m``, ``convert2eval.m`` of realtime-action-detection).

For a path linked for class a with per-frame score vectors S [T, C + 1]:

* Viterbi over the C class columns plus an offset of 20: D[0] = 0 before the first frame,
  D[t, i] = S[t, i] + 20 + max_k (D[t - 1, k] - alpha * (k != i)), first k on ties; labels are
  back-tracked from the first maximum of the last column. alpha = 5 in the published numbers (3 also).
* Every maximal run of frames labelled a is a tube; its score is the mean of the top 40 class-a
  scores of the path's frames in the run; it is kept if that score is > 0 and the run spans more than
  ``min_num_frames`` = 8 frames (``te - ts > 8``, i.e. at least 10 frames).

:func:`viterbi` does all paths of a video at once: one loop over time, each step an
``[active paths, C]`` array operation (the max over k needs only the column maximum, since
max_k (D[k] - alpha [k != i]) is D[i] or max(D) - alpha).
"""

from __future__ import annotations

from typing import List, Sequence, Union

import numpy as np

from .filtering import rank_in_group
from .types import ActionPaths, Tube

ALPHA = 5.0
SCORE_OFFSET = 20.0
MIN_NUM_FRAMES = 8
TOP_K = 40
KTHRESH = 0.0


def viterbi(unary: np.ndarray, offsets: np.ndarray, alpha: Union[float, np.ndarray]) -> np.ndarray:
    """Best label sequences of many paths under a Potts switching penalty.

    unary [T, C]: per-row class scores of all paths, path i owning rows offsets[i]:offsets[i + 1]
    (offsets [P + 1]); alpha: a number or one per path [P], >= 0. Returns labels [T] int64, maximising
    sum_t unary[t, l_t] - alpha * #switches, with ``dpEM_max``'s tie-breaking (first index).
    """
    unary = np.asarray(unary, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    num_paths = offsets.size - 1
    labels = np.zeros(unary.shape[0], np.int64)
    if num_paths == 0 or unary.shape[0] == 0:
        return labels
    alpha = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (num_paths,))
    if np.any(alpha < 0):
        raise ValueError("viterbi: alpha must be >= 0")
    num_classes = unary.shape[1]
    lengths = np.diff(offsets)
    # time-major packing (longest paths first): the rows of step t are one contiguous block whose
    # first n_t rows continue the first n_t rows of the block of step t - 1
    order = np.argsort(-lengths, kind="stable")
    lengths, starts, alpha = lengths[order], offsets[:-1][order], alpha[order]
    active = np.searchsorted(-lengths, -np.arange(int(lengths[0])), side="left")  # n_t = #(length > t)
    block = np.zeros(active.size + 1, np.int64)
    np.cumsum(active, out=block[1:])
    step = np.repeat(np.arange(active.size), active)
    src = starts[np.arange(block[-1]) - block[step]] + step  # packed row -> row of ``unary``
    packed = unary[src]
    dp = np.empty_like(packed)
    back = np.empty(packed.shape, np.int32)
    cls = np.arange(num_classes)
    prev = np.zeros((int(active[0]), num_classes))
    for t in range(active.size):
        a, b = int(block[t]), int(block[t + 1])
        d = prev[:b - a]
        best = d.argmax(1)
        switch = d[np.arange(b - a), best] - alpha[:b - a]
        stay = (d > switch[:, None]) | ((d == switch[:, None]) & (cls[None, :] <= best[:, None]))
        np.add(packed[a:b], np.where(stay, d, switch[:, None]), out=dp[a:b])
        back[a:b] = np.where(stay, cls[None, :], best[:, None])
        prev = dp[a:b]
    state = np.zeros(num_paths, np.int64)
    out = np.empty(block[-1], np.int64)
    for t in range(active.size - 1, -1, -1):
        a, b = int(block[t]), int(block[t + 1])
        n = b - a
        nxt = int(active[t + 1]) if t + 1 < active.size else 0  # these continue to step t + 1
        if nxt:
            state[:nxt] = back[block[t + 1]:block[t + 1] + nxt][np.arange(nxt), state[:nxt]]
        if n > nxt:
            state[nxt:n] = dp[a + nxt:b].argmax(1)
        out[a:b] = state[:n]
    labels[src] = out
    return labels


def temporal_labels(paths: ActionPaths, alpha: Union[float, Sequence[float]] = ALPHA,
                    offset: float = SCORE_OFFSET) -> np.ndarray:
    """Viterbi labels [T] of every row of ``paths``; ``alpha`` a number or one per class (MATLAB ``alpha(a)``)."""
    num_classes = paths.all_scores.shape[1] - 1
    alpha_arr = np.asarray(alpha, dtype=np.float64)
    per_path = alpha_arr[paths.label] if alpha_arr.ndim else np.full(len(paths), float(alpha_arr))
    return viterbi(paths.all_scores[:, :num_classes] + offset, paths.offsets, per_path)


def _top_mean(values: np.ndarray, group: np.ndarray, num_groups: int, k: int) -> np.ndarray:
    """Per group (ids 0..num_groups-1, ``group`` ascending), the mean of its k largest values, summed in
    descending order."""
    srt = np.lexsort((-values, group))
    g, v = group[srt], values[srt]
    r = rank_in_group(g)
    counts = np.bincount(group, minlength=num_groups)
    k = max(1, min(k, int(counts.max()) if counts.size else 1))
    mat = np.zeros((num_groups, k))
    sel = r < k
    mat[g[sel], r[sel]] = v[sel]
    total = np.zeros(num_groups)
    for j in range(k):
        total = total + mat[:, j]
    return total / np.maximum(np.minimum(counts, k), 1)


def trim_paths(
    paths: ActionPaths,
    video: str = "",
    alpha: Union[float, Sequence[float]] = ALPHA,
    min_num_frames: int = MIN_NUM_FRAMES,
    topk: int = TOP_K,
    kthresh: float = KTHRESH,
    offset: float = SCORE_OFFSET,
) -> List[Tube]:
    """Tubes of one video, in MATLAB order: by the paths' order (class, then path rank), then time."""
    # a path shorter than min_num_frames + 2 cannot hold a tube that is kept
    paths = paths.select(paths.lengths - 1 > min_num_frames)
    if len(paths) == 0:
        return []
    labels = temporal_labels(paths, alpha, offset)
    path_of_row = np.repeat(np.arange(len(paths)), paths.lengths)
    on = labels == paths.label[path_of_row]
    first_row = np.zeros(on.size, bool)
    first_row[paths.offsets[:-1]] = True
    last_row = np.zeros(on.size, bool)
    last_row[paths.offsets[1:] - 1] = True
    starts = np.flatnonzero(on & (first_row | ~np.roll(on, 1)))
    ends = np.flatnonzero(on & (last_row | ~np.roll(on, -1)))
    if starts.size == 0:
        return []
    seg_len = ends - starts + 1
    keep = seg_len - 1 > min_num_frames
    starts, ends, seg_len = starts[keep], ends[keep], seg_len[keep]
    if starts.size == 0:
        return []
    seg = np.repeat(np.arange(starts.size), seg_len)
    rows = np.repeat(starts - np.concatenate([[0], np.cumsum(seg_len)[:-1]]), seg_len) + np.arange(seg_len.sum())
    score = _top_mean(paths.scores[rows], seg, starts.size, topk)
    seg_path = path_of_row[starts]
    frame0 = paths.start[seg_path] + (starts - paths.offsets[seg_path])
    tubes = []
    for i in np.flatnonzero(score > kthresh):
        a, b = int(starts[i]), int(ends[i]) + 1
        tubes.append(Tube(video, int(paths.label[seg_path[i]]), float(score[i]),
                          np.arange(frame0[i], frame0[i] + b - a), paths.boxes[a:b, :4].copy()))
    return tubes
