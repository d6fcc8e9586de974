"""Priors, mean-IoU matching and the multibox loss against hand-computed values."""

import math

import pytest
import torch
import torch.nn.functional as F

from amtnet.loss import match, mean_iou, multibox_loss
from amtnet.priors import anchors_per_cell, microtube_priors, prior_boxes


def test_prior_count_and_levels():
    p = prior_boxes()
    assert p.shape == (8732, 4)
    assert anchors_per_cell() == [4, 6, 6, 6, 4, 4]
    # 38*38*4 + 19*19*6 + 10*10*6 + 5*5*6 + 3*3*4 + 1*1*4
    assert 5776 + 2166 + 600 + 150 + 36 + 4 == 8732
    assert microtube_priors(2).shape == (8732, 8)
    assert torch.equal(microtube_priors(2)[:, 4:], p)


def test_prior_coordinates_by_hand():
    p = prior_boxes().double()
    s = math.sqrt
    # level 0, cell (0, 0): centre 0.5 / 37.5; squares 30/300 and sqrt(0.1 * 60/300); ar 2
    c0 = 0.5 / 37.5
    expect0 = [[c0, c0, 0.1, 0.1], [c0, c0, s(0.1 * 0.2), s(0.1 * 0.2)],
               [c0, c0, 0.1 * s(2), 0.1 / s(2)], [c0, c0, 0.1 / s(2), 0.1 * s(2)]]
    assert torch.allclose(p[:4], torch.tensor(expect0, dtype=torch.float64), atol=1e-6)
    # level 0, cell (row 0, col 1): x moves by 1 / 37.5
    assert abs(p[4, 0].item() - 1.5 / 37.5) < 1e-6 and abs(p[4, 1].item() - c0) < 1e-6
    # level 0, cell (row 1, col 0) is after the 38 cells of row 0
    assert abs(p[38 * 4, 1].item() - 1.5 / 37.5) < 1e-6 and abs(p[38 * 4, 0].item() - c0) < 1e-6
    # level 1 starts at 5776: f = 18.75, squares 0.2 and sqrt(0.2 * 0.37), then ar 2 and 3
    c1 = 0.5 / 18.75
    lvl1 = p[5776:5782]
    expect1 = [[c1, c1, 0.2, 0.2], [c1, c1, s(0.2 * 0.37), s(0.2 * 0.37)],
               [c1, c1, 0.2 * s(2), 0.2 / s(2)], [c1, c1, 0.2 / s(2), 0.2 * s(2)],
               [c1, c1, 0.2 * s(3), 0.2 / s(3)], [c1, c1, 0.2 / s(3), 0.2 * s(3)]]
    assert torch.allclose(lvl1, torch.tensor(expect1, dtype=torch.float64), atol=1e-6)
    # level 4 (3 x 3, step 100): f = 3, cell (2, 2) centre 2.5 / 3; its first anchor index:
    start4 = 5776 + 2166 + 600 + 150
    assert torch.allclose(p[start4 + 8 * 4], torch.tensor([2.5 / 3, 2.5 / 3, 213 / 300, 213 / 300],
                                                          dtype=torch.float64), atol=1e-6)
    # last level: one cell at the centre; 0.88 * sqrt(2) = 1.245 is clamped to 1
    last = p[-4:]
    expect = [[0.5, 0.5, 0.88, 0.88], [0.5, 0.5, s(0.88 * 1.05), s(0.88 * 1.05)],
              [0.5, 0.5, 1.0, 0.88 / s(2)], [0.5, 0.5, 0.88 / s(2), 1.0]]
    assert torch.allclose(last, torch.tensor(expect, dtype=torch.float64), atol=1e-6)
    assert p.min() >= 0 and p.max() <= 1


def test_mean_iou_over_frames_by_hand():
    priors = torch.tensor([[0.25, 0.25, 0.5, 0.5]])  # xyxy [0, 0, 0.5, 0.5], area 0.25
    # frame 1 identical (IoU 1); frame 2 shifted right by 0.25: inter 0.125, union 0.375 -> 1/3
    tube = torch.tensor([[[0.0, 0.0, 0.5, 0.5], [0.25, 0.0, 0.75, 0.5]]])
    assert torch.allclose(mean_iou(tube, priors), torch.tensor([[(1 + 1 / 3) / 2]]))


