"""Viterbi temporal labelling and tube cutting/scoring: hand-built cases and the dpEM_max transcription."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from core.tubes import ActionPaths, Candidates, link_video, trim_paths, viterbi

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_tubes", ROOT / "tools" / "bench" / "tubes.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def switch_video(num_frames=28, switch=(13, 16)):
    """One static box; class 0 scores 0.8 except frames switch[0]..switch[1], where class 1 has 0.8."""
    frames = []
    for t in range(1, num_frames + 1):
        v = np.array([[0.1, 0.8, 0.1]]) if switch[0] <= t <= switch[1] else np.array([[0.8, 0.1, 0.1]])
        label = np.array([0, 1])
        frames.append(Candidates(label, np.array([[10.0, 10, 60, 90]] * 2), v[0, :2].copy(),
                                 np.repeat(v, 2, 0), np.zeros(2, np.int64)))
    return frames


def test_label_switch_kept_with_small_alpha_smoothed_with_large():
    paths = link_video(switch_video(), num_classes=2)
    # one path per class, each spanning the 28 frames
    assert sorted(paths.label.tolist()) == [0, 1]
    # switching away and back costs 2 * alpha; staying on class 0 costs 4 * (0.8 - 0.1) = 2.8
    tubes = trim_paths(paths, "v", alpha=1.0)
    assert [(t.label, t.frames[0], t.frames[-1]) for t in tubes] == [(0, 1, 12), (0, 17, 28)]
    assert [t.score for t in tubes] == pytest.approx([0.8, 0.8])
    tubes = trim_paths(paths, "v", alpha=5.0)
    assert [(t.label, t.frames[0], t.frames[-1]) for t in tubes] == [(0, 1, 28)]
    # mean of the top 40 of 24 x 0.8 and 4 x 0.1
    assert tubes[0].score == pytest.approx((24 * 0.8 + 4 * 0.1) / 28)
    # the class-1 segment (4 frames) is too short to be a tube at either alpha


def test_viterbi_two_state_hand_case():
    # frames: class scores; alpha 0.5: the dip at t=2 (0.3 vs 0.6) costs 0.3 < 2 * 0.5 -> stays on 0
    unary = np.array([[1.0, 0.0], [0.3, 0.6], [1.0, 0.0]])
    np.testing.assert_array_equal(viterbi(unary, [0, 3], 0.5), [0, 0, 0])
    np.testing.assert_array_equal(viterbi(unary, [0, 3], 0.1), [0, 1, 0])
    # ties go to the first class, as MATLAB's max
    np.testing.assert_array_equal(viterbi(np.ones((3, 3)), [0, 3], 1.0), [0, 0, 0])


@pytest.mark.parametrize("alpha", [0.0, 0.05, 3.0, 5.0])
def test_batched_viterbi_matches_dpem_max(rng, alpha):
    lengths = rng.integers(1, 30, size=12)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    unary = rng.random((offsets[-1], 5)) + 20
    unary[offsets[3]:offsets[4]] = np.round(unary[offsets[3]:offsets[4]], 1)  # ties
    labels = viterbi(unary, offsets, alpha)
    for i in range(lengths.size):
        a, b = offsets[i], offsets[i + 1]
        np.testing.assert_array_equal(labels[a:b], bench.reference_viterbi(unary[a:b].T, alpha))


def make_paths(scores_list, label=0, start=1):
    lens = [len(s) for s in scores_list]
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    all_scores = np.concatenate(scores_list)
    n = len(scores_list)
    return ActionPaths(np.full(n, label), np.full(n, start), offsets, np.tile([1.0, 2, 30, 40], (offsets[-1], 1)),
                       all_scores[:, label].copy(), all_scores, np.array(lens), np.zeros(n))


def test_minimum_length_is_te_minus_ts_above_8():
    v = np.array([[0.9, 0.05, 0.05]])
    tubes = trim_paths(make_paths([np.repeat(v, 9, 0), np.repeat(v, 10, 0)]), "v")
    assert [len(t) for t in tubes] == [10]
    assert tubes[0].frames.tolist() == list(range(1, 11))


def test_score_is_mean_of_top_40():
    s = np.linspace(0.2, 0.9, 50)
    v = np.stack([s, (1 - s) / 2, (1 - s) / 2], 1)
    tubes = trim_paths(make_paths([v]), "v", alpha=5)
    assert len(tubes) == 1 and len(tubes[0]) == 50
    assert tubes[0].score == pytest.approx(np.sort(s)[-40:].mean())


@pytest.mark.parametrize("seed", [0, 3])
def test_tubes_match_matlab_transcription(seed):
    num_classes = 5
    cands = bench.make_candidates(120, num_classes, 6, seed)
    tubes = trim_paths(link_video(cands, num_classes), "v", alpha=3)
    ref = bench.baseline(cands, num_classes, 3)
    assert len(ref) > 0
    assert bench.tubes_agree(tubes, ref)
