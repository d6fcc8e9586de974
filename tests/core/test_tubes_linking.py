"""Online incremental linking: hand-built cases with known answers, online == offline, and agreement
with a literal per-path transcription of incremental_linking.m (tools/bench/tubes.py)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from core.tubes import Candidates, OnlineLinker, filtering, greedy_assign, link_video

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_tubes", ROOT / "tools" / "bench" / "tubes.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench = _bench()


def one_class_frame(boxes, scores):
    """Candidates of a 1-class problem: boxes [n, 4], class scores [n] -> vectors [s, 1 - s]."""
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    s = np.asarray(scores, float).reshape(-1)
    return Candidates(np.zeros(len(s), np.int64), boxes, s, np.stack([s, 1 - s], 1), np.arange(len(s)))


def track(frames_present, box=(10, 10, 50, 80), score=0.9, num_frames=None):
    num_frames = num_frames or max(frames_present)
    out = []
    for t in range(1, num_frames + 1):
        out.append(one_class_frame([box], [score]) if t in frames_present else one_class_frame([], []))
    return out


def test_gap_of_two_frames_is_bridged_and_filled_with_the_later_box():
    frames = track({1, 2, 3, 4, 7, 8, 9, 10})
    # the box after the gap differs, so the filling is visible
    frames[6] = one_class_frame([[12, 10, 52, 80]], [0.5])
    paths = link_video(frames, num_classes=1)
    assert len(paths) == 1
    p = paths.path(0)
    np.testing.assert_array_equal(p["frames"], np.arange(1, 11))
    assert p["num_found"] == 8
    # frames 5 and 6 repeat frame 7's box and score (MATLAB fill_gaps)
    np.testing.assert_array_equal(p["boxes"][4:7], [[12, 10, 52, 80]] * 3)
    np.testing.assert_allclose(p["scores"], [0.9] * 4 + [0.5] * 3 + [0.9] * 3)
    assert p["path_score"] == pytest.approx(0.9 * 7 + 0.5)


def test_gap_of_three_frames_ends_the_path():
    paths = link_video(track({1, 2, 3, 4, 8, 9, 10, 11}), num_classes=1)
    spans = sorted((int(s), int(e)) for s, e in zip(paths.start, paths.end))
    assert spans == [(1, 4), (8, 11)]


def test_paths_with_three_detections_are_dropped_four_kept():
    paths = link_video(track({1, 2, 3}, num_frames=8), num_classes=1)
    assert len(paths) == 0
    paths = link_video(track({1, 2, 3, 4}, num_frames=8), num_classes=1)
    assert len(paths) == 1


def _overtake_video(a_late_score):
    """Path A (left) starts weaker than path B (right); from frame 5 A scores ``a_late_score``. At frame
    9 one box overlaps both (IoU 55/187 with each, +1 areas) and goes to whichever path is first."""
    a_box, b_box, mid = [0, 0, 10, 10], [12, 0, 22, 10], [6, 0, 16, 10]
    frames = []
    for t in range(1, 9):
        a = 0.3 if t <= 4 else a_late_score
        b = 0.6 if t <= 4 else 0.5
        frames.append(one_class_frame([b_box, a_box], [b, a]) if b >= a else one_class_frame([a_box, b_box], [a, b]))
    frames.append(one_class_frame([mid], [0.7]))
    frames += [one_class_frame([], [])] * 3
    return frames


@pytest.mark.parametrize("a_late, winner", [(0.95, "A"), (0.3, "B")])
def test_path_overtaken_in_order_loses_the_shared_box(a_late, winner):
    # with 0.95: after frame 6, mean top-4 of A = (0.3 + 0.3 + 0.95 + 0.95) / 4 = 0.625 > B's 0.6
    paths = link_video(_overtake_video(a_late), num_classes=1)
    assert len(paths) == 2
    owner = [i for i in range(len(paths)) if paths.end[i] == 9]
    assert len(owner) == 1
    first_box = paths.path(owner[0])["boxes"][0]
    assert (first_box[0] == 0) == (winner == "A")
    np.testing.assert_array_equal(paths.path(owner[0])["boxes"][-1], [6, 0, 16, 10])


def test_final_order_is_mean_of_top_20_scores():
    frames = []
    for t in range(1, 31):
        # path X: 25 frames at 0.5; path Y: 10 frames at 0.6 then 20 at 0.2 -> top-20 mean 0.4 < 0.5
        y = 0.6 if t <= 10 else 0.2
        frames.append(one_class_frame([[0, 0, 10, 10], [100, 100, 120, 130]], [0.5, y]) if 0.5 >= y else
                      one_class_frame([[100, 100, 120, 130], [0, 0, 10, 10]], [y, 0.5]))
    paths = link_video(frames, num_classes=1)
    assert len(paths) == 2
    assert paths.path(0)["boxes"][0][0] == 0  # X first


def brute_force_greedy(reach, score):
    c, k, p = reach.shape
    out = np.full((c, p), -1)
    for ci in range(c):
        taken = set()
        for pi in range(p):
            edges = [score[ci, b] if reach[ci, b, pi] and b not in taken else 0.0 for b in range(k)]
            if sum(edges) > 0:
                b = int(np.argmax(edges))
                out[ci, pi] = b
                taken.add(b)
    return out


@pytest.mark.parametrize("num_paths", [5, 40, 70])  # 70 > 53 takes the mask-per-rank branch
def test_greedy_assign_matches_visiting_paths_in_order(rng, num_paths):
    for _ in range(20):
        reach = rng.random((6, 10, num_paths)) < 0.3
        score = np.round(rng.random((6, 10)), 1)  # ties on purpose
        score[:, -2:] = 0.0  # empty slots
        reach[:, -2:] = False
        np.testing.assert_array_equal(greedy_assign(reach, score), brute_force_greedy(reach, score))


def _to_reference_frames(cands, num_classes):
    per_class = []
    for a in range(num_classes):
        frames = []
        for c in cands:
            sel = c.label == a
            frames.append({"boxes": c.boxes[sel], "scores": c.score[sel], "allScores": c.all_scores[sel]})
        per_class.append(bench.reference_link(frames))
    return per_class


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_matlab_transcription(seed):
    num_classes = 4
    cands = bench.make_candidates(60, num_classes, 6, seed)
    paths = link_video(cands, num_classes)
    ref = _to_reference_frames(cands, num_classes)
    assert len(paths) == sum(len(r) for r in ref)
    i = 0
    for a, ref_paths in enumerate(ref):
        for rp in ref_paths:
            p = paths.path(i)
            assert p["label"] == a
            assert p["frames"][0] == rp["start"]
            np.testing.assert_array_equal(p["boxes"], rp["boxes"])
            np.testing.assert_array_equal(p["scores"], rp["scores"])
            np.testing.assert_array_equal(p["all_scores"], rp["allScores"])
            i += 1


def test_online_snapshots_equal_offline_on_the_frames_so_far():
    num_classes = 3
    cands = bench.make_candidates(50, num_classes, 5, 7)
    online = OnlineLinker(num_classes)
    for t, c in enumerate(cands, start=1):
        online.update_candidates(c)
        if t in (10, 27, 50):
            snap = online.paths()
            off = link_video(cands[:t], num_classes)
            for field in ("label", "start", "offsets", "boxes", "scores", "all_scores", "num_found", "path_score"):
                np.testing.assert_array_equal(getattr(snap, field), getattr(off, field))
    assert online.num_frames == 50


def test_raw_detections_are_filtered_per_frame(rng):
    # raw detections (not candidates) go through dofilter: online update == link_video on (boxes, scores)
    num_classes = 3
    frames = []
    for _ in range(30):
        n = 40
        xy = rng.uniform(0, 200, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(20, 60, (n, 2))], 1)
        s = rng.dirichlet(np.ones(num_classes + 1), n)
        frames.append((boxes, s))
    online = OnlineLinker(num_classes)
    for f in frames:
        online.update(*f)
    a, b = online.finish(), link_video(frames, num_classes)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert len(a) > 0


def test_empty_video_and_empty_frames():
    assert len(link_video([], 2)) == 0
    frames = [Candidates.empty(2)] * 5
    assert len(link_video(frames, 2)) == 0


def test_equal_scores_keep_live_paths_before_dead_ones_then_death_order():
    # A: frames 1-5 (dies at frame 8), C: frames 3-9 far away (dies at 12), B: frames 11-14 (alive at
    # the end). All score 0.5, so the top-20 means tie and MATLAB's stable sort keeps live, dead-by-death.
    a, b, c = [0, 0, 10, 10], [100, 100, 110, 110], [200, 0, 210, 10]
    frames = []
    for t in range(1, 15):
        boxes = [box for box, span in ((a, range(1, 6)), (c, range(3, 10)), (b, range(11, 15))) if t in span]
        frames.append(one_class_frame(boxes, [0.5] * len(boxes)))
    paths = link_video(frames, num_classes=1)
    assert [int(s) for s in paths.start] == [11, 1, 3]


def _slow_microtube_dofilter(boxes, scores, thresh=0.001, top_k=50, nms=0.45, keep=10):
    """Per-class loop: stable sort by score, top_k, greedy NMS on the mean of the two frames' IoUs."""

    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    out = []
    for c in range(scores.shape[1] - 1):
        cand = sorted((i for i in range(len(boxes)) if scores[i, c] > thresh), key=lambda i: -scores[i, c])[:top_k]
        kept = []
        for i in cand:
            if all((iou(boxes[i, :4], boxes[j, :4]) + iou(boxes[i, 4:], boxes[j, 4:])) / 2 <= nms for j in kept):
                kept.append(i)
        out += [(c, i) for i in kept[:keep]]
    return out


def test_microtube_dofilter_equals_a_per_class_loop_with_ties_beyond_top_k():
    rng = np.random.default_rng(5)
    for _ in range(6):
        n, c = 120, 3
        scores = np.round(rng.random((n, c + 1)), 1)  # many ties, also at the top_k-th score
        boxes = rng.random((n, 8)) * 50
        boxes[:, 2:4] += boxes[:, :2] + 5
        boxes[:, 6:8] += boxes[:, 4:6] + 5
        got = filtering.dofilter(boxes, scores, top_k=20)
        assert list(zip(got.label.tolist(), got.index.tolist())) == _slow_microtube_dofilter(boxes, scores, top_k=20)
