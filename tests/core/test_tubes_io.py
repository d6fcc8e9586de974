"""Detection files and TUBES.json: round trips and one-line errors on bad input."""

import json

import numpy as np
import pytest

from core.errors import DataError
from core.tubes import Tube
from core.tubes.detfile import (
    VideoDetections,
    from_frames,
    list_detection_files,
    read_detections,
    write_detections,
)
from core.tubes.tubes_json import read_tubes, write_tubes


def test_detection_file_round_trip(tmp_path, rng):
    frames = [(rng.uniform(0, 300, (n, 4)), rng.dirichlet(np.ones(4), n)) for n in (3, 0, 5)]
    det = from_frames("Class/v_1", frames, 320, 240, num_classes=3, priors=[np.arange(n) for n in (3, 0, 5)])
    path = write_detections(tmp_path, det)
    assert path == tmp_path / "Class" / "v_1.npz"
    back = read_detections(path)
    assert (back.video, back.num_frames, back.width, back.height, back.num_classes, back.delta) == \
        ("Class/v_1", 3, 320, 240, 3, 0)
    for t in (1, 2, 3):
        np.testing.assert_allclose(back.frame(t)[0], frames[t - 1][0].astype(np.float32))
        np.testing.assert_allclose(back.frame(t)[1], frames[t - 1][1].astype(np.float32))
    assert back.frame(2)[0].shape == (0, 4)
    np.testing.assert_array_equal(back.frame_priors(3), np.arange(5))
    assert list_detection_files(tmp_path) == [("Class/v_1", path)]


def test_micro_tube_file(tmp_path, rng):
    frames = [(rng.uniform(0, 300, (2, 8)), rng.dirichlet(np.ones(3), 2)) for _ in range(4)]
    det = from_frames("v", frames, 320, 240, num_classes=2, delta=2)
    back = read_detections(write_detections(tmp_path, det))
    assert back.delta == 2 and back.boxes.shape == (8, 8)


def test_bad_detection_files(tmp_path):
    det = VideoDetections("v", 2, 320, 240, 2, 0, np.array([0, 1, 3]), np.zeros((3, 4)), np.zeros((3, 2)))
    with pytest.raises(DataError, match="scores"):
        write_detections(tmp_path, det)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        read_detections(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(DataError, match="missing arrays"):
        read_detections(tmp_path / "other.npz")
    good = VideoDetections("w", 2, 320, 240, 2, 0, np.array([0, 1, 3]), np.zeros((3, 4)), np.zeros((3, 3)))
    path = write_detections(tmp_path, good)
    with np.load(path) as z:
        data = dict(z)
    data["frame_index"] = np.array([0, 2, 1])
    np.savez(path, **data)
    with pytest.raises(DataError, match="frame_index"):
        read_detections(path)


def test_tubes_json_round_trip_and_format(tmp_path):
    tubes = [Tube("A/v1", 3, 0.75, np.array([4, 5, 6]), np.array([[1.0, 2, 30, 40], [1.5, 2, 30, 41], [2, 2, 31, 41]])),
             Tube("B/v2", 0, 0.5, np.array([1]), np.array([[0.0, 0, 10, 10]]))]
    out = tmp_path / "TUBES.json"
    write_tubes(out, tubes)
    raw = json.loads(out.read_text())
    assert raw[0] == {"video": "A/v1", "label": 3, "score": 0.75,
                      "boxes": [[4, 1.0, 2.0, 30.0, 40.0], [5, 1.5, 2.0, 30.0, 41.0], [6, 2.0, 2.0, 31.0, 41.0]]}
    back = read_tubes(out)
    assert [(t.video, t.label, t.score) for t in back] == [("A/v1", 3, 0.75), ("B/v2", 0, 0.5)]
    np.testing.assert_array_equal(back[0].frames, [4, 5, 6])
    np.testing.assert_array_equal(back[0].boxes, tubes[0].boxes)
    write_tubes(out, [])
    assert read_tubes(out) == []


@pytest.mark.parametrize("content, what", [
    ('{"video": "v"}', "JSON list"),
    ('[{"video": "v", "label": 0, "score": 1}]', "keys"),
    ('[{"video": "v", "label": -1, "score": 1, "boxes": [[1, 0, 0, 1, 1]]}]', "label"),
    ('[{"video": "v", "label": 0, "score": "x", "boxes": [[1, 0, 0, 1, 1]]}]', "score"),
    ('[{"video": "v", "label": 0, "score": 1, "boxes": [[1, 0, 0, 1]]}]', "boxes"),
    ('[{"video": "v", "label": 0, "score": 1, "boxes": [[0, 0, 0, 1, 1]]}]', "1-based"),
    ('[{"video": "v", "label": 0, "score": 1, "boxes": [[2, 0, 0, 1, 1], [2, 0, 0, 1, 1]]}]', "increasing"),
    ('[{', "JSON"),
])
def test_bad_tubes_json(tmp_path, content, what):
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(DataError, match=what) as e:
        read_tubes(p)
    assert "t.json" in str(e.value) and "\n" not in str(e.value)
