"""dofilter, prefilter and the two-stream fusions: hand-computed cases and slow references."""

import numpy as np
import pytest

from core.tubes import Candidates, dofilter, grouped_nms, prefilter
from core.tubes.filtering import normalized_to_pixels
from core.tubes.fusion import boost_fusion, fuse_frame, mean_fusion, union_fusion


def slow_dofilter(boxes, scores, a, thresh=0.001, top=50, nms=0.45, keep=10):
    """actionPaths.m dofilter + nms.m for one class, in plain Python (areas without +1, IoU > nms)."""
    idx = [i for i in range(len(boxes)) if scores[i, a] > thresh]
    idx = sorted(idx, key=lambda i: -scores[i, a])[:top]
    picked = []
    for i in idx:
        ok = True
        for j in picked:
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            w, h = x2 - x1, y2 - y1
            if w > 0 and h > 0:
                inter = w * h
                ai = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
                aj = (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])
                if inter / (ai + aj - inter) > nms:
                    ok = False
                    break
        if ok:
            picked.append(i)
    return picked[:keep]


def random_frame(rng, n=120, num_classes=4):
    xy = rng.uniform(0, 250, (n, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(10, 70, (n, 2))], 1)
    return boxes, rng.dirichlet(np.ones(num_classes + 1) * 0.3, n)


def test_dofilter_matches_slow_reference(rng):
    boxes, scores = random_frame(rng)
    cand = dofilter(boxes, scores)
    for a in range(4):
        sel = cand.label == a
        assert cand.index[sel].tolist() == slow_dofilter(boxes, scores, a)
        np.testing.assert_array_equal(cand.score[sel], scores[cand.index[sel], a])
        np.testing.assert_array_equal(cand.all_scores[sel], scores[cand.index[sel]])


def test_prefilter_is_lossless(rng):
    for _ in range(5):
        boxes, scores = random_frame(rng, n=300)
        keep = prefilter(boxes, scores)
        assert keep.size < 300
        full = dofilter(boxes, scores)
        sub = dofilter(boxes[keep], scores[keep])
        np.testing.assert_array_equal(keep[sub.index], full.index)
        np.testing.assert_array_equal(sub.label, full.label)


def test_grouped_nms_single_boxes_matches_dofilter_and_tubelets_use_mean_iou(rng):
    boxes, scores = random_frame(rng, n=60)
    label = np.repeat(np.arange(3), 20)
    score = scores[np.arange(60), label]
    order = np.lexsort((-score, label))
    keep = grouped_nms(boxes[order], label[order], 0.45)
    for a in range(3):
        rows = order[keep & (label[order] == a)]
        sc = np.zeros((60, 4))
        sc[label == a, 0] = score[label == a]
        assert rows.tolist() == slow_dofilter(boxes, sc, 0, thresh=0, top=60, keep=60)
    # micro-tubes: first boxes identical (IoU 1), second disjoint (IoU 0): mean 0.5 > 0.45 -> suppressed;
    # with the second boxes half-overlapping the mean stays above; with a far first box it drops below
    a = [0, 0, 10, 10, 0, 0, 10, 10]
    b = [0, 0, 10, 10, 50, 50, 60, 60]
    c = [30, 30, 40, 40, 0, 0, 10, 10]
    tub = np.array([a, b, c], float)
    np.testing.assert_array_equal(grouped_nms(tub, np.zeros(3), 0.45), [True, False, False])
    np.testing.assert_array_equal(grouped_nms(tub[[1, 2]], np.zeros(2), 0.45), [True, True])


def two_boxes(flow_shift=5):
    """An RGB box and a flow box overlapping by rows: IoU (+1 areas) = (10 - shift) * 10 / (100 + shift * 10)."""
    rgb = Candidates(np.array([0]), np.array([[0.0, 0, 9, 9]]), np.array([0.6]), np.array([[0.6, 0.1, 0.3]]),
                     np.array([0]))
    flow = Candidates(np.array([0]), np.array([[0.0, flow_shift, 9, 9 + flow_shift]]), np.array([0.5]),
                      np.array([[0.5, 0.2, 0.3]]), np.array([0]))
    return rgb, flow


def test_union_fusion_two_overlapping_boxes():
    rgb, flow = two_boxes(5)
    # NMS IoU without +1: 9 * 4 / (81 + 81 - 36) = 0.286 < 0.45: both stay, by score
    out = union_fusion(rgb, flow)
    np.testing.assert_array_equal(out.score, [0.6, 0.5])
    np.testing.assert_array_equal(out.boxes[:, 1], [0, 5])
    rgb, flow = two_boxes(1)  # 9 * 8 / (81 + 81 - 72) = 0.8 > 0.45: the flow box is suppressed
    out = union_fusion(rgb, flow)
    np.testing.assert_array_equal(out.score, [0.6])


