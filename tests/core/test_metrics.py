"""core.metrics: hand-computed cases, and vectorised == slow obvious references on random cases."""

import numpy as np
import pytest
import torch

from core import metrics as M

# ---------------------------------------------------------------- AP variants (hand-computed)


def test_voc_ap_hand():
    # ranked TP, FP, TP with 2 ground truths: p = 1, .5, 2/3; r = .5, .5, 1
    p, r = M.precision_recall(np.array([True, False, True]), 2)
    assert np.allclose(p, [1, 0.5, 2 / 3]) and np.allclose(r, [0.5, 0.5, 1])
    # envelope: 1 on (0, .5], 2/3 on (.5, 1]  ->  0.5 + 1/3
    assert M.voc_ap(p, r) == pytest.approx(0.5 + 1 / 3, abs=1e-15)
    assert M.voc_ap(np.zeros(0), np.zeros(0)) == 0.0


def test_voc07_ap_hand():
    p, r = np.array([1.0, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0])
    # t = 0..0.5 (6 points) -> 1, t = 0.6..1 (5 points) -> 2/3
    assert M.voc07_ap(p, r) == pytest.approx((6 + 5 * 2 / 3) / 11)


def test_trapezoid_ap_hand():
    # ACT: curve (0,1) -> (.5,1) -> (.5,.5) -> (1, 2/3): 0.5 * 1 + 0 + 0.5 * (0.5 + 2/3) / 2
    ap = M.trapezoid_ap(np.array([1.0, 0.5, 2 / 3]), np.array([0.5, 0.5, 1.0]))
    assert ap == pytest.approx(0.5 + 0.25 * (0.5 + 2 / 3), abs=1e-7)
    assert M.trapezoid_ap(np.zeros(0), np.zeros(0)) == 0.0


def test_descending_orders():
    s = np.array([0.5, 0.9, 0.5, 0.1])
    assert M.descending_order(s, "stable").tolist() == [1, 0, 2, 3]
    assert set(M.descending_order(s, "reverse_argsort")[:1].tolist()) == {1}
    with pytest.raises(ValueError):
        M.descending_order(s, "nope")


def test_iou_conventions_hand():
    a = np.array([[0.0, 0.0, 9.0, 9.0]])
    b = np.array([[5.0, 0.0, 14.0, 9.0]])
    # continuous: inter 4*9 = 36, union 81+81-36
    assert M.iou_tf(a, b)[0] == pytest.approx(36 / 126)
    # inclusive (+1): inter 5*10 = 50, union 100+100-50
    assert M.iou_act(a, b)[0] == pytest.approx(50 / 150)
    assert M.iou_matlab(a, b)[0] == pytest.approx(50 / 150)


# ---------------------------------------------------------------- greedy matching vs slow references


def _random_groups(rng, n_groups=6, max_det=7, max_gt=4):
    det_group, det_box, gt_group, gt_box = [], [], [], []
    for g in range(n_groups):
        for _ in range(int(rng.integers(0, max_gt + 1))):
            x, y = rng.integers(0, 20, 2)
            gt_group.append(g)
            gt_box.append([x, y, x + rng.integers(2, 10), y + rng.integers(2, 10)])
        for _ in range(int(rng.integers(0, max_det + 1))):
            x, y = rng.integers(0, 20, 2)
            det_group.append(g)
            det_box.append([x, y, x + rng.integers(2, 10), y + rng.integers(2, 10)])
    f = lambda a: np.array(a, dtype=np.float64).reshape(-1, 4)  # noqa: E731
    perm = rng.permutation(len(det_group))  # processing order interleaves groups
    return np.array(det_group, np.int64)[perm], f(det_box)[perm], np.array(gt_group, np.int64), f(gt_box)


def _slow_argmax(det_group, det_box, gt_group, gt_box, th):
    tp = np.zeros(len(det_group), bool)
    taken = set()
    for i in range(len(det_group)):
        cand = [j for j in range(len(gt_group)) if gt_group[j] == det_group[i]]
        if not cand:
            continue
        ious = [M.iou_tf(det_box[i:i + 1], gt_box[j:j + 1])[0] for j in cand]
        j = cand[int(np.argmax(ious))]
        if max(ious) >= th and j not in taken:
            tp[i] = True
            taken.add(j)
    return tp


def _slow_best_remaining(det_group, det_box, gt_group, gt_box, th, strict):
    tp = np.zeros(len(det_group), bool)
    taken = set()
    for i in range(len(det_group)):
        best, best_j = -np.inf, -1
        for j in range(len(gt_group)):
            if gt_group[j] == det_group[i] and j not in taken:
                v = M.iou_act(det_box[i:i + 1], gt_box[j:j + 1])[0]
                if v > best:
                    best, best_j = v, j
        if best_j >= 0 and (best > th if strict else best >= th):
            tp[i] = True
            taken.add(best_j)
    return tp


