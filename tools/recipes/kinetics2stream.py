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
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from core.cli import markdown_table
from core.formats.kinetics import read_annotation_json
from kinetics2stream.options import add_data_args, run_dir

from .common import Claim, finish, fmt_mean_std, mean_std, run_step

STREAMS = (("RGB", "rgb"), ("Flow", "farneback"))

# Synthetic recipe (CPU): frames are 320x240, clips 2 s (32 frames at 16 fps). The stick figures are
# 2-3 px wide, so the RGB stream needs a larger input than flow (whose blobs survive downscaling),
# and, from scratch on a few hundred clips, scale and colour jitter and more weight decay against
# overfitting. ``streams``: per-stream train flags on top of the common ones.
SYNTHETIC = dict(arch="resnet18", isize=48, batch=16, lr=0.02, frame_step=2, freeze_bn=0,
                 streams=dict(rgb=["--isize", "64", "--min_crop_area", "0.3", "--color_jitter", "0.3", "--wd", "5e-4"],
                              farneback=[]),
                 full=dict(iters=1000, steps="800,950", val_step=500),
                 claims=dict(iters=400, steps="300,380", val_step=400, seeds=(0, 1, 2)),
                 quick=dict(iters=200, steps="150,190", val_step=200))
# Real data: the HEAD README's ResNet-101 Mini-200 run (60K iterations, x0.1 at 25K, 40K, 55K).
REAL = dict(arch="resnet101", isize=112, batch=64, lr=0.0005, frame_step=6, freeze_bn=1, streams=dict(rgb=[], farneback=[]),
            full=dict(iters=60000, steps="25000,40000,55000", val_step=10000),
            quick=dict(iters=2000, steps="1500", val_step=1000))
SCHEDULES = ("quick", "claims", "full")
CLASSTOPK = 30  # video scores: mean of each class's top-30 frame logits
# flags of train.py that test.py does not take
TRAIN_ONLY = {"--max_iterations", "--step_values", "--val_step", "--freeze_bn", "--logger", "--resume", "--print-freq",
              "--seed", "--weights", "--visdom", "--momentum", "--wd", "--weight-decay", "--gamma", "--min_crop_area",
              "--color_jitter"}
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


def claims(runs: List[Dict[str, Any]]) -> List[Claim]:
    """The two-stream claims over the seeds' runs (each: ``rows`` stream -> table row, ``motion`` stream -> mean
    video top-1 over the motion-defined classes of the synthetic set, or None on real data). A claim holds when
    it holds on the mean over seeds; the measured column also counts the seeds it holds on."""
    def v1(name: str) -> List[float]:
        return [r["rows"][name]["v-top1"] for r in runs]

    fused, rgb, flow = v1("RGB+FLOW"), v1("RGB"), v1("Flow")
    wins = sum(f > max(r, w) for f, r, w in zip(fused, rgb, flow))
    out = [Claim("RGB+FLOW beats each stream in video top-1", "Kinetics two-stream: the fusion above RGB and flow",
                 f"RGB+FLOW {fmt_mean_std(fused)}, RGB {fmt_mean_std(rgb)}, Flow {fmt_mean_std(flow)}; "
                 f"{wins}/{len(runs)} seeds", mean_std(fused)[0] > max(mean_std(rgb)[0], mean_std(flow)[0]))]
    if runs[0]["motion"] is not None:
        m_flow, m_rgb = [r["motion"]["Flow"] for r in runs], [r["motion"]["RGB"] for r in runs]
        wins = sum(f > r for f, r in zip(m_flow, m_rgb))
        out.append(Claim("Flow beats RGB on the motion-defined classes (video top-1)",
                         "flow carries the motion that single frames lack",
                         f"Flow {fmt_mean_std(m_flow)} vs RGB {fmt_mean_std(m_rgb)}; {wins}/{len(runs)} seeds",
                         mean_std(m_flow)[0] > mean_std(m_rgb)[0]))
    return out


