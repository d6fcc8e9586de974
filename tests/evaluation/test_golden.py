"""Golden numbers: computed once by running the original evaluators (from checkouts outside the
repository) on the fixtures in data/ (see data/make_fixtures.py); the project must equal them to 1e-9.

- AVA: activitynet/ActivityNet Evaluation/get_ava_performance.py at af461c3 ("head") and be7854e ("2018");
  the cap-0 case ran the af461c3 code with read_csv's capacity forced to 0.
- UCF24 --protocol act: vkalogeiton/caffe act-detector branch, act-detector-scripts/ACT.py frameAP/videoAP.
- Kinetics: ActivityNet Evaluation/eval_kinetics.py (top_k 1 and 5, no blocked videos).
"""

import os

import pytest

from evaluation import ava, kinetics, ucf24

DATA = os.path.join(os.path.dirname(__file__), "data")
D = lambda name: os.path.join(DATA, name)  # noqa: E731

AVA_NAMES = {1: "bend/bow", 3: "crouch", 5: "fall down", 8: "lie/sleep", 12: "stand", 17: "carry/hold",
             64: "fight/hit", 80: "watch"}
AVA_HEAD = {1: 0.4988095238095238, 3: 0.29444444444444445, 5: 0.29797979797979796, 8: 0.13020833333333334,
            12: 0.5206349206349207, 17: 0.11805555555555555, 64: 0.125, 80: None}
AVA_HEAD_MAP = 0.28359036796536796
AVA_HEAD_CAP0 = {1: 0.46944444444444444, 3: 0.2404040404040404, 5: 0.29710144927536225, 8: 0.125,
                 12: 0.4684343434343435, 17: 0.09090909090909091, 64: 0.125, 80: None}
AVA_HEAD_CAP0_MAP = 0.25947048120961164
AVA_2018_EXCL = {1: 0.4750402576489533, 3: 0.16666666666666666, 5: 0.33630952380952384, 8: 0.11428571428571428,
                 12: 0.36742424242424243, 17: 0.08846153846153847, 64: 0.125, 80: None}
AVA_2018_EXCL_MAP = 0.239026849042377
AVA_2018 = {1: 0.5643529411764706, 3: 0.2404040404040404, 5: 0.29710144927536225, 8: 0.125,
            12: 0.4587809036658141, 17: 0.09545454545454546, 64: 0.125, 80: None}
AVA_2018_MAP = 0.27229912571089043


def _check_ava(res, per_class, mean):
    assert res["mAP"] == pytest.approx(mean, abs=1e-9)
    for cid, ap in per_class.items():
        got = res["per_class"][str(cid)]
        assert got["name"] == AVA_NAMES[cid]
        if ap is None:
            assert got["ap"] != got["ap"]  # NaN: class without ground truth
        else:
            assert got["ap"] == pytest.approx(ap, abs=1e-9)


@pytest.mark.parametrize("flavour", ["item", "label"])
def test_ava_head(flavour):
    res = ava.evaluate(D(f"ava_labelmap_{flavour}.pbtxt"), D("ava_gt.csv"), D("ava_dets.csv"))
    _check_ava(res, AVA_HEAD, AVA_HEAD_MAP)
    # group mAPs: nanmean over the listed classes of each group
    assert res["groups"]["person_movement"] == pytest.approx(sum(AVA_HEAD[i] for i in (1, 3, 5, 8, 12)) / 5)
    assert res["groups"]["object_manipulation"] == pytest.approx(AVA_HEAD[17])
    assert res["groups"]["person_interaction"] == pytest.approx(AVA_HEAD[64])


def test_ava_head_no_cap():
    res = ava.evaluate(D("ava_labelmap_item.pbtxt"), D("ava_gt.csv"), D("ava_dets.csv"), max_dets_per_frame=0)
    _check_ava(res, AVA_HEAD_CAP0, AVA_HEAD_CAP0_MAP)


def test_ava_empty_detections():
    res = ava.evaluate(D("ava_labelmap_item.pbtxt"), D("ava_gt.csv"), D("ava_dets_empty.csv"))
    _check_ava(res, {k: (None if v is None else 0.0) for k, v in AVA_HEAD.items()}, 0.0)


