"""Micro-tube sampling, frame stacking and augmentation on hand-made data in the real UCF24 layout."""

import cv2
import numpy as np
import pytest
import torch

from amtnet.augmentation import MEANS, BaseTransform, MicroTubeAugmentation, parse_augment
from amtnet.data import (
    MatchCollate,
    MicroTubeDataset,
    VideoFrames,
    full_test_starts,
    load_videos,
    make_samples,
    pair_starts,
    read_images,
    split_videos,
    stack_window,
)
from amtnet.priors import prior_boxes
from core.errors import DataError
from core.formats import ucf24 as fmt


def write_dataset(root, numf=10, with_bad_tube=False):
    """Two UCF24 videos of 320 x 240 frames. Train video: tube A (label 0) on frames 0..9 and tube B
    (label 0) on frames 4..9. Boxes in pyannot's 1-based x, y, w, h."""
    db = {}
    names = ["Basketball/v_Basketball_g08_c01", "Basketball/v_Basketball_g01_c01"]
    for name in names:
        a = np.tile([11, 21, 100, 50], (numf, 1))
        b = np.tile([201, 101, 40, 80], (numf - 4, 1))
        db[name] = {"label": 0, "numf": numf, "annotations": [
            {"label": 0, "sf": 0, "ef": numf, "boxes": a},
            {"label": 0, "sf": 4, "ef": numf, "boxes": b}]}
        for kind in ("rgb-images", "brox-images"):
            for i in range(numf):
                img = np.full((240, 320, 3), 10 * i + (5 if kind == "brox-images" else 0), np.uint8)
                path = fmt.frame_path(root, name, i, kind)
                import os

                os.makedirs(os.path.dirname(path), exist_ok=True)
                cv2.imwrite(path, img)
    fmt.write_pyannot(root / "splitfiles" / "pyannot.pkl", db)
    fmt.write_split_list(root / "splitfiles" / "trainlist01.txt", names[:1])
    fmt.write_split_list(root / "splitfiles" / "testlist01.txt", names[1:])
    return names


def test_pair_and_test_starts_by_hand():
    # int(arange(0, numf - 2, step)) for seq_len 2, gap 0
    assert pair_starts(10, 2, 0, 1.0).tolist() == list(range(8))
    assert pair_starts(10, 2, 0, 2.5).tolist() == [0, 2, 5, 7]  # 0, 2.5, 5.0, 7.5 -> int; stop 8
    assert pair_starts(10, 2, 0, 0.8).tolist() == [0, 0, 1, 2, 3, 4, 4, 5, 6, 7]  # steps < 1 oversample
    # full test: consecutive micro-tubes share a frame; the last one ends on the last frame
    assert full_test_starts(5, 2, 0).tolist() == [0, 1, 2, 3]
    assert full_test_starts(6, 2, 1).tolist() == [0, 2, 3]  # pairs (0,2), (2,4), (3,5)
    assert full_test_starts(1, 2, 0).tolist() == []


def test_stack_window_centred_and_shifted():
    assert stack_window(0, 10, 5) == [0, 1, 2, 3, 4]
    assert stack_window(5, 10, 5) == [3, 4, 5, 6, 7]
    assert stack_window(9, 10, 5) == [5, 6, 7, 8, 9]
    assert stack_window(4, 10, 1) == [4]


