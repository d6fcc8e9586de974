"""Sampling, stacking, transforms, models (first-conv replication, BN freezing), Mini-200 annotations."""

import json

import cv2
import numpy as np
import pytest
import torch

from core.errors import DataError
from kinetics2stream.data import (
    KineticsFrames,
    StackTransform,
    build_transform,
    color_jitter,
    frame_samples,
    mini_subset_annotations,
    random_square,
    resize_shorter,
    stack_frame_numbers,
)
from kinetics2stream.model import build_model, first_conv_key, load_imagenet, param_groups, set_bn_eval


def test_frame_samples_hand_cases():
    # fid in arange((seq_len//2)*gap, numf - (seq_len//2)*gap - 1, frame_step), frame number fid + 1
    assert frame_samples(32, 1, 1, 6).tolist() == [1, 7, 13, 19, 25, 31]
    assert frame_samples(20, 3, 2, 6).tolist() == [3, 9, 15]  # arange(2, 17, 6) = 2, 8, 14
    assert frame_samples(10, 1, 1, 2).tolist() == [1, 3, 5, 7, 9]  # arange(0, 9, 2)
    assert frame_samples(6, 3, 1, 1).tolist() == []  # numf <= 2 * seq_len: nothing
    # arange(1, 7 - 1 - 1) + 1: the "- 1" drops frame 6, whose stack (5, 6, 7) would fit (the original)
    assert frame_samples(7, 3, 1, 1).tolist() == [2, 3, 4, 5]
    assert stack_frame_numbers(9, 3, 2).tolist() == [7, 9, 11]
    assert stack_frame_numbers(5, 1, 4).tolist() == [5]
    assert stack_frame_numbers(6, 5, 1).tolist() == [4, 5, 6, 7, 8]
    with pytest.raises(ValueError):
        frame_samples(30, 2)


