"""Top-k video aggregation, the ActivityNet json, fusion and the video metrics, on hand-worked cases."""

import json

import numpy as np
import pytest

from kinetics2stream.aggregate import (
    activitynet_json,
    frame_topk,
    fuse,
    fuse_frames,
    group_by_video,
    softmax,
    topk_class_scores,
    video_probabilities,
)
from kinetics2stream.engine import video_metrics


def test_topk_class_scores_hand_case():
    logits = np.array([[1.0, 5.0, -1.0],
                       [3.0, 2.0, -4.0],
                       [2.0, 4.0, -2.0],
                       [0.0, -3.0, 6.0]])
    # k = 2: class 0 -> (3 + 2) / 2, class 1 -> (5 + 4) / 2, class 2 -> (6 - 1) / 2
    assert topk_class_scores(logits, 2).tolist() == [2.5, 4.5, 2.5]
    assert topk_class_scores(logits, 1).tolist() == [3.0, 5.0, 6.0]
    # k larger than the number of frames: the mean of all frames
    assert np.allclose(topk_class_scores(logits, 10), [1.5, 2.0, -0.25])


def test_slow_reference_matches_on_random_videos(rng):
    for n, k in [(7, 3), (80, 30), (5, 50)]:
        x = rng.normal(size=(n, 11))
        ref = [np.mean(sorted(x[:, c], reverse=True)[:min(k, n)]) for c in range(11)]
        assert np.allclose(topk_class_scores(x, k), ref)


def test_group_by_video_sorts_by_frame():
    logits = np.arange(10, dtype=np.float32).reshape(5, 2)
    g = group_by_video(logits, np.array([1, 0, 1, 0, 1]), np.array([9, 5, 3, 1, 7]), ["va", "vb"])
    assert g["va"]["fids"].tolist() == [1, 5] and g["va"]["scores"].tolist() == [[6, 7], [2, 3]]
    assert g["vb"]["fids"].tolist() == [3, 7, 9] and g["vb"]["count"] == 3
    assert g["vb"]["scores"][:, 0].tolist() == [4, 8, 0]


def test_activitynet_json_top5_normalised_and_placeholder():
    idx = {0: "a", 1: "b", 2: "c", 3: "d", 4: "e", 5: "f"}
    p = np.array([0.05, 0.30, 0.10, 0.25, 0.2, 0.1])
    db = {"v1": {"subset": "val"}, "v2": {"subset": "val"}, "t": {"subset": "train"}}
    out = activitynet_json({"v1": p}, db, idx, "val")
    assert out["version"] == "KINETICS VERSION 1.0" and set(out["results"]) == {"v1", "v2"}
    r = out["results"]["v1"]
    assert [x["label"] for x in r] == ["b", "d", "e", "c", "f"]  # ties (c, f) keep class order
    assert np.allclose([x["score"] for x in r], np.array([0.30, 0.25, 0.2, 0.1, 0.1]) / 0.95)
    assert out["results"]["v2"] == [{"label": "c", "score": 1e-7}]  # the original's placeholder


def test_video_probabilities_keep_order_of_negative_logits():
    # every aggregated logit negative: the original's division by the (negative) top-5 sum would
    # reverse the ranking; probabilities keep it
    scores = {"v": {"scores": np.array([[-1.0, -3.0, -2.0, -6.0, -5.0, -4.0]]), "fids": np.array([1]), "count": 1}}
    probs = video_probabilities(scores, 10)["v"]
    out = activitynet_json({"v": probs}, {"v": {"subset": "val"}}, dict(enumerate("abcdef")), "val")
    r = out["results"]["v"]
    assert [x["label"] for x in r] == ["a", "c", "b", "f", "e"]
    assert all(r[i]["score"] > r[i + 1]["score"] for i in range(4))


def test_fuse_weighted_sum():
    rgb = {"v": np.array([0.6, 0.4]), "w": np.array([0.5, 0.5])}
    flow = {"v": np.array([0.2, 0.8]), "x": np.array([1.0, 0.0])}
    out = fuse(rgb, flow, 0.25)
    assert list(out) == ["v"] and np.allclose(out["v"], [0.25 * 0.6 + 0.75 * 0.2, 0.25 * 0.4 + 0.75 * 0.8])


def test_fuse_frames_on_common_frames():
    rgb = {"v": {"scores": np.array([[0.0, 0.0], [2.0, 0.0]]), "fids": np.array([1, 3]), "count": 2}}
    flow = {"v": {"scores": np.array([[0.0, np.log(3.0)], [1.0, 1.0]]), "fids": np.array([3, 5]), "count": 2}}
    out = fuse_frames(rgb, flow, 0.5)["v"]
    assert out["fids"].tolist() == [3] and out["count"] == 1
    p_rgb = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
    expected = 0.5 * p_rgb + 0.5 * np.array([0.25, 0.75])
    assert np.allclose(np.exp(out["scores"][0]), expected, atol=1e-6)
    assert np.allclose(softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])


def test_frame_topk():
    s = {"v": {"scores": np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]]), "fids": np.array([1, 2]), "count": 2},
         "w": {"scores": np.array([[0.0, 2.0, 1.0]]), "fids": np.array([1]), "count": 1}}
    # v (label 2): frame 1 ranks class 2 third (top-3 hit only), frame 2 first; w (label 1): first
    r = frame_topk(s, {"v": 2, "w": 1}, (1, 2, 3))
    assert r[1] == pytest.approx(200 / 3) and r[2] == pytest.approx(200 / 3) and r[3] == pytest.approx(100.0)


def test_video_metrics_hand_case(tmp_path):
    annots = {"classes": {"a": 0, "b": 1, "c": 2},
              "database": {"v1": {"label": "a", "cls": 0, "subset": "val"},
                           "v2": {"label": "b", "cls": 1, "subset": "val"},
                           "v3": {"label": "c", "cls": 2, "subset": "val"},
                           "v4": {"label": "a", "cls": 0, "subset": "val"},
                           "t1": {"label": "b", "cls": 1, "subset": "train"}}}
    preds = {"results": {
        "v1": [{"label": "a", "score": 0.9}, {"label": "b", "score": 0.1}],
        "v2": [{"label": "a", "score": 0.6}, {"label": "b", "score": 0.4}],
        "v3": [{"label": "c", "score": 0.8}, {"label": "a", "score": 0.2}],
        # v4 has no prediction: counts as a miss
    }}
    (tmp_path / "gt.json").write_text(json.dumps(annots))
    (tmp_path / "p.json").write_text(json.dumps(preds))
    m = video_metrics(tmp_path / "gt.json", tmp_path / "p.json")
    assert m["hit@1"] == pytest.approx(0.5) and m["hit@5"] == pytest.approx(0.75)
    assert m["mean"] == pytest.approx(0.625) and m["mean_error"] == pytest.approx(0.375)
    # AP a: ranked v1 (TP), v2 (FP), v3 (FP); 2 GT -> precision 1 at recall 0.5, never reaches 1 -> 0.5
    # AP b: v2 0.4 (TP), v1 0.1 (FP) -> 1.0; AP c: v3 (TP) -> 1.0
    assert m["mAP"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