@pytest.mark.parametrize("seed", range(50))
def test_match_argmax_random(seed):
    rng = np.random.default_rng(seed)
    dg, db, gg, gb = _random_groups(rng)
    pairs = M.group_pairs(dg, gg)
    tp, matched = M.match_argmax(pairs, M.iou_tf(db[pairs.det], gb[pairs.gt]), 0.3, len(gg))
    assert tp.tolist() == _slow_argmax(dg, db, gg, gb, 0.3).tolist()
    assert np.all((matched >= 0) == tp)


@pytest.mark.parametrize("seed", range(50))
def test_match_best_remaining_random(seed):
    rng = np.random.default_rng(100 + seed)
    dg, db, gg, gb = _random_groups(rng)
    pairs = M.group_pairs(dg, gg)
    ov = M.iou_act(db[pairs.det], gb[pairs.gt])
    for strict in (False, True):
        tp, _ = M.match_best_remaining(pairs, ov, dg, 0.3, len(gg), strict=strict)
        assert tp.tolist() == _slow_best_remaining(dg, db, gg, gb, 0.3, strict).tolist()


def test_match_first_of_equal_ious():
    # two identical ground truths: the first (in ground-truth order) is taken first
    pairs = M.group_pairs(np.array([0, 0, 0]), np.array([0, 0]))
    ov = np.array([0.8, 0.8, 0.8, 0.8, 0.8, 0.8])
    tp, matched = M.match_best_remaining(pairs, ov, np.array([0, 0, 0]), 0.5, 2)
    assert tp.tolist() == [True, True, False] and matched.tolist() == [0, 1, -1]
    tp, matched = M.match_argmax(pairs, ov, 0.5, 2)  # TF: both detections aim at box 0
    assert tp.tolist() == [True, False, False] and matched.tolist() == [0, -1, -1]


# ---------------------------------------------------------------- frame AP vs slow references


def _slow_tf_ap(di, dl, ds, db, gi, gl, gb, C, th=0.5):
    """ActivityNet/TF: per image (in input order) per class greedy argmax; concatenate; argsort[::-1]."""
    scores = {c: [] for c in range(C)}
    tps = {c: [] for c in range(C)}
    images = list(dict.fromkeys(di.tolist()))
    for img in images:
        for c in range(C):
            d = [i for i in range(len(di)) if di[i] == img and dl[i] == c]
            g = [j for j in range(len(gi)) if gi[j] == img and gl[j] == c]
            used = set()
            for i in d:
                tp = False
                if g:
                    ious = [M.iou_tf(db[i:i + 1], gb[j:j + 1])[0] for j in g]
                    k = int(np.argmax(ious))
                    if ious[k] >= th and k not in used:
                        used.add(k)
                        tp = True
                scores[c].append(ds[i])
                tps[c].append(tp)
    ap = np.full(C, np.nan)
    for c in range(C):
        n = int(np.sum(gl == c))
        if n == 0:
            continue
        s = np.array(scores[c], dtype=np.float64)
        t = np.array(tps[c], dtype=bool)[np.argsort(s)[::-1]].astype(int)
        ctp, cfp = np.cumsum(t), np.cumsum(1 - t)
        prec = ctp / np.maximum(ctp + cfp, 1)
        rec = ctp / n
        mrec = np.r_[0, rec, 1]
        mpre = np.r_[0, prec, 0]
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
        idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
        ap[c] = np.sum((mrec[idx] - mrec[idx - 1]) * mpre[idx])
    return ap


def _slow_act_ap(di, dl, ds, db, gi, gl, gb, C, th=0.5):
    ap = np.full(C, np.nan)
    for c in range(C):
        det = [i for i in range(len(di)) if dl[i] == c]
        gt = {}
        for j in range(len(gi)):
            if gl[j] == c:
                gt.setdefault(int(gi[j]), []).append(gb[j])
        n = sum(len(v) for v in gt.values())
        if n == 0:
            continue
        s = np.array([ds[i] for i in det], dtype=np.float32)
        pr = np.empty((len(det) + 1, 2), dtype=np.float32)
        pr[0] = (1, 0)
        tp = fp = 0
        fn = n
        for r, k in enumerate(np.argsort(-s)):
            i = det[k]
            ok = False
            boxes = gt.get(int(di[i]), [])
            if boxes:
                b32 = db[i].astype(np.float32).astype(np.float64)[None]
                ious = [M.iou_act(b32, np.asarray(g, np.float64)[None])[0] for g in boxes]
                a = int(np.argmax(ious))
                if ious[a] >= th:
                    ok = True
                    del boxes[a]
            tp, fp, fn = (tp + 1, fp, fn - 1) if ok else (tp, fp + 1, fn)
            pr[r + 1] = (tp / (tp + fp), tp / (tp + fn))
        ap[c] = np.sum((pr[1:, 1] - pr[:-1, 1]) * (pr[1:, 0] + pr[:-1, 0]) * 0.5)
    return ap


