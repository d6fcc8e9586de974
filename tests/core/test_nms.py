import numpy as np
import torch

from core import boxes
from core.nms import classwise_nms, classwise_nms_flat


def greedy_nms_reference(bx, sc, thresh, iou_thresh, top_k, keep_top_k=None, inclusive=False):
    """The per-class Python loop of ssd.pytorch / realtime-action-detection, written plainly."""
    keeps = []
    for c in range(sc.shape[1]):
        cand = [i for i in range(len(bx)) if sc[i, c] > thresh]
        cand.sort(key=lambda i: -sc[i, c])
        cand = cand[:top_k]
        kept = []
        while cand:
            i = cand.pop(0)
            kept.append(i)
            cand = [j for j in cand if boxes.iou(bx[i:i + 1], bx[j:j + 1], inclusive)[0, 0] <= iou_thresh]
        keeps.append(kept[:keep_top_k] if keep_top_k is not None else kept)
    return keeps


def _ssd_like(rng, n=8732, c=25):
    cxcy = rng.uniform(0, 1, size=(n, 2))
    wh = rng.uniform(0.02, 0.5, size=(n, 2))
    bx = np.hstack([cxcy - wh / 2, cxcy + wh / 2])
    logits = rng.normal(size=(n, c)) * 2
    sc = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return bx, sc


def test_equals_slow_greedy_reference_on_ssd_shaped_input():
    rng = np.random.default_rng(1)
    bx, sc = _ssd_like(rng)
    sc = sc[:, 1:]  # drop background as the detectors do
    got = classwise_nms(torch.from_numpy(bx), torch.from_numpy(sc), 0.3, 0.45, top_k=60, keep_top_k=20)
    ref = greedy_nms_reference(bx, sc, 0.3, 0.45, 60, 20)
    assert sum(len(r) for r in ref) > 100
    assert [g.tolist() for g in got] == ref


def test_inclusive_reference_small():
    rng = np.random.default_rng(2)
    bx = np.floor(_ssd_like(rng, 300, 4)[0] * 50)
    sc = rng.uniform(size=(300, 4))
    got = classwise_nms(bx, sc, 0.5, 0.3, top_k=40, inclusive=True)
    assert [g.tolist() for g in got] == greedy_nms_reference(bx, sc, 0.5, 0.3, 40, inclusive=True)


def test_threshold_is_strict_suppression():
    # IoU of these two is exactly 0.5: kept at iou_thresh 0.5 (suppress only IoU > thr), suppressed at 0.49
    bx = np.array([[0, 0, 4, 1], [0, 0, 2, 1]], float)
    sc = np.array([[0.9], [0.8]])
    assert classwise_nms(bx, sc, 0.0, 0.5)[0].tolist() == [0, 1]
    assert classwise_nms(bx, sc, 0.0, 0.49)[0].tolist() == [0]
    # score threshold is strict too
    assert classwise_nms(bx, sc, 0.8, 0.5)[0].tolist() == [0]


def test_empty_inputs_give_empty_outputs():
    out = classwise_nms(torch.zeros(0, 4), torch.zeros(0, 3))
    assert len(out) == 3 and all(o.numel() == 0 for o in out)
    det = classwise_nms_flat(np.zeros((5, 4)), np.zeros((5, 2)), score_thresh=0.5)
    assert det.box_index.numel() == det.label.numel() == det.score.numel() == 0


def test_flat_output_sorted_by_class_then_score():
    rng = np.random.default_rng(3)
    bx, sc = _ssd_like(rng, 500, 5)
    det = classwise_nms_flat(bx, sc, 0.05, 0.45, top_k=50)
    lab, s = det.label.numpy(), det.score.numpy()
    assert np.all(np.diff(lab) >= 0)
    for c in np.unique(lab):
        assert np.all(np.diff(s[lab == c]) <= 0)
    np.testing.assert_allclose(s, sc[det.box_index.numpy(), lab])


def test_large_input_path_equals_reference(monkeypatch):
    # when [C, k, k] would be too large the batched_nms path takes over; it must agree too
    import core.nms as nms_mod

    monkeypatch.setattr(nms_mod, "_DENSE_LIMIT", 0)
    rng = np.random.default_rng(4)
    bx, sc = _ssd_like(rng, 600, 6)
    got = nms_mod.classwise_nms(bx, sc, 0.1, 0.45, top_k=None, keep_top_k=15)
    assert [g.tolist() for g in got] == greedy_nms_reference(bx, sc, 0.1, 0.45, None, 15)
    got = nms_mod.classwise_nms(np.floor(bx * 40), sc, 0.1, 0.3, top_k=30, inclusive=True)
    assert [g.tolist() for g in got] == greedy_nms_reference(np.floor(bx * 40), sc, 0.1, 0.3, 30, inclusive=True)
