"""Write synthetic datasets in the real on-disk layouts (one writer per format).

Annotation files go through :mod:`core.formats` writers, videos and images through :mod:`core.video`.
Each video is rendered by a job seeded with :func:`~core.synthetic.scenes.video_seed` (dataset seed,
video index), so the output does not depend on ``workers``; annotation files are byte-identical for
a seed. Layouts (relative to ``out``):

ucf24
    rgb-images/<Class>/<video>/%05d.jpg (320x240, 1-based), brox-images/ and fastOF-images/ (flow
    JPEGs, same names), splitfiles/{trainlist01,testlist01}.txt, splitfiles/pyannot.pkl,
    UCF101v2-GT.pkl (ACT). Video names ``v_<Class>_gGG_cCC``; groups 01-07 are test (UCF101 split 1).
jhmdb
    Frames/<class>/<video>/%05d.png and FlowBrox04/ (ACT), JHMDB-GT.pkl with 3 splits; for AMTNet
    rgb-images/, brox-images/, fastOF-images/ and splitfiles/{pyannot.pkl, trainlist0S.txt,
    testlist0S.txt}. One tube per video spanning every frame.
ava
    movies/trainval/<video_id>.mp4: the movie from second ``start_ts`` (900) on, i.e. cut like
    ``ffmpeg -ss 900``: the keyframe of second ``ts`` is frame ``round((ts - 900) * 30)`` (0-based).
    annotations/: ava_{train,val}_v2.2.csv, ava_action_list_v2.2.pbtxt (80, ``label``),
    ava_action_list_v2.2_for_activitynet_2019.pbtxt (60, ``item``),
    ava_{train,val}_excluded_timestamps_v2.2.csv, ava_included_timestamps_v2.2.txt,
    ava_file_names_trainval_v2.1.txt, ava_{train,val}_predicted_boxes.csv (person detector: jittered
    ground truth plus false positives, with scores). objects/<split>/<video_id>/<ts>.json: per keyframe
    detections in ACAM's detector-output format (``box`` = [top, left, bottom, right] normalised,
    ``score``, ``class_str``, ``class_no``), persons and objects: the boxes STAGE's object features
    are extracted from.
kinetics
    <split>/<label>/<youtube_id>_<%06d start>_<%06d end>.mp4 (crawler naming) and
    kinetics_{train,val}.csv (``label,youtube_id,time_start,time_end,split``).
sthv1
    20bn-something-something-v1/<id>/%05d.jpg (100 px high, 12 fps), something-something-v1-
    {labels,train,validation}.csv, and TSM lists train_videofolder.txt / val_videofolder.txt.
sthv2
    20bn-something-something-v2/<id>.webm (VP9, 12 fps), something-something-v2-
    {labels,train,validation}.json, and TSM lists (frame folders ``<id>`` as tools/extract_frames.py
    writes them, 1-based ``%06d.jpg``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import pandas as pd

from core.formats import act, ava, kinetics, sth, ucf24
from core.io import atomic_write_json, atomic_write_text
from core.parallel import map_jobs
from core.synthetic.actions import AVA_NAMES, JHMDB, KINETICS, STH, UCF24, ActionClass
from core.synthetic.render import Rendered
from core.synthetic.scenes import (
    AvaSpec,
    ClipSpec,
    ava_keyframe_actors,
    build_ava_video,
    build_clip,
    build_trimmed_clip,
    video_seed,
)
from core.synthetic.world import Palette, class_palette
from core.video import encode_image, flow_to_image, video_flow, write_video
from core.video.batch import publish_dir, staging_dir

FORMATS = ("ucf24", "jhmdb", "ava", "kinetics", "sthv1", "sthv2")
SIZES = ("tiny", "demo")
JPEG_QUALITY = 90
BROX_FLOW = dict(levels=3, winsize=13, iterations=5)
FAST_FLOW = dict(levels=2, winsize=9, iterations=2)

# Per format and size: which classes, videos per class, frames per video.
PLAN: Dict[str, Dict[str, Dict[str, Any]]] = {
    "ucf24": {"tiny": dict(classes=[0, 6, 12, 18], test=1, train=1, frames=16),
              "demo": dict(classes=list(range(24)), test=2, train=10, frames=36)},
    "jhmdb": {"tiny": dict(classes=[0, 15, 16], per_class=3, frames=16),
              "demo": dict(classes=list(range(21)), per_class=6, frames=30)},
    "ava": {"tiny": dict(train=1, val=1, keyframes=3),
            "demo": dict(train=8, val=4, keyframes=15)},
    "kinetics": {"tiny": dict(classes=[2, 10, 11], train=1, val=1, seconds=2),
                 "demo": dict(classes=list(range(12)), train=16, val=4, seconds=2)},
    "sthv1": {"tiny": dict(classes=[1, 4, 8], train=1, val=1, frames=24),
              "demo": dict(classes=list(range(10)), train=16, val=4, frames=32)},
    "sthv2": {"tiny": dict(classes=[1, 4, 8], train=1, val=1, frames=24),
              "demo": dict(classes=list(range(10)), train=16, val=4, frames=32)},
}


def flow_images(frames: np.ndarray, fast: bool = False) -> np.ndarray:
    """Flow JPEG images uint8 [T, H, W, 3] of frames [T, H, W, 3]: Farneback (core.video) on frames
    downscaled by 2 (the flow repository's ``imgscale``), upsampled, vectors doubled, quantised with
    bound 8. The brox-images stream uses 3 pyramid levels and 5 iterations (frames are small);
    ``fast`` 2 levels and 2 iterations (the cheaper fastOF-images stream)."""
    T, H, W, _ = frames.shape
    half = np.stack([cv2.resize(f, (W // 2, H // 2), interpolation=cv2.INTER_AREA) for f in frames])
    flow = video_flow(half, **(FAST_FLOW if fast else BROX_FLOW))
    full = np.stack([cv2.resize(f, (W, H), interpolation=cv2.INTER_LINEAR) for f in flow]) * 2.0
    return flow_to_image(full)


def _write_frames(folder: Path, frames: np.ndarray, ext: str = "jpg", digits: int = 5) -> None:
    """Frames [T, H, W, 3] -> folder/%05d.<ext> (1-based). The folder is filled under a hidden staging
    name and renamed whole (no per-image fsync: thousands of small files)."""
    tmp = staging_dir(folder)
    for i, f in enumerate(frames):
        (tmp / f"{i + 1:0{digits}d}.{ext}").write_bytes(encode_image(f, f".{ext}", JPEG_QUALITY))
    _publish(tmp, folder)


def _publish(tmp: Path, folder: Path) -> None:
    if folder.is_dir() and any(folder.iterdir()):
        shutil.rmtree(folder)  # a previous run's output for this same video
    publish_dir(tmp, folder)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link (or copy) every file of src into dst: the same flow images under two folder names."""
    tmp = staging_dir(dst)
    for name in sorted(os.listdir(src)):
        try:
            os.link(src / name, tmp / name)
        except OSError:
            shutil.copyfile(src / name, tmp / name)
    _publish(tmp, dst)


def _run(fn, items: Sequence[Any], workers: int, desc: str) -> List[Any]:
    """fn over items, in order, in ``workers`` processes (see :mod:`core.parallel`)."""
    return map_jobs(fn, items, workers, desc)


def _tube_boxes(rendered: Rendered, k: int, sf: int, ef: int) -> np.ndarray:
    """Actor k's boxes over [sf, ef) as pyannot uint16 [n, 4] 1-based x, y, w, h."""
    return ucf24.xyxy_to_pyannot_boxes(rendered.actor_boxes[k, sf:ef], inclusive=True)


def place_palette(cls: ActionClass, table: List[ActionClass]) -> Optional[Palette]:
    """Scene colours of ``cls``'s place (places numbered in order of first appearance in ``table``), or None."""
    if not cls.place:
        return None
    places = list(dict.fromkeys(c.place for c in table if c.place))
    return class_palette(places.index(cls.place), len(places))


# ------------------------------------------------------------------------------------ UCF101-24

def ucf24_clip_spec(label: int, frames: int) -> ClipSpec:
    """A UCF24 clip in its class's place (each class has its own); the action is still defined by the motion."""
    return ClipSpec(num_frames=frames, palette=place_palette(UCF24[label], UCF24))


def _ucf_job(item: Tuple[str, int, int, int, str]) -> Dict[str, Any]:
    out, label, seed, frames, video = item
    clip = build_clip(UCF24[label], label, seed, ucf24_clip_spec(label, frames))
    root = Path(out)
    r = clip.rendered
    _write_frames(root / "rgb-images" / video, r.frames)
    _write_frames(root / "brox-images" / video, flow_images(r.frames))
    _write_frames(root / "fastOF-images" / video, flow_images(r.frames, fast=True))
    tubes = [{"label": label, "sf": sf, "ef": ef, "boxes": _tube_boxes(r, k, sf, ef)} for k, sf, ef in clip.tubes]
    return {"label": label, "numf": clip.num_frames, "annotations": tubes}


def write_ucf24(out: Path, size: str, seed: int, workers: int) -> Dict[str, Any]:
    plan = PLAN["ucf24"][size]
    items, train, test = [], [], []
    for c in plan["classes"]:
        name = ucf24.UCF24_CLASSES[c]
        groups = [(g + 1, True) for g in range(plan["test"])] + [(g + 8, False) for g in range(plan["train"])]
        for g, is_test in groups:
            video = f"{name}/v_{name}_g{g:02d}_c01"
            (test if is_test else train).append(video)
            items.append((str(out), c, video_seed(seed, len(items)), plan["frames"], video))
    annots = _run(_ucf_job, items, workers, "ucf24")
    db = {it[4]: a for it, a in zip(items, annots)}
    ucf24.write_pyannot(out / "splitfiles" / "pyannot.pkl", db)
    ucf24.write_split_list(out / "splitfiles" / "trainlist01.txt", train)
    ucf24.write_split_list(out / "splitfiles" / "testlist01.txt", test)
    gt = act.pyannot_to_act(db, ucf24.UCF24_CLASSES, [train], [test])
    act.write_act_gt(out / "UCF101v2-GT.pkl", gt)
    return {"videos": len(db), "train": len(train), "test": len(test),
            "tubes": sum(len(a["annotations"]) for a in db.values())}


# --------------------------------------------------------------------------------------- JHMDB

def _jhmdb_job(item: Tuple[str, int, int, int, str]) -> Dict[str, Any]:
    out, label, seed, frames, video = item
    clip = build_trimmed_clip(JHMDB[label], label, seed, ClipSpec(num_frames=frames, trimmed=True))
    root = Path(out)
    r = clip.rendered
    _write_frames(root / "Frames" / video, r.frames, ext="png")
    _write_frames(root / "rgb-images" / video, r.frames)
    _write_frames(root / "FlowBrox04" / video, flow_images(r.frames))
    _link_tree(root / "FlowBrox04" / video, root / "brox-images" / video)
    _write_frames(root / "fastOF-images" / video, flow_images(r.frames, fast=True))
    k, sf, ef = clip.tubes[0]
    tube = {"label": label, "sf": sf, "ef": ef, "boxes": _tube_boxes(r, k, sf, ef)}
    return {"label": label, "numf": clip.num_frames, "annotations": [tube]}


def write_jhmdb(out: Path, size: str, seed: int, workers: int) -> Dict[str, Any]:
    plan = PLAN["jhmdb"][size]
    items = []
    for c in plan["classes"]:
        name = ucf24.JHMDB_CLASSES[c]
        for i in range(plan["per_class"]):
            video = f"{name}/synth_{name}_u_nm_np1_fr_goo_{i}"
            items.append((str(out), c, video_seed(seed, len(items)), plan["frames"], video))
    annots = _run(_jhmdb_job, items, workers, "jhmdb")
    db = {it[4]: a for it, a in zip(items, annots)}
    trains, tests = [], []
    for split in range(3):  # video i of a class is a test video of split (i % 3) + 1
        test = [v for v in db if int(v.rsplit("_", 1)[1]) % 3 == split]
        train = [v for v in db if v not in set(test)]
        trains.append(train)
        tests.append(test)
        ucf24.write_split_list(out / "splitfiles" / f"trainlist{split + 1:02d}.txt", train)
        ucf24.write_split_list(out / "splitfiles" / f"testlist{split + 1:02d}.txt", test)
    ucf24.write_pyannot(out / "splitfiles" / "pyannot.pkl", db)
    act.write_act_gt(out / "JHMDB-GT.pkl", act.pyannot_to_act(db, ucf24.JHMDB_CLASSES, trains, tests))
    return {"videos": len(db), "train": [len(t) for t in trains], "test": [len(t) for t in tests]}


# ----------------------------------------------------------------------------------------- AVA

def youtube_id(rng: np.random.Generator) -> str:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
    return "".join(rng.choice(alphabet, size=11))


def _norm(box: np.ndarray, W: int, H: int) -> List[float]:
    """0-based inclusive pixel box -> AVA's normalised continuous [x1, y1, x2, y2]."""
    return [box[0] / W, box[1] / H, (box[2] + 1) / W, (box[3] + 1) / H]


def _ava_job(item: Tuple[str, str, str, int, int]) -> Dict[str, Any]:
    out, split, vid, seed, keyframes = item
    spec = AvaSpec(num_keyframes=keyframes)
    video = build_ava_video(seed, spec)
    root = Path(out)
    write_video(root / "movies" / "trainval" / f"{vid}.mp4", video.rendered.frames, spec.fps)
    rng = np.random.default_rng(video_seed(seed, 0, 2))
    W, H = spec.width, spec.height
    gt, dets = [], []
    for ts in range(spec.first_ts, spec.first_ts + keyframes):
        people = ava_keyframe_actors(video, ts)
        f = spec.keyframe_index(ts)
        detections = []
        for p in people:
            box = _norm(p["box"], W, H)
            for a in sorted(p["actions"]):
                gt.append((vid, ts, *box, a, p["person_id"]))
            if rng.random() < 0.95:  # the detector finds most people, with some box noise
                bw, bh = box[2] - box[0], box[3] - box[1]
                jit = np.array(box) + rng.normal(0, 0.04, 4) * np.array([bw, bh, bw, bh])
                detections.append((np.clip(jit, 0, 1), float(rng.uniform(0.75, 1.0)), "person"))
        for _ in range(int(rng.integers(0, 3))):  # false positives, low scores
            x1, y1 = rng.uniform(0, 0.8), rng.uniform(0, 0.6)
            fp = np.array([x1, y1, x1 + rng.uniform(0.05, 0.2), y1 + rng.uniform(0.15, 0.4)])
            detections.append((np.clip(fp, 0, 1), float(rng.uniform(0.05, 0.6)), "person"))
        for p, prop in enumerate(video.scene.props):
            b = video.rendered.prop_boxes[p, f]
            if prop.present[f] and not np.isnan(b).any():
                detections.append((np.array(_norm(b, W, H)), float(rng.uniform(0.5, 1.0)), prop.kind))
        for box, score, _cls in detections:
            if _cls == "person":
                dets.append((vid, ts, *box, -1, score))
        atomic_write_json(root / "objects" / split / vid / f"{ts:04d}.json", {
            "movie_name": vid, "timestamp": f"{ts:04d}", "height": H, "width": W,
            "detections": [{"box": [round(float(b[1]), 3), round(float(b[0]), 3), round(float(b[3]), 3),
                                    round(float(b[2]), 3)],
                            "score": round(score, 3), "class_str": c, "class_no": OBJECT_CLASSES.index(c)}
                           for b, score, c in detections],
        })
    return {"gt": gt, "dets": dets}


# Object classes of the synthetic detector output (index = class_no; 1 = person as in COCO).
OBJECT_CLASSES = ["__background__", "person", "ball", "stick", "pole", "box", "board", "bike", "horse", "dog",
                  "rope", "bar", "trampoline", "stairs"]


def write_ava(out: Path, size: str, seed: int, workers: int) -> Dict[str, Any]:
    plan = PLAN["ava"][size]
    rng = np.random.default_rng(video_seed(seed, 0, 3))
    items = []
    for split in ("train", "val"):
        for i in range(plan[split]):
            vid = youtube_id(rng)
            if split == "val" and i == 0:
                vid = "-" + vid[1:]  # real ids may start with '-' (STAGE's object keys trip on it)
            items.append((str(out), split, vid, video_seed(seed, len(items)), plan["keyframes"]))
    results = _run(_ava_job, items, workers, "ava")
    ann = out / "annotations"
    cols = ["video_id", "timestamp", "x1", "y1", "x2", "y2", "action_id", "extra"]
    first, last = 902, 902 + plan["keyframes"] - 1
    summary: Dict[str, Any] = {}
    for split in ("train", "val"):
        gt = [row for it, r in zip(items, results) if it[1] == split for row in r["gt"]]
        dets = [row for it, r in zip(items, results) if it[1] == split for row in r["dets"]]
        keys = sorted({(row[0], row[1]) for row in gt})
        excluded = set(keys[:: max(1, len(keys) // 2)][:1] if size == "tiny" else
                       [k for k in keys if rng.random() < 0.05])
        gt = [row for row in gt if (row[0], row[1]) not in excluded]
        ava.write_ava_csv(ann / f"ava_{split}_v2.2.csv", pd.DataFrame(gt, columns=cols), extra="int")
        ava.write_ava_csv(ann / f"ava_{split}_predicted_boxes.csv", pd.DataFrame(dets, columns=cols),
                          extra="float")
        ava.write_exclusions(ann / f"ava_{split}_excluded_timestamps_v2.2.csv", excluded)
        summary[split] = {"videos": sum(it[1] == split for it in items), "rows": len(gt), "excluded": len(excluded)}
    classes80 = [{"id": i, "name": AVA_NAMES[i]} for i in range(1, 81)]
    ava.write_labelmap(ann / "ava_action_list_v2.2.pbtxt", classes80, flavour="label")
    ava.write_labelmap(ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt",
                       [c for c in classes80 if c["id"] in ava.AVA_EVAL_IDS], flavour="item")
    atomic_write_text(ann / "ava_included_timestamps_v2.2.txt", "".join(f"{t:04d}\n" for t in range(first, last + 1)))
    atomic_write_text(ann / "ava_file_names_trainval_v2.1.txt", "".join(f"{it[2]}.mp4\n" for it in items))
    return summary


# ------------------------------------------------------------------------------------ Kinetics

def _clip_job(item: Tuple[str, str, int, int, int, str, Dict[str, Any]]) -> int:
    """Render one single-label clip and write it as a video file or a frame folder."""
    out, table, label, seed, frames, rel, spec_kw = item
    cls = {"kinetics": KINETICS, "sth": STH}[table][label]
    clip = build_clip(cls, label, seed, ClipSpec(num_frames=frames, trimmed=True, **spec_kw))
    path = Path(out) / rel
    if rel.endswith((".mp4", ".webm")):
        codec = "libvpx-vp9" if rel.endswith(".webm") else "libx264"
        write_video(path, clip.rendered.frames, spec_kw.get("fps", 25.0), codec=codec)
    else:
        _write_frames(path, clip.rendered.frames)
    return clip.num_frames


def write_kinetics(out: Path, size: str, seed: int, workers: int) -> Dict[str, Any]:
    plan = PLAN["kinetics"][size]
    rng = np.random.default_rng(video_seed(seed, 0, 3))
    fps = 25.0
    rows, items = [], []
    for split in ("train", "val"):
        for c in plan["classes"]:
            for _ in range(plan[split]):
                yid = youtube_id(rng)
                start = int(rng.integers(0, 300))
                end = start + plan["seconds"]
                label = KINETICS[c].name
                rel = f"{split}/{kinetics.crawler_path(label, yid, start, end)}"
                items.append((str(out), "kinetics", c, video_seed(seed, len(items)), int(plan["seconds"] * fps), rel,
                              {"fps": fps, "palette": place_palette(KINETICS[c], KINETICS)}))
                rows.append({"label": label, "youtube_id": yid, "time_start": start, "time_end": end, "split": split})
    _run(_clip_job, items, workers, "kinetics")
    df = pd.DataFrame(rows)
    for split in ("train", "val"):
        kinetics.write_kinetics_csv(out / f"kinetics_{split}.csv", df[df["split"] == split].reset_index(drop=True))
    return {"train": int((df["split"] == "train").sum()), "val": int((df["split"] == "val").sum())}


# --------------------------------------------------------------------------- Something-Something

def write_sth(out: Path, size: str, seed: int, workers: int, version: int) -> Dict[str, Any]:
    plan = PLAN[f"sthv{version}"][size]
    rng = np.random.default_rng(video_seed(seed, 0, 3))
    templates = [STH[c].name for c in plan["classes"]]  # sorted: file order == TSM's sorted order
    fps = 12.0
    spec_kw: Dict[str, Any] = {"fps": fps}
    if version == 1:
        spec_kw.update(width=176, height=100, margin=16)
    ids = rng.permutation(np.arange(1, 100000))[: len(plan["classes"]) * (plan["train"] + plan["val"])]
    items, rows = [], []
    for split in ("train", "val"):
        for li, c in enumerate(plan["classes"]):
            for _ in range(plan[split]):
                vid = str(int(ids[len(items)]))
                rel = (f"20bn-something-something-v1/{vid}" if version == 1 else
                       f"20bn-something-something-v2/{vid}.webm")
                items.append((str(out), "sth", c, video_seed(seed, len(items)), plan["frames"], rel, spec_kw))
                rows.append((split, vid, li))
    nframes = _run(_clip_job, items, workers, f"sthv{version}")
    lists = {"train": [], "val": []}
    for (split, vid, li), n in zip(rows, nframes):
        lists[split].append((vid, n, li))
    pre = f"something-something-v{version}"
    if version == 1:
        sth.write_v1_labels(out / f"{pre}-labels.csv", templates)
        for split, name in (("train", "train"), ("val", "validation")):
            sth.write_v1_split(out / f"{pre}-{name}.csv", [(v, templates[li]) for v, _, li in lists[split]])
    else:
        sth.write_v2_labels(out / f"{pre}-labels.json", {t.replace("[", "").replace("]", ""): i
                                                          for i, t in enumerate(templates)})
        for split, name in (("train", "train"), ("val", "validation")):
            items_json = [{"id": v, "label": templates[li].replace("[something]", "something"),
                           "template": templates[li], "placeholders": ["something"]} for v, _, li in lists[split]]
            sth.write_v2_split(out / f"{pre}-{name}.json", items_json)
    sth.write_list_file(out / "train_videofolder.txt", lists["train"])
    sth.write_list_file(out / "val_videofolder.txt", lists["val"])
    return {"train": len(lists["train"]), "val": len(lists["val"]), "classes": len(templates)}


def write_dataset(fmt: str, out: os.PathLike | str, size: str = "tiny", seed: int = 0, workers: int = 1) -> Dict[str, Any]:
    """Write synthetic dataset ``fmt`` (one of FORMATS) of ``size`` (tiny | demo) under ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "ucf24":
        return write_ucf24(out, size, seed, workers)
    if fmt == "jhmdb":
        return write_jhmdb(out, size, seed, workers)
    if fmt == "ava":
        return write_ava(out, size, seed, workers)
    if fmt == "kinetics":
        return write_kinetics(out, size, seed, workers)
    return write_sth(out, size, seed, workers, version=int(fmt[-1]))
