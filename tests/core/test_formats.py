import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import DataError
from core.formats import act, ava, kinetics, stage_h5, sth, ucf24
from core.io import dump_pickle, safe_load_pickle

ROOT = Path(__file__).resolve().parents[2]


def toy_pyannot():
    return {
        "Basketball/v_Basketball_g01_c01": {
            "label": 0, "numf": np.uint16(10),
            "annotations": [{"label": 0, "sf": 3, "ef": 5, "boxes": np.array([[11, 21, 10, 5], [12, 21, 10, 5]], np.uint16)}],
        },
        "Fencing/v_Fencing_g02_c03": {
            "label": 6, "numf": np.uint16(300),
            "annotations": [
                {"label": 6, "sf": 0, "ef": 300, "boxes": np.tile(np.array([[1, 1, 319, 239]], np.uint16), (300, 1))},
                {"label": 6, "sf": 100, "ef": 102, "boxes": np.array([[250, 200, 70, 40], [251, 199, 69, 41]], np.uint16)},
            ],
        },
    }


def test_pyannot_round_trip_keeps_dtypes(tmp_path):
    db = toy_pyannot()
    ucf24.write_pyannot(tmp_path / "pyannot.pkl", db)
    back = ucf24.read_pyannot(tmp_path / "pyannot.pkl")
    assert list(back) == list(db)
    v = back["Fencing/v_Fencing_g02_c03"]
    assert v["numf"].dtype == np.uint16 and v["annotations"][1]["boxes"].dtype == np.uint16
    for k in db:
        for t0, t1 in zip(db[k]["annotations"], back[k]["annotations"]):
            assert (t0["sf"], t0["ef"], t0["label"]) == (t1["sf"], t1["ef"], t1["label"])
            np.testing.assert_array_equal(t0["boxes"], t1["boxes"])


def test_pyannot_box_conventions_by_hand():
    b = np.array([[250, 200, 70, 40]], np.uint8)  # uint8 x + w would wrap to 64
    np.testing.assert_array_equal(ucf24.pyannot_boxes_to_xyxy(b, inclusive=False), [[249, 199, 319, 239]])
    np.testing.assert_array_equal(ucf24.pyannot_boxes_to_xyxy(b, inclusive=True), [[249, 199, 318, 238]])
    fb = ucf24.frame_boxes(toy_pyannot()["Basketball/v_Basketball_g01_c01"])
    assert sorted(fb) == [3, 4]
    np.testing.assert_array_equal(fb[4], [[11, 20, 21, 25, 0]])
    assert ucf24.frame_path("/d", "A/v", 0) == "/d/rgb-images/A/v/00001.jpg"


def test_pyannot_bad_structure_names_video_and_tube(tmp_path):
    db = toy_pyannot()
    db["Fencing/v_Fencing_g02_c03"]["annotations"][1]["ef"] = 103  # 3 frames but 2 boxes
    dump_pickle(tmp_path / "bad.pkl", db)
    with pytest.raises(DataError, match=r"bad\.pkl: video 'Fencing/v_Fencing_g02_c03' tube 1: expected 0 <= sf < ef"):
        ucf24.read_pyannot(tmp_path / "bad.pkl")


def test_pyannot_to_act_by_hand_and_exact_round_trip(tmp_path):
    db = toy_pyannot()
    gt = act.pyannot_to_act(db, ucf24.UCF24_CLASSES, [["Fencing/v_Fencing_g02_c03"]], [["Basketball/v_Basketball_g01_c01"]])
    tube = gt["gttubes"]["Basketball/v_Basketball_g01_c01"][0][0]
    # sf=3 (0-based), ef=5 (exclusive) -> 1-based frames 4, 5; x=11,w=10 -> pixels 10..19 0-based inclusive
    np.testing.assert_array_equal(tube, [[4, 10, 20, 19, 24], [5, 11, 20, 20, 24]])
    assert gt["nframes"]["Fencing/v_Fencing_g02_c03"] == 300 and gt["resolution"]["Fencing/v_Fencing_g02_c03"] == (240, 320)
    act.write_act_gt(tmp_path / "GT.pkl", gt)
    back = act.read_act_gt(tmp_path / "GT.pkl")
    db2 = act.act_to_pyannot(back)
    assert sorted(db2) == sorted(db)
    for k in db:
        assert db2[k]["label"] == db[k]["label"] and int(db2[k]["numf"]) == int(db[k]["numf"])
        for t0, t1 in zip(db[k]["annotations"], db2[k]["annotations"]):
            assert (t0["sf"], t0["ef"], t0["label"]) == (t1["sf"], t1["ef"], t1["label"])
            np.testing.assert_array_equal(t0["boxes"], t1["boxes"])
            assert t1["boxes"].dtype == np.uint16
    gt2 = act.pyannot_to_act(db2, gt["labels"], gt["train_videos"], gt["test_videos"])
    for v in gt["gttubes"]:
        for lab in gt["gttubes"][v]:
            for a, b in zip(gt["gttubes"][v][lab], gt2["gttubes"][v][lab]):
                np.testing.assert_array_equal(a, b)


