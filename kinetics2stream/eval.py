"""Video-level evaluation (hit@1, hit@5, mean, mean-error, mAP) and RGB+Flow fusion.

    # a run's prediction files (test.py output, classtopk 30 and 50), like the original eval.py:
    python eval.py --root DATA --save_root RUNS --arch resnet101 --input rgb --test-iteration 60000
    # any ActivityNet-format prediction files:
    python eval.py --gt DATA/kinetics/hfiles/Annots_200.json --predictions A.json B.json
    # two-stream fusion of the per-video scores test.py saved (weighted sum of class probabilities):
    python eval.py --gt ANNOTS --rgb RGB/output_val_060000.pkl --flow FLOW/output_val_060000.pkl \
        --fusion_weight 0.5 --classtopk 30 --out_dir FUSED

Fusion writes ``<out_dir>/output_val_fused-clstk-<k>.json`` and ``results_val_fused.json`` (frame
top-1/top-3 of the fused frame scores and the video metrics). ``--json OUT`` writes every number
printed; the run-folder mode also appends to ``<run>/eval.log``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

from core.errors import DataError, cli_errors
from core.formats.kinetics import read_annotation_json
from core.io import atomic_write_json, safe_load_pickle
from kinetics2stream.aggregate import activitynet_json, frame_topk, fuse, fuse_frames, video_probabilities
from kinetics2stream.evaluate import video_metrics
from kinetics2stream.options import add_data_args, run_dir


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    add_data_args(p)
    p.add_argument("--test-iteration", "--test_iteration", dest="test_iteration", default="60000",
                   help="run-folder mode: the checkpoint tag test.py used (an iteration or 'best')")
    p.add_argument("--gt", default=None, help="annotation json (default <root>/<dataset>/hfiles/Annots_<datasubset>.json)")
    p.add_argument("--predictions", nargs="+", default=None, help="ActivityNet classification json file(s)")
    p.add_argument("--rgb", default=None, help="fusion: per-video RGB scores (test.py output_val_*.pkl)")
    p.add_argument("--flow", default=None, help="fusion: per-video flow scores")
    p.add_argument("--fusion_weight", type=float, default=0.5, help="weight of RGB; flow gets 1 - w")
    p.add_argument("--classtopk", type=int, default=30, help="fusion: k of the top-k frame aggregation")
    p.add_argument("--out_dir", default=None, help="fusion: where the fused json and results go")
    p.add_argument("--subset", default="val")
    p.add_argument("--json", default=None, help="write the numbers to this json file")
    return p


def fmt(name: str, m: Dict[str, float]) -> str:
    return (f"{name}: hit@1 {m['hit@1']:.4f} hit@5 {m['hit@5']:.4f} mean {m['mean']:.4f} "
            f"mean-error {m['mean_error']:.4f} mAP {m['mAP']:.4f}")


def fuse_streams(annots: dict, rgb_pkl: str, flow_pkl: str, weight: float, k: int, subset: str = "val") -> Dict:
    """Fused frame top-1/top-3 and the fused ActivityNet json of two per-video score files."""
    rgb, flow = safe_load_pickle(rgb_pkl), safe_load_pickle(flow_pkl)
    for path, d in ((rgb_pkl, rgb), (flow_pkl, flow)):
        if not isinstance(d, dict) or any(not isinstance(v, dict) or "scores" not in v for v in d.values()):
            raise DataError(path, "expected test.py's per-video scores {video: {scores, fids, count}}")
    database = annots["database"]
    idx_to_class = {int(v): c for c, v in annots["classes"].items()}
    labels = {v: int(i["cls"]) for v, i in database.items() if i["subset"] == subset}
    ftop = frame_topk(fuse_frames(rgb, flow, weight), labels, (1, 3))
    probs = fuse(video_probabilities(rgb, k), video_probabilities(flow, k), weight)
    preds = activitynet_json(probs, database, idx_to_class, subset)
    return {"frame_top1": ftop[1], "frame_top3": ftop[3], "predictions": preds}


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    gt = args.gt or os.path.join(args.root, args.dataset, "hfiles", f"Annots_{args.datasubset}.json")
    annots = read_annotation_json(gt)
    report: Dict[str, object] = {"gt": gt}
    lines: List[str] = []
    if args.rgb or args.flow:
        if not (args.rgb and args.flow):
            raise SystemExit("error: fusion needs both --rgb and --flow")
        res = fuse_streams(annots, args.rgb, args.flow, args.fusion_weight, args.classtopk, args.subset)
        out = Path(args.out_dir or os.path.dirname(os.path.abspath(args.rgb)))
        pred_file = out / f"output_{args.subset}_fused-clstk-{args.classtopk:03d}.json"
        atomic_write_json(pred_file, res.pop("predictions"), indent=None)
        res["video"] = video_metrics(gt, pred_file, args.subset)
        res.update(rgb=args.rgb, flow=args.flow, fusion_weight=args.fusion_weight, classtopk=args.classtopk)
        atomic_write_json(out / f"results_{args.subset}_fused.json", res)
        lines.append(f"RGB+Flow (w {args.fusion_weight}, clstk {args.classtopk}): frame Prec@1 {res['frame_top1']:.3f} "
                     f"Prec@3 {res['frame_top3']:.3f}")
        lines.append(fmt("RGB+Flow video", res["video"]))
        report["fusion"] = res
    else:
        log_dir = None
        files = args.predictions
        if not files:
            log_dir = run_dir(args)
            tag = args.test_iteration if args.test_iteration == "best" else f"{int(args.test_iteration):06d}"
            files = [str(log_dir / f"output_{args.subset}_{tag}-clstk-{k:03d}.json") for k in (30, 50)]
        for path in files:
            m = video_metrics(gt, path, args.subset)
            report[path] = m
            lines.append(fmt(path, m))
        if log_dir is not None:
            with open(log_dir / "eval.log", "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