def _fixture(tmp_path, numf=(12, 9, 4)):
    """Videos whose frame n is filled with the value 10 * n (video 'b...' adds 1)."""
    root = tmp_path / "kinetics"
    db = {}
    for k, (yid, n) in enumerate(zip(["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"], numf)):
        folder = root / "rgb-images" / yid
        folder.mkdir(parents=True)
        for f in range(1, n + 1):
            img = np.full((24, 32, 3), 10 * f + (1 if yid[0] == "b" else 0), np.uint8)
            cv2.imwrite(str(folder / f"{f:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        db[yid] = {"label": ["x", "y", "x"][k], "cls": [0, 1, 0][k], "subset": ["val", "val", "train"][k],
                   "isthere": True, "numf": n}
    (root / "hfiles").mkdir()
    (root / "hfiles" / "Annots_t.json").write_text(json.dumps({"database": db, "classes": {"x": 0, "y": 1}}))
    return root


def test_dataset_samples_and_stacks(tmp_path):
    root = _fixture(tmp_path)
    t = StackTransform(size=16, scale_size=16, mean=(0, 0, 0), std=(1 / 255.0,) * 3)
    ds = KineticsFrames(str(root), "rgb", "t", ["val"], t, frame_step=4, seq_len=3, gap=2)
    # video a: numf 12 -> arange(2, 9, 4) = 2, 6 -> frames 3, 7; video b: numf 9 -> arange(2, 6, 4) -> frame 3
    assert ds.videos == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
    assert ds.samples.tolist() == [[0, 3, 0], [0, 7, 0], [1, 3, 1]]
    x, label, vi, fn = ds[1]
    assert x.shape == (9, 16, 16) and (label, vi, fn) == (0, 0, 7)
    # channels 0-2: frame 5, 3-5: frame 7, 6-8: frame 9 (value 10 * n, up to JPEG rounding)
    means = x.reshape(3, 3, -1).mean(dim=(1, 2))
    assert torch.allclose(means, torch.tensor([50.0, 70.0, 90.0]), atol=1.5)
    x, label, _, _ = ds[2]
    assert label == 1 and abs(float(x[:3].mean()) - 11.0) < 1.5


def test_dataset_bad_frame_names_file(tmp_path):
    root = _fixture(tmp_path)
    (root / "rgb-images" / "aaaaaaaaaaa" / "00005.jpg").unlink()
    ds = KineticsFrames(str(root), "rgb", "t", ["val"], None, frame_step=4, seq_len=1)  # frames 1, 5, 9 of a
    with pytest.raises(DataError, match="00005.jpg"):
        for i in range(len(ds)):
            ds[i]


def test_transform_crop_and_flip_shared_by_stack():
    frames = np.stack([np.tile(np.arange(40, dtype=np.uint8)[None, :, None] + 10 * k, (30, 1, 3)) for k in range(3)])
    # shorter side 30 -> 33: width int(33 * 40 / 30) = 44
    assert resize_shorter(frames[0], 33).shape == (33, 44, 3)
    t = StackTransform(size=20, scale_size=30, mean=(0, 0, 0), std=(1 / 255.0,) * 3, train=True)
    torch.manual_seed(0)
    import random

    random.seed(3)
    for _ in range(5):
        x = t(frames)
        assert x.shape == (9, 20, 20)
        # the same crop and flip for every frame of the stack: frames differ by exactly 10 everywhere
        assert torch.allclose(x[3:6] - x[0:3], torch.full((3, 20, 20), 10.0))
        assert torch.allclose(x[6:9] - x[3:6], torch.full((3, 20, 20), 10.0))
    ev = StackTransform(size=20, scale_size=30, mean=(0, 0, 0), std=(1 / 255.0,) * 3)(frames)
    assert ev[0, 0, :].tolist() == list(np.arange(10, 30, dtype=float))  # centre crop: columns 10..29



def test_color_jitter_hand_case():
    px = np.array([[[100.0, 50.0, 200.0]]], np.float32)  # one frame of one pixel
    # brightness 1.2 -> (120, 60, 240), grey 0.299*120 + 0.587*60 + 0.114*240 = 98.46
    # contrast 0.5 -> 0.5 x + 0.5 * 98.46 = (109.23, 79.23, 169.23), grey still 98.46
    # saturation 0.5 -> 0.5 x + 0.5 * 98.46 = (103.845, 88.845, 133.845)
    out = color_jitter(px, 1.2, 0.5, 0.5)
    assert np.allclose(out[0, 0], [103.845, 88.845, 133.845], atol=1e-3)
    assert np.allclose(color_jitter(px, 2.0, 1.0, 1.0)[0, 0], [200.0, 100.0, 255.0])  # clipped at 255
    assert np.allclose(color_jitter(px, 1.0, 1.0, 1.0), px)


def test_random_square_inside_and_area_range():
    import random

    random.seed(0)
    for _ in range(200):
        i, j, side = random_square(30, 50, 0.25)
        assert 15 <= side <= 30 and 0 <= i <= 30 - side and 0 <= j <= 50 - side  # area 0.25..1 of 30x30


def test_augmented_stack_shares_crop_flip_and_jitter():
    import random

    # every frame is the same column ramp: any per-frame draw would make the 3 channel groups differ
    ramp = np.tile((np.arange(64, dtype=np.float32) * 4)[None, :, None], (48, 1, 3)).astype(np.uint8)
    frames = np.stack([ramp] * 3)
    t = build_transform("resnet18", 16, True, min_area=0.2, jitter=0.4)
    plain = build_transform("resnet18", 16, True, min_area=0.2)
    random.seed(5)
    flips = set()
    for _ in range(20):
        x = t(frames)
        assert x.shape == (9, 16, 16)
        assert torch.equal(x[0:3], x[3:6]) and torch.equal(x[3:6], x[6:9])
        row = plain(frames)[0, 0]  # no jitter: a crop of a ramp stays monotone, increasing unless flipped
        d = row[1:] - row[:-1]
        assert bool((d >= 0).all()) or bool((d <= 0).all())
        flips.add(bool((d <= 0).all()))
    assert flips == {True, False}
    with pytest.raises(ValueError):
        build_transform("resnet18", 16, True, min_area=1.5)


def _imagenet_file(tmp_path, arch):
    """A fake 'ImageNet' file: random weights and BN statistics in torchvision key names."""
    torch.manual_seed(1)
    src = build_model(arch, 1000, 1)
    for m in src.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    path = tmp_path / f"{arch}.pth"
    torch.save(src.vgg.state_dict() if arch == "vgg16" else src.state_dict(), path)  # vgg16_reducedfc.pth keys
    return path, src


@pytest.mark.parametrize("arch,size", [("resnet18", 32), pytest.param("inceptionV3", 75, marks=pytest.mark.slow),
                                       pytest.param("vgg16", 300, marks=pytest.mark.slow)])
def test_first_conv_replication_keeps_output_for_repeated_frame(tmp_path, arch, size):
    path, _ = _imagenet_file(tmp_path, arch)
    one, three = build_model(arch, 5, 1), build_model(arch, 5, 3)
    load_imagenet(one, arch, path)
    loaded = load_imagenet(three, arch, path)
    assert "fc.weight" not in loaded and first_conv_key(arch) in loaded
    # the new classifier is not from ImageNet: give both models the same one
    own = three.state_dict()
    three.load_state_dict({k: (v if k in loaded else one.state_dict()[k]) for k, v in own.items()})
    one.eval(), three.eval()
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = one(x), three(x.repeat(1, 3, 1, 1))
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    w1, w3 = one.state_dict()[first_conv_key(arch)], three.state_dict()[first_conv_key(arch)]
    assert w3.shape[1] == 9 and torch.allclose(w3[:, 3:6] * 3, w1)


def test_load_imagenet_rejects_other_weights(tmp_path):
    torch.save({"foo.weight": torch.zeros(2)}, tmp_path / "x.pth")
    with pytest.raises(DataError, match="conv1.weight"):
        load_imagenet(build_model("resnet18", 3, 1), "resnet18", tmp_path / "x.pth")


def test_bn_stays_in_eval_through_a_training_step(tmp_path):
    path, _ = _imagenet_file(tmp_path, "resnet18")
    model = build_model("resnet18", 4, 1)
    load_imagenet(model, "resnet18", path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(param_groups(model, 0.1, 1e-4), lr=0.1, momentum=0.9)
    model.train()
    set_bn_eval(model)
    x, y = torch.randn(4, 3, 32, 32) * 3 + 1, torch.tensor([0, 1, 2, 3])
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns) and model.training and model.fc.training
    after = model.state_dict()
    for k in before:
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(before[k], after[k]), k
    assert not torch.equal(before["bn1.weight"], after["bn1.weight"])  # affine parameters still train
    assert not torch.equal(before["conv1.weight"], after["conv1.weight"])


def test_param_groups_bias_double_lr_no_decay():
    groups = param_groups(build_model("resnet18", 3, 1), 0.01, 1e-4)
    assert groups[0]["lr"] == 0.01 and groups[0]["weight_decay"] == 1e-4
    assert groups[1]["lr"] == 0.02 and groups[1]["weight_decay"] == 0.0
    assert len(groups[1]["params"]) == 21  # 20 BN biases + fc bias (convs have none)


def test_resnet_has_no_maxpool_and_7x7_at_112():
    m = build_model("resnet18", 3, 1).eval()
    feats = {}

    def hook(mod, inputs, output):
        feats["x"] = output.shape

    m.layer4.register_forward_hook(hook)
    with torch.no_grad():
        assert m(torch.randn(1, 3, 112, 112)).shape == (1, 3)
    assert feats["x"] == (1, 512, 7, 7)


def test_mini200_annotations_hand_case():
    db = {"v3aaaaaaaaa": {"label": "b", "cls": 1, "subset": "val", "isthere": True, "numf": 30},
          "v1aaaaaaaaa": {"label": "c", "cls": 2, "subset": "val", "isthere": True, "numf": 30},
          "v2aaaaaaaaa": {"label": "a", "cls": 0, "subset": "val", "isthere": False, "numf": 0},
          "t1aaaaaaaaa": {"label": "b", "cls": 1, "subset": "train", "isthere": True, "numf": 40},
          "t2aaaaaaaaa": {"label": "c", "cls": 2, "subset": "train", "isthere": True, "numf": 50}}
    ids = {"train": ["t1aaaaaaaaa", "t2aaaaaaaaa", "zzzzzzzzzzz"], "val": ["v1aaaaaaaaa", "v2aaaaaaaaa", "v3aaaaaaaaa"]}
    mini = mini_subset_annotations({"database": db, "classes": {"a": 0, "b": 1, "c": 2}}, ids)
    # first appearance among sorted present val videos: v1 (c) then v3 (b)
    assert mini["classes"] == {"c": 0, "b": 1}
    assert sorted(mini["database"]) == ["t1aaaaaaaaa", "t2aaaaaaaaa", "v1aaaaaaaaa", "v3aaaaaaaaa"]
    assert mini["database"]["t1aaaaaaaaa"] == {"label": "b", "cls": 1, "subset": "train", "isthere": True, "numf": 40}
    assert mini["database"]["v1aaaaaaaaa"]["cls"] == 0