def run(data_root: Optional[str], mode: str, work_dir: str, extra: Sequence[str],
        seeds: Optional[List[int]] = None) -> str:
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    synthetic = data_root is None
    recipe = SYNTHETIC if synthetic else REAL
    if mode not in recipe:
        raise ValueError(f"kinetics2stream: no '{mode}' schedule ({', '.join(k for k in SCHEDULES if k in recipe)})")
    sched = recipe[mode]
    root = synthetic_data(work) if synthetic else Path(data_root).resolve()
    extra, weight = pop_flag(list(extra), "--fusion_weight", FUSION_WEIGHT)
    datasubset = _flag_value(extra, "--datasubset") or ("400" if synthetic else "200")
    seeds = list(seeds) if seeds else list(sched.get("seeds", [None]))
    save_root = work / {"quick": "runs-quick", "claims": "runs-claims", "full": "runs"}[mode]
    runs = []
    for seed in seeds:
        out = save_root if seed is None else save_root / f"seed{seed}"
        runs.append(run_seed(root, out, recipe, sched, datasubset, weight, seed, extra, work / "logs"))
    first = runs[0]
    sizes = ", ".join(f"{n} at {_flag_value(f, '--isize')}" for (n, _), f in zip(STREAMS, first["flags"]))
    seeds_text = "seed " + str(seeds[0]) if len(seeds) == 1 and seeds[0] is not None else (
        f"mean ± std over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else "default seed")
    text = (f"Kinetics two-stream ({'synthetic demo' if synthetic else root}; {recipe['arch']}, {sizes}, "
            f"{sched['iters']} iterations per stream; video scores: top-{CLASSTOPK} frame aggregation; "
            f"fusion: {weight:g} x RGB + {1 - weight:g} x Flow; {seeds_text})\n\n{format_table(_mean_rows(runs))}\n")
    annots = read_annotation_json(root / "kinetics" / "hfiles" / f"Annots_{datasubset}.json")
    names = list(first["per_class"])
    text += "\nPer-class video top-1 (%)" + (" (* = motion-defined class)" if synthetic else "")
    text += (", mean over seeds" if len(runs) > 1 else "") + "\n\n"
    text += "| class | RGB | Flow | RGB+FLOW |\n|---|---:|---:|---:|\n"
    motion = _motion_defined() if synthetic else set()
    for c in sorted(first["per_class"]["RGB"], key=lambda c: annots["classes"][c]):
        mark = " *" if c in motion else ""
        vals = [np.mean([r["per_class"][n].get(c, np.nan) for r in runs]) for n in names]
        text += f"| {c}{mark} | " + " | ".join(f"{v:.0f}" for v in vals) + " |\n"
    if motion:
        text += ("| motion-defined mean | " + " | ".join(f"{np.mean([r['motion'][n] for r in runs]):.1f}"
                                                       for n in names) + " |\n")
    return finish(work, text, claims(runs))


def run_seed(root: Path, save_root: Path, recipe: Dict[str, Any], sched: Dict[str, Any], datasubset: str,
             weight: float, seed: Optional[int], extra: Sequence[str], logs: Path) -> Dict[str, Any]:
    """Train and test both streams and fuse them with one seed; returns the rows, per-class video top-1 and the
    motion-defined classes' mean (synthetic data)."""
    tag_seed = "" if seed is None else f"-seed{seed}"
    seed_flags = [] if seed is None else ["--seed", str(seed)]
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
                                        "--logger", "none", "--resume", "auto", "--print-freq", "25", *seed_flags],
            recipe["streams"][input_type])
        train_flags = _with_defaults(defaults, extra)
        iters = int(_flag_value(train_flags, "--max_iterations"))  # the recipe's, or the one given in extra
        tag = f"{iters:06d}"
        label = f"[{name}{tag_seed}] "
        run_step("kinetics2stream/train.py", train_flags, logs / f"train-{input_type}{tag_seed}.log", label=label)
        test_flags = _strip(train_flags, TRAIN_ONLY)
        stream_flags.append(test_flags)
        run_step("kinetics2stream/test.py", [*test_flags, "--test-iterations", iters],
                 logs / f"test-{input_type}{tag_seed}.log", label=label)
        run = _run_dir(test_flags)
        res = json.loads((run / f"results_val_{tag}.json").read_text())
        rows[name] = _row(res["frame_top1"], res["frame_top3"], res["clstk"][str(CLASSTOPK)])
        pkls[name] = run / f"output_val_{tag}.pkl"
        preds[name] = run / f"output_val_{tag}-clstk-{CLASSTOPK:03d}.json"
    gt = root / "kinetics" / "hfiles" / f"Annots_{datasubset}.json"
    fused_dir = save_root / "fused"
    run_step("kinetics2stream/eval.py", ["--gt", gt, "--rgb", pkls["RGB"], "--flow", pkls["Flow"], "--fusion_weight",
                                         weight, "--classtopk", CLASSTOPK, "--out_dir", fused_dir],
             logs / f"fusion{tag_seed}.log", label=f"[RGB+FLOW{tag_seed}] ")
    fres = json.loads((fused_dir / "results_val_fused.json").read_text())
    rows["RGB+FLOW"] = _row(fres["frame_top1"], fres["frame_top3"], fres["video"])
    preds["RGB+FLOW"] = fused_dir / f"output_val_fused-clstk-{CLASSTOPK:03d}.json"
    annots = read_annotation_json(gt)
    per_class = {name: per_class_top1(annots, p) for name, p in preds.items()}
    motion = _motion_defined() if recipe is SYNTHETIC else set()
    means = ({n: float(np.mean([per_class[n][c] for c in per_class[n] if c in motion])) for n in preds}
             if motion else None)
    return {"rows": rows, "per_class": per_class, "motion": means, "flags": stream_flags}


def _row(top1: float, top3: float, video: Dict[str, float]) -> Dict[str, float]:
    return {"f-top1": top1, "f-top3": top3, "v-top1": 100 * video["hit@1"], "v-top5": 100 * video["hit@5"],
            "mean-error": 100 * video["mean_error"]}


def _mean_rows(runs: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Each table cell as a number (one seed) or 'mean ± std' (several)."""
    if len(runs) == 1:
        return runs[0]["rows"]
    out: Dict[str, Dict[str, Any]] = {}
    for name in runs[0]["rows"]:
        out[name] = {}
        for col in COLUMNS:
            m, sd = mean_std([r["rows"][name][col] for r in runs])
            out[name][col] = f"{m:.1f} ± {sd:.1f}"
    return out


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
