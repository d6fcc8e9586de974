"""Sample order, batch sampler and the h5 datasets."""

import numpy as np
import pytest

from core.errors import DataError
from core.formats.stage_h5 import write_actor_h5, write_object_h5
from stage.data import BatchCollator, KeyframeBatchSampler, StageDataset, epoch_batches


def test_epoch_batches_rotation_and_blocks_by_hand():
    # epoch 1: no rotation; blocks [0..3] [4..7] [8, 9] in some order
    b1 = epoch_batches(10, 4, epoch=1, seed=0)
    assert sorted(map(tuple, b1)) == [(0, 1, 2, 3), (4, 5, 6, 7), (8, 9)]
    # epoch 3: rotate by (4 // 4) * 2 = 2 -> [2..9, 0, 1] -> blocks [2..5] [6..9] [0, 1]
    b3 = epoch_batches(10, 4, epoch=3, seed=0)
    assert sorted(map(tuple, b3)) == [(0, 1), (2, 3, 4, 5), (6, 7, 8, 9)]
    # batch 8: rotate by 2 * (epoch - 1); epoch 7 -> 12 -> 12 mod 10 = 2
    b7 = epoch_batches(10, 8, epoch=7, seed=0)
    assert sorted(map(tuple, b7)) == [(0, 1), (2, 3, 4, 5, 6, 7, 8, 9)]
    # validation: sorted order, no rotation, no shuffling
    assert [b.tolist() for b in epoch_batches(5, 2, epoch=9, shuffle=False)] == [[0, 1], [2, 3], [4]]


def test_block_order_depends_on_seed_and_epoch_only():
    a = [b.tolist() for b in epoch_batches(40, 3, epoch=2, seed=5)]
    assert a == [b.tolist() for b in epoch_batches(40, 3, epoch=2, seed=5)]
    assert a != [b.tolist() for b in epoch_batches(40, 3, epoch=2, seed=6)]


def test_sampler_shards_over_ranks_with_equal_counts():
    full = [b.tolist() for b in epoch_batches(11, 2, epoch=1, seed=0)]  # 6 batches, last one short
    s0 = KeyframeBatchSampler(11, 2, seed=0, rank=0, world_size=4)
    s1 = KeyframeBatchSampler(11, 2, seed=0, rank=1, world_size=4)
    assert len(s0) == len(s1) == 2
    # 6 batches padded to 8 by wrapping: rank 0 gets 0, 4; rank 1 gets 1, 5
    assert list(s0) == [full[0], full[4]] and list(s1) == [full[1], full[5]]
    s0.set_epoch(1, skip=1)
    assert list(s0) == [full[4]] and len(s0) == 1
    ev = KeyframeBatchSampler(5, 2, shuffle=False, rank=1, world_size=2)
    assert list(ev) == [[2, 3]] and len(ev) == 1


def _write_fixture(root, c=8, o=6):
    write_actor_h5(root / "actors" / "-vid" / "0902.h5", np.ones((2, c, 1, 2, 2)), [[0, 0, .5, .5], [.5, .5, 1, 1]],
                   np.eye(81)[[1, 2]])
    write_actor_h5(root / "actors" / "-vid" / "0903.h5", np.ones((1, c, 1, 2, 2)), [[0, 0, .5, .5]], np.eye(81)[[3]])
    write_actor_h5(root / "actors" / "-vid" / "1000.h5", np.ones((1, c, 1, 2, 2)), [[0, 0, .5, .5]], np.eye(81)[[3]])
    write_object_h5(root / "objects.h5", {("-vid", "0902"): {"features": np.ones((3, o)), "boxes": np.full((3, 4), .2),
                                                             "cls_prob": np.ones((3, 5))}})


def test_dataset_reads_h5_layout_in_sorted_order(tmp_path):
    _write_fixture(tmp_path)
    ds = StageDataset(tmp_path / "actors", tmp_path / "objects.h5", 81, 8, 6)
    assert [(it["clip"], it["timestamp"]) for it in (ds[i] for i in range(3))] == \
        [("-vid", "0902"), ("-vid", "0903"), ("-vid", "1000")]
    assert ds[0]["objects_features"].shape == (3, 6)
    assert ds[1]["objects_features"].shape == (0, 6)  # keyframe without objects
    b = BatchCollator()([ds[0], ds[1]])
    assert b["adj"].shape == (6, 6) and b["labels"].shape == (3, 81)


def test_dataset_errors_name_the_file(tmp_path):
    _write_fixture(tmp_path)
    with pytest.raises(DataError, match="0902.h5.*actors_features_size"):
        StageDataset(tmp_path / "actors", None, 81, 16)[0]
    with pytest.raises(DataError, match="num_classes"):
        StageDataset(tmp_path / "actors", None, 80, 8)[0]
    with pytest.raises(DataError, match="objects.h5.*-vid_902_features"):
        StageDataset(tmp_path / "actors", tmp_path / "objects.h5", 81, 8, 7)[0]
    with pytest.raises(DataError, match="no '<clip>/<timestamp>.h5'"):
        (tmp_path / "empty").mkdir()
        StageDataset(tmp_path / "empty")


def test_slowfast_file_sorted_keyframes_labels_and_objects(tmp_path):
    """The SlowFast-feature variant: groups '<clip>_<timestamp>' come back sorted by (clip, int(timestamp)),
    with their boxes / features / 80 labels, objects looked up by clip and timestamp; a group name without a
    timestamp and a label width other than --num_classes are errors naming the file."""
    from core.formats.stage_h5 import write_slowfast_h5
    from stage.data import SlowFastDataset

    def entry(n, value):
        return {"boxes": np.full((n, 4), 0.5), "features": np.full((n, 6), value), "labels": np.eye(80)[:n]}

    path = tmp_path / "sf.h5"
    write_slowfast_h5(path, {"clipB_0902": entry(1, 3.0), "clipA_0910": entry(2, 2.0), "clipA_0903": entry(1, 1.0)})
    objects = tmp_path / "objects.h5"
    write_object_h5(objects, {("clipA", 903): {"features": np.ones((2, 5)), "boxes": np.zeros((2, 4)),
                                                "cls_prob": np.zeros((2, 3))}})
    ds = SlowFastDataset(path, objects, num_classes=80, actors_features_size=6, objects_features_size=5)
    assert ds.keys() == [("clipA", "0903"), ("clipA", "0910"), ("clipB", "0902")]
    first = ds[0]
    assert first["actors_features"].tolist() == [[1.0] * 6] and first["labels"].shape == (1, 80)
    assert first["objects_features"].shape == (2, 5)
    assert ds[1]["actors_features"].shape == (2, 6) and ds[2]["objects_features"].shape == (0, 5)
    write_slowfast_h5(tmp_path / "bad.h5", {"clipA": entry(1, 1.0)})
    with pytest.raises(DataError, match="bad.h5.*<clip>_<timestamp>"):
        SlowFastDataset(tmp_path / "bad.h5")
    with pytest.raises(DataError, match=r"labels \[n, 81\]"):
        SlowFastDataset(path, num_classes=81)[0]
