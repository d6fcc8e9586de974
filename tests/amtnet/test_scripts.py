"""train.py / test.py end to end on the synthetic `tiny` UCF24 set, resume, late fusion, torchrun (2 CPU
processes, gloo), and a tiny batch that overfits."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from amtnet.data import MatchCollate, MicroTubeDataset
from amtnet.loss import multibox_loss
from amtnet.model import AMTNet
from amtnet.priors import prior_boxes
from core.io import load_weights
from core.tubes.detfile import list_detection_files, read_detections

AMT = os.path.join(os.path.dirname(__file__), "..", "..", "amtnet")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL = ["--width_mult", "0.03125", "--batch_size", "2", "--num_workers", "0", "--logger", "none"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from core.synthetic.datasets import write_dataset

    root = tmp_path_factory.mktemp("data")
    write_dataset("ucf24", root / "ucf24", "tiny", seed=0)
    return root


def run(script, *args, torchrun=0):
    if torchrun:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={torchrun}", "--master_port",
               str(29500 + os.getpid() % 1000), script, *args]
    else:
        cmd = [sys.executable, script, *args]
    proc = subprocess.run(cmd, cwd=AMT, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_train_resume_test_and_late_fusion(tiny, tmp_path):
    save = tmp_path / "runs"
    common = ["--data_root", str(tiny), "--save_root", str(save), *SMALL]
    out = run("train.py", *common, "--max_iter", "2", "--val_step", "1", "--stepvalues", "1")
    run_dir = save / "ucf24" / "cache" / "AMTNet-ucf24-s1-rgb-sl02sg00-bs02-lr00050-w0.03125"
    assert "validation at 1" in out
    ck = load_weights(run_dir / "checkpoints" / "AMTNet_00000002.pth")
    assert ck["iteration"] == 2 and ck["args"]["fusion_type"] == "none"
    # MultiStep at iteration 1: the heads' weight lr 5e-4 -> 5e-5 (scheduler stepped per iteration)
    lrs = [g["lr"] for g in ck["optimizer"]["param_groups"]]
    assert min(lrs) == pytest.approx(5e-5 / 2) and max(lrs) == pytest.approx(2 * 5e-5)
    assert (save / "weights" / "AMTNet_single_stream_rgb_s01.pth").is_file()
    assert set(json.loads((run_dir / "val.json").read_text())) == {"1", "2"}
    # resume: continues at iteration 2 up to 3
    out = run("train.py", *common, "--max_iter", "3", "--val_step", "0", "--resume", "auto")
    assert "iteration 2" in out
    assert load_weights(run_dir / "checkpoints" / "AMTNet_00000003.pth")["iteration"] == 3

    test_out = tmp_path / "test"
    out = run("test.py", "--data_root", str(tiny), "--save_root", str(save), *SMALL[:4], "--out_dir", str(test_out))
    files = list_detection_files(test_out / "detections" / "frames")
    assert len(files) == 4  # the 4 test videos of `tiny`
    det = read_detections(files[0][1])
    assert det.delta == 0 and det.num_frames == 16 and det.num_classes == 24 and det.scores.shape[1] == 25
    micro = read_detections(test_out / "detections" / "micro" / f"{files[0][0]}.npz")
    assert micro.delta == 1 and micro.boxes.shape[1] == 8
    assert len(micro.frame(16)[0]) == 0  # no micro-tube starts on the last frame
    metrics = json.loads((test_out / "metrics.json").read_text())
    assert set(metrics["video_mAP"]) >= {"0.2", "0.5", "0.75", "0.5:0.95"}
    assert "frame_mAP" in metrics and "accuracy" in metrics
    table = (test_out / "table.md").read_text()
    assert "IoU 0.20 | 0.50 | 0.75 | 0.5:0.95 | frame-mAP@0.5 | accuracy" in table
    header = (test_out / "frame_detections.csv").read_text().splitlines()[0]
    assert header == "video,frame,label,score,x1,y1,x2,y2"

    # a second run with the same detections stands in for the flow stream
    flow = tmp_path / "flow"
    shutil.copytree(test_out, flow)
    fused = tmp_path / "fused"
    run("test.py", "--data_root", str(tiny), "--late_fusion", "mean,union,boost", "--rgb_dir", str(test_out),
        "--flow_dir", str(flow), "--out_dir", str(fused))
    for kind in ("mean", "union", "boost"):
        assert (fused / kind / "TUBES.json").is_file() and (fused / kind / "metrics.json").is_file()
    assert (fused / "table.md").read_text().count("late") == 0 and "RGB + flow (boost)" in (fused / "table.md").read_text()


def test_torchrun_two_processes_train_and_test(tiny, tmp_path):
    save = tmp_path / "runs"
    common = ["--data_root", str(tiny), "--save_root", str(save), *SMALL]
    run("train.py", *common, "--max_iter", "2", "--val_step", "0", "--device", "cpu", torchrun=2)
    run_dir = save / "ucf24" / "cache" / "AMTNet-ucf24-s1-rgb-sl02sg00-bs02-lr00050-w0.03125"
    ck = load_weights(run_dir / "checkpoints" / "AMTNet_00000002.pth")
    assert ck["world_size"] == 2 and len(ck["rng"]) == 2
    out = tmp_path / "test"
    run("test.py", "--data_root", str(tiny), "--save_root", str(save), *SMALL[:4], "--device", "cpu", "--out_dir",
        str(out), "--no_eval", torchrun=2)
    assert len(list_detection_files(out / "detections" / "micro")) == 4
    # the same checkpoint tested by one process: the same detections and tubes (the 4 videos were split over
    # the two ranks; only the frames' grouping into backbone batches differs)
    single = tmp_path / "single"
    run("test.py", "--data_root", str(tiny), "--save_root", str(save), *SMALL[:4], "--device", "cpu", "--out_dir",
        str(single), "--no_eval")
    a, b = (sorted(line.split(",") for line in (d / "frame_detections.csv").read_text().splitlines()[1:])
            for d in (out, single))
    assert len(a) == len(b) > 0 and [r[:3] for r in a] == [r[:3] for r in b]
    np.testing.assert_allclose(np.array([r[3:] for r in a], float), np.array([r[3:] for r in b], float), atol=2e-2)
    ta, tb = (json.loads((d / "TUBES.json").read_text()) for d in (out, single))
    assert [(t["video"], t["label"], len(t["boxes"])) for t in ta] == [(t["video"], t["label"], len(t["boxes"]))
                                                                      for t in tb]
    np.testing.assert_allclose([t["score"] for t in ta], [t["score"] for t in tb], atol=1e-5)


def overfit(tiny, iters):
    """Adam on one fixed batch of two micro-tubes (no augmentation) -> the losses."""
    torch.manual_seed(0)
    ds = MicroTubeDataset(str(tiny), "ucf24", 1, "train")
    ds.transform = None
    batch = MatchCollate(prior_boxes())([ds[0], ds[len(ds) // 2]])
    base, _, loc_t, conf_t = batch[:4]
    model = AMTNet(25, width=1 / 32)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(iters):
        loc, conf = model(base)
        loss_l, loss_c, _ = multibox_loss(loc, conf, loc_t, conf_t)
        loss = loss_l + loss_c
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all()
    return losses


def test_tiny_batch_loss_falls(tiny):
    losses = overfit(tiny, 12)
    assert losses[-1] < 0.75 * losses[0], losses


@pytest.mark.slow
def test_tiny_batch_overfits(tiny):
    losses = overfit(tiny, 150)
    assert min(losses[-5:]) < losses[0] / 10, losses[::10]


def test_reproduce_quick_table_on_tiny(tiny, tmp_path, monkeypatch):
    """tools/reproduce.py amtnet --quick end to end (2 iterations per run): three trainings, three tests,
    three late fusions, one table with the six rows; the recipe's batch-norm / AdamW flags reach train.py
    and the run names test.py looks up."""
    from recipes import amtnet as recipe

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    text = recipe.run(str(tiny), "quick", str(tmp_path / "work"),
                      ["--max_iter", "2", "--stepvalues", "1", "--warmup", "1", "--width_mult", "0.03125"], None)
    table = (tmp_path / "work" / "table.md").read_text()
    assert text.startswith(table.rstrip("\n"))
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Method")]
    assert [r.split("|")[1].strip() for r in rows] == [
        "RGB", "Flow (brox)", "SUM fusion (RGB + brox)", "RGB + flow, late mean fusion",
        "RGB + flow, late union fusion", "RGB + flow, late boost fusion"]
    assert all(len(r.strip("|").split("|")) == 7 for r in rows)
    runs = tmp_path / "work" / "runs" / "ucf24" / "cache"
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        f"AMTNet-ucf24-s1-{s}-sl02sg00-bs08-lr00300-w0.03125-bn" for s in ("rgb", "brox", "sum-rgb-brox"))
    ck = load_weights(runs / "AMTNet-ucf24-s1-rgb-sl02sg00-bs08-lr00300-w0.03125-bn" / "checkpoints"
                      / "AMTNet_00000002.pth")
    assert ck["args"]["optim"] == "adamw" and ck["args"]["batch_norm"] is True
    assert ck["args"]["amp"] is True and ck["args"]["augment"] == []
    claims = (tmp_path / "work" / "claims.md").read_text()
    assert claims in text
    claim_rows = [line for line in claims.splitlines() if line.startswith("| ") and not line.startswith("| claim")]
    assert len(claim_rows) == len(recipe.claims(recipe_metrics(tmp_path / "work")))
    assert all(r.rstrip(" |").split("|")[-1].strip() in ("yes", "no") for r in claim_rows)


def recipe_metrics(work):
    names = {"rgb": "RGB", "flow": "Flow (brox)", "sum": "SUM fusion (RGB + brox)"}
    out = {names[k]: json.loads((work / "test" / k / "metrics.json").read_text()) for k in names}
    for kind in ("mean", "union", "boost"):
        out[f"RGB + flow, late {kind} fusion"] = json.loads(
            (work / "test" / "late-fusion" / kind / "metrics.json").read_text())
    return out


def test_interrupted_run_resumes_bitwise(tiny, tmp_path):
    """A run stopped after 2 of 5 iterations and continued with --resume auto ends with the same weights, bit
    for bit, as an uninterrupted run: same batches (mid-epoch), same augmentation draws, same schedule."""
    def train(save, max_iter, *extra):
        run("train.py", "--data_root", str(tiny), "--save_root", str(save), *SMALL, "--max_iter", str(max_iter),
            "--val_step", "0", "--stepvalues", "3", "--optim", "adamw", "--warmup", "2", "--batch_norm", "true",
            "--man_seed", "7", *extra)
        name = "AMTNet-ucf24-s1-rgb-sl02sg00-bs02-lr00050-w0.03125-bn"
        return load_weights(save / "ucf24" / "cache" / name / "checkpoints" / f"AMTNet_{max_iter:08d}.pth")

    straight = train(tmp_path / "a", 5)
    train(tmp_path / "b", 2)
    resumed = train(tmp_path / "b", 5, "--resume", "auto")
    assert resumed["iteration"] == straight["iteration"] == 5
    for k, v in straight["model"].items():
        assert torch.equal(v, resumed["model"][k]), k
    first = train(tmp_path / "b", 2, "--resume", "")  # a fresh 2-iteration run differs from the 5-iteration one
    assert not all(torch.equal(v, first["model"][k]) for k, v in straight["model"].items())
