"""AVA frame-mAP@0.5: ActivityNet's ``get_ava_performance.py``, same flags, same numbers, vectorised.

    python -m evaluation.ava -l LABELMAP -g GROUNDTRUTH -d DETECTIONS [-e EXCLUSIONS]
                             [--max_dets_per_frame N] [--version head|2018] [--json OUT]

Reproduced semantics (``--version head``, the default: activitynet/ActivityNet at af461c3, 2020):

- label map of either pbtxt flavour; its ids are a whitelist: rows of other actions are dropped from
  ground truth and detections; the number of classes is the largest id; AP per listed class.
- keyframe key = (video_id, timestamp as a number), so ``0902`` and ``902`` are the same keyframe.
- ground-truth rows with 2 columns (``video_id,timestamp``) declare keyframes without boxes; detections
  on keyframes absent from the ground-truth file are ignored; detections on keyframes in the file but
  without whitelisted boxes are false positives.
- detections: the 8th column is the score (7 columns: 1.0); at most ``N`` (default 50) rows per
  keyframe survive, chosen by the official bounded ``heapq`` (ties at the boundary included); 0 = no cap.
  Detections with x2 <= x1 or y2 <= y1 are dropped after the cap, as the TF evaluator does.
- per (keyframe, class), in decreasing score, each detection takes the ground-truth box of highest IoU
  (no +1; the first such box in the official order); TP if IoU >= 0.5 and the box is still free.
  Equal scores keep the official heap order. Per class, the (score, TP) lists are concatenated in the
  official image order and ranked with numpy's ``argsort()[::-1]``: VOC all-point AP.
- mAP = nanmean over classes with ground truth.

``--version 2018`` reproduces be7854e (April 2018, the version ACAM pins): exclusions honoured, no cap
(default N = 0), detections on keyframes without ground truth are false positives, rows kept in file
order and sorted per (keyframe, class) by ``argsort()[::-1]``.

``-e EXCLUSIONS`` removes those keyframes from ground truth and detections in both versions (the
current official script has no such flag; its ground-truth files mark such keyframes with 2-column
rows instead). Group mAPs (person movement: ids <= 14, object manipulation: 15-63, person
interaction: >= 64) are nanmeans over the listed classes of each group, as mmaction2 reports them.

Bad input (a malformed row, an action id < 1, a non-finite number, x2 < x1, a missing file) stops
with one line naming the file and row, exit code 2.
"""

from __future__ import annotations

import argparse
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import pandas as pd

from core.errors import DataError, cli_errors
from core.formats import ava as ava_format
from core.io import atomic_write_json
from core.metrics import tf_detection_ap
from evaluation.heap import heap_layout, tuple_rank
from evaluation.report import nan_to_none, print_table

VERSIONS = ("head", "2018")
CHUNK_ROWS = 1 << 20


class Rows:
    """Whitelisted csv rows as flat arrays, in file order. key: dense keyframe id (see KeyIndex)."""

    def __init__(self, key, action, score, box):
        self.key = np.asarray(key, np.int64)
        self.action = np.asarray(action, np.int64)
        self.score = np.asarray(score, np.float64)
        self.box = np.asarray(box, np.float64).reshape(-1, 4)  # x1, y1, x2, y2

    def take(self, idx) -> Rows:
        return Rows(self.key[idx], self.action[idx], self.score[idx], self.box[idx])

    def __len__(self) -> int:
        return len(self.key)


def _concat(parts: Sequence[Rows]) -> Rows:
    if not parts:
        return Rows(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, 4)))
    return Rows(np.concatenate([p.key for p in parts]), np.concatenate([p.action for p in parts]),
                np.concatenate([p.score for p in parts]), np.concatenate([p.box for p in parts]))


