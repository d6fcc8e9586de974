"""train.py / test.py end to end on small h5 features built from the synthetic AVA `tiny` set."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.formats import ava
from core.formats.stage_h5 import write_actor_h5, write_object_h5
from core.synthetic.datasets import write_dataset

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "stage"
C, CO = 16, 24
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="module")
def feats(tmp_path_factory):
    """Synthetic AVA tiny + actor h5 (GT boxes, features that carry the labels) + objects h5."""
    root = tmp_path_factory.mktemp("stage")
    write_dataset("ava", root / "ava", "tiny", 0, 1)
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(81, C))
    for split in ("train", "val"):
        gt = ava.read_ava_csv(root / "ava" / "annotations" / f"ava_{split}_v2.2.csv")
        objs = {}
        for (vid, ts), g in gt.groupby(["video_id", "timestamp"]):
            ub, inv = np.unique(g[["x1", "y1", "x2", "y2"]].to_numpy(), axis=0, return_inverse=True)
            lab = np.zeros((len(ub), 81))
            lab[inv.ravel(), g.action_id.to_numpy()] = 1
            f = (lab @ proj)[:, :, None, None, None] + 0.1 * rng.normal(size=(len(ub), C, 2, 2, 2))
            write_actor_h5(root / split / vid / f"{int(ts):04d}.h5", f, ub, lab)
            objs[(vid, ts)] = {"features": rng.normal(size=(2, CO)), "boxes": np.array([[.1, .1, .2, .3], [.5, .4, .9, .8]]),
                               "cls_prob": np.ones((2, 3))}
        write_object_h5(root / f"objects_{split}.h5", objs)
    return root


def _script(name):
    spec = importlib.util.spec_from_file_location(f"stage_{name}_script", STAGE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _main(args):
    """Run train.py / test.py in this process (no interpreter start-up): returns the exit status."""
    name, argv = args[0][:-3], list(args[1:])
    try:
        return _script(name).main(argv)
    except SystemExit as e:
        return e.code


def _run(args, cwd=STAGE, check=True):
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(p.stdout[-3000:] + p.stderr[-3000:])
    return p


def _common(feats, split="train"):
    return ["--batch_size", "2", "--actors_features_size", str(C), "--objects_features_size", str(CO),
            "--n_workers", "0", "--device", "cpu"]


def test_train_resume_test_and_evaluate(feats, tmp_path, capsys):
    out = tmp_path / "run"
    train = ["train.py", "--actors_dir", str(feats / "train"), "--objects_file", str(feats / "objects_train.h5"),
             "--output_dir", str(out), "--lr", "0.001", "--print_freq", "1", *_common(feats)]
    assert _main([*train, "--n_epochs", "2"]) == 0
    assert (out / "last_checkpoint").read_text().strip() == "final_model.pth"
    assert (out / "model_ep_002_iter_0000001.pth").is_file()
    log = [json.loads(line) for line in (out / "log.txt").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all("train/class_loss" in r for r in log)
    capsys.readouterr()
    # a new run in the same directory resumes after epoch 2
    assert _main([*train, "--n_epochs", "3"]) == 0
    printed = capsys.readouterr().out
    assert "iteration 2, epoch 2" in printed and "epoch: 3, iter: 1/1" in printed and "epoch: 1," not in printed
    stats = json.loads((out / "train_stats.json").read_text())
    assert [e["epoch"] for e in stats["epochs"]] == [3] and 0 <= stats["epochs"][0]["data_wait_fraction"] <= 1

    ann = feats / "ava" / "annotations"
    assert _main(["test.py", "--actors_dir", str(feats / "val"), "--objects_dir", str(feats / "objects_val.h5"),
                  "--output_dir", str(out), *_common(feats), "--groundtruth", str(ann / "ava_val_v2.2.csv"),
                  "--labelmap", str(ann / "ava_action_list_v2.2_for_activitynet_2019.pbtxt"),
                  "--exclusions", str(ann / "ava_val_excluded_timestamps_v2.2.csv")]) == 0
    rows = (out / "results.csv").read_text().splitlines()
    n_boxes = sum(len(np.unique(g[["x1", "y1", "x2", "y2"]].to_numpy(), axis=0))
                  for _, g in ava.read_ava_csv(ann / "ava_val_v2.2.csv").groupby(["video_id", "timestamp"]))
    assert len(rows) == 80 * n_boxes  # every action of every box
    first = rows[0].split(",")
    assert len(first) == 8 and not first[1].startswith("0") and 1 <= int(first[6]) <= 80
    det = ava.read_ava_csv(out / "results.csv")
    assert len(det) == len(rows) and det.action_id.min() == 1 and det.action_id.max() == 80
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["mAP"] <= 1 and "person_movement" in metrics["groups"]
    assert "| STAGE |" in (out / "table.md").read_text()


def test_batch_of_one_and_ablation_flags(feats, tmp_path):
    out = tmp_path / "b1"
    assert _main(["train.py", "--actors_dir", str(feats / "train"), "--objects_file", str(feats / "objects_train.h5"),
                  "--output_dir", str(out), "--n_epochs", "1", *_common(feats)[2:], "--batch_size", "1",
                  "--temporal_edges", "none", "--no_objects", "--logger", "none"]) == 0
    assert (out / "model_ep_001_iter_0000002.pth").is_file()  # 2 training keyframes -> 2 batches of 1
    assert _main(["test.py", "--actors_dir", str(feats / "val"), "--output_dir", str(out), *_common(feats)[2:],
                  "--batch_size", "1", "--no_objects"]) == 0
    assert (out / "results.csv").stat().st_size > 0


def test_bad_input_exits_2_with_one_line(feats, tmp_path, capsys):
    base = ["train.py", "--actors_dir", str(feats / "train"), "--output_dir", str(tmp_path / "x"), "--n_workers", "0",
            "--logger", "none"]
    for size in ("100", "99"):  # 100: the h5 holds 16 channels; 99: heads cannot add up to 103
        assert _main([*base, "--actors_features_size", size]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and len(err.splitlines()) == 1
    assert _main(["test.py", "--actors_dir", str(feats / "val"), "--output_dir", str(tmp_path / "none")]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_torchrun_two_cpu_processes(feats, tmp_path):
    out = tmp_path / "ddp"
    _run(["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29571", "train.py",
          "--actors_dir", str(feats / "train"), "--objects_file", str(feats / "objects_train.h5"),
          "--output_dir", str(out), "--n_epochs", "2", *_common(feats)[:-2], "--batch_size", "1", "--logger", "none"])
    # 2 keyframes, batches of 1, 2 ranks: one iteration per rank per epoch
    assert (out / "model_ep_002_iter_0000001.pth").is_file() and (out / "final_model.pth").is_file()
    # test.py under torchrun too: every val box once, gathered from both ranks
    single = tmp_path / "single"
    single.mkdir()
    (single / "last_checkpoint").write_text("final_model.pth\n")
    os.link(out / "final_model.pth", single / "final_model.pth")
    _run(["-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29572", "test.py",
          "--actors_dir", str(feats / "val"), "--objects_dir", str(feats / "objects_val.h5"), "--output_dir", str(out),
          *_common(feats)[:-2], "--batch_size", "1"])
    assert _main(["test.py", "--actors_dir", str(feats / "val"), "--objects_dir", str(feats / "objects_val.h5"),
                  "--output_dir", str(single), *_common(feats), "--batch_size", "1"]) == 0
    a, b = (sorted(line.rsplit(",", 1) for line in (d / "results.csv").read_text().splitlines()) for d in (out, single))
    assert [r[0] for r in a] == [r[0] for r in b]
    np.testing.assert_allclose([float(r[1]) for r in a], [float(r[1]) for r in b], atol=1e-5)


def test_ablation_flags_change_the_graph_as_expected(feats):
    """The flags reach the graph: on the first validation batch (2 consecutive keyframes, 2 objects each),
    the default graph joins actors of neighbouring keyframes and has the 4 object nodes; --temporal_edges
    none keeps only edges inside a keyframe; --no_objects drops the object nodes. With the same weights the
    actors' logits change when the objects or the temporal edges go (the model reads the graph)."""
    import torch

    from stage.data import build_dataset, build_loader
    from stage.model import build_model
    from stage.options import parse_train_args

    def batch(*flags):
        args = parse_train_args(["--actors_dir", str(feats / "val"), "--objects_file", str(feats / "objects_val.h5"),
                                 "--output_dir", "unused", *_common(feats)[2:], "--batch_size", "2", "--n_workers",
                                 "0", *flags])
        loader = build_loader(args, build_dataset(args, args.actors_dir, args.objects_file), False, 0, 1)
        return args, next(iter(loader))

    args, full = batch()
    na, no = int(full["num_actors"].sum()), int(full["num_objects"].sum())
    assert no == 4 and full["adj"].shape == (na + no, na + no)
    key = torch.repeat_interleave(torch.arange(2), full["num_actors"])
    across = key[:, None] != key[None, :]
    assert (full["adj"][:na, :na][across] > 0).all()
    _, no_time = batch("--temporal_edges", "none")
    assert (no_time["adj"][:na, :na][across] == 0).all() and (no_time["adj"][:na, :na][~across] > 0).all()
    _, no_obj = batch("--no_objects")
    assert no_obj["adj"].shape == (na, na) and no_obj["objects_features"].shape == (0, CO)
    base_args, alone = batch("--no_relations")  # the baseline: each actor linked only to itself
    assert base_args.no_objects and base_args.temporal_edges == "none"
    assert torch.equal(alone["adj"], torch.eye(na))

    torch.manual_seed(0)
    model = build_model(args).eval()

    def logits(b):
        return model(b["actors_features"], b["actors_boxes"], b["objects_features"], b["objects_boxes"], b["adj"])

    with torch.no_grad():
        ref = logits(full)
        assert not torch.allclose(ref, logits(no_obj), atol=1e-4)
        assert not torch.allclose(ref, logits(no_time), atol=1e-4)
        # without relations an actor's logits do not depend on the other actors: the same as a batch of one
        single = {k: v[:1] for k, v in alone.items() if k in ("actors_features", "actors_boxes")}
        single.update(objects_features=alone["objects_features"], objects_boxes=alone["objects_boxes"],
                      adj=torch.eye(1))
        torch.testing.assert_close(logits(alone)[:1], logits(single))