def test_samples_need_every_tube_in_both_frames_or_neither(tmp_path):
    write_dataset(tmp_path)
    db, train, test = split_videos(str(tmp_path), 1)
    assert test == ["Basketball/v_Basketball_g01_c01"]
    videos = load_videos(str(tmp_path), "ucf24", train, db)
    # Basketball ratio 1.00: starts 0..7; pair (3, 4) has tube B only in frame 4 -> dropped
    samples = make_samples(videos, "ucf24", "train", 2, 0)
    assert [s[1] for s in samples] == [0, 1, 2, 4, 5, 6, 7]
    boxes, labels = videos[0].boxes_at([4, 5])
    assert boxes.shape == (2, 2, 4) and labels.tolist() == [0, 0]
    # 1-based x=11, w=100 -> 0-based x1 = 10, x2 = 110, divided by the 320 x 240 frame
    assert np.allclose(boxes[0, 0], [10 / 320, 20 / 240, 110 / 320, 70 / 240])
    # validation: step max(1, ratio) * 4
    assert [s[1] for s in make_samples(videos, "ucf24", "val", 2, 0)] == [0, 4]
    # mixed gaps (seq_gap 20): gaps 0, 1, 3, 7
    assert {s[2] for s in make_samples(videos, "ucf24", "train", 2, 20)} == {0, 1, 3}


def test_dataset_item_layout_and_targets(tmp_path):
    write_dataset(tmp_path)
    ds = MicroTubeDataset(str(tmp_path), "ucf24", 1, "train", fusion=True, input_frames_extra=5,
                          augment=MicroTubeAugmentation(photometric=False, expand=False, crop=False, mirror=False))
    base, extra, boxes, labels, idx = ds[0]
    assert base.shape == (2, 3, 300, 300) and extra.shape == (2, 15, 300, 300)
    # frame 0 is grey level 0, frame 1 grey level 10; means subtracted in BGR order, channels reversed
    assert torch.allclose(base[0, :, 150, 150], torch.tensor([-123.0, -117.0, -104.0]))
    assert torch.allclose(base[1, :, 150, 150], torch.tensor([-113.0, -107.0, -94.0]))
    # flow stack of frame 0 = images 0..4 (grey 10 i + 5), frame-major
    assert torch.allclose(extra[0, 3 * 4:3 * 5, 150, 150], torch.tensor([-78.0, -72.0, -59.0]))
    batch = MatchCollate(prior_boxes())([ds[0], ds[1]])
    assert batch[2].shape == (2, 8732, 8) and batch[3].shape == (2, 8732)
    assert (batch[3] == 1).sum(1).min() >= 1 and batch[3].max() == 1


def test_videoframes_every_frame(tmp_path):
    write_dataset(tmp_path)
    db, _, test = split_videos(str(tmp_path), 1)
    vids = load_videos(str(tmp_path), "ucf24", test, db)
    frames = VideoFrames(str(tmp_path), vids, fusion=True)
    assert len(frames) == 10
    base, extra, vi, f = frames[9]
    assert base.shape == (3, 300, 300) and extra.shape == (15, 300, 300) and (vi, f) == (0, 9)
    # the per-process image cache changes nothing: every frame, in and out of order, equals a direct read of
    # its stack (frame 9's flow stack is images 5..9, shifted to stay inside the 10-frame video)
    root = str(tmp_path)
    for f in [0, 1, 2, 9, 3, 8, 0]:
        base, extra, _, _ = frames[f]
        start = min(max(f - 2, 0), 5)
        window = list(range(start, start + 5))
        direct = BaseTransform(300)(read_images(root, vids[0].name, "brox-images", window))
        assert torch.equal(extra, torch.from_numpy(direct).flatten(0, 1)), f
        assert torch.equal(base, torch.from_numpy(BaseTransform(300)(read_images(root, vids[0].name, "rgb-images", [f])))[0])
    assert len(frames._recent) <= VideoFrames.CACHE_IMAGES


def test_missing_image_and_unknown_video_are_one_line_errors(tmp_path):
    names = write_dataset(tmp_path)
    (tmp_path / "rgb-images" / names[0] / "00003.jpg").unlink()
    ds = MicroTubeDataset(str(tmp_path), "ucf24", 1, "train")
    with pytest.raises(DataError, match="00003.jpg"):
        ds[2]
    fmt.write_split_list(tmp_path / "splitfiles" / "trainlist01.txt", ["Basketball/v_Basketball_g99_c01"])
    with pytest.raises(DataError, match="g99"):
        split_videos(str(tmp_path), 1)


