"""--protocol road (MATLAB originals): hand-computed cases for each rule, through the CLI."""

import json

import numpy as np
import pytest

from core.formats.act import write_act_gt
from evaluation import ucf24


@pytest.fixture
def gt_path(tmp_path):
    # two test videos: "a/v1" class 0, one tube frames 1-10 of box (0,0)-(9,9); "b/v2" class 1, frames 1-10
    tube = lambda box: np.c_[np.arange(1, 11), np.tile(box, (10, 1))].astype(np.float32)  # noqa: E731
    gt = {"labels": ["a", "b", "c"], "gttubes": {"a/v1": {0: [tube([0, 0, 9, 9])]}, "b/v2": {1: [tube([20, 20, 29, 29])]}},
          "nframes": {"a/v1": 12, "b/v2": 10}, "train_videos": [[]], "test_videos": [["a/v1", "b/v2"]],
          "resolution": {"a/v1": (240, 320), "b/v2": (240, 320)}}
    p = tmp_path / "gt.pkl"
    write_act_gt(p, gt)
    return str(p)


def tubes_file(tmp_path, tubes):
    p = tmp_path / "t.json"
    p.write_text(json.dumps([{"video": v, "label": lab, "score": s,
                              "boxes": [[f, *box] for f in range(f0, f1 + 1)]} for v, lab, s, f0, f1, box in tubes]))
    return str(p)


def test_strict_threshold_and_temporal_plus_one(gt_path, tmp_path):
    # a/v1: frames 1-10, half the box: spatial 50/100, temporal 1 -> ST-IoU 0.5 exactly: not > 0.5
    # b/v2: frames 6-10 of the exact box: T_i = 10 - 6 = 4 > 0 -> 5; T_u = 10: ST-IoU 0.5 -> not > 0.5
    t = tubes_file(tmp_path, [("a/v1", 0, 0.9, 1, 10, [0, 0, 9, 4]), ("b/v2", 1, 0.8, 6, 10, [20, 20, 29, 29])])
    res = ucf24.main(["video-map", "--gt", gt_path, "--tubes", t, "--protocol", "road"])
    assert res["per_class"]["a"]["0.2"] == 1.0 and res["per_class"]["a"]["0.5"] == 0.0
    assert res["per_class"]["b"]["0.2"] == 1.0 and res["per_class"]["b"]["0.5"] == 0.0
    # class "c" has no ground truth: AP 0, and it counts in the mean (the original's NaN -> 0)
    assert res["per_class"]["c"]["0.2"] == 0.0 and res["video_mAP"]["0.2"] == pytest.approx(2 / 3)
    # ACT's rules on the same tubes: >= 0.5 counts, and its temporal IoU is the same here
    res = ucf24.main(["video-map", "--gt", gt_path, "--tubes", t, "--protocol", "act"])
    assert res["per_class"]["a"]["0.5"] == 1.0 and res["per_class"]["b"]["0.5"] == 1.0
    assert np.isnan(res["per_class"]["c"]["0.5"]) and res["video_mAP"]["0.5"] == 1.0


def test_single_shared_frame_gives_zero(gt_path, tmp_path):
    # frames 10-12 overlap the ground truth (1-10) on frame 10 only: ROAD's T_i = 0 -> ST-IoU 0
    t = tubes_file(tmp_path, [("a/v1", 0, 0.9, 10, 12, [0, 0, 9, 9])])
    res = ucf24.main(["video-map", "--gt", gt_path, "--tubes", t, "--protocol", "road"])
    assert res["per_class"]["a"]["0.2"] == 0.0


def test_classification_accuracy(gt_path, tmp_path):
    # a/v1: best tube says class 2 (wrong) although a class-0 tube exists; b/v2: best tube class 1 (right)
    t = tubes_file(tmp_path, [("a/v1", 2, 0.9, 1, 10, [0, 0, 9, 9]), ("a/v1", 0, 0.5, 1, 10, [0, 0, 9, 9]),
                              ("b/v2", 1, 0.7, 1, 10, [20, 20, 29, 29])])
    res = ucf24.main(["video-map", "--gt", gt_path, "--tubes", t, "--protocol", "road"])
    assert res["accuracy"] == 0.5
    t = tubes_file(tmp_path, [("b/v2", 1, 0.7, 1, 10, [20, 20, 29, 29])])  # no tube in a/v1: wrong
    assert ucf24.main(["video-map", "--gt", gt_path, "--tubes", t, "--protocol", "road"])["accuracy"] == 0.5


def test_frame_map_road(gt_path, tmp_path):
    # a/v1: exact boxes on frames 1-5 (TPs, score .9), a false positive at .95 on frame 11 (no GT),
    # a duplicate on frame 1 (.5, FP: its box is covered). 10 GT boxes.
    lines = ["a/v1,11,0,0.95,50,50,60,60"] + [f"a/v1,{f},0,0.9,0,0,9,9" for f in range(1, 6)] + ["a/v1,1,0,0.5,0,0,9,9"]
    lines += [f"b/v2,{f},1,0.8,20,20,29,24" for f in range(1, 11)]  # IoU 50/100 >= 0.5: TPs
    det = tmp_path / "d.csv"
    det.write_text("\n".join(lines) + "\n")
    res = ucf24.main(["frame-map", "--gt", gt_path, "--detections", str(det), "--protocol", "road"])
    # class a: ranks FP, TP x5, FP: precision envelope 5/6 up to recall .5 -> AP = 0.5 * 5/6
    assert res["per_class"]["a"] == pytest.approx(0.5 * 5 / 6)
    assert res["per_class"]["b"] == 1.0 and res["per_class"]["c"] == 0.0
    assert res["frame_mAP"] == pytest.approx((0.5 * 5 / 6 + 1.0) / 3)