def test_ava_2018_with_and_without_exclusions():
    res = ava.evaluate(D("ava_labelmap_item.pbtxt"), D("ava_gt_7col.csv"), D("ava_dets.csv"),
                       exclusions=D("ava_exclusions.csv"), version="2018")
    _check_ava(res, AVA_2018_EXCL, AVA_2018_EXCL_MAP)
    res = ava.evaluate(D("ava_labelmap_item.pbtxt"), D("ava_gt_7col.csv"), D("ava_dets.csv"), version="2018")
    _check_ava(res, AVA_2018, AVA_2018_MAP)


def test_ava_cli_json(tmp_path):
    out = tmp_path / "ava.json"
    res = ava.main(["-l", D("ava_labelmap_item.pbtxt"), "-g", D("ava_gt.csv"), "-d", D("ava_dets.csv"),
                    "--json", str(out)])
    import json

    data = json.loads(out.read_text())
    assert set(data) == {"mAP", "per_class", "groups"}
    assert data["mAP"] == pytest.approx(AVA_HEAD_MAP, abs=1e-9) and data["per_class"]["80"]["ap"] is None
    assert res["mAP"] == data["mAP"]


ACT_FRAME = {"walk": 0.44558584690093994, "jump": 0.5079979300498962, "wave": 0.3781536817550659}
ACT_VIDEO = {
    "0.2": {"walk": 1.0, "jump": 1.0, "wave": 0.1666666716337204},
    "0.5": {"walk": 0.5, "jump": 1.0, "wave": 0.1666666716337204},
    "0.75": {"walk": 0.5, "jump": 0.055555559694767, "wave": 0.1666666716337204},
}
ACT_VIDEO_5095 = 0.32962963109215104  # mean over the 10 thresholds of ACT's per-class mean


def test_ucf24_act_frame_map():
    gt = ucf24.GroundTruth(D("ucf_gt.pkl"), 1)
    res = ucf24.frame_map(gt, ucf24.read_detections(D("ucf_dets.csv"), gt), "act")
    for name, ap in ACT_FRAME.items():
        assert res["per_class"][name] == pytest.approx(ap, abs=1e-9)
    assert res["frame_mAP"] == pytest.approx(sum(ACT_FRAME.values()) / 3, abs=1e-9)


def test_ucf24_act_video_map(tmp_path):
    out = tmp_path / "v.json"
    res = ucf24.main(["video-map", "--gt", D("ucf_gt.pkl"), "--tubes", D("ucf_tubes.json"), "--protocol", "act",
                      "--json", str(out)])
    for th, per_class in ACT_VIDEO.items():
        for name, ap in per_class.items():
            assert res["per_class"][name][th] == pytest.approx(ap, abs=1e-9)
        assert res["video_mAP"][th] == pytest.approx(sum(per_class.values()) / 3, abs=1e-9)
    assert res["video_mAP"]["0.5:0.95"] == pytest.approx(ACT_VIDEO_5095, abs=1e-9)
    assert out.exists() and 0 <= res["accuracy"] <= 1


KIN = {"hit@1": 0.1388888888888889, "hit@5": 0.75, "mAP": 0.18859353292731865,
       "ap": {"class b": 0.09565217391304348, "class c": 0.23703703703703702, "class g": 0.22052154195011336,
              "class a": 0.15359477124183007, "class d": 0.15000000000000002, "class e": 0.23199999999999998,
              "class f": 0.23134920634920636}}


def test_kinetics():
    res = kinetics.evaluate(D("kinetics_gt.json"), D("kinetics_pred.json"))
    assert res["hit@1"] == pytest.approx(KIN["hit@1"], abs=1e-9)
    assert res["hit@5"] == pytest.approx(KIN["hit@5"], abs=1e-9)
    assert res["mean_hit"] == pytest.approx((KIN["hit@1"] + KIN["hit@5"]) / 2, abs=1e-9)
    assert res["mAP"] == pytest.approx(KIN["mAP"], abs=1e-9)
    assert res["per_class"] == pytest.approx(KIN["ap"], abs=1e-9)
