"""prepare_kinetics -> train.py -> test.py -> eval.py on the tiny synthetic Kinetics, single process and
under torchrun with 2 CPU processes; resuming; the reproduce recipe's table."""

import contextlib
import io
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.io import load_weights, safe_load_pickle

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "kinetics2stream"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
RUN_FLAGS = ["--datasubset", "400", "--arch", "resnet18", "--isize", "32", "-b", "4", "--lr", "0.01", "-j", "0"]


def run(script, *args, torchrun=0, check=True):
    """Run a script: in this process (runpy, output captured) or under torchrun with ``torchrun`` processes."""
    argv = [str(PKG / script), *map(str, args)]
    if torchrun:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={torchrun}",
               f"--master_port={port}", *argv]
        p = subprocess.run(cmd, cwd=str(PKG), env=ENV, capture_output=True, text=True)
    else:
        out, err, old, code = io.StringIO(), io.StringIO(), sys.argv, 0
        sys.argv = argv
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                runpy.run_path(argv[0], run_name="__main__")
        except SystemExit as e:
            code = e.code or 0
        finally:
            sys.argv = old
        p = SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def test_prepared_layout(tiny_kinetics):
    k = tiny_kinetics / "kinetics"
    annots = json.loads((k / "hfiles" / "Annots_400.json").read_text())
    assert annots["classes"] == {"cartwheeling": 0, "somersaulting": 1, "walking the dog": 2}  # train csv order
    assert len(annots["database"]) == 6
    for yid, info in annots["database"].items():
        assert len(yid) == 11 and info["isthere"]
        # 2 s clips at 25 fps -> 32 frames at 16 fps, flow one image per frame, same names
        assert info["numf"] == 32 == len(os.listdir(k / "rgb-images" / yid))
        assert sorted(os.listdir(k / "farneback-images" / yid)) == [f"{i:05d}.jpg" for i in range(1, 33)]
    # resumable: a second run finds every folder done and leaves the files alone
    mtime = (k / "rgb-images" / yid / "00001.jpg").stat().st_mtime
    subprocess.run([sys.executable, str(REPO / "tools" / "prepare_kinetics.py"), "--videos",
                    str(tiny_kinetics / "videos"), "--out", str(k), "--stages", "frames,flow"],
                   check=True, capture_output=True)
    assert (k / "rgb-images" / yid / "00001.jpg").stat().st_mtime == mtime


def _exp(save_root, input_type="rgb", bs=4):
    return save_root / "kinetics" / "cache" / f"kinetics-400-{input_type}-resnet18--P0-is32-sl01-g1-fs6-{bs}-010000"