def test_interrupted_run_resumes_bitwise(feats, tmp_path):
    """Killed just after the checkpoint of iteration 1 of epoch 1 (of 2 epochs x 2 batches), then --resume
    auto: the final weights equal an uninterrupted run's bit for bit (epoch order replayed from the middle,
    GAT dropout from the restored RNG)."""
    import torch

    from core.io import load_weights

    def train(out, *extra):
        assert _main(["train.py", "--actors_dir", str(feats / "train"), "--objects_file",
                      str(feats / "objects_train.h5"), "--output_dir", str(out), "--n_epochs", "2", *_common(feats)[2:],
                      "--batch_size", "1", "--ckpt_every", "1", "--logger", "none", "--seed", "3", *extra]) == 0
        return load_weights(out / "final_model.pth")["model"]

    straight = train(tmp_path / "a")
    b = tmp_path / "b"
    train(b)
    # what a kill after the first checkpoint leaves: that checkpoint, named in last_checkpoint
    for f in b.glob("*.pth"):
        if f.name != "model_ep_001_iter_0000001.pth":
            f.unlink()
    (b / "last_checkpoint").write_text("model_ep_001_iter_0000001.pth\n")
    resumed = train(b, "--resume", "auto")
    for k, v in straight.items():
        assert torch.equal(v, resumed[k]), k


