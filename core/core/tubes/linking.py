"""Online incremental linking of frame detections into action paths (ROAD, ``incremental_linking.m``).

Per class a, frame by frame (t = 1, 2, ...), with IoU threshold 0.1 and gap 3:

* edge(p, b) = score_a(b) if IoU(last box of live path p, b) >= 0.1 (areas with +1) else 0;
* live paths are visited in their current order; a path with a positive edge takes its best box (first
  on ties), that box is removed for the paths after it, and its miss counter resets; otherwise the
  miss counter grows;
* the paths are re-sorted by the mean of their top ``gap + 1`` = 4 linked scores (stable, descending);
  those that missed ``gap`` = 3 frames in a row die; every box no path took starts a new path;
* at the end, paths with at most ``gap`` linked boxes are dropped, gaps are filled by repeating the
  later box (and its scores) over the missing frames, and the survivors (live first, then dead in the
  order they died) are sorted by the mean of their top 20 frame scores (gap-filled, stable, descending).

:class:`OnlineLinker` holds the state of all classes at once: live paths sit in padded
``[C, P]`` arrays in their visiting order, so one frame is a handful of array operations over
classes x paths x boxes. The greedy choice is sequential over paths only in principle: a path whose
best box no earlier undecided path can reach decides at once, so a frame settles in a few rounds.
:func:`link_video` runs a whole video through the same state machine; feeding frames one at a time
and asking :meth:`OnlineLinker.paths` at any point gives what :func:`link_video` gives on the frames
seen so far.

Micro-tubes (boxes [N, 8]) link the same way: the IoU is taken between the path's last box (the second
box of its last micro-tube) and the first box of the new micro-tube (see :mod:`core.tubes.microtubes`).
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Tuple, Union

import numpy as np

from core.boxes import iou_aligned

from .filtering import dofilter, rank_in_group
from .types import ActionPaths, Candidates

IOU_THRESH = 0.1
GAP = 3
FINAL_TOP_K = 20


def greedy_assign(reach: np.ndarray, box_score: np.ndarray) -> np.ndarray:
    """Greedy box choice in path order, each box used once, vectorised over classes.

    reach [C, K, P] bool: live path p reaches box k (IoU >= threshold); box_score [C, K]: the box's
    score (<= 0: no edge, e.g. an empty slot), the value of every edge to it (``costtype = 'score'`` of ``incremental_linking.m``). Returns
    [C, P] int64: the box each path takes, -1 for none; identical to visiting the paths of each class
    in order, each taking its first maximal remaining edge.

    Every path ranks the boxes the same way (score descending, then index), so visiting the boxes in
    that rank and giving each to the first path that reaches it and has no box yet is the same
    assignment. With at most 53 paths per class the paths reaching a box form an exact bit mask (a
    float64 dot product with powers of two), and one box rank is four integer operations over all
    classes; with more paths, a [C, P] mask per box rank.
    """
    num_classes, num_boxes, num_paths = reach.shape
    assign = np.full((num_classes, num_paths), -1, np.int64)
    if num_boxes == 0 or num_paths == 0:
        return assign
    if np.all(box_score[:, 1:] <= box_score[:, :-1]):  # already in preference order (dofilter's)
        rank = np.broadcast_to(np.arange(num_boxes), box_score.shape)
        reach = reach & (box_score > 0)[:, :, None]
    else:
        rank = np.argsort(-box_score, axis=1, kind="stable")
        rows = np.arange(num_classes)[:, None]
        reach = reach[rows, rank] & (box_score[rows, rank] > 0)[:, :, None]
    if num_paths <= 53:
        masks = (reach.astype(np.float64) @ np.exp2(np.arange(num_paths))).astype(np.uint64)  # [C, K]
        used = np.zeros(num_classes, np.uint64)
        taken = np.empty_like(masks)
        one = np.uint64(1)
        for j in range(num_boxes):
            avail = masks[:, j] & ~used
            low = avail & (~avail + one)  # lowest set bit: the first free path in order
            taken[:, j] = low
            used |= low
        ci, j = np.nonzero(taken)
        path = np.frexp(taken[ci, j].astype(np.float64))[1] - 1  # exact for powers of two
        assign[ci, path] = rank[ci, j]
        return assign
    free = np.ones((num_classes, num_paths), bool)
    for j in range(num_boxes):
        r = reach[:, j] & free  # [C, P]
        ci = np.flatnonzero(r.any(1))
        pi = r[ci].argmax(1)
        assign[ci, pi] = rank[ci, j]
        free[ci, pi] = False
    return assign


def _top_mean_sequential(top: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Mean of the valid leading/trailing entries of ``top`` [..., k], summed column by column in order
    (invalid entries are 0): the same additions, in the same order, as summing the sorted list."""
    total = np.zeros(top.shape[:-1])
    for j in range(top.shape[-1]):
        total = total + top[..., j]
    return total / np.maximum(count, 1)


