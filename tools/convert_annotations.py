"""Convert UCF101-24 / JHMDB-21 ground truth between gurkirt's pyannot.pkl and the ACT *-GT.pkl.

    python tools/convert_annotations.py splitfiles/pyannot.pkl UCF101v2-GT.pkl
    python tools/convert_annotations.py UCF101v2-GT.pkl pyannot.pkl --write_splits

The direction is detected from the input's structure. pyannot -> ACT takes the splits from
``trainlistNN.txt`` / ``testlistNN.txt`` beside the input (or ``--trainlist`` / ``--testlist``, repeatable
for several splits; test defaults to every video not in the train list). ACT -> pyannot can write the
split lists of ``--split`` beside the output (``--write_splits``).
"""

from __future__ import annotations

import argparse
import glob
import os

from core.cli import ArgumentParser
from core.errors import DataError, cli_errors
from core.formats import act, ucf24
from core.io import safe_load_pickle


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="pyannot.pkl or *-GT.pkl")
    p.add_argument("output", help="the converted file")
    p.add_argument("--trainlist", action="append", default=None, help="train list of a split (repeat per split)")
    p.add_argument("--testlist", action="append", default=None, help="test list of a split (repeat per split)")
    p.add_argument("--dataset", choices=["ucf24", "jhmdb"], default=None, help="class names (default: by class count)")
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--write_splits", action="store_true", help="ACT -> pyannot: write trainlistNN/testlistNN beside the output")
    return p.parse_args(argv)


def _split_files(folder: str, kind: str):
    return sorted(glob.glob(os.path.join(folder, f"{kind}list[0-9][0-9].txt")))


@cli_errors
def main(argv=None) -> None:
    args = parse_args(argv)
    obj = safe_load_pickle(args.input)
    if isinstance(obj, dict) and "gttubes" in obj:
        gt = act.validate_act_gt(obj, args.input)
        db = act.act_to_pyannot(gt, args.input)
        ucf24.write_pyannot(args.output, db)
        if args.write_splits:
            folder = os.path.dirname(os.path.abspath(args.output))
            for k, (tr, te) in enumerate(zip(gt["train_videos"], gt["test_videos"]), 1):
                ucf24.write_split_list(os.path.join(folder, f"trainlist{k:02d}.txt"), tr)
                ucf24.write_split_list(os.path.join(folder, f"testlist{k:02d}.txt"), te)
        print(f"wrote {args.output}: {len(db)} videos (pyannot)")
        return
    db = ucf24.read_pyannot(args.input)
    folder = os.path.dirname(os.path.abspath(args.input))
    trainlists = args.trainlist or _split_files(folder, "train")
    testlists = args.testlist or _split_files(folder, "test")
    if not trainlists and not testlists:
        raise DataError(args.input, "no split lists: pass --trainlist/--testlist or put trainlist01.txt beside it")
    train = [ucf24.read_split_list(p) for p in trainlists]
    if testlists:
        test = [ucf24.read_split_list(p) for p in testlists]
    else:
        test = [ucf24.test_videos(db, t) for t in train]
    if not train:
        train = [sorted(set(db) - set(t)) for t in test]
    for lst, name in ((train, "train"), (test, "test")):
        for split in lst:
            for v in split:
                if v not in db:
                    raise DataError(args.input, f"video listed in a {name} list is not annotated", v)
    if args.dataset is not None:
        labels = ucf24.UCF24_CLASSES if args.dataset == "ucf24" else ucf24.JHMDB_CLASSES
    else:
        labels = ucf24.guess_classes(db)
    gt = act.pyannot_to_act(db, labels, train, test, default_resolution=(args.height, args.width))
    act.write_act_gt(args.output, gt)
    print(f"wrote {args.output}: {len(db)} videos, {len(train)} split(s) (ACT GT)")


if __name__ == "__main__":
    main()
