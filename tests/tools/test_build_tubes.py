"""tools/build_tubes.py end to end on simulated detector output, and the video-mAP acceptance:
tubes built from ground truth + noise + false positives + dropped frames, evaluated with
``python -m evaluation.ucf24 video-map --protocol road``."""

import json
import subprocess
import sys
from pathlib import Path

import build_tubes  # tools/ is on sys.path (tests/conftest.py)
import numpy as np
import pytest
from fixtures.simulated_tubes import simulate_detections, synthetic_annotations

from core.formats.act import pyannot_to_act, write_act_gt
from core.tubes.detfile import from_frames, write_detections
from core.tubes.tubes_json import read_tubes

ROOT = Path(__file__).resolve().parents[2]

NUM_CLASSES = 4


def write_dataset(root: Path, num_videos: int, level: float, seed: int = 0):
    db = synthetic_annotations(num_videos, NUM_CLASSES, seed=seed)
    dets = simulate_detections(db, NUM_CLASSES, level, seed=seed)
    for d in dets.values():
        write_detections(root / "det", d)
    gt = pyannot_to_act(db, [f"class{i}" for i in range(NUM_CLASSES)], [[]], [sorted(db)])
    write_act_gt(root / "GT.pkl", gt)
    return db, dets


def test_cli_writes_tubes_for_every_video(tmp_path):
    db, _ = write_dataset(tmp_path, 6, level=0.1)
    out = tmp_path / "TUBES.json"
    assert build_tubes.main(["--detections", str(tmp_path / "det"), "--out", str(out), "--workers", "0",
                             "--no_progress"]) == 0
    tubes = read_tubes(out)
    assert {t.video for t in tubes} == set(db)
    for t in tubes:
        assert t.label == db[t.video]["label"]  # the noise is mild: every tube has the video's class
        assert len(t) >= 10
    # a restricted video list
    (tmp_path / "list.txt").write_text(sorted(db)[0] + "\n")
    build_tubes.main(["--detections", str(tmp_path / "det"), "--out", str(out), "--workers", "0", "--no_progress",
                      "--videos", str(tmp_path / "list.txt")])
    assert {t.video for t in read_tubes(out)} == {sorted(db)[0]}


def test_cli_fusions_hand_case(tmp_path):
    """Two classes, 30 frames, the same two boxes in every frame of each stream (pixels; scores are
    [class 0, class 1, background]):

        RGB:  A  = (20, 20, 80, 120)  [0.55, 0.05, 0.40]     B = (200, 100, 260, 200)  [0.01, 0.01, 0.98]
        flow: A' = (30, 20, 90, 120)  [0.10, 0.80, 0.10]     B                          [0.90, 0.05, 0.05]

    IoU(A, A') with +1 areas = 51*101 / (2*61*101 - 51*101) = 0.71831. What each fusion must give:
    none: RGB alone, A as class 0 at 0.55 (and B at 0.01). mean (row by row, RGB boxes): A = [0.325, 0.425]
    -> class 1 at 0.425; B = [0.455, 0.03] -> class 0 at 0.455. union: each stream's own boxes, A class 0
    0.55 (RGB), A' class 1 0.80 and B class 0 0.90 (flow). boost: RGB A + 0.71831 x flow A', renormalised:
    [0.36188, 0.36352, 0.27459] -> class 1 at 0.36352; B + 1.0 x B -> class 0 at 0.455; every flow
    candidate was used, so none is appended."""
    a, b, a2 = [20, 20, 80, 120], [200, 100, 260, 200], [30, 20, 90, 120]
    rgb = (np.array([a, b], float), np.array([[0.55, 0.05, 0.40], [0.01, 0.01, 0.98]]))
    flow = (np.array([a2, b], float), np.array([[0.10, 0.80, 0.10], [0.90, 0.05, 0.05]]))
    write_detections(tmp_path / "rgb", from_frames("v", [rgb] * 30, 320, 240, 2))
    write_detections(tmp_path / "flow", from_frames("v", [flow] * 30, 320, 240, 2))

    def tubes(fusion):
        out = tmp_path / f"{fusion}.json"
        build_tubes.main(["--detections", str(tmp_path / "rgb"), "--out", str(out), "--workers", "0",
                          "--no_progress", "--fusion", fusion,
                          *(["--flow_detections", str(tmp_path / "flow")] if fusion != "none" else [])])
        found = read_tubes(out)
        assert all(len(t) == 30 for t in found)
        return sorted((t.label, round(float(t.score), 4), tuple(t.boxes[0, :4].tolist())) for t in found)

    boost = 0.55 + 0.71831 * 0.10, 0.05 + 0.71831 * 0.80, 0.40 + 0.71831 * 0.10
    assert round(boost[1] / sum(boost), 4) == 0.3635 and boost[1] > boost[0]
    assert tubes("none") == [(0, 0.01, tuple(b)), (0, 0.55, tuple(a))]
    assert tubes("mean") == [(0, 0.455, tuple(b)), (1, 0.425, tuple(a))]
    assert tubes("union") == [(0, 0.55, tuple(a)), (0, 0.9, tuple(b)), (1, 0.8, tuple(a2))]
    assert tubes("boost") == [(0, 0.455, tuple(b)), (1, 0.3635, tuple(a))]


