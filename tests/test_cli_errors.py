"""Every command line of the project, given a missing input file and a malformed one, stops with one line
``error: ...`` on stderr that names the file, and exit status 2: no traceback, no silent result.

Batch tools (frames, flow) report each bad item on its own ``error:`` line and end with their summary
line. ``tools/check_videos.py`` is a checker: unreadable videos are what it looks for, so it lists them
(``PATH: reason`` on stdout) and exits 1; a missing folder is still an ``error:`` line and exit 2.
The scripts run in this process (their ``main(argv)``), so the whole table costs seconds.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
GARBAGE = b"\x00\x01 this is not the file you are looking for \xff\xfe"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Dict[str, Path]:
    """Malformed inputs of every kind the CLIs read, and a folder that does not exist."""
    root = tmp_path_factory.mktemp("bad")
    out = {"missing": root / "nowhere"}
    for name in ("bad.pkl", "bad.pth", "bad.json", "bad.csv", "bad.mp4", "bad.npz", "bad.h5", "bad.pbtxt"):
        (root / name).write_bytes(GARBAGE)
        out[name] = root / name
    # dataset layouts whose annotation file is garbage
    ucf = root / "ucf" / "ucf24" / "splitfiles"
    ucf.mkdir(parents=True)
    (ucf / "pyannot.pkl").write_bytes(GARBAGE)
    (ucf / "trainlist01.txt").write_text("Basketball/v_Basketball_g01_c01\n")
    out["ucf"] = root / "ucf"
    kin = root / "kin" / "kinetics" / "hfiles"
    kin.mkdir(parents=True)
    (kin / "Annots_400.json").write_bytes(GARBAGE)
    out["kin"] = root / "kin"
    ava = root / "ava" / "annotations"
    ava.mkdir(parents=True)
    for name in ("ava_train_v2.2.csv", "ava_val_v2.2.csv"):
        (ava / name).write_text("video,0902,not,a,number,0.4,12\n")
    out["ava"] = root / "ava"
    actors = root / "actors" / "clip"
    actors.mkdir(parents=True)
    (actors / "0902.h5").write_bytes(GARBAGE)
    out["actors"] = root / "actors"
    frames = root / "frames" / "video1"
    frames.mkdir(parents=True)
    for i in (1, 2):
        (frames / f"{i:05d}.jpg").write_bytes(GARBAGE)
    out["frames"] = root / "frames"
    videos = root / "videos"
    videos.mkdir()
    (videos / "v_Class_g01_c01.avi").write_bytes(GARBAGE)
    out["videos"] = videos
    dets = root / "dets"
    dets.mkdir()
    (dets / "v_0000.npz").write_bytes(GARBAGE)
    out["dets"] = dets
    csvdir = root / "csvdir"
    csvdir.mkdir()
    (csvdir / "kinetics_train.csv").write_bytes(GARBAGE)
    out["csvdir"] = csvdir
    out["root"] = root
    return out


F = Callable[[Dict[str, Path]], List[str]]
# (command, argv with a missing input, argv with a malformed input, the file name the error must name for each)
CASES: List[Tuple[str, F, F, str, str]] = [
    ("amtnet/train.py",
     lambda f: ["--data_root", f["missing"], "--num_workers", "0", "--logger", "none"],
     lambda f: ["--data_root", f["ucf"], "--num_workers", "0", "--logger", "none"], "nowhere", "pyannot.pkl"),
    ("amtnet/test.py",
     lambda f: ["--data_root", f["ucf"], "--checkpoint", f["missing"] / "AMTNet.pth"],
     lambda f: ["--data_root", f["ucf"], "--checkpoint", f["bad.pth"]], "AMTNet.pth", "bad.pth"),
    ("kinetics2stream/train.py",
     lambda f: ["--root", f["missing"], "--datasubset", "400", "-j", "0", "--logger", "none"],
     lambda f: ["--root", f["kin"], "--datasubset", "400", "-j", "0", "--logger", "none"],
     "Annots_400.json", "Annots_400.json"),
    ("kinetics2stream/test.py",
     lambda f: ["--root", f["missing"], "--datasubset", "400", "-j", "0"],
     lambda f: ["--root", f["kin"], "--datasubset", "400", "-j", "0"], "Annots_400.json", "Annots_400.json"),
    ("kinetics2stream/eval.py",
     lambda f: ["--gt", f["missing"] / "Annots.json", "--predictions", f["bad.json"]],
     lambda f: ["--gt", f["bad.json"], "--predictions", f["bad.json"]], "Annots.json", "bad.json"),
    ("stage/train.py",
     lambda f: ["--actors_dir", f["missing"], "--output_dir", f["root"] / "st", "--n_workers", "0", "--logger", "none"],
     lambda f: ["--actors_dir", f["actors"], "--output_dir", f["root"] / "st", "--n_workers", "0", "--logger", "none"],
     "nowhere", "0902.h5"),
    ("stage/test.py",
     lambda f: ["--actors_dir", f["actors"], "--output_dir", f["root"] / "st", "--weights", f["missing"] / "m.pth"],
     lambda f: ["--actors_dir", f["actors"], "--output_dir", f["root"] / "st", "--weights", f["bad.pth"]],
     "m.pth", "bad.pth"),
    ("tools/build_tubes.py",
     lambda f: ["--detections", f["missing"], "--out", f["root"] / "T.json", "--workers", "0", "--no_progress"],
     lambda f: ["--detections", f["dets"], "--out", f["root"] / "T.json", "--workers", "0", "--no_progress"],
     "nowhere", "v_0000.npz"),
    ("tools/check_videos.py",
     lambda f: [f["missing"]],
     lambda f: [f["videos"]], "nowhere", "v_Class_g01_c01.avi"),
    ("tools/compute_flow.py",
     lambda f: ["--frames", f["missing"], "--out", f["root"] / "flow"],
     lambda f: ["--frames", f["frames"], "--out", f["root"] / "flow"], "nowhere", "00001.jpg"),
    ("tools/convert_annotations.py",
     lambda f: [f["missing"] / "pyannot.pkl", f["root"] / "out.pkl"],
     lambda f: [f["bad.pkl"], f["root"] / "out.pkl"], "pyannot.pkl", "bad.pkl"),
    ("tools/crop_segments.py",
     lambda f: ["--movies", f["videos"], "--csv", f["missing"] / "ava_val.csv", "--split", "val", "--out",
                f["root"] / "seg"],
     lambda f: ["--movies", f["videos"], "--csv", f["bad.csv"], "--split", "val", "--out", f["root"] / "seg"],
     "ava_val.csv", "bad.csv"),
    ("tools/extract_features.py",
     lambda f: ["--data_root", f["missing"], "--out_dir", f["root"] / "feats", "--split", "val"],
     lambda f: ["--data_root", f["ava"], "--out_dir", f["root"] / "feats", "--split", "val"],
     "nowhere", "ava_val_v2.2.csv"),
    ("tools/extract_frames.py",
     lambda f: ["--videos", f["missing"], "--out", f["root"] / "fr"],
     lambda f: ["--videos", f["videos"], "--out", f["root"] / "fr"], "nowhere", "v_Class_g01_c01.avi"),
    ("tools/prepare_kinetics.py",
     lambda f: ["--csv_dir", f["missing"], "--out", f["root"] / "k", "--stages", "annots"],
     lambda f: ["--csv_dir", f["csvdir"], "--out", f["root"] / "k", "--stages", "annots"],
     "nowhere", "kinetics_train.csv"),
    ("tools/reproduce.py",
     lambda f: ["kinetics2stream", "--quick", "--data_root", f["missing"], "--work_dir", f["root"] / "rep"],
     lambda f: ["kinetics2stream", "--quick", "--data_root", f["kin"], "--work_dir", f["root"] / "rep"],
     "Annots_200.json", "Annots_200.json"),
    ("tools/train_actor_backbone.py",
     lambda f: ["--data_root", f["missing"], "--out_dir", f["root"] / "bb"],
     lambda f: ["--data_root", f["ava"], "--out_dir", f["root"] / "bb"], "ava_train_v2.2.csv", "ava_train_v2.2.csv"),
    ("evaluation.ava",
     lambda f: ["-l", REPO / "tests" / "evaluation" / "data" / "ava_labelmap_item.pbtxt", "-g", f["missing"] / "gt.csv",
                "-d", f["bad.csv"]],
     lambda f: ["-l", f["bad.pbtxt"], "-g", f["bad.csv"], "-d", f["bad.csv"]], "gt.csv", "bad."),
    ("evaluation.ucf24",
     lambda f: ["frame-map", "--gt", f["missing"] / "GT.pkl", "--detections", f["bad.csv"]],
     lambda f: ["frame-map", "--gt", f["bad.pkl"], "--detections", f["bad.csv"]], "GT.pkl", "bad.pkl"),
    ("evaluation.ucf24 video-map",
     lambda f: ["video-map", "--gt", f["missing"] / "GT.pkl", "--tubes", f["bad.json"]],
     lambda f: ["video-map", "--gt", f["bad.pkl"], "--tubes", f["bad.json"]], "GT.pkl", "bad.pkl"),
    ("evaluation.kinetics",
     lambda f: ["--gt", f["missing"] / "gt.json", "--predictions", f["bad.json"]],
     lambda f: ["--gt", f["bad.json"], "--predictions", f["bad.json"]], "gt.json", "bad.json"),
]
# the paper packages not built yet take part as soon as their scripts exist
CASES = [c for c in CASES if not c[0].endswith(".py") or (REPO / c[0]).is_file()]


def _main(command: str) -> Callable[[List[str]], object]:
    if command.endswith(".py"):
        path = REPO / command
        spec = importlib.util.spec_from_file_location(f"cli_{path.parent.name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main
    return importlib.import_module(command.split()[0]).main


def run_cli(command: str, argv: List[object], capsys) -> Tuple[int, str, str]:
    main = _main(command)
    old = sys.argv
    sys.argv = [command, *map(str, argv)]
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("kind", ["missing", "malformed"])
@pytest.mark.parametrize("command, missing, malformed, missing_name, malformed_name", CASES,
                         ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(command, missing, malformed, missing_name, malformed_name, kind, files,
                                          capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = (missing if kind == "missing" else malformed)(files)
    code, out, err = run_cli(command, argv, capsys)
    name = missing_name if kind == "missing" else malformed_name
    assert "Traceback" not in err, err
    if command == "tools/check_videos.py" and kind == "malformed":
        assert code == 1 and [line for line in out.splitlines() if name in line], out
        return
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, f"exit {code}, stderr:\n{err}"
    assert len(errors) == 1, f"expected one error line:\n{err}"
    assert name in errors[0], f"{name!r} not named in {errors[0]!r}"