def _random_frames(rng, C=3, n_img=5):
    gi, gl, gb, di, dl, ds, db = [], [], [], [], [], [], []
    for img in range(n_img):
        for _ in range(int(rng.integers(0, 4))):
            x, y = rng.integers(0, 30, 2)
            box = [x, y, x + rng.integers(3, 12), y + rng.integers(3, 12)]
            gi.append(img); gl.append(int(rng.integers(0, C))); gb.append(box)  # noqa: E702
            for _ in range(int(rng.integers(0, 3))):
                di.append(img); dl.append(gl[-1] if rng.random() < 0.7 else int(rng.integers(0, C)))  # noqa: E702
                db.append(np.array(box) + rng.integers(-3, 4, 4)); ds.append(np.round(rng.random() * 5) / 5)  # noqa: E702
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.integers(0, 30, 2)
            di.append(img); dl.append(int(rng.integers(0, C))); ds.append(np.round(rng.random() * 5) / 5)  # noqa: E702
            db.append([x, y, x + 5, y + 5])
    a = lambda v, t=np.float64: np.array(v, dtype=t)  # noqa: E731
    db = a(db).reshape(-1, 4)
    db[:, 2:] = np.maximum(db[:, 2:], db[:, :2] + 1)
    return a(di, np.int64), a(dl, np.int64), a(ds), db, a(gi, np.int64), a(gl, np.int64), a(gb).reshape(-1, 4), C


@pytest.mark.parametrize("seed", range(50))
def test_tf_detection_ap_random(seed):
    args = _random_frames(np.random.default_rng(seed))
    got = M.tf_detection_ap(*args).ap
    want = _slow_tf_ap(*args)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], atol=1e-12)


@pytest.mark.parametrize("seed", range(50))
def test_act_frame_ap_random(seed):
    args = _random_frames(np.random.default_rng(1000 + seed))
    got = M.act_frame_ap(*args).ap
    want = _slow_act_ap(*args)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.allclose(got[~np.isnan(got)], want[~np.isnan(want)], atol=1e-12)


def test_road_frame_ap_any_uncovered_box_quirk():
    # frame 0 has a class-0 box and a class-1 box on the same spot; one class-0 detection there.
    # frameAp.m compares it with every uncovered box of the frame (here: the class-0 one first).
    gt_box = np.array([[0, 0, 9, 9], [0, 0, 9, 9]], float)
    r = M.road_frame_ap(np.array([0, 0]), np.array([1, 0]), np.array([0.9, 0.8]),
                        np.array([[0, 0, 9, 9], [0, 0, 9, 9]], float),
                        np.array([0, 0]), np.array([0, 1]), gt_box, 2)
    # class 0 (processed first) takes gt box 0; class 1 then takes the remaining box 1
    assert r.tp.tolist() == [True, True] and r.ap.tolist() == [1.0, 1.0]
    # IoU exactly at the threshold counts for frames (>=): 50 / 100 with +1 areas
    r = M.road_frame_ap(np.array([0]), np.array([0]), np.array([1.0]), np.array([[0, 0, 9, 4]], float),
                        np.array([0]), np.array([0]), np.array([[0, 0, 9, 9]], float), 2)
    assert r.tp.tolist() == [True] and r.ap.tolist() == [1.0, 0.0]  # class 1: no ground truth -> 0


# ---------------------------------------------------------------- tubes


def test_tube_iou_act_and_road_hand():
    g = np.c_[np.arange(1, 11), np.tile([0, 0, 9, 9], (10, 1))]  # frames 1-10
    d = np.c_[np.arange(6, 16), np.tile([0, 0, 9, 4], (10, 1))]  # frames 6-15, half height
    dets, gts = M.make_tubes([d]), M.make_tubes([g])
    # ACT: temporal 5/15, spatial 50/100 on each shared frame
    assert M.tube_iou(dets, gts, [0], [0], "act")[0] == pytest.approx(5 / 15 * 0.5)
    # ROAD: T_i = 10 - 6 = 4 > 0 -> 5, T_u = 15: same here
    assert M.tube_iou(dets, gts, [0], [0], "road")[0] == pytest.approx(5 / 15 * 0.5)
    # a single shared frame: ACT 1/19 x IoU, ROAD 0 (its T_i = 0 is not > 0)
    d1 = M.make_tubes([np.c_[np.arange(10, 20), np.tile([0, 0, 9, 9], (10, 1))]])
    assert M.tube_iou(d1, gts, [0], [0], "act")[0] == pytest.approx(1 / 19)
    assert M.tube_iou(d1, gts, [0], [0], "road")[0] == 0.0
    # disjoint in time
    d2 = M.make_tubes([np.c_[np.arange(20, 25), np.tile([0, 0, 9, 9], (5, 1))]])
    assert M.tube_iou(d2, gts, [0], [0], "act")[0] == 0.0