@pytest.mark.parametrize("seeds", [pytest.param([0, 1], marks=pytest.mark.slow), [0]], ids=["2 seeds", "1 seed"])
def test_recipe_claims_path_on_tiny(tmp_path, monkeypatch, seeds):
    """tools/reproduce.py stage --claims on the tiny synthetic AVA (a 1/16-width I3D for one epoch, STAGE for two):
    the backbone row, the per-actor baseline and the three STAGE rows, table.md, and claims.md with one row per
    claim, each counted over the seeds."""
    from recipes import stage as recipe

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "ava"
    write_dataset("ava", data, "tiny", 0, 1)
    text = recipe.run(str(data), "claims", str(tmp_path / "work"),
                      ["--width", "0.0625", "--frames", "4", "--size", "48", "64", "--epochs_i3d", "1",
                       "--epochs_stage", "2", "--workers", "1"], seeds=seeds)
    work = tmp_path / "work"
    table = (work / "table.md").read_text()
    names = [line.split("|")[1].strip() for line in table.splitlines()
             if line.startswith("| ") and not line.startswith("| method") and "%" not in line.split("|")[2]]
    assert names[:5] == [recipe.BACKBONE, recipe.BASELINE, "STAGE", "STAGE w/o temporal edges", "STAGE w/o objects"]
    assert "instances per class" in table
    for seed in seeds:
        assert (work / "stage" / f"seed{seed}" / "metrics.json").is_file()
    claims = (work / "claims.md").read_text()
    rows = [line for line in claims.splitlines() if line.startswith("| ") and not line.startswith("| claim")]
    assert len(rows) == len(recipe.claims([json.loads((work / "results.json").read_text())["runs"][0]]))
    assert all(f"/{len(seeds)} seeds" in r for r in rows) and claims in text