def test_jhmdb_boxes_and_frame_count(tmp_path):
    db = {"brush_hair/clip": {"label": 0, "numf": 40, "annotations": [
        {"label": 0, "sf": 0, "ef": 12, "boxes": np.tile([10, 20, 30, 40], (12, 1))}]}}
    for i in range(12):
        p = tmp_path / "rgb-images" / "brush_hair" / "clip" / f"{i + 1:05d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(p), np.zeros((240, 320, 3), np.uint8))
    (v,) = load_videos(str(tmp_path), "jhmdb21", ["brush_hair/clip"], db)
    assert v.numf == 12  # from the box count, as the original
    assert np.allclose(v.tubes[0][2][0], [10 / 320, 20 / 240, 40 / 320, 60 / 240])  # x, y, x + w, y + h


def test_augmentation_boxes_follow_the_object():
    """A white rectangle on a grey canvas: after random expand / crop / mirror / photometric jitter, every
    frame's box must still frame the rectangle (in the resized 300 x 300 output), with the same draw for
    every image of the stack."""
    rng = np.random.default_rng(0)
    aug = MicroTubeAugmentation()
    for trial in range(20):
        imgs = np.full((3, 120, 160, 3), 60, np.float32)
        boxes = np.array([[[40, 30, 100, 90], [50, 30, 110, 90], [60, 30, 120, 90]]], np.float64)
        for i in range(3):
            x1, y1, x2, y2 = boxes[0, i].astype(int)
            imgs[i, y1:y2, x1:x2] = 250
        norm = boxes / np.array([160, 120, 160, 120])
        out, b, labels = aug(imgs, norm, np.array([3]), rng)
        assert out.shape == (3, 3, 300, 300) and labels.tolist() == [3]
        mean = np.asarray(MEANS, np.float32)[::-1]
        for i in range(3):
            x1, y1, x2, y2 = np.round(b[0, i] * 300).astype(int)
            img = out[i] + mean[:, None, None]
            inside = img[:, y1 + 3:y2 - 3, x1 + 3:x2 - 3].mean(0)
            # the rectangle is brighter than the background whatever the jitter (same draw everywhere)
            bg = img.mean(0)
            mask = np.ones_like(bg, bool)
            mask[max(y1 - 3, 0):y2 + 3, max(x1 - 3, 0):x2 + 3] = False
            if mask.any() and inside.size:
                assert inside.mean() > bg[mask].mean() + 20, trial


def test_base_transform_layout():
    img = np.zeros((1, 60, 80, 3), np.float32)
    img[..., 0] = 104  # B
    out = BaseTransform(300)(img)
    assert out.shape == (1, 3, 300, 300)
    assert np.allclose(out[0, :, 0, 0], [-123, -117, 0])  # reversed: R, G, B minus (123, 117, 104)


def test_parse_augment_and_crop_mirror_only_keeps_colours():
    import argparse

    assert parse_augment("crop, mirror") == ("crop", "mirror")
    assert parse_augment("none") == () and parse_augment("") == ()
    with pytest.raises(argparse.ArgumentTypeError, match="'photo'"):
        parse_augment("crop,photo")
    # crop + mirror only: no photometric change, so a flat-colour image keeps its exact colour
    aug = MicroTubeAugmentation(photometric=False, expand=False, crop=True, mirror=True)
    rng = np.random.default_rng(1)
    imgs = np.zeros((2, 120, 160, 3), np.float32) + np.array([10, 200, 90], np.float32)
    boxes = np.array([[[40, 30, 100, 90], [44, 30, 104, 90]]]) / np.array([160, 120, 160, 120])
    for _ in range(10):
        out, b, labels = aug(imgs, boxes, np.array([5]), rng)
        assert np.allclose(out + np.asarray(MEANS, np.float32)[::-1, None, None], [[[[90]], [[200]], [[10]]]])
        assert len(b) == len(labels) <= 1