def test_road_video_ap_strict_threshold():
    g = np.c_[np.arange(1, 11), np.tile([0, 0, 9, 9], (10, 1))]
    d = np.c_[np.arange(1, 11), np.tile([0, 0, 9, 4], (10, 1))]  # ST-IoU 0.5 (almost: MATLAB's eps)
    dets, gts = M.make_tubes([d, g.copy()]), M.make_tubes([g])
    res = M.road_video_ap(dets, np.array([0, 0]), np.array([0, 0]), np.array([0.9, 0.5]), gts,
                          np.array([0]), np.array([0]), 1, thresholds=(0.2, 0.5))
    # at 0.2 the first (best) tube is a TP; at 0.5 it is not (not > 0.5) and the exact copy is.
    assert res[0.2].tp.tolist() == [True, False] and res[0.2].ap[0] == 1.0
    assert res[0.5].tp.tolist() == [False, True] and res[0.5].ap[0] == pytest.approx(0.5)


def test_nms3dt_keeps_best_and_suppresses_overlaps():
    g = np.c_[np.arange(1, 11), np.tile([0, 0, 9, 9], (10, 1))]
    far = np.c_[np.arange(1, 11), np.tile([50, 50, 59, 59], (10, 1))]
    tubes = M.make_tubes([g, g + [0, 1, 0, 1, 0], far, g], dtype=np.float32)
    keep = M.nms3dt(tubes, np.array([0, 0, 0, 1]), np.array([0.5, 0.9, 0.3, 0.1]), 0.3)
    assert keep.tolist() == [1, 2, 3]  # tube 0 overlaps tube 1 (score 0.9); group 1 separate


# ---------------------------------------------------------------- classification


def test_topk_accuracy_hand():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    top1, top2 = M.topk_accuracy(scores, torch.tensor([1, 1, 0]), ks=(1, 2))
    assert top1 == pytest.approx(1 / 3) and top2 == pytest.approx(2 / 3)
    assert M.topk_accuracy(scores.numpy(), np.array([1, 1, 0]), ks=(5,)) == (1.0,)


def test_video_scores_mean():
    out = M.video_scores(np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]), 3)
    assert out[:2].tolist() == [[0.5, 0.5], [2.0, 2.0]] and np.isnan(out[2]).all()


def _slow_hit(pv, pl, ps, gv, gl, k):
    vids = np.unique(gv)
    hits = []
    for v in vids:
        m = pv == v
        if not m.any():
            hits.append(0.0)
            continue
        top = pl[m][ps[m].argsort()[::-1][:k]].tolist()
        labs = gl[gv == v].tolist()
        hits.append(float(np.ceil(np.mean([lab in top for lab in labs]))))
    return float(np.mean(hits))


def _slow_cls_ap(pv, pl, ps, gv, gl, C):
    ap = np.full(C, np.nan)
    for c in range(C):
        gvid = set(gv[gl == c].tolist())
        if not gvid:
            continue
        idx = np.flatnonzero(pl == c)
        idx = idx[ps[idx].argsort()[::-1]]
        locked, tp = set(), []
        for i in idx:
            ok = pv[i] in gvid and pv[i] not in locked
            if ok:
                locked.add(pv[i])
            tp.append(ok)
        p, r = M.precision_recall(np.array(tp, bool), len(gvid))
        ap[c] = M.voc_ap(p, r)
    return ap


@pytest.mark.parametrize("seed", range(50))
def test_hit_at_k_and_classification_ap_random(seed):
    rng = np.random.default_rng(seed)
    C, V = 6, 12
    gv = np.repeat(np.arange(V), rng.integers(1, 3, V))
    gl = rng.integers(0, C, len(gv))
    key = np.unique(gv * 100 + gl)
    gv, gl = key // 100, key % 100
    pv = np.repeat(rng.permutation(V + 2)[:V], rng.integers(0, 7, V))
    pl = rng.integers(0, C, len(pv))
    ps = np.round(rng.random(len(pv)) * 4) / 4  # many ties
    for k in (1, 3, 5):
        assert M.hit_at_k(pv, pl, ps, gv, gl, k) == pytest.approx(_slow_hit(pv, pl, ps, gv, gl, k), abs=1e-15)
    got, want = M.classification_ap(pv, pl, ps, gv, gl, C), _slow_cls_ap(pv, pl, ps, gv, gl, C)
    assert np.allclose(got, want, equal_nan=True, atol=1e-15)