class _Compact:
    """Rows stored small (int32 key, int16 action) for the rare exact heap replay."""

    def __init__(self, rows: Rows):
        self.key = rows.key.astype(np.int32)
        self.action = rows.action.astype(np.int16)
        self.score = rows.score
        self.box = rows.box

    def take(self, idx) -> Rows:
        return Rows(self.key[idx], self.action[idx], self.score[idx], self.box[idx])

    def __len__(self) -> int:
        return len(self.key)


class KeyIndex:
    """Dense ids for (video_id, timestamp) keyframes, in order of first registration."""

    def __init__(self):
        self._video: Dict[str, int] = {}
        self._ids: Dict[int, int] = {}

    def codes(self, videos: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
        """Packed int64 (video code << 32 | timestamp) per row; registers new videos."""
        videos = np.asarray(videos, dtype=object)
        if len(videos) == 0:
            return np.zeros(0, dtype=np.int64)
        # Rows of one video are usually contiguous: hash only the first row of each run.
        heads = np.r_[0, np.flatnonzero(videos[1:] != videos[:-1]) + 1]
        run_inv, uniq = pd.factorize(videos[heads])
        inv = np.repeat(run_inv, np.diff(np.r_[heads, len(videos)]))
        vcode = np.array([self._video.setdefault(str(v), len(self._video)) for v in uniq], dtype=np.int64)
        return (vcode[inv] << 32) | (np.asarray(timestamps).astype(np.int64) & 0xFFFFFFFF)

    def ids(self, packed: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Dense ids of packed codes [n] (unseen codes get new ids in order of first appearance)
        -> (ids [n], distinct ids [u], position of each distinct id's first row [u])."""
        uniq, first, inv = np.unique(packed, return_index=True, return_inverse=True)
        for c in uniq[np.argsort(first)].tolist():
            if c not in self._ids:
                self._ids[c] = len(self._ids)
        uid = np.array([self._ids[c] for c in uniq.tolist()], dtype=np.int64)
        return uid[inv], uid, first

    def lookup(self, packed: np.ndarray) -> np.ndarray:
        """Dense ids of packed codes, -1 where never registered."""
        uniq, inv = np.unique(packed, return_inverse=True)
        return np.array([self._ids.get(c, -1) for c in uniq.tolist()], dtype=np.int64)[inv]

    def __len__(self) -> int:
        return len(self._ids)


def read_labelmap(path: str) -> Tuple[List[dict], Set[int]]:
    classes = ava_format.read_labelmap(path)
    bad = [c["id"] for c in classes if int(c["id"]) < 1]
    if bad:
        raise DataError(path, f"expected class ids >= 1, got {bad[0]}")
    return classes, {int(c["id"]) for c in classes}


def _whitelisted(action: np.ndarray, whitelist: Set[int]) -> np.ndarray:
    table = np.zeros(max(whitelist) + 2, dtype=bool)
    table[list(whitelist)] = True
    return table[np.clip(action, 0, len(table) - 1)]


def _check_actions(path: str, action: np.ndarray, rows: np.ndarray, has_box: np.ndarray) -> None:
    bad = has_box & (action < 1)
    if bad.any():
        i = int(np.argmax(bad))
        got = action[i] if action[i] >= 0 else "none"
        raise DataError(path, f"expected an action id >= 1, got {got}", f"row {rows[i]}")


def read_ground_truth(path: str, whitelist: Set[int], keys: KeyIndex, excluded: np.ndarray):
    """-> (Rows of whitelisted boxes with dense keys, packed codes of every keyframe listed in the file)."""
    df = ava_format.read_ava_csv(path)
    packed = keys.codes(df["video_id"].to_numpy(), df["timestamp"].to_numpy())
    action = df["action_id"].to_numpy(np.int64)
    has_box = ~np.isnan(df["x1"].to_numpy())
    _check_actions(path, action, df["row"].to_numpy(), has_box)
    listed = ~np.isin(packed, excluded) if len(excluded) else np.ones(len(packed), dtype=bool)
    keep = listed & has_box & _whitelisted(action, whitelist)
    box = df[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)[keep]
    rows = Rows(keys.ids(packed[keep])[0], action[keep], np.ones(int(keep.sum())), box)
    return rows, np.unique(packed[listed])


_FAST_DTYPES = {0: object, 1: np.int64, 2: np.float64, 3: np.float64, 4: np.float64, 5: np.float64,
                6: np.int64, 7: np.float64}


def _fast_chunk(chunk: pd.DataFrame):
    """A chunk read with strict 8-column numeric dtypes -> parsed arrays, or None if anything is off
    (then the chunk is re-read by the validating parser, which names the bad row)."""
    cols = [chunk[c].to_numpy() for c in range(8)]
    x1, y1, x2, y2, score = cols[2], cols[3], cols[4], cols[5], cols[7]
    finite = np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2) & np.isfinite(score)
    if not finite.all() or np.any((x2 < x1) | (y2 < y1)) or np.any(cols[6] < 1):
        return None
    box = np.empty((len(chunk), 4))
    box[:, 0], box[:, 1], box[:, 2], box[:, 3] = x1, y1, x2, y2
    return cols[0], cols[1], box, cols[6], score, np.ones(len(chunk), dtype=bool)


def _parse_chunk(chunk: pd.DataFrame, path: str, first_row: int):
    """Validate one raw csv chunk (columns 0..8 read as found)
    -> (video, timestamp, box [n, 4], action (-1 on 2-column rows), score (NaN if absent), has_box)."""
    rows = np.arange(first_row, first_row + len(chunk), dtype=np.int64)
    present = chunk.notna().to_numpy()
    blank = ~present.any(axis=1)
    if blank.any():
        chunk, rows, present = chunk[~blank], rows[~blank], present[~blank]
    if present.shape[1] > 8 and present[:, 8].any():
        i = int(np.argmax(present[:, 8]))
        raise DataError(path, "expected 2, 7 or 8 columns, got more", f"row {rows[i]}")
    has_box = present[:, 2:7].all(axis=1)
    two_col = ~present[:, 2:8].any(axis=1)
    ok = present[:, 0] & present[:, 1] & (two_col | has_box)
    if not ok.all():
        i = int(np.argmax(~ok))
        raise DataError(path, f"expected 2, 7 or 8 columns, got {int(present[i].sum())}", f"row {rows[i]}")

    def numeric(col: int, name: str) -> np.ndarray:
        raw = chunk[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
        bad = present[:, col] & ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(path, f"expected a finite number for {name}, got {raw.iloc[i]!r}", f"row {rows[i]}")
        return values

    ts = numeric(1, "timestamp")
    if np.any(ts != np.round(ts)):
        i = int(np.argmax(ts != np.round(ts)))
        raise DataError(path, f"expected an integer timestamp, got {chunk[1].iloc[i]!r}", f"row {rows[i]}")
    x1, y1, x2, y2 = (numeric(c, n) for c, n in zip(range(2, 6), ("x1", "y1", "x2", "y2")))
    action = numeric(6, "action_id")
    bad = has_box & (action != np.round(action))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path, f"expected an integer action id, got {chunk[6].iloc[i]!r}", f"row {rows[i]}")
    score = numeric(7, "score")
    with np.errstate(invalid="ignore"):
        inverted = has_box & ((x2 < x1) | (y2 < y1))
    if inverted.any():
        i = int(np.argmax(inverted))
        raise DataError(path, f"expected x1 <= x2 and y1 <= y2, got box {[x1[i], y1[i], x2[i], y2[i]]}", f"row {rows[i]}")
    action_i = np.where(has_box, action, -1).astype(np.int64)
    _check_actions(path, action_i, rows, has_box)
    return chunk[0].to_numpy(), ts.astype(np.int64), np.stack([x1, y1, x2, y2], 1), action_i, score, has_box


def _read_chunks(path: str):
    """Yield parsed chunks of a detection csv: strict fast parse first, the validating one on failure."""
    common = dict(header=None, engine="c", chunksize=CHUNK_ROWS)
    try:
        try:
            first_row = 1
            for chunk in pd.read_csv(path, names=range(8), dtype=_FAST_DTYPES, na_filter=False, **common):
                parsed = _fast_chunk(chunk)
                if parsed is None:
                    raise ValueError("not strict")
                first_row += len(chunk)
                yield parsed
            return
        except (ValueError, pd.errors.ParserError):
            pass
        skip = first_row - 1  # rows already yielded by the fast path
        first_row = 1
        for chunk in pd.read_csv(path, names=range(9), dtype={0: str}, keep_default_na=False, na_values=[""],
                                 skip_blank_lines=False, **common):
            n = len(chunk)
            if first_row + n - 1 > skip:
                if first_row <= skip:
                    chunk = chunk.iloc[skip - first_row + 1:]
                    parsed = _parse_chunk(chunk, path, skip + 1)
                else:
                    parsed = _parse_chunk(chunk, path, first_row)
                yield parsed
            first_row += n
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        m = re.search(r"line (\d+)", str(e))
        raise DataError(path, "expected 2, 7 or 8 comma-separated columns", f"row {m.group(1)}" if m else None) from None


def top_candidates(key: np.ndarray, score: np.ndarray, capacity: int, bins: int = 64) -> np.ndarray:
    """Mask of rows that may be among their key's ``capacity`` best: a superset of the rows with
    fewer than ``capacity`` rows of the same key scoring strictly higher.

    A score histogram per key finds, without sorting, the highest bin where at least ``capacity``
    rows score at or above; rows below that bin have ``capacity`` rows strictly above them.
    """
    n = len(key)
    if capacity <= 0 or n == 0:
        return np.ones(n, dtype=bool)
    uk, kinv = np.unique(key, return_inverse=True)
    lo, hi = float(score.min()), float(score.max())
    if hi <= lo:
        return np.ones(n, dtype=bool)
    b = np.minimum(((score - lo) * (bins / (hi - lo))).astype(np.int64), bins - 1)  # monotone in score
    counts = np.bincount(kinv * bins + b, minlength=len(uk) * bins).reshape(len(uk), bins)
    at_or_above = np.cumsum(np.ascontiguousarray(counts[:, ::-1]), axis=1)[:, ::-1]  # rows in bins >= j
    enough = at_or_above >= capacity
    # highest bin with enough rows at or above it; keys with fewer rows keep everything (bin 0)
    cut = np.where(enough.any(axis=1), bins - 1 - np.argmax(enough[:, ::-1], axis=1), 0)
    return b >= cut[kinv]


class Detections:
    """What the evaluation needs from a detection csv: the rows that can survive the per-keyframe cap
    (file order), each keyframe's first row, and the means to fetch every row of a few keyframes for
    the exact heap replay (kept in memory for keyframes with tied scores, else re-read)."""

    def __init__(self, path, reader_args, candidates: Rows, first_row: np.ndarray, chunks: List[Tuple]):
        self._path = path
        self._reader_args = reader_args
        self.candidates = candidates
        self.first_row = first_row  # [num keys] position of the keyframe's first whitelisted row
        self._chunks = chunks  # per chunk: (keys present, keys retained, retained rows)

    def rows_of(self, keys: np.ndarray) -> Rows:
        """Every whitelisted row of the given keyframes, in file order."""
        keys = np.asarray(keys, np.int64)
        missing = np.zeros(len(keys), dtype=bool)
        for present, retained, _ in self._chunks:
            missing |= np.isin(keys, present) & ~np.isin(keys, retained)
        if missing.any():  # a keyframe spread over chunks: read the file again for those
            out = [part.take(np.flatnonzero(np.isin(part.key, keys)))
                   for part, _, _ in _whitelisted_chunks(self._path, *self._reader_args)]
            return _concat(out)
        return _concat([rows.take(np.flatnonzero(np.isin(rows.key, keys))) for _, _, rows in self._chunks])


def _whitelisted_chunks(path: str, whitelist: Set[int], keys: KeyIndex, excluded: np.ndarray):
    """Yield, per csv chunk, the whitelisted non-excluded rows as Rows (file order) and the distinct
    keys with the position of their first row within the chunk's rows."""
    for video, ts, box, action, score, has_box in _read_chunks(path):
        keep = has_box & _whitelisted(action, whitelist)
        packed = keys.codes(video[keep], ts[keep])
        if len(excluded):
            ok = ~np.isin(packed, excluded)
            keep[np.flatnonzero(keep)[~ok]] = False
            packed = packed[ok]
        sc = score[keep]
        sc = np.where(np.isnan(sc), 1.0, sc)  # 7-column rows score 1.0
        key, uid, first = keys.ids(packed)
        yield Rows(key, action[keep], sc, box[keep]), uid, first


def read_detections(path: str, whitelist: Set[int], keys: KeyIndex, excluded: np.ndarray, capacity: int) -> Detections:
    """Stream a detection csv in chunks; keep the rows that can survive the cap (all when ``capacity``
    is 0), and every row of the keyframes whose candidates tie in score (or that touch a chunk edge)."""
    cand_parts: List[Rows] = []
    chunks: List[Tuple] = []
    seen_keys: List[np.ndarray] = []
    seen_pos: List[np.ndarray] = []
    offset = 0
    for part, uid, first in _whitelisted_chunks(path, whitelist, keys, excluded):
        seen_keys.append(uid)
        seen_pos.append(first + offset)
        offset += len(part)
        cand = part.take(np.flatnonzero(top_candidates(part.key, part.score, capacity)))
        cand_parts.append(cand)
        if capacity > 0 and len(part):
            o = np.lexsort((-cand.score, cand.key))
            k, sc = cand.key[o], cand.score[o]
            tied = k[1:][(k[1:] == k[:-1]) & (sc[1:] == sc[:-1])]
            retained = np.unique(np.r_[tied, part.key[0], part.key[-1]])
            chunks.append((uid, retained, _Compact(part).take(np.flatnonzero(np.isin(part.key, retained)))))
    first_row = np.full(len(keys) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    if seen_keys:
        np.minimum.at(first_row, np.concatenate(seen_keys), np.concatenate(seen_pos))
    cands = _concat(cand_parts)
    if capacity <= 0:  # every row is a candidate
        chunks = [(np.unique(cands.key), np.unique(cands.key), cands)]
    return Detections(path, (whitelist, keys, excluded), cands, first_row, chunks)


def official_order(det: Detections, capacity: int) -> Rows:
    """The rows the official reader keeps, in its per-keyframe order (keyframes by dense id).

    Within a keyframe: decreasing score; equal scores in heap-array order. The heap is replayed
    (:func:`evaluation.heap.heap_layout`) only for keyframes where that order can matter: equal scores
    of one class with different boxes, or equal scores at the capacity boundary. Elsewhere the top
    ``capacity`` rows by score (file order on ties) are exactly what the heap keeps.
    """
    rows = det.candidates
    n = len(rows)
    if n == 0:
        return rows
    order = np.lexsort((-rows.score, rows.key))  # stable: ties in file order
    k_sorted, s_sorted = rows.key[order], rows.score[order]
    seg_start = np.searchsorted(k_sorted, k_sorted, "left")
    local = np.arange(n) - seg_start
    keep = local < capacity if capacity > 0 else np.ones(n, dtype=bool)
    flagged = np.zeros(int(rows.key.max()) + 1, dtype=bool)
    if capacity > 0:
        at_cap = np.flatnonzero(local == capacity)
        tie = s_sorted[at_cap] == s_sorted[at_cap - 1]
        flagged[k_sorted[at_cap[tie]]] = True
    # Equal (score, class) with different boxes among the kept rows: look only inside tie runs.
    kept = order[keep]
    kk, ks = rows.key[kept], rows.score[kept]
    tie_pair = np.flatnonzero((kk[1:] == kk[:-1]) & (ks[1:] == ks[:-1]))
    if len(tie_pair):
        t = kept[np.unique(np.r_[tie_pair, tie_pair + 1])]
        b = rows.box[t]
        sub = np.lexsort((b[:, 3], b[:, 2], b[:, 1], b[:, 0], rows.action[t], rows.score[t], rows.key[t]))
        t, b = t[sub], b[sub]
        same = (rows.key[t][1:] == rows.key[t][:-1]) & (rows.score[t][1:] == rows.score[t][:-1]) & \
               (rows.action[t][1:] == rows.action[t][:-1]) & np.any(b[1:] != b[:-1], axis=1)
        flagged[rows.key[t][1:][same]] = True
    if not flagged.any():
        return rows.take(kept)
    fast = rows.take(kept[~flagged[rows.key[kept]]])
    del order, kept, k_sorted, s_sorted, seg_start, local, keep
    slow = det.rows_of(np.flatnonzero(flagged))
    b = slow.box
    rank = tuple_rank(slow.score, slow.action, b[:, 1], b[:, 0], b[:, 3], b[:, 2])
    survivors, position = heap_layout(slow.key, rank, slow.score, capacity)
    s = np.flatnonzero(survivors)
    slow = slow.take(s[np.lexsort((position[s], -slow.score[s], slow.key[s]))])
    both = _concat([fast, slow])
    return both.take(np.argsort(both.key, kind="stable"))


def order_2018(rows: Rows) -> np.ndarray:
    """be7854e: rows in file order per keyframe; per (keyframe, class) the TF NMS sort
    ``argsort(scores)[::-1]`` (identity on distinct scores up to order; numpy's own sort on ties)."""
    n = len(rows)
    order = np.lexsort((np.arange(n), -rows.score, rows.action, rows.key))
    k, a, s = rows.key[order], rows.action[order], rows.score[order]
    tie = np.flatnonzero((k[1:] == k[:-1]) & (a[1:] == a[:-1]) & (s[1:] == s[:-1]))
    if len(tie):
        groups = np.unique(k[tie] * (1 << 20) + a[tie])
        gid = rows.key * (1 << 20) + rows.action
        g_sorted = gid[order]
        for grp in groups:  # rare: reproduce numpy's tie order for that (keyframe, class)
            lo, hi = np.searchsorted(g_sorted, grp, "left"), np.searchsorted(g_sorted, grp, "right")
            members = np.sort(order[lo:hi])  # file order
            order[lo:hi] = members[rows.score[members].argsort()[::-1]]
    return order


def evaluate(
    labelmap: str,
    groundtruth: str,
    detections: str,
    exclusions: Optional[str] = None,
    max_dets_per_frame: Optional[int] = None,
    version: str = "head",
    iou_threshold: float = 0.5,
) -> dict:
    """Run the evaluation on files -> {"mAP", "per_class": {id: {"name", "ap"}}, "groups": {...}}."""
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}, expected one of {VERSIONS}")
    if max_dets_per_frame is None:
        max_dets_per_frame = 50 if version == "head" else 0
    classes, whitelist = read_labelmap(labelmap)
    num_classes = max(whitelist)
    keys = KeyIndex()
    excluded = np.zeros(0, np.int64)
    if exclusions:
        ex = ava_format.read_exclusions(exclusions)
        if ex:
            vids = np.array([v for v, _ in ex], dtype=object)
            tss = np.array([t for _, t in ex], dtype=np.int64)
            excluded = np.unique(keys.codes(vids, tss))

    gt, gt_codes = read_ground_truth(groundtruth, whitelist, keys, excluded)
    det = read_detections(detections, whitelist, keys, excluded, max_dets_per_frame)

    if version == "head":
        everything = [(np.unique(gt.key), np.unique(gt.key), gt)]
        gt = official_order(Detections(groundtruth, None, gt, np.zeros(0), everything), 0)
        det_s = official_order(det, max_dets_per_frame)
        # Detections count only on keyframes listed in the ground-truth file (any row, even 2-column).
        listed = np.zeros(len(keys) + 1, dtype=bool)
        listed_ids = keys.lookup(gt_codes)
        listed[listed_ids[listed_ids >= 0]] = True
        sel = listed[det_s.key]
    else:
        det_s = det.candidates.take(order_2018(det.candidates))
        sel = det_s.score > -10.0  # the 2018 per-class NMS keeps scores above -10 only
    first_row = det.first_row
    del det
    # Detections with x2 <= x1 or y2 <= y1 are dropped after the cap (TF's _remove_invalid_boxes).
    sel &= (det_s.box[:, 1] < det_s.box[:, 3]) & (det_s.box[:, 0] < det_s.box[:, 2])
    idx = np.flatnonzero(sel)
    # The evaluator adds detection keyframes in order of their first (whitelisted) row in the file;
    # per class, (score, tp) lists are concatenated in that order.
    det_s = det_s.take(idx[np.argsort(first_row[det_s.key[idx]], kind="stable")])
    result = tf_detection_ap(det_s.key, det_s.action - 1, det_s.score, det_s.box,
                             gt.key, gt.action - 1, gt.box, num_classes, iou_threshold)
    return summarise(classes, result.ap)


def summarise(classes: Sequence[dict], ap: np.ndarray) -> dict:
    with np.errstate(invalid="ignore"):
        mean_ap = float(np.nanmean(ap)) if np.any(~np.isnan(ap)) else float("nan")
    per_class = {str(c["id"]): {"name": c["name"], "ap": float(ap[int(c["id"]) - 1])} for c in classes}
    groups = {}
    for g in ava_format.GROUPS:
        vals = np.array([ap[int(c["id"]) - 1] for c in classes if ava_format.action_group(int(c["id"])) == g])
        groups[g] = float(np.nanmean(vals)) if np.any(~np.isnan(vals)) else float("nan")
    return {"mAP": mean_ap, "per_class": per_class, "groups": groups}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m evaluation.ava", description=__doc__.split("\n")[0])
    p.add_argument("-l", "--labelmap", required=True, help="label map pbtxt (item/id or label/label_id flavour)")
    p.add_argument("-g", "--groundtruth", required=True, help="ground-truth csv")
    p.add_argument("-d", "--detections", required=True, help="detections csv (8th column = score)")
    p.add_argument("-e", "--exclusions", default=None, help="csv of video_id,timestamp keyframes to ignore")
    p.add_argument("--max_dets_per_frame", type=int, default=None,
                   help="cap on detection rows per keyframe (default 50 for --version head, 0 = none for 2018)")
    p.add_argument("--version", choices=VERSIONS, default="head", help="official evaluator version to reproduce")
    p.add_argument("--json", default=None, help="write the numbers to this JSON file")
    return p.parse_args(argv)


@cli_errors
def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.max_dets_per_frame is not None and args.max_dets_per_frame < 0:
        raise DataError("--max_dets_per_frame", f"expected a number >= 0, got {args.max_dets_per_frame}")
    res = evaluate(args.labelmap, args.groundtruth, args.detections, args.exclusions,
                   args.max_dets_per_frame, args.version)
    rows = [(cid, v["name"], v["ap"]) for cid, v in res["per_class"].items()]
    rows += [("", g, v) for g, v in res["groups"].items()] + [("", "mAP@0.5", res["mAP"])]
    print_table(("id", "class", "AP"), rows)
    if args.json:
        atomic_write_json(args.json, nan_to_none(res))
    return res


if __name__ == "__main__":
    main()
