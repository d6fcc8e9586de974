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

import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

from core.errors import cli_errors
from core.formats.kinetics import read_annotation_json
from core.io import atomic_write_json
from kinetics2stream.engine import format_video_metrics, fuse_streams, video_metrics
from kinetics2stream.options import parse_eval_args, run_dir


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_eval_args(argv)
    gt = args.gt or os.path.join(args.root, args.dataset, "hfiles", f"Annots_{args.datasubset}.json")
    annots = read_annotation_json(gt)
    report: Dict[str, object] = {"gt": gt}
    lines: List[str] = []
    if args.rgb:
        res = fuse_streams(annots, args.rgb, args.flow, args.fusion_weight, args.classtopk, args.subset)
        out = Path(args.out_dir or os.path.dirname(os.path.abspath(args.rgb)))
        pred_file = out / f"output_{args.subset}_fused-clstk-{args.classtopk:03d}.json"
        atomic_write_json(pred_file, res.pop("predictions"), indent=None)
        res["video"] = video_metrics(gt, pred_file, args.subset)
        res.update(rgb=args.rgb, flow=args.flow, fusion_weight=args.fusion_weight, classtopk=args.classtopk)
        atomic_write_json(out / f"results_{args.subset}_fused.json", res)
        lines.append(f"RGB+Flow (w {args.fusion_weight}, clstk {args.classtopk}): frame Prec@1 {res['frame_top1']:.3f} "
                     f"Prec@3 {res['frame_top3']:.3f}")
        lines.append(f"RGB+Flow video: {format_video_metrics(res['video'])}")
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
            lines.append(f"{path}: {format_video_metrics(m)}")
        if log_dir is not None:
            with open(log_dir / "eval.log", "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.json:
        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
