"""AMTNet micro-tube linking: densification by hand, and linking a moving actor's micro-tubes."""

import numpy as np
import pytest

from core.tubes import ActionPaths, trim_paths
from core.tubes.detfile import from_frames
from core.tubes.microtubes import MicroTubeLinker, densify, link_microtubes


def test_densify_interpolates_and_averages_shared_frames():
    # one path of 2 micro-tubes, delta 2, starting at step 3 -> frame 1 + 2 * 2 = 5
    boxes = np.array([[0.0, 0, 10, 10, 4, 0, 14, 10],
                      [6.0, 0, 16, 10, 10, 2, 20, 12]])
    vec = np.array([[0.7, 0.3], [0.9, 0.1]])
    steps = ActionPaths(np.array([0]), np.array([3]), np.array([0, 2]), boxes, vec[:, 0].copy(), vec,
                        np.array([2]), np.array([1.6]))
    dense = densify(steps, delta=2)
    p = dense.path(0)
    np.testing.assert_array_equal(p["frames"], [5, 6, 7, 8, 9])
    np.testing.assert_allclose(p["boxes"], [[0, 0, 10, 10], [2, 0, 12, 10], [5, 0, 15, 10],  # (4 + 6) / 2
                                            [8, 1, 18, 11], [10, 2, 20, 12]])
    np.testing.assert_allclose(p["scores"], [0.7, 0.7, 0.9, 0.9, 0.9])


def moving_actor_microtubes(num_frames=40, delta=2, label=1, num_classes=3, rng=None):
    """Micro-tube detections at every start frame of one actor moving right, plus a far decoy."""
    frames = []
    for t in range(1, num_frames + 1):
        if t + delta > num_frames:
            frames.append((np.zeros((0, 8)), np.zeros((0, num_classes + 1))))
            continue
        x0, x1 = 3.0 * t, 3.0 * (t + delta)
        actor = [x0, 20, x0 + 40, 90, x1, 20, x1 + 40, 90]
        decoy = [250, 150, 280, 200, 250, 150, 280, 200]
        s = np.full((2, num_classes + 1), 0.02)
        s[0, label] = 0.9
        s[1, 0] = 0.3 if t % 7 else 0.0001  # the decoy flickers below the score threshold
        s /= s.sum(1, keepdims=True)
        frames.append((np.array([actor, decoy]), s))
    return from_frames("v", frames, 320, 240, num_classes, delta=delta)


def test_link_microtubes_gives_a_dense_tube_following_the_actor():
    det = moving_actor_microtubes()
    paths = link_microtubes(det)
    # the decoy's class-1 score (about 0.02) also makes a class-1 path; the actor's is the first
    actor = [i for i in range(len(paths)) if paths.label[i] == 1 and paths.boxes[paths.offsets[i], 0] < 200]
    assert len(actor) == 1 and paths.label[:actor[0]].tolist() == [0] * actor[0]
    p = paths.path(actor[0])
    # steps at frames 1, 3, ..., 37 (t + 2 <= 40): 19 micro-tubes covering frames 1..39
    np.testing.assert_array_equal(p["frames"], np.arange(1, 40))
    assert p["num_found"] == 19
    np.testing.assert_allclose(p["boxes"][:, 0], 3.0 * np.arange(1, 40))
    tubes = trim_paths(paths, "v", alpha=5)
    assert [(t.label, t.frames[0], t.frames[-1]) for t in tubes if t.label == 1][0] == (1, 1, 39)


def test_online_micro_tube_linker_equals_offline():
    det = moving_actor_microtubes(delta=3)
    online = MicroTubeLinker(det.num_classes, delta=3)
    for t in range(1, det.num_frames - 3 + 1, 3):
        online.update(*det.frame(t))
    a, b = online.paths(), link_microtubes(det)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    np.testing.assert_array_equal(a.start, b.start)
    with pytest.raises(ValueError):
        link_microtubes(from_frames("w", [(np.zeros((0, 4)), np.zeros((0, 4)))], 320, 240, 3))