def test_boost_fusion_two_overlapping_boxes():
    rgb, flow = two_boxes(5)  # fusion IoU = 50 / 150 = 1/3 >= 0.25
    out = boost_fusion(rgb, flow)
    fused = np.array([0.6, 0.1, 0.3]) + np.array([0.5, 0.2, 0.3]) / 3
    fused /= fused.sum()  # [0.575, 0.125, 0.3]
    assert len(out) == 1  # the flow box was used, not appended
    np.testing.assert_allclose(out.all_scores[0], fused)
    assert out.score[0] == pytest.approx(0.575)
    np.testing.assert_array_equal(out.boxes[0], [0, 0, 9, 9])
    # below the fusion IoU: no boost, the flow box is appended (IoU 20/180 without +1 -> NMS keeps it)
    rgb, flow = two_boxes(8)
    out = boost_fusion(rgb, flow)
    np.testing.assert_array_equal(out.score, [0.6, 0.5])
    # the MATLAB slip appends no flow box when nothing was boosted
    out = boost_fusion(rgb, flow, matlab_quirk=True)
    np.testing.assert_array_equal(out.score, [0.6])


def test_boost_fusion_one_flow_box_boosts_one_rgb_box_and_quirk_boosts_one_per_class():
    # two RGB boxes both best-matching the same flow box, plus a second flow box matching nothing
    rgb = Candidates(np.array([0, 0]), np.array([[0.0, 0, 9, 9], [0, 2, 9, 11]]), np.array([0.6, 0.4]),
                     np.array([[0.6, 0.4], [0.4, 0.6]]), np.array([0, 1]))
    flow = Candidates(np.array([0, 0]), np.array([[0.0, 1, 9, 10], [100, 100, 120, 120]]), np.array([0.5, 0.3]),
                      np.array([[0.5, 0.5], [0.3, 0.7]]), np.array([0, 1]))
    out = boost_fusion(rgb, flow, nms_thresh=1.0)
    # first RGB box boosted with IoU 90/110; second unboosted; the unused far flow box appended
    iou = 90 / 110
    f = np.array([0.6, 0.4]) + np.array([0.5, 0.5]) * iou
    f /= f.sum()
    assert sorted(out.score.tolist()) == pytest.approx(sorted([f[0], 0.4, 0.3]))
    # a third RGB box matching the far flow box: fixed code boosts it, the MATLAB slip does not
    rgb3 = Candidates(np.array([0, 0, 0]), np.vstack([rgb.boxes, [100, 100, 120, 121]]), np.array([0.6, 0.4, 0.2]),
                      np.vstack([rgb.all_scores, [0.2, 0.8]]), np.array([0, 1, 2]))
    fixed = boost_fusion(rgb3, flow, nms_thresh=1.0)
    quirk = boost_fusion(rgb3, flow, nms_thresh=1.0, matlab_quirk=True)
    assert len(fixed) == 3 and len(quirk) == 4  # quirk: far flow box unused, appended
    assert 0.2 not in fixed.score.tolist() and 0.2 in quirk.score.tolist()


def test_mean_fusion_by_rows_and_by_prior(rng):
    boxes, s1 = random_frame(rng, n=30)
    s2 = rng.dirichlet(np.ones(5), 30)
    a = mean_fusion(boxes, s1, boxes + 1, s2)
    b = dofilter(boxes, (s1 + s2) / 2)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(a.all_scores, b.all_scores)
    # by prior: flow rows shuffled and one anchor missing from the flow stream
    perm = rng.permutation(30)[:29]
    c = mean_fusion(boxes, s1, boxes[perm] + 1, s2[perm], np.arange(30) + 100, perm + 100)
    missing = np.setdiff1d(np.arange(30), perm)[0]
    s2_aligned = s2.copy()
    s2_aligned[missing] = 0
    d = dofilter(boxes, (s1 + s2_aligned) / 2)
    np.testing.assert_allclose(c.all_scores, d.all_scores)
    np.testing.assert_array_equal(c.boxes, d.boxes)
    with pytest.raises(ValueError):
        mean_fusion(boxes, s1, boxes[:5], s2[:5])
    with pytest.raises(ValueError):
        fuse_frame("max", (boxes, s1), (boxes, s2))


def test_normalized_to_pixels_matches_matlab_reader():
    loc = np.array([[-0.1, 0.5, 1.2, 0.99]])
    # MATLAB: loc * (320, 240), clipped to [0, 319] x [0, 239], + 1; here without the + 1
    np.testing.assert_allclose(normalized_to_pixels(loc, 320, 240), [[0, 120, 319, 237.6]])


def test_normalized_to_pixels_box_outside_the_image_is_empty_not_inverted():
    # wholly right of / below the image: x1 = 1.05 * 320 = 336 -> 319, x2 = 1.3 * 320 -> 319 (same for y)
    loc = np.array([[1.05, 1.1, 1.3, 1.2], [-0.5, -0.4, -0.1, -0.2]])
    np.testing.assert_allclose(normalized_to_pixels(loc, 320, 240), [[319, 239, 319, 239], [0, 0, 0, 0]])
