"""The two-stream table: RGB, Flow (Farneback) and their fusion, in the columns of the original README
(f-top1 | f-top3 | v-top1 | v-top5 | mean-error), via ``python tools/reproduce.py kinetics2stream``.

Without ``data_root`` a synthetic Kinetics (``tools/synthesize.py --format kinetics --size demo``,
mp4 clips in crawler naming + csv files) is written under ``<work_dir>/data/videos`` and prepared with
``tools/prepare_kinetics.py`` (16 fps frames, Farneback flow, annotation json) into
``<work_dir>/data/kinetics``; both are reused by later runs. With ``data_root`` the prepared
``<data_root>/kinetics/{rgb-images, farneback-images, hfiles/Annots_<datasubset>.json}`` is used.

Each stream is trained with ``train.py``, scored with ``test.py`` (every 2nd val frame, video scores
= mean of each class's top-k frame logits) and the streams are fused with ``eval.py`` (weighted sum
of video class probabilities). The synthetic recipe trains ResNet-18 from scratch (no ImageNet file
can be assumed) at small input sizes with BatchNorm training, so it runs on a CPU, the RGB stream
with scale and colour jitter; the real-data recipe is the original README's (ResNet-101, 112,
frozen BN, LR 0.0005, ImageNet weights via ``--pretrained``). The fusion's RGB weight is fixed a
priori (:data:`FUSION_WEIGHT`); ``--fusion_weight W`` sets it. Other extra flags (after ``--``) go
to both train.py runs, and override the recipe's.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from core.cli import markdown_table
from core.formats.kinetics import read_annotation_json
from kinetics2stream.options import add_data_args, run_dir

from .common import Claim, finish, run_step

STREAMS = (("RGB", "rgb"), ("Flow", "farneback"))

# Synthetic recipe (CPU): frames are 320x240, clips 2 s (32 frames at 16 fps). The stick figures are
# 2-3 px wide, so the RGB stream needs a larger input than flow (whose blobs survive downscaling),
# and, from scratch on a few hundred clips, scale and colour jitter and more weight decay against
# overfitting. ``streams``: per-stream train flags on top of the common ones.
SYNTHETIC = dict(arch="resnet18", isize=48, batch=16, lr=0.02, frame_step=2, freeze_bn=0,
                 streams=dict(rgb=["--isize", "64", "--min_crop_area", "0.3", "--color_jitter", "0.3", "--wd", "5e-4"],
                              farneback=[]),
                 full=dict(iters=1000, steps="800,950", val_step=500),
                 quick=dict(iters=200, steps="150,190", val_step=200))
# Real data: the HEAD README's ResNet-101 Mini-200 run (60K iterations, x0.1 at 25K, 40K, 55K).
REAL = dict(arch="resnet101", isize=112, batch=64, lr=0.0005, frame_step=6, freeze_bn=1, streams=dict(rgb=[], farneback=[]),
            full=dict(iters=60000, steps="25000,40000,55000", val_step=10000),
            quick=dict(iters=2000, steps="1500", val_step=1000))
# RGB weight of the fusion (flow gets 1 - w), fixed a priori, never tuned on the reported val set:
# TSN's (Wang et al., 2016) RGB:flow = 1:1.5, i.e. 0.4. ``--fusion_weight W`` overrides it.
FUSION_WEIGHT = 0.4


def synthetic_data(work_dir: Path, workers: int = 2) -> Path:
    """Write (once) and prepare the synthetic set; returns the root to pass as --root."""
    data = work_dir / "data"
    videos = data / "videos"
    logs = work_dir / "logs"
    if not (videos / "kinetics_val.csv").is_file():
        run_step("tools/synthesize.py", ["--format", "kinetics", "--size", "demo", "--out", videos, "--workers",
                                         workers], logs / "synthesize.log", label="[data] ")
    annots = data / "kinetics" / "hfiles" / "Annots_400.json"
    if not annots.is_file():
        run_step("tools/prepare_kinetics.py", ["--videos", videos, "--csv_dir", videos, "--out", data / "kinetics",
                                               "--workers", workers], logs / "prepare.log", label="[data] ")
    return data


def _flag_names(extra: Sequence[str]) -> set:
    return {a.split("=")[0] for a in extra if a.startswith("-")}


def _with_defaults(defaults: List[str], extra: Sequence[str]) -> List[str]:
    """``defaults`` (flag, value pairs) minus the flags ``extra`` sets, then ``extra``."""
    given = _flag_names(extra)
    out: List[str] = []
    for i in range(0, len(defaults), 2):
        if defaults[i] not in given:
            out += defaults[i:i + 2]
    return out + list(extra)


def per_class_top1(annots: dict, pred_file: Path) -> Dict[str, float]:
    """Video top-1 accuracy (%) of each class from an ActivityNet-format prediction file."""
    preds = json.loads(pred_file.read_text())["results"]
    hits: Dict[str, List[float]] = {}
    for vid, info in annots["database"].items():
        if info["subset"] != "val":
            continue
        top = preds.get(vid, [{"label": None}])[0]["label"]
        hits.setdefault(info["label"], []).append(float(top == info["label"]))
    return {c: 100.0 * float(np.mean(h)) for c, h in hits.items()}


COLUMNS = ("f-top1", "f-top3", "v-top1", "v-top5", "mean-error")


def format_table(rows: Dict[str, Dict[str, float]]) -> str:
    return markdown_table(["stream", *COLUMNS], [[name, *(r[c] for c in COLUMNS)] for name, r in rows.items()])


def claims(rows: Dict[str, Dict[str, float]], motion: Optional[Dict[str, float]]) -> List[Claim]:
    """The two-stream claims on one run: ``rows`` (stream -> table row), ``motion`` (stream -> mean video
    top-1 over the motion-defined classes of the synthetic set, or None on real data)."""
    fused, rgb, flow = rows["RGB+FLOW"]["v-top1"], rows["RGB"]["v-top1"], rows["Flow"]["v-top1"]
    out = [Claim("RGB+FLOW beats each stream in video top-1", "Kinetics two-stream: fusion above RGB and flow",
                 f"RGB+FLOW {fused:.1f}, RGB {rgb:.1f}, Flow {flow:.1f}", fused > max(rgb, flow))]
    if motion is not None:
        out.append(Claim("Flow beats RGB on the motion-defined classes (video top-1)",
                         "flow carries the motion that single frames lack",
                         f"Flow {motion['Flow']:.1f} vs RGB {motion['RGB']:.1f}", motion["Flow"] > motion["RGB"]))
    return out


def run(data_root: Optional[str], mode: str, work_dir: str, extra: Sequence[str],
        seeds: Optional[List[int]] = None) -> str:
    if mode not in ("quick", "full"):
        raise ValueError(f"kinetics2stream: no '{mode}' schedule (quick, full)")
    quick = mode == "quick"
    if seeds:
        extra = [*extra, "--seed", str(seeds[0])]
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    synthetic = data_root is None
    recipe = SYNTHETIC if synthetic else REAL
    sched = recipe["quick" if quick else "full"]
    root = synthetic_data(work) if synthetic else Path(data_root).resolve()
    datasubset = "400" if synthetic else "200"
    extra, weight = pop_flag(list(extra), "--fusion_weight", FUSION_WEIGHT)
    if "--datasubset" in extra:
        datasubset = extra[extra.index("--datasubset") + 1]
    save_root = work / ("runs-quick" if quick else "runs")
    classtopk = 30
    common = ["--root", root, "--save_root", save_root, "--datasubset", datasubset, "--arch", recipe["arch"],
              "--isize", recipe["isize"], "-b", recipe["batch"], "--lr", recipe["lr"],
              "--frame_step", recipe["frame_step"]]
    rows: Dict[str, Dict[str, float]] = {}
    pkls: Dict[str, Path] = {}
    stream_flags: List[List[str]] = []
    preds: Dict[str, Path] = {}
    for name, input_type in STREAMS:
        defaults = _with_defaults(
            [str(c) for c in common] + ["--input", input_type, "--max_iterations", str(sched["iters"]),
                                        "--step_values", sched["steps"], "--val_step", str(sched["val_step"]),
                                        "--freeze_bn", str(recipe["freeze_bn"]), "--num_workers", "1",
                                        "--logger", "none", "--resume", "auto", "--print-freq", "25"],
            recipe["streams"][input_type])
        train_flags = _with_defaults(defaults, extra)
        logs = work / "logs"
        run_step("kinetics2stream/train.py", train_flags, logs / f"train-{input_type}.log", label=f"[{name}] ")
        drop = {"--max_iterations", "--step_values", "--val_step", "--freeze_bn", "--logger", "--resume", "--print-freq",
                "--seed", "--weights", "--visdom", "--momentum", "--wd", "--weight-decay", "--gamma", "--min_crop_area",
                "--color_jitter"}
        test_flags = _strip(train_flags, drop)
        stream_flags.append(test_flags)
        tag = f"{sched['iters']:06d}"
        run_step("kinetics2stream/test.py", [*test_flags, "--test-iterations", sched["iters"]],
                 logs / f"test-{input_type}.log", label=f"[{name}] ")
        run = _run_dir(test_flags)
        res = json.loads((run / f"results_val_{tag}.json").read_text())
        v = res["clstk"][str(classtopk)]
        rows[name] = {"f-top1": res["frame_top1"], "f-top3": res["frame_top3"], "v-top1": 100 * v["hit@1"],
                      "v-top5": 100 * v["hit@5"], "mean-error": 100 * v["mean_error"]}
        pkls[name] = run / f"output_val_{tag}.pkl"
        preds[name] = run / f"output_val_{tag}-clstk-{classtopk:03d}.json"
    gt = root / "kinetics" / "hfiles" / f"Annots_{datasubset}.json"
    fused_dir = save_root / "fused"
    run_step("kinetics2stream/eval.py", ["--gt", gt, "--rgb", pkls["RGB"], "--flow", pkls["Flow"], "--fusion_weight",
                                         weight, "--classtopk", classtopk, "--out_dir", fused_dir],
             work / "logs" / "fusion.log", label="[RGB+FLOW] ")
    fres = json.loads((fused_dir / "results_val_fused.json").read_text())
    fv = fres["video"]
    rows["RGB+FLOW"] = {"f-top1": fres["frame_top1"], "f-top3": fres["frame_top3"], "v-top1": 100 * fv["hit@1"],
                        "v-top5": 100 * fv["hit@5"], "mean-error": 100 * fv["mean_error"]}
    preds["RGB+FLOW"] = fused_dir / f"output_val_fused-clstk-{classtopk:03d}.json"
    table = format_table(rows)
    sizes = ", ".join(f"{n} at {_flag_value(f, '--isize')}" for (n, _), f in zip(STREAMS, stream_flags))
    text = (f"Kinetics two-stream ({'synthetic demo' if synthetic else root}; {recipe['arch']}, {sizes}, "
            f"{sched['iters']} iterations per stream; video scores: top-{classtopk} frame aggregation; "
            f"fusion: {weight:g} x RGB + {1 - weight:g} x Flow)\n\n{table}\n")
    annots = read_annotation_json(gt)
    per_class = {name: per_class_top1(annots, p) for name, p in preds.items()}
    text += "\nPer-class video top-1 (%)" + (" (* = motion-defined class)" if synthetic else "") + "\n\n"
    text += "| class | RGB | Flow | RGB+FLOW |\n|---|---|---|---|\n"
    motion = _motion_defined() if synthetic else set()
    means = None
    for c in sorted(per_class["RGB"], key=lambda c: annots["classes"][c]):
        mark = " *" if c in motion else ""
        text += f"| {c}{mark} | " + " | ".join(f"{per_class[n].get(c, float('nan')):.0f}" for n in preds) + " |\n"
    if motion:
        means = {n: float(np.mean([per_class[n][c] for c in per_class[n] if c in motion])) for n in preds}
        text += ("| motion-defined mean | " + " | ".join(f"{means[n]:.1f}" for n in preds) + " |\n")
    return finish(work, text, claims(rows, means))


def pop_flag(flags: List[str], name: str, default: float) -> Tuple[List[str], float]:
    """(``flags`` without ``name`` and its value, the value as a float or ``default``); ``name=v`` too."""
    out: List[str] = []
    value = default
    i = 0
    while i < len(flags):
        if flags[i] == name and i + 1 < len(flags):
            value, i = float(flags[i + 1]), i + 2
            continue
        if flags[i].startswith(name + "="):
            value = float(flags[i].split("=", 1)[1])
        else:
            out.append(flags[i])
        i += 1
    return out, value


def _flag_value(flags: Sequence[str], name: str) -> str:
    """The last value given to ``name`` in a flag list (``name v`` or ``name=v``)."""
    value = ""
    for i, a in enumerate(flags):
        if a == name and i + 1 < len(flags):
            value = flags[i + 1]
        elif a.startswith(name + "="):
            value = a.split("=", 1)[1]
    return value


def _strip(flags: List[str], drop: set) -> List[str]:
    """Remove train-only flags (and their values) from a flag list."""
    out: List[str] = []
    skip = False
    for i, a in enumerate(flags):
        if skip:
            skip = False
            continue
        name = a.split("=")[0]
        if name in drop:
            skip = "=" not in a and i + 1 < len(flags) and not flags[i + 1].startswith("--")
            continue
        out.append(a)
    return out


def _run_dir(flags: List[str]) -> Path:
    """The run folder train.py / test.py use for these flags."""
    p = argparse.ArgumentParser(add_help=False)
    add_data_args(p)
    return run_dir(p.parse_known_args(flags)[0])


def _motion_defined() -> set:
    from core.synthetic.actions import KINETICS

    return {c.name for c in KINETICS if c.motion_defined}
