"""tools/synthesize.py: each format's `tiny` read back through core.formats, with boxes checked against
a re-rendered actor-id mask, and byte-identical annotation files for a seed."""

import filecmp
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from core.formats import act, ava, kinetics, sth, ucf24
from core.synthetic import actions, datasets, scenes
from core.synthetic.datasets import PLAN, _norm, youtube_id
from core.video import read_image, read_video

ROOT = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("synthesize", ROOT / "tools" / "synthesize.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def synthesize(fmt, out, seed=0, workers=1):
    assert _tool().main(["--format", fmt, "--out", str(out), "--seed", str(seed), "--workers", str(workers)]) == 0
    return out


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    cache = {}

    def get(fmt):
        if fmt not in cache:
            cache[fmt] = synthesize(fmt, tmp_path_factory.mktemp(fmt))
        return cache[fmt]

    return get


def _assert_box_on_actor(ids, k, box_inclusive):
    """box: 0-based inclusive x1, y1, x2, y2; the actor's visible pixels lie inside and exist."""
    ys, xs = np.nonzero(ids == k + 1)
    x1, y1, x2, y2 = box_inclusive
    assert len(xs) > 0
    assert xs.min() >= x1 and xs.max() <= x2 and ys.min() >= y1 and ys.max() <= y2


def test_ucf24_layout_annotations_and_boxes(made):
    root = made("ucf24")
    plan = PLAN["ucf24"]["tiny"]
    db = ucf24.read_pyannot(root / "splitfiles" / "pyannot.pkl")
    train = ucf24.read_split_list(root / "splitfiles" / "trainlist01.txt")
    test = ucf24.read_split_list(root / "splitfiles" / "testlist01.txt")
    assert len(db) == len(plan["classes"]) * (plan["test"] + plan["train"]) == 8
    assert sorted(train + test) == sorted(db) and not set(train) & set(test)
    assert ucf24.test_videos(db, train) == sorted(test)
    assert all("_g01_" in v for v in test) and all("_g08_" in v for v in train)  # UCF101 split 1 groups
    gt = act.read_act_gt(root / "UCF101v2-GT.pkl")
    assert gt["labels"] == ucf24.UCF24_CLASSES and gt["train_videos"] == [train] and gt["test_videos"] == [test]
    assert set(gt["resolution"].values()) == {(240, 320)}
    assert len(db["Fencing/v_Fencing_g01_c01"]["annotations"]) == 2  # two fencers
    for i, (video, ann) in enumerate(db.items()):
        cls, name = video.split("/")
        assert name.startswith(f"v_{cls}_g") and ann["label"] == ucf24.UCF24_CLASSES.index(cls)
        numf = int(ann["numf"])
        for kind in ("rgb-images", "brox-images", "fastOF-images"):
            files = sorted((root / kind / video).iterdir())
            assert [f.name for f in files] == [f"{j:05d}.jpg" for j in range(1, numf + 1)]
        assert read_image(root / "rgb-images" / video / "00001.jpg").shape == (240, 320, 3)
        # the simulation, rendered again with this video's seed, gives the actor-id masks
        clip = scenes.build_clip(actions.UCF24[ann["label"]], ann["label"], scenes.video_seed(0, i),
                                 datasets.ucf24_clip_spec(ann["label"], numf))
        first = read_image(root / "rgb-images" / video / "00001.jpg").astype(float)
        assert np.abs(first - clip.rendered.frames[0]).mean() < 6  # the jpg is the rendered frame
        for k, tube in enumerate(ann["annotations"]):
            b = tube["boxes"].astype(np.int64)
            assert tube["label"] == ann["label"] and tube["ef"] - tube["sf"] == len(b)
            assert b.dtype == np.int64 and (b[:, :2] >= 1).all()
            assert (b[:, 0] + b[:, 2] - 1 <= 320).all() and (b[:, 1] + b[:, 3] - 1 <= 240).all()
            for j, f in enumerate(range(tube["sf"], tube["ef"])):
                x, y, w, h = b[j]  # 1-based: pixels x .. x + w - 1
                _assert_box_on_actor(clip.rendered.ids[f], k, (x - 1, y - 1, x + w - 2, y + h - 2))
            # ACT: 1-based frame numbers, 0-based inclusive boxes of the same pixels
            act_tube = gt["gttubes"][video][ann["label"]][k]
            assert act_tube[0, 0] == tube["sf"] + 1 and act_tube[-1, 0] == tube["ef"]
            np.testing.assert_array_equal(act_tube[:, 1:3], b[:, :2] - 1)
            np.testing.assert_array_equal(act_tube[:, 3:5], b[:, :2] + b[:, 2:] - 2)


def test_jhmdb_three_splits_full_length_tubes(made):
    root = made("jhmdb")
    plan = PLAN["jhmdb"]["tiny"]
    gt = act.read_act_gt(root / "JHMDB-GT.pkl")
    db = ucf24.read_pyannot(root / "splitfiles" / "pyannot.pkl")
    assert gt["labels"] == ucf24.JHMDB_CLASSES
    assert len(gt["train_videos"]) == len(gt["test_videos"]) == 3
    n = len(plan["classes"]) * plan["per_class"]
    assert len(gt["nframes"]) == len(db) == n
    for s in range(3):
        train, test = gt["train_videos"][s], gt["test_videos"][s]
        assert sorted(train + test) == sorted(db) and not set(train) & set(test)
        assert ucf24.read_split_list(root / "splitfiles" / f"trainlist{s + 1:02d}.txt") == train
    assert len({tuple(t) for t in gt["test_videos"]}) == 3  # the splits differ
    for i, (video, by_label) in enumerate(gt["gttubes"].items()):
        (label, tubes), = by_label.items()
        tube = tubes[0]
        nf = gt["nframes"][video]
        np.testing.assert_array_equal(tube[:, 0], np.arange(1, nf + 1))  # one tube over every frame
        pngs = sorted((root / "Frames" / video).iterdir())
        assert [p.name for p in pngs] == [f"{j:05d}.png" for j in range(1, nf + 1)]
        assert len(list((root / "FlowBrox04" / video).iterdir())) == nf
        assert len(list((root / "brox-images" / video).iterdir())) == nf
        assert int(db[video]["numf"]) == len(db[video]["annotations"][0]["boxes"]) == nf  # AMTNet's numf
        clip = scenes.build_trimmed_clip(actions.JHMDB[label], label, scenes.video_seed(0, i),
                                         scenes.ClipSpec(num_frames=plan["frames"], trimmed=True))
        png = read_image(pngs[0]).astype(int)
        np.testing.assert_array_equal(png, clip.rendered.frames[0])  # PNG is lossless
        for j in range(nf):
            _assert_box_on_actor(clip.rendered.ids[j], 0, tube[j, 1:].astype(int))


def test_ava_files(made):
    root = made("ava")
    ann = root / "annotations"
    plan = PLAN["ava"]["tiny"]
    full = ava.read_labelmap(ann / "ava_action_list_v2.2.pbtxt")
    evalmap = ava.read_labelmap(ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt")
    assert [c["id"] for c in full] == list(range(1, 81)) and full[11]["name"] == "stand"
    assert full[0]["type"] == "PERSON_MOVEMENT" and full[79]["type"] == "PERSON_INTERACTION"
    assert [c["id"] for c in evalmap] == ava.AVA_EVAL_IDS
    assert "label {" in (ann / "ava_action_list_v2.2.pbtxt").read_text()
    assert "item {" in (ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt").read_text()
    rng = np.random.default_rng(scenes.video_seed(0, 0, 3))
    vids = {"train": [youtube_id(rng) for _ in range(plan["train"])],
            "val": [youtube_id(rng) for _ in range(plan["val"])]}
    vids["val"][0] = "-" + vids["val"][0][1:]
    keyframes = list(range(902, 902 + plan["keyframes"]))
    assert (ann / "ava_included_timestamps_v2.2.txt").read_text().split() == [f"{t:04d}" for t in keyframes]
    index = 0
    for split in ("train", "val"):
        df = ava.read_ava_csv(ann / f"ava_{split}_v2.2.csv")
        excl = ava.read_exclusions(ann / f"ava_{split}_excluded_timestamps_v2.2.csv")
        dets = ava.read_ava_csv(ann / f"ava_{split}_predicted_boxes.csv")
        assert len(df) > 0 and len(excl) >= 1
        assert set(df["video_id"]) == set(vids[split])
        assert set(df["timestamp"]) <= set(keyframes)
        assert not {(v, t) for v, t in zip(df["video_id"], df["timestamp"])} & excl  # excluded: no rows
        assert set(df["action_id"]) <= set(actions.AVA_NAMES)
        assert ((df[["x1", "y1", "x2", "y2"]] >= 0) & (df[["x1", "y1", "x2", "y2"]] <= 1)).all().all()
        assert (df["x2"] > df["x1"]).all() and (df["y2"] > df["y1"]).all()
        assert (dets["action_id"] == -1).all() and ((dets["extra"] > 0) & (dets["extra"] <= 1)).all()
        assert dets["extra"].min() < 0.6 < dets["extra"].max()  # true and false positives
        for vid in vids[split]:
            frames, fps = read_video(root / "movies" / "trainval" / f"{vid}.mp4")
            spec = scenes.AvaSpec(num_keyframes=plan["keyframes"])
            assert fps == pytest.approx(30) and len(frames) == int(spec.duration * 30)
            video = scenes.build_ava_video(scenes.video_seed(0, index), spec)
            index += 1
            assert np.abs(frames[60].astype(float) - video.rendered.frames[60]).mean() < 8
            for ts in keyframes:
                people = scenes.ava_keyframe_actors(video, ts)
                rows = df[(df["video_id"] == vid) & (df["timestamp"] == ts)]
                if (vid, ts) in excl:
                    continue
                assert len(rows) == sum(len(p["actions"]) for p in people)
                f = spec.keyframe_index(ts)
                for p in people:
                    mine = rows[rows["extra"] == p["person_id"]]
                    assert sorted(mine["action_id"]) == sorted(p["actions"])
                    box = mine[["x1", "y1", "x2", "y2"]].to_numpy()[0]
                    np.testing.assert_allclose(box, _norm(p["box"], 320, 240), atol=5e-4)
                    px = np.round(box * [320, 240, 320, 240]).astype(int) - [0, 0, 1, 1]
                    _assert_box_on_actor(video.rendered.ids[f], p["actor"], px)
                objs = json.loads((root / "objects" / split / vid / f"{ts:04d}.json").read_text())
                assert objs["timestamp"] == f"{ts:04d}" and objs["width"] == 320
                classes = {d["class_str"] for d in objs["detections"]}
                assert "person" in classes or not people
                for d in objs["detections"]:
                    top, left, bottom, right = d["box"]
                    assert 0 <= top <= bottom <= 1 and 0 <= left <= right <= 1


def test_kinetics_csv_and_crawler_names(made):
    root = made("kinetics")
    plan = PLAN["kinetics"]["tiny"]
    names = [actions.KINETICS[c].name for c in plan["classes"]]
    for split in ("train", "val"):
        df = kinetics.read_kinetics_csv(root / f"kinetics_{split}.csv")
        assert list(df.columns[:5]) == ["label", "youtube_id", "time_start", "time_end", "split"]
        assert sorted(df["label"]) == sorted(names * plan[split]) and (df["split"] == split).all()
        for row in df.itertuples():
            path = root / split / kinetics.crawler_path(row.label, row.youtube_id, row.time_start, row.time_end)
            frames, fps = read_video(path)
            assert len(row.youtube_id) == 11 and fps == pytest.approx(25)
            assert len(frames) == (row.time_end - row.time_start) * 25 and frames.shape[1:] == (240, 320, 3)


@pytest.mark.parametrize("version", [1, 2])
def test_something_something(made, version):
    root = made(f"sthv{version}")
    plan = PLAN[f"sthv{version}"]["tiny"]
    templates = [actions.STH[c].name for c in plan["classes"]]
    assert templates == sorted(templates)  # file order == TSM's sorted order
    pre = f"something-something-v{version}"
    lists = {s: sth.read_list_file(root / f"{s}_videofolder.txt") for s in ("train", "val")}
    assert len(lists["train"]) == len(templates) * plan["train"] and len(lists["val"]) == len(templates) * plan["val"]
    if version == 1:
        assert sth.read_v1_labels(root / f"{pre}-labels.csv") == templates
        rows = sth.read_v1_split(root / f"{pre}-validation.csv")
        assert [(v, templates[lab]) for v, _, lab in lists["val"]] == rows
        for vid, n, _ in lists["train"]:
            files = sorted((root / "20bn-something-something-v1" / vid).iterdir())
            assert [f.name for f in files] == [f"{j:05d}.jpg" for j in range(1, n + 1)]
            assert read_image(files[0]).shape == (100, 176, 3)
    else:
        labels = sth.read_v2_labels(root / f"{pre}-labels.json")
        items = sth.read_v2_split(root / f"{pre}-train.json")
        assert [(it["id"], sth.v2_label_index(labels, it["template"])) for it in items] == \
               [(v, lab) for v, _, lab in lists["train"]]
        for vid, n, _ in lists["val"]:
            frames, fps = read_video(root / "20bn-something-something-v2" / f"{vid}.webm")
            assert len(frames) == n and fps == pytest.approx(12)


ANNOTATION_FILES = {
    "ucf24": ["splitfiles/pyannot.pkl", "UCF101v2-GT.pkl", "splitfiles/trainlist01.txt"],
    "ava": ["annotations/ava_train_v2.2.csv", "annotations/ava_val_v2.2.csv", "annotations/ava_val_predicted_boxes.csv",
            "annotations/ava_train_excluded_timestamps_v2.2.csv"],
    "sthv2": ["something-something-v2-train.json", "train_videofolder.txt"],
}


@pytest.mark.parametrize("fmt", sorted(ANNOTATION_FILES))
def test_same_seed_same_bytes_any_workers_other_seed_differs(made, tmp_path, fmt):
    again = synthesize(fmt, tmp_path / "again", seed=0, workers=2)
    other = synthesize(fmt, tmp_path / "other", seed=1)
    for rel in ANNOTATION_FILES[fmt]:
        assert filecmp.cmp(made(fmt) / rel, again / rel, shallow=False), rel
    assert any(not filecmp.cmp(made(fmt) / rel, other / rel, shallow=False) for rel in ANNOTATION_FILES[fmt])


def test_bad_format_is_refused():
    with pytest.raises(SystemExit) as e:
        _tool().main(["--format", "ucf101", "--out", "x"])
    assert e.value.code == 2