class _Chunks:
    """Append-only rows kept as a list of arrays; joined into one array on demand (and kept joined)."""

    def __init__(self, dtype, row_shape: Tuple[int, ...] = ()):
        self._parts: List[np.ndarray] = [np.zeros((0,) + row_shape, dtype)]
        self._n = 0

    def extend(self, rows: np.ndarray) -> None:
        self._parts.append(rows)
        self._n += rows.shape[0]

    def view(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0]

    def __len__(self) -> int:
        return self._n


class OnlineLinker:
    """Links one video's frames as they arrive, for all classes at once.

    ``update(boxes, scores)`` takes a frame's detections (boxes [N, 4] pixels, scores [N, C + 1] with the
    background last) and applies :func:`~core.tubes.filtering.dofilter`; ``update_candidates`` takes
    already filtered (or fused) :class:`Candidates`. ``paths()`` returns the action paths as if the
    video ended now (the state is untouched); ``finish()`` is the same.
    """

    def __init__(self, num_classes: int, iou_thresh: float = IOU_THRESH, gap: int = GAP,
                 final_top_k: int = FINAL_TOP_K, **filter_kwargs):
        self.num_classes = int(num_classes)
        self.iou_thresh = float(iou_thresh)
        self.gap = int(gap)
        self.final_top_k = int(final_top_k)
        self.filter_kwargs = filter_kwargs
        self.num_frames = 0
        self.box_dim: Optional[int] = None
        c = self.num_classes
        self._count = np.zeros(c, np.int64)  # live paths per class, in visiting order along axis 1
        # per live path: last box (4) then its top gap+1 linked scores, ascending, 0-padded in front
        self._f = np.zeros((c, 0, 4 + self.gap + 1))
        self._i = np.zeros((c, 0, 3), np.int64)  # path id, consecutive misses, linked detections
        self._num_paths = 0
        self._path_class = _Chunks(np.int64)
        self._dead = _Chunks(np.int64)  # path ids in the order they died
        self._log_pid = _Chunks(np.int64)  # every link: path id, candidate row, frame (chronological)
        self._log_det = _Chunks(np.int64)
        self._log_frame = _Chunks(np.int64)
        self._boxes: Optional[_Chunks] = None  # all candidates seen, rows referenced by the log
        self._score = _Chunks(np.float64)
        self._all = _Chunks(np.float64, (c + 1,))

    # ------------------------------------------------------------------ input
    def update(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        """Add one frame of raw detections: boxes [N, 4k] pixels, scores [N, C + 1] (background last)."""
        scores = np.asarray(scores)
        if scores.ndim != 2 or scores.shape[1] != self.num_classes + 1:
            raise ValueError(f"OnlineLinker.update: expected scores [N, {self.num_classes + 1}], got {scores.shape}")
        self.update_candidates(dofilter(boxes, scores, **self.filter_kwargs))

    def update_candidates(self, cand: Candidates) -> None:
        """Add one frame of candidates: per class, boxes in the order new paths are started (the order
        ``dofilter`` gives: score descending). Any class order is accepted."""
        c, gap = self.num_classes, self.gap
        if self.box_dim is None:
            self.box_dim = int(cand.boxes.shape[1])
            self._boxes = _Chunks(np.float64, (self.box_dim,))
        elif cand.boxes.shape[1] != self.box_dim:
            raise ValueError(f"OnlineLinker: boxes of width {cand.boxes.shape[1]}, earlier frames had {self.box_dim}")
        if cand.all_scores.shape[1] != c + 1:
            raise ValueError(f"OnlineLinker: expected score vectors of {c + 1}, got {cand.all_scores.shape[1]}")
        label = cand.label
        k = label.shape[0]
        if k and np.any(label[1:] < label[:-1]):
            order = np.argsort(label, kind="stable")
            cand = Candidates(*(x[order] for x in cand))
            label = cand.label
        self.num_frames += 1
        frame = self.num_frames
        base = len(self._score)
        self._boxes.extend(np.array(cand.boxes, np.float64))  # copies: the caller may reuse its arrays
        self._score.extend(np.array(cand.score, np.float64))
        self._all.extend(np.array(cand.all_scores, np.float64))
        counts = np.bincount(label, minlength=c)
        rank = np.arange(k) - (np.cumsum(counts) - counts)[label]
        kmax = int(counts.max()) if k else 0

        p = int(self._count.max()) if c else 0
        live = np.arange(p)[None, :] < self._count[:, None]
        f, st = self._f[:, :p], self._i[:, :p]
        used = np.zeros(k, bool)
        if p and k:
            first = np.zeros((c, kmax, 4))
            first[label, rank] = cand.boxes[:, :4]
            sc = np.zeros((c, kmax))  # 0 marks an empty slot: real candidates have scores > 0
            sc[label, rank] = cand.score
            iou = iou_aligned(first[:, :, None, :], f[:, None, :, :4], inclusive=True)  # [C, K, P]
            reach = (iou >= self.iou_thresh) & live[:, None, :]
            assign = greedy_assign(reach, sc)
            found = assign >= 0
        else:
            found = np.zeros((c, p), bool)
        if found.any():
            ci, pi = np.nonzero(found)
            slot_start = np.cumsum(counts) - counts
            d = slot_start[ci] + assign[ci, pi]
            used[d] = True
            rows = f[ci, pi]
            rows[:, :4] = cand.boxes[d, -4:]
            rows[:, 4:] = np.sort(np.concatenate([rows[:, 4:], cand.score[d, None]], 1), axis=1)[:, 1:]
            f[ci, pi] = rows
            st[ci, pi, 2] += 1
            self._log(st[ci, pi, 0], base + d, frame)
        st[:, :, 1] = np.where(found, 0, st[:, :, 1] + live)

        if p:
            order_score = _top_mean_sequential(f[:, :, 4:], np.minimum(st[:, :, 2], gap + 1))
            dying = live & (st[:, :, 1] >= gap)
            group = np.where(live, dying.astype(np.int64), 2)  # survivors, then the dying, then empty slots
            perm = np.lexsort((-order_score, group), axis=-1)
            rows = np.arange(c)[:, None]
            f[:] = f[rows, perm]
            st[:] = st[rows, perm]
            survivors = live.sum(1) - dying.sum(1)
            if dying.any():
                pos = np.arange(p)[None, :]
                self._dead.extend(st[:, :, 0][(pos >= survivors[:, None]) & (pos < live.sum(1)[:, None])])
            self._count = survivors

        fresh = np.flatnonzero(~used)
        if fresh.size:
            lab = label[fresh]
            new_counts = np.bincount(lab, minlength=c)
            pos = self._count[lab] + np.arange(fresh.size) - (np.cumsum(new_counts) - new_counts)[lab]
            self._grow(int(pos.max()) + 1)
            pids = self._num_paths + np.arange(fresh.size)
            self._num_paths += fresh.size
            self._path_class.extend(lab)
            new_f = np.zeros((fresh.size, 4 + gap + 1))
            new_f[:, :4] = cand.boxes[fresh, -4:]
            new_f[:, -1] = cand.score[fresh]
            self._f[lab, pos] = new_f
            self._i[lab, pos] = np.stack([pids, np.zeros_like(pids), np.ones_like(pids)], 1)
            self._count += new_counts
            self._log(pids, base + fresh, frame)

    def _log(self, pids: np.ndarray, rows: np.ndarray, frame: int) -> None:
        self._log_pid.extend(pids)
        self._log_det.extend(rows)
        self._log_frame.extend(np.full(pids.shape[0], frame, np.int64))

    def _grow(self, need: int) -> None:
        cap = self._f.shape[1]
        if need <= cap:
            return
        extra = max(need, 2 * cap, 8) - cap
        c = self.num_classes
        self._f = np.concatenate([self._f, np.zeros((c, extra, self._f.shape[2]))], 1)
        self._i = np.concatenate([self._i, np.zeros((c, extra, 3), np.int64)], 1)

    # ------------------------------------------------------------------ output
    def paths(self) -> ActionPaths:
        """The action paths of the frames seen so far (live and dead), gap-filled and sorted."""
        c, gap = self.num_classes, self.gap
        box_dim = self.box_dim or 4
        npaths = self._num_paths
        if npaths == 0:
            return ActionPaths.empty(c, box_dim)
        pid, det, frame = self._log_pid.view(), self._log_det.view(), self._log_frame.view()
        boxes, score, all_scores = self._boxes.view(), self._score.view(), self._all.view()
        path_class = self._path_class.view()

        order = np.argsort(pid, kind="stable")  # the log is chronological: frames stay increasing
        pid, det, frame = pid[order], det[order], frame[order]
        nfound = np.bincount(pid, minlength=npaths)
        keep = nfound[pid] > gap
        pid, det, frame = pid[keep], det[keep], frame[keep]
        if pid.size == 0:
            return ActionPaths.empty(c, box_dim)
        first = np.ones(pid.size, bool)
        first[1:] = pid[1:] != pid[:-1]
        mult = np.where(first, 1, frame - np.roll(frame, 1))
        dense_pid = np.repeat(pid, mult)
        dense_det = np.repeat(det, mult)
        kept = pid[first]  # ascending path ids
        start = frame[first]
        lengths = np.bincount(dense_pid, minlength=npaths)[kept]
        path_score = np.bincount(pid, weights=score[det], minlength=npaths)[kept]

        # final order: class, then mean of the top 20 gap-filled scores (stable), base order live-then-dead
        dscore = score[dense_det]
        local = np.repeat(np.arange(kept.size), lengths)
        srt = np.lexsort((-dscore, local))
        r = rank_in_group(local[srt])
        topk = min(self.final_top_k, int(lengths.max()))
        mat = np.zeros((kept.size, topk))
        sel = r < topk
        mat[local[srt][sel], r[sel]] = dscore[srt][sel]
        final_score = _top_mean_sequential(mat, np.minimum(lengths, self.final_top_k))

        stage = np.full(npaths, 2, np.int64)
        pos = np.zeros(npaths, np.int64)
        live_mask = np.arange(self._f.shape[1])[None, :] < self._count[:, None]
        live_pids = self._i[:, :, 0][live_mask]
        stage[live_pids] = 0
        pos[live_pids] = np.nonzero(live_mask)[1]
        dead = self._dead.view()
        if dead.size:
            stage[dead] = 1
            pos[dead] = np.arange(dead.size)
        cls = path_class[kept]
        base_order = np.lexsort((pos[kept], stage[kept], cls))
        by_score = base_order[np.argsort(-final_score[base_order], kind="stable")]
        final = by_score[np.argsort(cls[by_score], kind="stable")]

        lens = lengths[final]
        offsets = np.zeros(final.size + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        src_start = (np.cumsum(lengths) - lengths)[final]
        gather = np.repeat(src_start - offsets[:-1], lens) + np.arange(offsets[-1])
        rows = dense_det[gather]
        return ActionPaths(
            label=cls[final],
            start=start[final],
            offsets=offsets,
            boxes=boxes[rows],
            scores=score[rows],
            all_scores=all_scores[rows],
            num_found=nfound[kept][final],
            path_score=path_score[final],
        )

    def finish(self) -> ActionPaths:
        return self.paths()


FrameInput = Union[Candidates, Tuple[np.ndarray, np.ndarray]]


def link_video(frames: Iterable[FrameInput], num_classes: int, iou_thresh: float = IOU_THRESH,
               gap: int = GAP, final_top_k: int = FINAL_TOP_K, **filter_kwargs) -> ActionPaths:
    """Link a whole video: ``frames`` yields per frame either :class:`Candidates` or ``(boxes, scores)``
    raw detections (filtered with ``dofilter``). Same result as feeding an :class:`OnlineLinker`."""
    linker = OnlineLinker(num_classes, iou_thresh, gap, final_top_k, **filter_kwargs)
    for f in frames:
        if isinstance(f, Candidates):
            linker.update_candidates(f)
        else:
            linker.update(*f)
    return linker.finish()