def test_read_gt_any_detects_both_formats(tmp_path):
    db = toy_pyannot()
    ucf24.write_pyannot(tmp_path / "pyannot.pkl", db)
    ucf24.write_split_list(tmp_path / "trainlist01.txt", ["Fencing/v_Fencing_g02_c03"])
    gt = act.read_gt_any(tmp_path / "pyannot.pkl")
    assert gt["test_videos"] == [["Basketball/v_Basketball_g01_c01"]] and gt["labels"] == ucf24.UCF24_CLASSES
    act.write_act_gt(tmp_path / "G.pkl", gt)
    assert act.read_gt_any(tmp_path / "G.pkl")["test_videos"] == gt["test_videos"]


def test_convert_annotations_cli_round_trip(tmp_path):
    ucf24.write_pyannot(tmp_path / "pyannot.pkl", toy_pyannot())
    ucf24.write_split_list(tmp_path / "trainlist01.txt", ["Fencing/v_Fencing_g02_c03"])
    ucf24.write_split_list(tmp_path / "testlist01.txt", ["Basketball/v_Basketball_g01_c01"])
    tool = str(ROOT / "tools" / "convert_annotations.py")
    subprocess.run([sys.executable, tool, str(tmp_path / "pyannot.pkl"), str(tmp_path / "GT.pkl")], check=True)
    out = tmp_path / "back"
    out.mkdir()
    subprocess.run([sys.executable, tool, str(tmp_path / "GT.pkl"), str(out / "pyannot.pkl"), "--write_splits"], check=True)
    assert (tmp_path / "pyannot.pkl").read_bytes() == (out / "pyannot.pkl").read_bytes()
    assert (out / "testlist01.txt").read_text() == "Basketball/v_Basketball_g01_c01\n"
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    r = subprocess.run([sys.executable, tool, str(tmp_path / "junk.pkl"), str(tmp_path / "x.pkl")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "junk.pkl" in r.stderr


AVA_ROWS = """-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,80,1
-5KQ66BBWC4,0902,0.077,0.151,0.283,0.811,9,1
-5KQ66BBWC4,0903,0.226,0.032,0.366,0.497,12,0
b5pRYl_djbs,1798
"""


def test_ava_csv_round_trip_and_columns(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text(AVA_ROWS)
    df = ava.read_ava_csv(p)
    assert df["timestamp"].tolist() == [902, 902, 903, 1798]
    assert df["action_id"].tolist() == [80, 9, 12, -1] and df["extra"].tolist()[:3] == [1, 1, 0]
    assert np.isnan(df.loc[3, "x1"]) and df["row"].tolist() == [1, 2, 3, 4]
    ava.write_ava_csv(tmp_path / "back.csv", df)
    assert (tmp_path / "back.csv").read_text() == AVA_ROWS
    det = df.iloc[:3].assign(extra=[0.91, 0.5, 0.123456789])
    ava.write_ava_csv(tmp_path / "det.csv", det, box_decimals=None)
    back = ava.read_ava_csv(tmp_path / "det.csv")
    np.testing.assert_array_equal(back["extra"], det["extra"])


@pytest.mark.parametrize("row,msg", [
    ("v,0902,0.1,0.2,0.3", r"row 2: expected 2, 7 or 8 columns, got 5"),
    ("v,0902,0.1,0.2,0.3,0.4,5,nan", r"row 2: expected a finite number for score"),
    ("v,0902,0.5,0.2,0.3,0.4,5,0.9", r"row 2: expected x1 <= x2"),
    ("v,09x2,0.1,0.2,0.3,0.4,5,0.9", r"row 2: expected a finite number for timestamp"),
    ("v,0902,0.1,0.2,0.3,0.4,5,0.9,1", r"row 2: expected 2, 7 or 8 columns"),
])
def test_ava_csv_bad_rows_name_file_and_row(tmp_path, row, msg):
    p = tmp_path / "det.csv"
    p.write_text("v,0902,0.1,0.2,0.3,0.4,5,0.9\n" + row + "\n")
    with pytest.raises(DataError, match=r"det\.csv: " + msg):
        ava.read_ava_csv(p)


def test_labelmap_both_flavours(tmp_path):
    classes = [{"id": 1, "name": "bend/bow (at the waist)", "type": "PERSON_MOVEMENT"},
               {"id": 17, "name": "carry/hold (an object)", "type": "OBJECT_MANIPULATION"},
               {"id": 64, "name": "fight/hit (a person)", "type": "PERSON_INTERACTION"}]
    ava.write_labelmap(tmp_path / "a.pbtxt", classes, flavour="label")
    ava.write_labelmap(tmp_path / "b.pbtxt", classes, flavour="item")
    assert ava.read_labelmap(tmp_path / "a.pbtxt") == classes
    assert ava.read_labelmap(tmp_path / "b.pbtxt") == [dict(c, type=None) for c in classes]
    assert 'item {\n  name: "bend/bow (at the waist)"\n  id: 1\n}\n' in (tmp_path / "b.pbtxt").read_text()
    assert "label_id: 64\n  label_type: PERSON_INTERACTION" in (tmp_path / "a.pbtxt").read_text()
    assert [ava.action_group(i) for i in (14, 15, 63, 64)] == ["person_movement", "object_manipulation",
                                                             "object_manipulation", "person_interaction"]
    assert len(ava.AVA_EVAL_IDS) == 60 and 2 not in ava.AVA_EVAL_IDS and 80 in ava.AVA_EVAL_IDS


def test_exclusions_round_trip(tmp_path):
    keys = {("-5KQ66BBWC4", 902), ("b5pRYl_djbs", 1798)}
    ava.write_exclusions(tmp_path / "ex.csv", keys)
    assert (tmp_path / "ex.csv").read_text() == "-5KQ66BBWC4,0902\nb5pRYl_djbs,1798\n"
    assert ava.read_exclusions(tmp_path / "ex.csv") == keys


def test_kinetics_csv_and_annotation_json(tmp_path):
    train = pd.DataFrame({"label": ["abseiling", "zumba", "abseiling"], "youtube_id": ["a" * 11, "b" * 11, "c" * 11],
                          "time_start": [0, 10, 417], "time_end": [10, 20, 427], "split": ["train"] * 3})
    kinetics.write_kinetics_csv(tmp_path / "train.csv", train)
    assert (tmp_path / "train.csv").read_text().splitlines()[0] == "label,youtube_id,time_start,time_end,split"
    test = pd.DataFrame({"label": [None], "youtube_id": ["d" * 11], "time_start": [5], "time_end": [15], "split": ["test"]})
    kinetics.write_kinetics_csv(tmp_path / "test.csv", test)
    assert (tmp_path / "test.csv").read_text().splitlines()[0] == "youtube_id,time_start,time_end,split"
    assert kinetics.read_kinetics_csv(tmp_path / "train.csv").equals(train)
    assert kinetics.read_kinetics_csv(tmp_path / "test.csv")["label"].isna().all()
    assert kinetics.crawler_path("abseiling", "0wR5jVB-WPk", 417, 427) == "abseiling/0wR5jVB-WPk_000417_000427.mp4"
    frames = tmp_path / "rgb-images" / ("a" * 11)
    frames.mkdir(parents=True)
    for i in range(16):
        (frames / f"{i + 1:05d}.jpg").write_bytes(b"")
    ann = kinetics.build_annotations({"train": tmp_path / "train.csv", "test": tmp_path / "test.csv"}, tmp_path / "rgb-images")
    assert ann["classes"] == {"abseiling": 0, "zumba": 1}
    assert ann["database"]["a" * 11] == {"label": "abseiling", "cls": 0, "subset": "train", "isthere": True, "numf": 16}
    assert ann["database"]["d" * 11]["cls"] == 0 and ann["database"]["b" * 11]["isthere"] is False
    kinetics.write_annotation_json(tmp_path / "ann.json", ann)
    assert kinetics.read_annotation_json(tmp_path / "ann.json") == ann
    (tmp_path / "bad.csv").write_text("label,youtube_id,time_start,time_end,split\nx,y,1,zz,train\n")
    with pytest.raises(DataError, match=r"bad\.csv: row 2: expected an integer time_end"):
        kinetics.read_kinetics_csv(tmp_path / "bad.csv")


def test_something_something_files(tmp_path):
    sth.write_v1_labels(tmp_path / "labels.csv", ["Holding something", "Pushing something from left to right"])
    sth.write_v1_split(tmp_path / "train.csv", [("1", "Holding something"), ("7", "Pushing something from left to right")])
    sth.write_v1_split(tmp_path / "test.csv", [("9", None)])
    assert (tmp_path / "train.csv").read_text() == "1;Holding something\n7;Pushing something from left to right\n"
    assert sth.read_v1_split(tmp_path / "train.csv")[1] == ("7", "Pushing something from left to right")
    assert sth.read_v1_split(tmp_path / "test.csv") == [("9", None)]
    sth.write_v2_labels(tmp_path / "labels.json", {"Holding something next to something": 0})
    assert json.loads((tmp_path / "labels.json").read_text()) == {"Holding something next to something": "0"}
    labels = sth.read_v2_labels(tmp_path / "labels.json")
    assert sth.v2_label_index(labels, "Holding [something] next to [something]") == 0
    items = [{"id": "78687", "label": "holding a cup next to a plate", "template": "Holding [something] next to [something]",
              "placeholders": ["a cup", "a plate"]}]
    sth.write_v2_split(tmp_path / "train.json", items)
    assert sth.read_v2_split(tmp_path / "train.json") == items
    sth.write_list_file(tmp_path / "list.txt", [("1", 40, 0), ("7", 33, 1)])
    assert (tmp_path / "list.txt").read_text() == "1 40 0\n7 33 1\n"
    assert sth.read_list_file(tmp_path / "list.txt") == [("1", 40, 0), ("7", 33, 1)]
    (tmp_path / "bad.txt").write_text("1 40 0\n7 33\n")
    with pytest.raises(DataError, match=r"bad\.txt: row 2"):
        sth.read_list_file(tmp_path / "bad.txt")


def test_stage_h5_layouts(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(3, 16, 2, 3, 3)).astype(np.float32)
    bxs = rng.uniform(size=(3, 4)).astype(np.float32)
    labels = np.zeros((3, 81), np.float32)
    labels[0, 12] = labels[1, 0] = 1
    stage_h5.write_actor_h5(stage_h5.actor_h5_path(tmp_path / "actors", "-5KQ66BBWC4", "0902"), feats, bxs, labels)
    stage_h5.write_actor_h5(stage_h5.actor_h5_path(tmp_path / "actors", "-5KQ66BBWC4", "1000"), feats[:1], bxs[:1], labels[:1])
    stage_h5.write_actor_h5(stage_h5.actor_h5_path(tmp_path / "actors", "-5KQ66BBWC4", "0903"), feats[:2], bxs[:2], labels[:2])
    files = stage_h5.list_actor_files(tmp_path / "actors")
    assert [f[1] for f in files] == ["0902", "0903", "1000"]  # numeric order
    got = stage_h5.read_actor_h5(files[0][2])
    np.testing.assert_array_equal(got["features"], feats)
    np.testing.assert_array_equal(got["labels"], labels)
    objs = {("-5KQ66BBWC4", "0902"): {"features": np.ones((2, 8)), "boxes": np.zeros((2, 4)), "cls_prob": np.ones((2, 5)) / 5}}
    stage_h5.write_object_h5(tmp_path / "objects.h5", objs)
    import h5py
    with h5py.File(tmp_path / "objects.h5") as f:
        assert sorted(f.keys()) == ["-5KQ66BBWC4_902_boxes", "-5KQ66BBWC4_902_cls_prob", "-5KQ66BBWC4_902_features"]
    with stage_h5.ObjectFeatures(tmp_path / "objects.h5") as of:
        assert of["-5KQ66BBWC4", 902]["features"].shape == (2, 8)
        assert of["-5KQ66BBWC4", "0903"]["features"].shape == (0, 8)
    (tmp_path / "broken.h5").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"broken\.h5: not a readable h5 file"):
        stage_h5.read_actor_h5(tmp_path / "broken.h5")


def test_restricted_loader_is_used_for_dataset_pickles(tmp_path):
    # a pyannot file smuggling a callable is refused by the reader itself
    import pickle

    class Bad:
        def __reduce__(self):
            return (print, ("x",))

    (tmp_path / "p.pkl").write_bytes(pickle.dumps({"v": Bad()}, protocol=2))
    with pytest.raises(DataError, match="refusing to unpickle global 'builtins.print'"):
        ucf24.read_pyannot(tmp_path / "p.pkl")
    assert safe_load_pickle  # the loader all readers share