def test_train_test_eval_two_streams(tiny_kinetics, tmp_path):
    root, save = tiny_kinetics, tmp_path / "runs"
    imagenet = tmp_path / "resnet18.pth"
    torch.manual_seed(0)
    from kinetics2stream.model import build_model

    torch.save(build_model("resnet18", 1000, 1).state_dict(), imagenet)
    common = ["--root", root, "--save_root", save, *RUN_FLAGS]
    # the flow stream stacks 3 flow images (15 channels after first-conv replication from the file)
    # RGB with the synthetic recipe's scale and colour jitter
    for input_type, extra in (("rgb", ["--min_crop_area", "0.5", "--color_jitter", "0.2"]),
                              ("farneback", ["--seq_len", "3"])):
        run("train.py", *common, "--input", input_type, *extra, "--max_iterations", "3", "--val_step", "2", "--logger", "none",
            "--step_values", "2", "--pretrained", imagenet)
    bad = run("train.py", *common, "--input", "farneback", "--color_jitter", "0.2", check=False)
    assert bad.returncode == 2 and "error: --color_jitter is for RGB frames" in bad.stderr
    rgb = save / "kinetics" / "cache" / "kinetics-400-rgb-resnet18--P1-is32-sl01-g1-fs6-4-010000"
    flow = save / "kinetics" / "cache" / "kinetics-400-farneback-resnet18--P1-is32-sl03-g1-fs6-4-010000"
    for d in (rgb, flow):
        assert sorted(p.name for p in (d / "checkpoints").glob("model_*.pth")) == ["model_00000002.pth",
                                                                                 "model_00000003.pth"]
        assert (d / "best.pth").is_file() and (d / "results_000003.txt").is_file()
        log = [json.loads(x) for x in (d / "log.txt").read_text().splitlines()]
        assert any("val_top1" in r for r in log)
    # frozen BN: running statistics of the trained model are the ImageNet file's
    ref = torch.load(imagenet, weights_only=True)
    trained = load_weights(rgb / "checkpoints" / "model_00000003.pth")["model"]
    assert torch.equal(trained["layer1.0.bn1.running_mean"], ref["layer1.0.bn1.running_mean"])
    assert not torch.equal(trained["layer1.0.conv1.weight"], ref["layer1.0.conv1.weight"])

    for input_type, extra in (("rgb", []), ("farneback", ["--seq_len", "3"])):
        p = run("test.py", *common, "--input", input_type, *extra, "--pretrained", imagenet, "--test-iterations", "3")
        assert "frames/s" in p.stdout
    res = json.loads((rgb / "results_val_000003.json").read_text())
    # every 2nd frame of 3 val videos of 32 frames: arange(0, 31, 2) -> 16 each
    assert res["frames"] == 48 and set(res["clstk"]) == {"10", "30", "50"}
    scores = safe_load_pickle(rgb / "output_val_000003.pkl")
    assert sorted(scores) == sorted(v for v, i in json.loads(
        (root / "kinetics" / "hfiles" / "Annots_400.json").read_text())["database"].items() if i["subset"] == "val")
    v = next(iter(scores.values()))
    assert v["scores"].shape == (16, 3) and v["fids"].tolist() == list(range(1, 32, 2))
    flow_scores = safe_load_pickle(flow / "output_val_000003.pkl")
    assert next(iter(flow_scores.values()))["fids"].tolist() == list(range(2, 31, 2))  # seq_len 3: centres 2..30
    preds = json.loads((rgb / "output_val_000003-clstk-010.json").read_text())
    assert len(preds["results"]) == 3 and all(len(r) == 3 for r in preds["results"].values())  # 3 classes < 5
    assert all(abs(sum(x["score"] for x in r) - 1) < 1e-6 for r in preds["results"].values())

    # eval.py on the run folder (classtopk 30 and 50, like the original) and the fusion
    p = run("eval.py", *common, "--input", "rgb", "--pretrained", imagenet, "--test-iteration", "3")
    assert p.stdout.count("mean-error") == 2 and (rgb / "eval.log").is_file()
    gt = root / "kinetics" / "hfiles" / "Annots_400.json"
    fused = tmp_path / "fused"
    run("eval.py", "--gt", gt, "--rgb", rgb / "output_val_000003.pkl", "--flow", flow / "output_val_000003.pkl",
        "--fusion_weight", "0.7", "--classtopk", "10", "--out_dir", fused, "--json", fused / "m.json")
    fres = json.loads((fused / "results_val_fused.json").read_text())
    assert set(fres["video"]) == {"hit@1", "hit@5", "mean", "mean_error", "mAP"}
    # the fused json is the weighted sum of the two streams' video probabilities
    from kinetics2stream.aggregate import video_probabilities

    pr, pf = video_probabilities(scores, 10), video_probabilities(flow_scores, 10)
    fjson = json.loads((fused / "output_val_fused-clstk-010.json").read_text())["results"]
    classes = {"cartwheeling": 0, "somersaulting": 1, "walking the dog": 2}
    for vid, r in fjson.items():
        expected = 0.7 * pr[vid] + 0.3 * pf[vid]
        assert classes[r[0]["label"]] == int(np.argmax(expected))
        assert r[0]["score"] == pytest.approx(expected.max() / expected.sum(), rel=1e-6)

    bad = run("eval.py", "--gt", gt, "--predictions", gt, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "results" in bad.stderr


@pytest.mark.slow
def test_resume_continues_where_it_stopped(tiny_kinetics, tmp_path):
    save = tmp_path / "runs"
    common = ["--root", tiny_kinetics, "--save_root", save, *RUN_FLAGS, "--logger", "none", "--step_values", "3",
              "--val_step", "2", "--seed", "3"]
    run("train.py", *common, "--max_iterations", "2")
    d = _exp(save)
    shutil.copy(d / "checkpoints" / "model_00000002.pth", tmp_path / "at2.pth")
    p = run("train.py", *common, "--max_iterations", "4", "--resume", "true")
    assert "resume:" in p.stdout and "iteration 2" in p.stdout
    ck = load_weights(d / "checkpoints" / "model_00000004.pth")
    assert ck["iteration"] == 4 and ck["scheduler"]["last_epoch"] == 4
    assert ck["optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.001)  # x0.1 at step 3


@pytest.mark.slow
def test_torchrun_two_processes(tiny_kinetics, tmp_path):
    save = tmp_path / "runs"
    common = ["--root", tiny_kinetics, "--save_root", save, *RUN_FLAGS, "-b", "2"]
    run("train.py", *common, "--max_iterations", "2", "--val_step", "2", "--step_values", "5", "--logger", "none",
        torchrun=2)
    d = _exp(save, bs=2)
    assert (d / "checkpoints" / "model_00000002.pth").is_file() and (d / "best.pth").is_file()
    run("test.py", *common, "--test-iterations", "2", torchrun=2)
    res = json.loads((d / "results_val_000002.json").read_text())
    assert res["frames"] == 48  # both ranks' shards gathered, no frame twice
    single = tmp_path / "single.pkl"
    shutil.move(d / "output_val_000002.pkl", single)
    run("test.py", *common, "--test-iterations", "2")
    a, b = safe_load_pickle(single), safe_load_pickle(d / "output_val_000002.pkl")
    assert a.keys() == b.keys()
    for vid in a:
        assert np.allclose(a[vid]["scores"], b[vid]["scores"], atol=1e-4)


def test_bad_annotation_is_one_line_error(tmp_path):
    k = tmp_path / "kinetics" / "hfiles"
    k.mkdir(parents=True)
    (k / "Annots_400.json").write_text('{"database": {"abc": {"label": "x"}}, "classes": {}}')
    p = run("train.py", "--root", tmp_path, "--save_root", tmp_path / "r", *RUN_FLAGS, check=False)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert "Annots_400.json" in p.stderr and "database['abc']" in p.stderr


def test_interrupted_run_resumes_bitwise(tiny_kinetics, tmp_path):
    """Stopped after 2 of 6 iterations (at a validation + checkpoint) and continued with --resume auto: the
    final weights equal an uninterrupted run's, bit for bit (data order mid-epoch, scale and colour jitter,
    dropout-free ResNet, BN statistics, the LR step at 4)."""
    def train(save, iters, *extra):
        run("train.py", "--root", tiny_kinetics, "--save_root", save, *RUN_FLAGS, "--input", "rgb",
            "--min_crop_area", "0.5", "--color_jitter", "0.2", "--freeze_bn", "0", "--max_iterations", iters,
            "--val_step", "2", "--step_values", "4", "--logger", "none", "--seed", "5", *extra)
        return load_weights(_exp(save, bs=4) / "checkpoints" / f"model_{iters:08d}.pth")

    straight = train(tmp_path / "a", 6)
    train(tmp_path / "b", 2)
    resumed = train(tmp_path / "b", 6, "--resume", "auto")
    assert resumed["iteration"] == straight["iteration"] == 6
    for k, v in straight["model"].items():
        assert torch.equal(v, resumed["model"][k]), k


def test_recipe_claims_path_on_tiny(tiny_kinetics, tmp_path, monkeypatch):
    """tools/reproduce.py kinetics2stream --claims end to end on the tiny set (2 iterations per stream, 2 seeds):
    per-seed runs, the table as mean ± std over the seeds, table.md and claims.md with one row per claim."""
    from recipes import kinetics2stream as recipe

    monkeypatch.setattr(recipe, "synthetic_data", lambda work: tiny_kinetics)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    text = recipe.run(None, "claims", str(tmp_path / "work"),
                      ["--max_iterations", "2", "--step_values", "1", "--val_step", "2", "-b", "4", "--isize", "32",
                       "--num_workers", "0"], seeds=[0, 1])
    work = tmp_path / "work"
    for seed in (0, 1):
        assert (work / "runs-claims" / f"seed{seed}" / "fused" / "results_val_fused.json").is_file()
    table = (work / "table.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| RGB") or line.startswith("| Flow")]
    assert [r.split("|")[1].strip() for r in rows[:3]] == ["RGB", "Flow", "RGB+FLOW"]
    assert all(r.count("±") == 5 for r in rows[:3])  # every column is mean ± std over the 2 seeds
    claims = (work / "claims.md").read_text()
    claim_rows = [line for line in claims.splitlines() if line.startswith("| ") and not line.startswith("| claim")]
    assert len(claim_rows) == 2 and all("2 seeds" in r for r in claim_rows)
    assert claims in text and table.rstrip() in text
