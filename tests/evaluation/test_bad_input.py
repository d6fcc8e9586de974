"""Bad input: one line on stderr naming the file and the row, exit code 2."""

import os
import shutil

import pytest

from evaluation import ava, kinetics, ucf24

DATA = os.path.join(os.path.dirname(__file__), "data")
D = lambda name: os.path.join(DATA, name)  # noqa: E731


def run(main, argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    return err


@pytest.mark.parametrize("line, what", [
    ("vidA,0902,0.1,0.1,0.5", "row 3"),                       # 5 columns
    ("vidA,0902,0.1,0.1,0.5,0.5,1,0.5,7", "row 3"),           # 9 columns
    ("vidA,0902,0.1,0.1,0.5,0.5,1,nan", "row 3"),             # NaN score
    ("vidA,0902,0.6,0.1,0.5,0.5,1,0.5", "row 3"),             # x2 < x1
    ("vidA,0902,0.1,0.1,0.5,0.5,0,0.5", "row 3"),             # action id 0
    ("vidA,0902,0.1,0.1,0.5,0.5,x,0.5", "row 3"),             # not a number
])
def test_ava_bad_detection_rows(tmp_path, capsys, line, what):
    det = tmp_path / "det.csv"
    det.write_text("vidA,0902,0.1,0.1,0.5,0.5,1,0.5\nvidA,0902,0.1,0.1,0.5,0.5,3,0.25\n" + line + "\n")
    err = run(ava.main, ["-l", D("ava_labelmap_item.pbtxt"), "-g", D("ava_gt.csv"), "-d", str(det)], capsys)
    assert str(det) in err and what in err


def test_ava_bad_ground_truth_and_missing_files(tmp_path, capsys):
    gt = tmp_path / "gt.csv"
    gt.write_text("vidA,0902,0.1,0.1,0.5,0.5,1,0\nvidA,0902,0.9,0.1,0.5,0.5,1,0\n")
    err = run(ava.main, ["-l", D("ava_labelmap_item.pbtxt"), "-g", str(gt), "-d", D("ava_dets.csv")], capsys)
    assert str(gt) in err and "row 2" in err
    err = run(ava.main, ["-l", D("ava_labelmap_item.pbtxt"), "-g", str(tmp_path / "nope.csv"), "-d", D("ava_dets.csv")], capsys)
    assert "nope.csv" in err and "not found" in err


def test_ucf24_bad_detections(tmp_path, capsys):
    shutil.copy(D("ucf_gt.pkl"), tmp_path / "gt.pkl")
    cases = [
        ("walk/v1,3,7,0.5,1,1,20,20", "unknown class id 7"),
        ("walk/v1,3,0,nan,1,1,20,20", "finite number"),
        ("walk/v1,3,0,0.5,30,1,20,20", "x1 <= x2"),
        ("walk/v1,99,0,0.5,1,1,20,20", "frame 99"),
        ("nope/v9,3,0,0.5,1,1,20,20", "unknown video"),
    ]
    for line, what in cases:
        det = tmp_path / "det.csv"
        det.write_text("video,frame,label,score,x1,y1,x2,y2\nwalk/v1,1,0,0.9,1,1,20,20\n" + line + "\n")
        err = run(ucf24.main, ["frame-map", "--gt", str(tmp_path / "gt.pkl"), "--detections", str(det)], capsys)
        assert str(det) in err and "row 3" in err and what in err


def test_ucf24_bad_tubes(tmp_path, capsys):
    tubes = tmp_path / "t.json"
    tubes.write_text('[{"video": "walk/v1", "label": 0, "score": 0.5, "boxes": [[2, 0, 0, 5, 5], [1, 0, 0, 5, 5]]}]')
    err = run(ucf24.main, ["video-map", "--gt", D("ucf_gt.pkl"), "--tubes", str(tubes)], capsys)
    assert "tube 0" in err and "increasing" in err


def test_kinetics_unknown_class(tmp_path, capsys):
    pred = tmp_path / "p.json"
    pred.write_text('{"results": {"yt001": [{"label": "class zz", "score": 0.5}]}}')
    err = run(kinetics.main, ["--gt", D("kinetics_gt.json"), "--predictions", str(pred)], capsys)
    assert str(pred) in err and "class zz" in err


def test_module_entry_point_exit_code(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "evaluation.kinetics", "--gt", str(tmp_path / "missing.json"),
                        "--predictions", D("kinetics_pred.json")], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "missing.json" in p.stderr