def test_match_hand_case():
    # Three priors (cx, cy, w, h). Prior 0 = [0, 0, .4, .4], prior 1 = [.5, .5, .9, .9], prior 2 = [.1, .1, .5, .5].
    priors = torch.tensor([[0.2, 0.2, 0.4, 0.4], [0.7, 0.7, 0.4, 0.4], [0.3, 0.3, 0.4, 0.4]])
    # tube A (label 3) sits on prior 0 in frame 1 and on prior 2 in frame 2;
    # tube B (label 5) sits on prior 1 in both frames.
    a = torch.tensor([[0.0, 0.0, 0.4, 0.4], [0.1, 0.1, 0.5, 0.5]])
    b = torch.tensor([[0.5, 0.5, 0.9, 0.9], [0.5, 0.5, 0.9, 0.9]])
    tubes = torch.stack([a, b])
    loc, conf = match(tubes, torch.tensor([3, 5]), priors, threshold=0.5)
    # IoU([0,0,.4,.4], [.1,.1,.5,.5]) = .09 / (.16 + .16 - .09) = 9/23. Mean over frames for tube A:
    # prior 0: (1 + 9/23) / 2 = 0.696; prior 2: (9/23 + 1) / 2 = 0.696 (tie: argmax keeps the first, prior 0)
    # prior 2 is not forced; its best tube is A with 0.696 >= 0.5 -> label 4. Prior 1 forced to B -> label 6.
    assert conf.tolist() == [4, 6, 4]
    # regression target of prior 1 for tube B: identical box in both frames -> zeros
    assert torch.allclose(loc[1], torch.zeros(8), atol=1e-6)
    # prior 0 / tube A, frame 2: centre offset (0.3 - 0.2) / (0.1 * 0.4) = 2.5 in x and y, log(1) = 0 sizes
    assert torch.allclose(loc[0], torch.tensor([0, 0, 0, 0, 2.5, 2.5, 0, 0.0]), atol=1e-5)


def test_match_forces_best_prior_below_threshold_and_last_tube_wins():
    priors = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.5, 0.5, 0.9, 0.9]])
    small = torch.tensor([[[0.0, 0.0, 0.15, 0.15]] * 2])  # tiny overlap with every prior
    loc, conf = match(small, torch.tensor([0]), priors, threshold=0.5)
    iou = mean_iou(small, priors)[0]
    best = int(iou.argmax())
    assert conf[best] == 1 and conf.sum() == 1
    # two tubes whose best prior is the same prior: the later tube takes it (ssd.pytorch's loop order)
    same = torch.tensor([[[0.4, 0.4, 0.6, 0.6]] * 2, [[0.41, 0.41, 0.61, 0.61]] * 2])
    _, conf = match(same, torch.tensor([2, 7]), priors)
    assert conf[0] == 8


def test_multibox_loss_hand_case():
    # one sample, 6 priors, 3 classes (0 = background), seq_len 1 (4 coordinates)
    conf_t = torch.tensor([[1, 0, 0, 0, 0, 0]])
    logits = torch.tensor([[[0.0, 2.0, 0.0],   # positive, label 1
                            [0.0, 0.0, 0.0],   # negatives: background loss = -log softmax[0]
                            [0.0, 3.0, 0.0],
                            [0.0, 1.0, 0.0],
                            [0.0, 0.0, 4.0],
                            [5.0, 0.0, 0.0]]])
    loc_t = torch.zeros(1, 6, 4)
    loc_p = torch.zeros(1, 6, 4)
    loc_p[0, 0] = torch.tensor([0.5, -2.0, 0.0, 1.0])  # smooth L1: 0.125 + 1.5 + 0 + 0.5 = 2.125
    loc_p[0, 3] = 10.0  # a negative: no localisation loss
    loss_l, loss_c, n = multibox_loss(loc_p, logits, loc_t, conf_t, neg_pos_ratio=3)
    assert n == 1
    assert abs(loss_l.item() - 2.125) < 1e-6
    # hardest 3 negatives by -log softmax[0]: priors 4 (logit 4), 2 (3), 3 (1); prior 1 and 5 dropped
    def ce(row, target):
        return -F.log_softmax(torch.tensor(row), 0)[target].item()
    expect = ce([0.0, 2.0, 0.0], 1) + ce([0.0, 0.0, 4.0], 0) + ce([0.0, 3.0, 0.0], 0) + ce([0.0, 1.0, 0.0], 0)
    assert abs(loss_c.item() - expect) < 1e-5


def test_multibox_loss_no_positive_sample_keeps_no_negatives():
    conf_t = torch.tensor([[0, 0, 0], [2, 0, 0]])
    logits = torch.zeros(2, 3, 3)
    logits[0, :, 1] = 5.0  # confident false positives in a sample without positives: not mined
    loss_l, loss_c, n = multibox_loss(torch.zeros(2, 3, 8), logits, torch.zeros(2, 3, 8), conf_t)
    assert n == 1
    # sample 1: the positive (uniform: log 3) + 2 negatives (3 * 1 capped at P - 1 = 2), each log 3
    assert loss_c.item() == pytest.approx(3 * math.log(3), rel=1e-6)
    assert loss_l.item() == 0
