"""Test AMTNet over every frame of the test videos: detections, frame-mAP, tubes, video-mAP, table.md.

    python test.py --data_root DATA --save_root RUNS [train.py's run flags] [--eval_iters 40000]
    python test.py --checkpoint RUN/checkpoints/AMTNet_00040000.pth --data_root DATA --out_dir OUT
    python test.py --late_fusion mean,union,boost --rgb_dir RGB_TEST_OUT --flow_dir FLOW_TEST_OUT --out_dir OUT
    torchrun --nproc_per_node=2 test.py ...      (test videos split over the processes)

Per checkpoint and gap, <run>/test-<iter>-eg<gap>/ receives detections/{micro,frames}/<video>.npz (core.tubes
format), frame_detections.csv, TUBES.json, metrics.json and table.md (IoU 0.20 | 0.50 | 0.75 | 0.5:0.95 |
frame-mAP@0.5 | accuracy, in percent). An interrupted test resumes at the first unfinished video.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from amtnet.config import add_model_args, check_args, run_dir  # noqa: E402
from amtnet.data import VideoFrames, classes_of, dataset_dir, full_test_starts, load_videos, split_videos  # noqa: E402
from amtnet.detect import VideoRunner  # noqa: E402
from amtnet.evaluate import (  # noqa: E402
    VideoWriter,
    build_tubes,
    collect_csv,
    evaluate,
    format_table,
    late_fusion,
    table_row,
    video_done,
)
from amtnet.model import AMTNet  # noqa: E402
from core.errors import DataError, cli_errors  # noqa: E402
from core.io import atomic_write_json, atomic_write_text, load_weights  # noqa: E402
from core.train import CheckpointManager, barrier, cleanup, init_distributed, place_model, strip_prefix  # noqa: E402

MODEL_FIELDS = ("dataset", "seq_len", "fusion_type", "input_type_base", "input_type_extra", "input_frames_base",
                "input_frames_extra", "width_mult", "batch_norm")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_args(p)
    p.set_defaults(topk=20)
    p.add_argument("--eval_iters", default="", help="comma list of checkpoint iterations (default: the latest)")
    p.add_argument("--eval_gaps", default="", help="comma list of seq_gap values to test at (default: the run's; 20 -> 1)")
    p.add_argument("--checkpoint", default="", help="test this checkpoint file (its run flags are used)")
    p.add_argument("--out_dir", default="", help="output folder (default <run>/test-<iter>-eg<gap>)")
    p.add_argument("--batch_size", default=4, type=int, help="the training run's batch size (names the run)")
    p.add_argument("--lr", default=0.0005, type=float, help="the training run's lr (names the run)")
    p.add_argument("--test_batch_size", default=8, type=int, help="frames per backbone batch")
    p.add_argument("--num_workers", "-j", default=2, type=int)
    p.add_argument("--device", default="auto")
    p.add_argument("--protocol", default="road", choices=["road", "act"], help="evaluation.ucf24 protocol")
    p.add_argument("--gt", default="", help="ground truth for evaluation (default <dataset>/splitfiles/pyannot.pkl)")
    p.add_argument("--name", default="", help="row name in table.md (default: the run name)")
    p.add_argument("--late_fusion", default="", help="comma list of mean, union, boost: fuse --rgb_dir and --flow_dir")
    p.add_argument("--rgb_dir", default="", help="test output folder of the RGB run (late fusion)")
    p.add_argument("--flow_dir", default="", help="test output folder of the flow run (late fusion)")
    p.add_argument("--amp", action="store_true", help="mixed-precision network (bfloat16 on the CPU, float16 on CUDA)")
    p.add_argument("--no_eval", action="store_true", help="write detections and tubes only")
    return p


def load_checkpoint(path: str, args: argparse.Namespace) -> dict:
    ckpt = load_weights(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise DataError(path, "not an AMTNet training checkpoint (no 'model')")
    saved = ckpt.get("args") or {}
    for k in MODEL_FIELDS:
        if k in saved and getattr(args, k) != saved[k]:
            print(f"test: using the checkpoint's --{k} {saved[k]} (not {getattr(args, k)})")
            setattr(args, k, saved[k])
    return ckpt


def test_checkpoint(args: argparse.Namespace, ckpt_path: str, iteration: int, gap: int, out_dir: str, info) -> str:
    ckpt = load_checkpoint(ckpt_path, args)
    root = dataset_dir(args.data_root, args.dataset)
    classes = classes_of(args.dataset)
    db, _, test_names = split_videos(root, args.train_split)
    videos = load_videos(root, args.dataset, test_names, db, args.input_type_base)
    mine = [v for i, v in enumerate(videos) if i % info.world_size == info.rank and not video_done(out_dir, v.name)]
    model = AMTNet(len(classes) + 1, args.seq_len, args.fusion_type, args.input_frames_base, args.input_frames_extra,
                   args.width_mult, args.batch_norm)
    model.load_state_dict(strip_prefix(ckpt["model"]))
    place_model(model, info.device).eval()
    span = (args.seq_len - 1) * (gap + 1)
    if mine:
        frames = VideoFrames(root, mine, args.input_type_base, args.input_type_extra, args.input_frames_base,
                             args.input_frames_extra, args.fusion_type != "none", args.ssd_dim)
        loader = torch.utils.data.DataLoader(frames, args.test_batch_size, shuffle=False, num_workers=args.num_workers)
        runner = VideoRunner(model, args.seq_len, gap, info.device, amp=args.amp)
        writers = {}
        start, n_frames = time.time(), 0
        for vi, fr, boxes, scores in runner.run(loader, {i: v.numf for i, v in enumerate(mine)}):
            v = mine[vi]
            if vi not in writers:
                writers[vi] = VideoWriter(out_dir, v, full_test_starts(v.numf, args.seq_len, gap), span,
                                          len(classes), args.conf_thresh, args.nms_thresh, args.topk)
            w = writers[vi]
            w.add(fr[0], boxes.cpu().numpy(), scores.cpu().numpy())
            if fr[0] == w.starts[-1]:
                w.finish()
                del writers[vi]
                n_frames += v.numf
                if info.is_main:
                    print(f"test: {v.name} ({v.numf} frames), {n_frames / (time.time() - start):.1f} frames/s")
        if info.is_main:
            print(f"test: {n_frames} frames in {time.time() - start:.1f} s "
                  f"({n_frames / max(time.time() - start, 1e-9):.2f} frames/s, this process)")
    barrier()
    if not info.is_main:
        return ""
    names = [v.name for v in videos]
    collect_csv(out_dir, names, os.path.join(out_dir, "frame_detections.csv"))
    tubes_json = os.path.join(out_dir, "TUBES.json")
    n = build_tubes(os.path.join(out_dir, "detections", "micro"), names, tubes_json, micro=True)
    print(f"test: {n} tubes -> {tubes_json}")
    return finish(args, out_dir, args.name or os.path.basename(os.path.dirname(os.path.dirname(ckpt_path))), root)


def finish(args: argparse.Namespace, out_dir: str, name: str, root: str) -> str:
    if args.no_eval:
        return ""
    gt = args.gt or os.path.join(root, "splitfiles", "pyannot.pkl")
    metrics = evaluate(gt, os.path.join(out_dir, "frame_detections.csv"), os.path.join(out_dir, "TUBES.json"),
                       args.protocol, args.train_split, args.iou_thresh)
    atomic_write_json(os.path.join(out_dir, "metrics.json"), {"name": name, **metrics})
    table = format_table([table_row(name, metrics)])
    atomic_write_text(os.path.join(out_dir, "table.md"), table)
    print(table)
    return table


def run_late_fusion(args: argparse.Namespace) -> None:
    if not (args.rgb_dir and args.flow_dir and args.out_dir):
        raise SystemExit("error: --late_fusion needs --rgb_dir, --flow_dir and --out_dir")
    root = dataset_dir(args.data_root, args.dataset)
    _, _, test_names = split_videos(root, args.train_split)
    rows = []
    for kind in [k.strip() for k in args.late_fusion.split(",") if k.strip()]:
        if kind not in ("mean", "union", "boost"):
            raise SystemExit(f"error: --late_fusion: unknown fusion '{kind}' (mean, union, boost)")
        out = os.path.join(args.out_dir, kind)
        late_fusion(args.rgb_dir, args.flow_dir, test_names, kind, out, args.conf_thresh)
        if not args.no_eval:
            gt = args.gt or os.path.join(root, "splitfiles", "pyannot.pkl")
            metrics = evaluate(gt, os.path.join(out, "frame_detections.csv"), os.path.join(out, "TUBES.json"),
                               args.protocol, args.train_split, args.iou_thresh)
            name = f"RGB + flow ({kind})"
            atomic_write_json(os.path.join(out, "metrics.json"), {"name": name, **metrics})
            rows.append(table_row(name, metrics))
    if rows:
        table = format_table(rows)
        atomic_write_text(os.path.join(args.out_dir, "table.md"), table)
        print(table)


def main_impl(args: argparse.Namespace) -> int:
    check_args(args)
    if args.late_fusion:
        run_late_fusion(args)
        return 0
    info = init_distributed(args.device)
    if args.checkpoint:
        ckpts = [(args.checkpoint, int(load_weights(args.checkpoint).get("iteration", 0)))]
        base_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.checkpoint)))
    else:
        base_dir = run_dir(args)
        manager = CheckpointManager(os.path.join(base_dir, "checkpoints"), prefix="AMTNet")
        if args.eval_iters:
            ckpts = [(str(manager.path_for(int(i))), int(i)) for i in args.eval_iters.split(",") if i.strip()]
        else:
            latest = manager.latest()
            if latest is None:
                raise DataError(manager.directory, "no checkpoint in this run (train first, or pass --checkpoint)")
            ckpts = [(str(latest), int(load_weights(latest)["iteration"]))]
    gaps = [int(g) for g in args.eval_gaps.split(",") if g.strip()] or [1 if args.seq_gap == 20 else args.seq_gap]
    for path, it in ckpts:
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file", path)
        for gap in gaps:
            out = args.out_dir if args.out_dir and len(ckpts) * len(gaps) == 1 else \
                os.path.join(args.out_dir or base_dir, f"test-{it:06d}-eg{gap:02d}")
            test_checkpoint(args, path, it, gap, out, info)
    return 0


@cli_errors
def main(argv: Optional[List[str]] = None) -> int:
    args = get_args_parser().parse_args(argv)
    try:
        return main_impl(args)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