def run_main(capsys, args):
    with pytest.raises(SystemExit) as e:
        build_tubes.main(args)
    return e.value.code, capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    code, err = run_main(capsys, ["--detections", str(tmp_path / "nowhere"), "--out", str(tmp_path / "T.json")])
    assert code == 2 and err.startswith("error:") and "nowhere" in err
    write_dataset(tmp_path, 1, level=0.0)
    code, err = run_main(capsys, ["--detections", str(tmp_path / "det"), "--out", str(tmp_path / "T.json"),
                                  "--fusion", "union", "--no_progress"])
    assert code == 2 and "--flow_detections" in err
    bad = tmp_path / "det" / "00" / "v_0000.npz"
    bad.write_bytes(b"garbage")
    code, err = run_main(capsys, ["--detections", str(tmp_path / "det"), "--out", str(tmp_path / "T.json"),
                                  "--no_progress", "--workers", "0"])
    assert code == 2 and "v_0000.npz" in err and err.count("\n") == 1
    assert not (tmp_path / "T.json").exists()


@pytest.mark.slow
def test_worker_processes_give_the_same_file(tmp_path):
    write_dataset(tmp_path, 8, level=0.3)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    build_tubes.main(["--detections", str(tmp_path / "det"), "--out", str(a), "--workers", "0", "--no_progress"])
    build_tubes.main(["--detections", str(tmp_path / "det"), "--out", str(b), "--workers", "2", "--no_progress"])
    assert a.read_bytes() == b.read_bytes()


def video_map_road(tmp_path: Path, level: float, num_videos: int, seed: int, subprocess_cli: bool = False) -> float:
    from evaluation import ucf24

    root = tmp_path / f"level{level}"
    write_dataset(root, num_videos, level, seed)
    tubes = root / "TUBES.json"
    build_tubes.main(["--detections", str(root / "det"), "--out", str(tubes), "--workers", "0", "--no_progress",
                      "--alpha", "5"])
    out = root / "metrics.json"
    args = ["video-map", "--gt", str(root / "GT.pkl"), "--tubes", str(tubes), "--protocol", "road", "--json", str(out)]
    if subprocess_cli:
        r = subprocess.run([sys.executable, "-m", "evaluation.ucf24", *args], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
    else:
        ucf24.main(args)
    return float(json.loads(out.read_text())["video_mAP"]["0.5"])


def test_video_map_of_noisy_ground_truth_tubes(tmp_path):
    # level 0.3: boxes jittered by 7.5% of their size, 12% of frames dropped, ~1.8 false positives a
    # frame, class margins narrowed
    assert video_map_road(tmp_path, 0.3, num_videos=16, seed=0, subprocess_cli=True) >= 0.9
    maps = [video_map_road(tmp_path, level, num_videos=12, seed=1) for level in (0.0, 0.5, 1.0)]
    assert maps[0] == pytest.approx(1.0)
    assert maps[0] >= maps[1] >= maps[2] and maps[2] < 0.5, maps


@pytest.mark.slow
def test_video_map_degrades_monotonically_with_noise(tmp_path):
    levels = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
    for seed in (0, 1):
        maps = [video_map_road(tmp_path / f"s{seed}", level, num_videos=24, seed=seed) for level in levels]
        assert maps[3] >= 0.9, maps
        assert all(a >= b for a, b in zip(maps, maps[1:])), maps
        assert maps[-1] < 0.1, maps
