import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from core import boxes


def _random_xyxy(rng, n):
    xy = rng.uniform(0, 300, size=(n, 2))
    wh = rng.uniform(1, 100, size=(n, 2))
    return np.hstack([xy, xy + wh])


def test_iou_matches_torchvision_on_random_boxes(rng):
    a, b = _random_xyxy(rng, 200), _random_xyxy(rng, 150)
    ref = box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(boxes.iou(a, b), ref, atol=1e-6)
    a32, b32 = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    got_t = boxes.iou(a32, b32)
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float32
    np.testing.assert_allclose(got_t.numpy(), box_iou(a32, b32).numpy(), atol=1e-6)


def test_iou_hand_cases_both_conventions():
    # continuous: [0,10]x[0,10] and [5,15]x[5,15] -> 25 / (100 + 100 - 25)
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 5, 15, 15]], float)
    assert boxes.iou(a, b)[0, 0] == pytest.approx(25 / 175)
    # inclusive pixels 0..9 and 5..14: 10x10 boxes sharing 5x5 pixels -> same 25 / 175
    a_inc = np.array([[0, 0, 9, 9]], float)
    b_inc = np.array([[5, 5, 14, 14]], float)
    assert boxes.iou(a_inc, b_inc, inclusive=True)[0, 0] == pytest.approx(25 / 175)
    # without +1 the same numbers give 4*4 / (81 + 81 - 16)
    assert boxes.iou(a_inc, b_inc)[0, 0] == pytest.approx(16 / 146)
    # a single pixel box has area 1 inclusive, 0 otherwise
    p = np.array([[3, 3, 3, 3]], float)
    assert boxes.area(p, inclusive=True)[0] == 1 and boxes.area(p)[0] == 0
    assert boxes.iou(p, p)[0, 0] == 0 and boxes.iou(p, p, inclusive=True)[0, 0] == 1


def test_aligned_iou_equals_diagonal(rng):
    a, b = _random_xyxy(rng, 50), _random_xyxy(rng, 50)
    np.testing.assert_allclose(boxes.iou_aligned(a, b), np.diag(boxes.iou(a, b)), atol=1e-12)
    np.testing.assert_allclose(boxes.iou_aligned(a, b, inclusive=True), np.diag(boxes.iou(a, b, inclusive=True)), atol=1e-12)


def test_uint_boxes_do_not_overflow():
    xywh = np.array([[200, 150, 100, 120]], dtype=np.uint8)
    xyxy = boxes.xywh_to_xyxy(xywh)
    assert xyxy.dtype == np.float64
    np.testing.assert_array_equal(xyxy, [[200, 150, 300, 270]])
    np.testing.assert_array_equal(boxes.xywh_to_xyxy(xywh.astype(np.uint16), inclusive=True), [[200, 150, 299, 269]])
    t = boxes.xywh_to_xyxy(torch.tensor([[250, 10, 10, 10]], dtype=torch.uint8))
    assert t.dtype == torch.float32 and t[0, 2].item() == 260


def test_conversions_round_trip(rng):
    a = _random_xyxy(rng, 20)
    for inclusive in (False, True):
        np.testing.assert_allclose(boxes.xywh_to_xyxy(boxes.xyxy_to_xywh(a, inclusive), inclusive), a)
    np.testing.assert_allclose(boxes.cxcywh_to_xyxy(boxes.xyxy_to_cxcywh(a)), a)
    np.testing.assert_allclose(boxes.shift(boxes.shift(a, -1), 1), a)
    np.testing.assert_array_equal(boxes.xyxy_to_cxcywh(np.array([[0.0, 2, 4, 10]])), [[2, 6, 4, 8]])
    np.testing.assert_array_equal(boxes.scale(np.array([[0.5, 0.5, 1, 1]]), 320, 240), [[160, 120, 320, 240]])
    np.testing.assert_array_equal(boxes.clip(np.array([[-5.0, 3, 400, 250]]), 0, 0, 319, 239), [[0, 3, 319, 239]])


def test_ssd_encode_hand_value_and_inverse():
    prior = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    gt = torch.tensor([[0.4, 0.4, 0.62, 0.62]])
    enc = boxes.ssd_encode(gt, prior)
    # centre 0.51 -> (0.51 - 0.5) / (0.1 * 0.2) = 0.5 ; width 0.22 -> ln(1.1) / 0.2
    expected = torch.tensor([[0.5, 0.5, np.log(1.1) / 0.2, np.log(1.1) / 0.2]], dtype=torch.float32)
    torch.testing.assert_close(enc, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(boxes.ssd_decode(enc, prior), gt, atol=1e-6, rtol=1e-6)


def test_iou_rejects_mixed_types():
    with pytest.raises(TypeError):
        boxes.iou(np.zeros((1, 4)), torch.zeros(1, 4))


def test_ssd_decode_clamps_huge_size_offsets_to_finite_boxes():
    import math

    from core.boxes import ssd_decode

    prior = torch.tensor([[0.5, 0.5, 0.1, 0.2]])
    box = ssd_decode(torch.tensor([[0.0, 0.0, 1e4, 1e4]]), prior)
    # exp clamped at log(1000/16): w = 0.1 * 62.5 = 6.25, h = 0.2 * 62.5 = 12.5
    assert torch.allclose(box, torch.tensor([[0.5 - 3.125, 0.5 - 6.25, 0.5 + 3.125, 0.5 + 6.25]]))
    assert math.isfinite(float(box.sum()))
    # ordinary offsets are untouched: exp(0.2 * 1) scales the prior
    b = ssd_decode(torch.tensor([[0.0, 0.0, 1.0, 0.0]]), prior)
    assert torch.allclose(b[0, 2] - b[0, 0], torch.tensor(0.1 * math.exp(0.2)))
