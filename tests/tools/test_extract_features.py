"""tools/extract_features.py on the synthetic AVA tiny set, and core.backbones.i3d."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from core.backbones.i3d import InceptionI3d, _same_pad, feature_shape, load_i3d_weights
from core.errors import DataError
from core.formats import ava
from core.formats.stage_h5 import ObjectFeatures, read_actor_h5
from core.synthetic.datasets import write_dataset
from stage.data import BatchCollator, StageDataset
from stage.features import keyframe_actors

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("extract_features_tool", ROOT / "tools" / "extract_features.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_same_padding_by_hand():
    assert _same_pad(7, 3, 2) == (1, 1)  # out ceil(7/2) = 4 needs 2 extra
    assert _same_pad(8, 3, 2) == (0, 1)
    assert _same_pad(5, 7, 2) == (3, 3)
    assert feature_shape(32, 400, 400, "Mixed_4f") == (8, 25, 25)  # ACAM's context map
    assert feature_shape(32, 400, 400, "Mixed_5c") == (4, 13, 13)


def test_i3d_names_channels_and_weights_roundtrip(tmp_path):
    full = InceptionI3d(400)
    assert full.channels["Mixed_4f"] == 832 and full.channels["Mixed_5c"] == 1024
    names = set(full.state_dict())
    assert {"Conv3d_1a_7x7.conv3d.weight", "Conv3d_1a_7x7.bn.running_var", "Mixed_5b.b2b.conv3d.weight",
            "Mixed_4f.b3b.bn.bias", "logits.conv3d.bias"} <= names
    small = InceptionI3d(400, width=0.125).eval()
    x = torch.randn(1, 3, 8, 64, 64)
    assert small.run(x, end="Mixed_4f").shape == (1, small.channels["Mixed_4f"], 2, 4, 4)
    torch.save({"module." + k: v for k, v in small.state_dict().items()}, tmp_path / "i3d.pt")
    trunk = InceptionI3d(final_endpoint="Mixed_5c", width=0.125).eval()
    missing, _ = load_i3d_weights(trunk, tmp_path / "i3d.pt", strict=True)
    assert missing == []
    with torch.no_grad():
        torch.testing.assert_close(trunk.run(x), small.run(x, end="Mixed_5c"))
    with pytest.raises(DataError):
        load_i3d_weights(InceptionI3d(final_endpoint="Mixed_5c"), tmp_path / "i3d.pt", strict=True)


def test_label_transfer_at_iou_half():
    import pandas as pd

    gt = pd.DataFrame({"x1": [0.0, 0.0], "y1": [0.0, 0.0], "x2": [0.4, 0.4], "y2": [0.4, 0.4], "action_id": [12, 80]})
    # IoU with the GT box: 0.4*0.4 / (0.16 + 0.16*... ) by hand: [0, 0, .4, .3] -> 0.12 / 0.16 = 0.75;
    # [0.2, 0, 0.6, 0.4] -> 0.08 / 0.24 = 0.333
    dets = pd.DataFrame({"x1": [0.0, 0.2], "y1": [0.0, 0.0], "x2": [0.4, 0.6], "y2": [0.3, 0.4], "extra": [0.9, 0.2]})
    ka = keyframe_actors(gt, dets, use_gt=True, det_score=0.0)
    assert ka.boxes.shape == (3, 4) and ka.from_gt.tolist() == [True, False, False]
    assert np.nonzero(ka.labels[0])[0].tolist() == [12, 80]
    assert np.nonzero(ka.labels[1])[0].tolist() == [12, 80]
    assert np.nonzero(ka.labels[2])[0].tolist() == [0]  # background
    only = keyframe_actors(gt, dets, use_gt=False, det_score=0.7)
    assert len(only.boxes) == 1


def test_extracted_h5_is_read_by_the_stage_loader(tmp_path):
    write_dataset("ava", tmp_path / "ava", "tiny", 0, 1)
    tool = _tool()
    args = ["--data_root", str(tmp_path / "ava"), "--split", "val", "--out_dir", str(tmp_path / "f"), "--width", "0.125",
            "--frames", "4", "--size", "64", "80", "--roi", "4", "--boxes", "both"]
    assert tool.main(args) == 0
    c = InceptionI3d(width=0.125, final_endpoint="Mixed_5c").channels["Mixed_5c"]
    ds = StageDataset(tmp_path / "f" / "val", tmp_path / "f" / "objects_val.h5", 81, c, 2048)
    gt = ava.read_ava_csv(tmp_path / "ava" / "annotations" / "ava_val_v2.2.csv")
    dets = ava.read_ava_csv(tmp_path / "ava" / "annotations" / "ava_val_predicted_boxes.csv")
    assert len(ds) == len(set(zip(dets.video_id, dets.timestamp)) | set(zip(gt.video_id, gt.timestamp)))
    item = ds[1]
    assert item["actors_features"].shape[1:] == (c, 1, 2, 2)
    # the ground-truth boxes come first, with their labels
    g = gt[gt.timestamp == int(item["timestamp"])]
    first = g.iloc[0]
    row = np.where(np.all(np.isclose(item["actors_boxes"], first[["x1", "y1", "x2", "y2"]].to_numpy(float)), 1))[0][0]
    assert item["labels"][row, int(first.action_id)] == 1
    assert item["objects_features"].shape[1] == 2048
    batch = BatchCollator()([ds[0], ds[1]])
    assert batch["adj"].shape[0] == batch["actors_features"].shape[0] + batch["objects_features"].shape[0]
    with ObjectFeatures(tmp_path / "f" / "objects_val.h5") as objs:
        assert objs[item["clip"], item["timestamp"]]["boxes"].shape[1] == 4
    # resumable: a second run has nothing left to do
    before = read_actor_h5(tmp_path / "f" / "val" / item["clip"] / f"{item['timestamp']}.h5")["features"]
    assert tool.main(args) == 0
    after = read_actor_h5(tmp_path / "f" / "val" / item["clip"] / f"{item['timestamp']}.h5")["features"]
    np.testing.assert_array_equal(before, after)
