"""Score every 2nd frame of every validation video with trained checkpoints; frame and video metrics.

    python test.py --root DATA --save_root RUNS --arch resnet101 --input rgb --isize 112 --test-iterations 30000,60000
    python test.py ... --test-iterations best

Same run-folder flags as train.py (the folder is found by the same name). Per checkpoint it writes,
in the run folder: ``output_val_<iter>.pkl`` (raw logits per video, sorted by frame; reused if
present), ``output_val_<iter>-clstk-<010|030|050>.json`` (ActivityNet classification format: video
scores = mean of each class's top-k frame logits), ``results_val_<iter>.json`` (frame top-1/top-3,
hit@1, hit@5, mean, mean-error, mAP per k, frames/s) and appends to ``test_log.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from core.errors import DataError, cli_errors
from core.formats.kinetics import read_annotation_json
from core.io import atomic_write_json, dump_pickle, safe_load_pickle
from core.train import (
    cleanup,
    init_distributed,
    is_main_process,
    load_weights_into,
    make_eval_loader,
)
from kinetics2stream.aggregate import (
    CLASS_TOPK,
    activitynet_json,
    frame_topk,
    group_by_video,
    video_probabilities,
)
from kinetics2stream.data import KineticsFrames, build_transform, input_spec
from kinetics2stream.engine import score_frames
from kinetics2stream.evaluate import video_metrics
from kinetics2stream.models import build_model
from kinetics2stream.options import add_data_args, run_dir


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    add_data_args(p)
    p.add_argument("--test-iterations", "--test_iterations", dest="test_iterations", default="30000,60000",
                   help="checkpoints to test: iterations (checkpoints/model_<iter>.pth) and/or 'best'")
    p.add_argument("--test_frame_step", type=int, default=2, help="score every N-th frame (the original: 2)")
    p.add_argument("--classtopk", default=",".join(map(str, CLASS_TOPK)), help="k of the top-k frame aggregation")
    p.add_argument("--subset", default="val")
    p.add_argument("--print-freq", "-p", dest="print_freq", type=int, default=10)
    p.add_argument("--device", default="auto")
    return p


def checkpoint_file(out: Path, tag: str) -> Path:
    return out / "best.pth" if tag == "best" else out / "checkpoints" / f"model_{int(tag):08d}.pth"


def test_one(args, tag: str, out: Path, dataset: KineticsFrames, info, log) -> Optional[dict]:
    name = "best" if tag == "best" else f"{int(tag):06d}"
    pkl = out / f"output_{args.subset}_{name}.pkl"
    fps = None
    if pkl.is_file():
        allscores = safe_load_pickle(pkl)
        log(f"reusing {pkl}")
    else:
        ckpt = checkpoint_file(out, tag)
        if not ckpt.is_file():
            raise FileNotFoundError(2, "No such file", str(ckpt))
        model = build_model(args.arch, dataset.num_classes, args.seq_len)
        load_weights_into(model, ckpt, strict=True, verbose=False)
        model.to(info.device)
        loader = make_eval_loader(dataset, args.batch_size, num_workers=args.num_workers)
        res = score_frames(model, loader, info.device)
        fps = float(res["fps"])
        allscores = group_by_video(res["logits"], res["video"], res["frame"], dataset.videos)
        if is_main_process():
            dump_pickle(pkl, allscores)
        log(f"{ckpt}: {len(res['logits'])} frames of {len(allscores)} videos, {fps:.1f} frames/s")
    if not is_main_process():
        return None
    labels = dict(zip(dataset.videos, dataset.video_labels))
    ftop = frame_topk(allscores, labels, (1, 3))
    annots = read_annotation_json(dataset.annot_file)
    results = {"checkpoint": name, "frames": int(sum(v["count"] for v in allscores.values())),
               "frame_top1": ftop[1], "frame_top3": ftop[3], "fps": fps, "clstk": {}}
    log(f" * frame Prec@1 {ftop[1]:.3f} Prec@3 {ftop[3]:.3f}")
    for k in (int(s) for s in args.classtopk.split(",")):
        preds = activitynet_json(video_probabilities(allscores, k), annots["database"], dataset.idx_to_class,
                                 args.subset, external="ImageNet" if str(args.pretrained) not in ("", "0") else None)
        pred_file = out / f"output_{args.subset}_{name}-clstk-{k:03d}.json"
        atomic_write_json(pred_file, preds, indent=None)
        if args.subset != "test":
            m = video_metrics(dataset.annot_file, pred_file, args.subset)
            results["clstk"][str(k)] = m
            log(f"clstk {k:3d}: hit@1 {m['hit@1']:.4f} hit@5 {m['hit@5']:.4f} mean {m['mean']:.4f} "
                f"mean-error {m['mean_error']:.4f} mAP {m['mAP']:.4f}")
    atomic_write_json(out / f"results_{args.subset}_{name}.json", results)
    return results


def test(args: argparse.Namespace) -> int:
    info = init_distributed(args.device)
    size = args.isize or input_spec(args.arch)[0]
    root = str(Path(args.root) / args.dataset)
    dataset = KineticsFrames(root, args.input, args.datasubset, [args.subset], build_transform(args.arch, size, False),
                             frame_step=args.test_frame_step, seq_len=args.seq_len, gap=args.gap)
    if len(dataset) == 0:
        raise DataError(dataset.annot_file, f"no '{args.subset}' frames to test")
    out = run_dir(args)
    lines: List[str] = []

    def log(line: str) -> None:
        if is_main_process():
            print(line)
            lines.append(line)

    log(f"{out.name}: {len(dataset)} {args.subset} frames of {len(dataset.videos)} videos")
    for tag in (t.strip() for t in args.test_iterations.split(",") if t.strip()):
        test_one(args, tag, out, dataset, info, log)
    if is_main_process():
        with open(out / "test_log.txt", "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
            f.write(json.dumps({"args": vars(args)}, default=str) + "\n")
    return 0


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        return test(args)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
