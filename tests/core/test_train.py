"""core.train: schedules, seeding/RNG state, resumable data order, checkpoints (bitwise resume of an
interrupted run), --weights partial loads, the metric logger and the shared flags."""

from __future__ import annotations

import argparse
import json
import math
import random
import struct
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from core.errors import DataError
from core.io import load_weights, torch_save_atomic
from core.train import (
    CheckpointManager,
    JsonLinesWriter,
    LoggerBackendWarning,
    MetricLogger,
    ResumableSampler,
    ShardedEvalSampler,
    SmoothedValue,
    WarmupCosineLR,
    WarmupMultiStepLR,
    add_common_args,
    args_to_dict,
    build_checkpoint,
    build_scheduler,
    epochs_to_iters,
    get_rng_state,
    iters_per_epoch,
    load_weights_into,
    make_metric_logger,
    make_train_loader,
    read_log,
    resume,
    resume_batches,
    seed_everything,
    set_rng_state,
    strip_prefix,
)
from core.train.schedules import cosine_factor, multistep_factor, step_factor, warmup_factor

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tiny_train  # noqa: E402

sys.path.remove(str(HERE))


@pytest.fixture(autouse=True)
def no_dist_env(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)


# ---------------------------------------------------------------- schedules


def test_schedule_factors_hand_computed():
    assert warmup_factor(0, 3, 1 / 3) == pytest.approx(1 / 3)
    assert warmup_factor(1, 3, 1 / 3) == pytest.approx(5 / 9)  # 1/3 * 2/3 + 1/3
    assert warmup_factor(2, 3, 1 / 3) == pytest.approx(7 / 9)  # 1/3 * 1/3 + 2/3
    assert warmup_factor(3, 3, 1 / 3) == 1.0
    assert warmup_factor(1, 3, 0.1, "constant") == 0.1
    with pytest.raises(ValueError):
        warmup_factor(0, 3, 0.1, "exp")
    assert [multistep_factor(i, [12, 18], 0.1) for i in (0, 11, 12, 17, 18, 99)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    assert [step_factor(i, 3, 0.5) for i in (0, 2, 3, 7)] == [1, 1, 0.5, 0.25]
    assert cosine_factor(0, 10) == 1.0 and cosine_factor(10, 10) == 0.0 and cosine_factor(5, 10) == pytest.approx(0.5)
    # 0.1 + 0.9 * (1 + cos(pi/4)) / 2
    assert cosine_factor(25, 100, 0.1) == pytest.approx(0.868198052)
    assert epochs_to_iters([2, 3.5], 10) == [20, 35]


def _lrs(scheduler_factory, n: int, base_lr: float = 0.1):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = scheduler_factory(opt)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs, opt, sched


def test_warmup_multistep_per_iteration():
    lrs, _, _ = _lrs(lambda o: WarmupMultiStepLR(o, [4, 6], gamma=0.1, warmup_iters=2, warmup_factor=0.5), 7)
    # it0: 0.1*0.5, it1: 0.1*(0.5*0.5+0.5), then 0.1 until 4, 0.01 until 6, 0.001
    assert lrs == pytest.approx([0.05, 0.075, 0.1, 0.1, 0.01, 0.01, 0.001])


def test_cosine_and_step_schedules():
    lrs, _, _ = _lrs(lambda o: WarmupCosineLR(o, max_iters=4), 6, base_lr=1.0)
    h = math.sqrt(2) / 4
    assert lrs == pytest.approx([1.0, 0.5 + h, 0.5, 0.5 - h, 0.0, 0.0])
    lrs, _, _ = _lrs(lambda o: build_scheduler("step", o, step_size=2, gamma=0.5, warmup_iters=1,
                                               warmup_factor=0.2, warmup_method="constant"), 5, base_lr=1.0)
    assert lrs == pytest.approx([0.2, 1.0, 0.5, 0.5, 0.25])
    with pytest.raises(ValueError, match="unknown schedule"):
        build_scheduler("poly", torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))


def test_scheduler_state_round_trips_weights_only(tmp_path):
    _, opt, sched = _lrs(lambda o: WarmupMultiStepLR(o, [4, 6], warmup_iters=2), 5)
    torch_save_atomic({"s": sched.state_dict()}, tmp_path / "s.pth")
    state = load_weights(tmp_path / "s.pth")["s"]
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched2 = WarmupMultiStepLR(opt2, [1], warmup_iters=0)  # other settings: the state overrides them
    sched2.load_state_dict(state)
    for _ in range(3):
        opt.step(), sched.step(), opt2.step(), sched2.step()
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
    assert sched2.last_epoch == 8 and opt2.param_groups[0]["lr"] == pytest.approx(0.001)


# ---------------------------------------------------------------- seeding


def _draws():
    return (random.random(), float(np.random.rand()), float(np.random.randn()), torch.rand(3).tolist())


def test_seed_everything_and_rng_state_round_trip(tmp_path):
    seed_everything(7)
    a = _draws()
    seed_everything(7)
    assert _draws() == a
    np.random.randn()  # leaves a cached gaussian in numpy's state
    state = get_rng_state()
    expected = _draws()
    torch_save_atomic(state, tmp_path / "rng.pth")
    seed_everything(123)
    set_rng_state(load_weights(tmp_path / "rng.pth"))  # through weights_only=True
    assert _draws() == expected


# ---------------------------------------------------------------- data order


def test_resumable_sampler_permutation_and_skip():
    data = list(range(10))
    s = ResumableSampler(data, seed=3)
    for epoch in (0, 1):
        s.set_epoch(epoch)
        expected = torch.randperm(10, generator=torch.Generator().manual_seed(3 + epoch)).tolist()
        assert list(s) == expected and len(s) == 10
    s.set_epoch(1, skip=4)
    assert list(s) == expected[4:] and len(s) == 6
    s.set_epoch(2)
    assert len(s) == 10  # a new epoch starts from its beginning
    with pytest.raises(ValueError):
        s.set_epoch(0, skip=11)
    shards = [list(ShardedEvalSampler(range(5), num_replicas=2, rank=r)) for r in (0, 1)]
    assert shards == [[0, 2, 4], [1, 3]]


def test_resume_batches_replays_the_same_batches_and_keeps_global_rng():
    ds = TensorDataset(torch.arange(10))
    loader = make_train_loader(ds, batch_size=3, seed=11)  # drop_last: 3 batches per epoch
    assert iters_per_epoch(loader) == 3
    before = torch.get_rng_state()
    full = [(it, ep, b[0].tolist()) for it, ep, b in resume_batches(loader, 0, 8)]
    assert torch.equal(torch.get_rng_state(), before)  # loader iterators do not draw from the global RNG
    assert [(it, ep) for it, ep, _ in full] == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1), (5, 1), (6, 2), (7, 2)]
    perm0 = torch.randperm(10, generator=torch.Generator().manual_seed(11)).tolist()
    assert [b for _, _, b in full[:3]] == [perm0[0:3], perm0[3:6], perm0[6:9]]
    for start in (1, 3, 4, 7):
        assert [(it, ep, b[0].tolist()) for it, ep, b in resume_batches(loader, start, 8)] == full[start:]


# ---------------------------------------------------------------- resume (acceptance)


def _final(out: Path) -> dict:
    return load_weights(out / "final_rank0.pth")


def _bitwise_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("full")
    assert tiny_train.main(["--output_dir", str(out), "--ckpt_every", "1000"]) == 0
    return out


@pytest.mark.parametrize(
    "ckpt_every,stop_after,resumed_from",
    [(5, 13, 10),  # latest checkpoint at an epoch boundary (10 steps per epoch)
     (4, 11, 8),  # mid-epoch; steps 9-11 done twice, log line 10 written twice
     (3, 23, 21)],  # mid-epoch, after both LR milestones
)
def test_interrupted_then_resume_auto_is_bitwise_equal(uninterrupted, tmp_path, capsys,
                                                       ckpt_every, stop_after, resumed_from):
    """Shuffling loader, dropout, SGD momentum + weight decay, warm-up + MultiStep per iteration:
    stop after k steps, resume from the latest checkpoint, end bitwise equal to one straight run."""
    common = ["--output_dir", str(tmp_path), "--ckpt_every", str(ckpt_every)]
    assert tiny_train.main(common + ["--stop_after", str(stop_after)]) == 0
    assert not (tmp_path / "final_rank0.pth").exists()
    capsys.readouterr()
    assert tiny_train.main(common + ["--resume", "auto"]) == 0
    assert f"checkpoint_{resumed_from:08d}.pth (iteration {resumed_from}" in capsys.readouterr().out
    assert _bitwise_equal(_final(tmp_path), _final(uninterrupted))
    # log.txt: each log step once (lines past the checkpoint were dropped and logged again)
    assert [r["step"] for r in read_log(tmp_path / "log.txt")] == [5, 10, 15, 20, 25]
    ref = {r["step"]: r for r in read_log(uninterrupted / "log.txt")}
    for r in read_log(tmp_path / "log.txt"):
        assert r["lr"] == ref[r["step"]]["lr"] and r["epoch"] == ref[r["step"]]["epoch"]


def test_resume_without_rng_state_is_not_bitwise_equal(uninterrupted, tmp_path):
    """Negative control: the same resume without restoring the RNG (dropout masks) diverges."""
    common = ["--output_dir", str(tmp_path), "--ckpt_every", "4"]
    assert tiny_train.main(common + ["--stop_after", "11"]) == 0
    assert tiny_train.main(common + ["--resume", "auto", "--no_restore_rng"]) == 0
    assert not _bitwise_equal(_final(tmp_path), _final(uninterrupted))


def test_resume_explicit_path_and_directory(uninterrupted, tmp_path):
    src = tmp_path / "a"
    assert tiny_train.main(["--output_dir", str(src), "--ckpt_every", "5", "--keep_last", "0",
                            "--stop_after", "16"]) == 0
    ckpt = src / "checkpoints" / "checkpoint_00000015.pth"
    # explicit file, into another output dir
    assert tiny_train.main(["--output_dir", str(tmp_path / "b"), "--resume", str(ckpt)]) == 0
    assert _bitwise_equal(_final(tmp_path / "b"), _final(uninterrupted))
    # a checkpoint directory means its latest checkpoint
    assert tiny_train.main(["--output_dir", str(tmp_path / "c"), "--resume", str(src / "checkpoints")]) == 0
    assert _bitwise_equal(_final(tmp_path / "c"), _final(uninterrupted))


def test_resume_auto_without_checkpoint_starts_fresh(uninterrupted, tmp_path):
    assert tiny_train.main(["--output_dir", str(tmp_path), "--ckpt_every", "1000", "--resume", "auto"]) == 0
    assert _bitwise_equal(_final(tmp_path), _final(uninterrupted))


# ---------------------------------------------------------------- checkpoints


def _tiny_state(tmp_path, **save_kwargs):
    seed_everything(0)
    model = tiny_train.TinyNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = WarmupMultiStepLR(opt, [2])
    model(torch.randn(2, 8)).sum().backward()
    opt.step()
    sched.step()
    return model, opt, sched


def test_checkpoint_manager_contents_keep_last_and_latest(tmp_path):
    model, opt, sched = _tiny_state(tmp_path)
    mgr = CheckpointManager(tmp_path / "ck", keep_last=2)
    assert mgr.latest() is None and mgr.checkpoints() == []
    args = argparse.Namespace(lr=0.1, out=tmp_path, milestones=(1, 2), name=None)
    for it in (3, 6, 9):
        path = mgr.save(model, opt, sched, iteration=it, epoch=it // 5, args=args, extra={"best": 0.5})
        assert path == mgr.path_for(it)
    assert [p.name for p in mgr.checkpoints()] == ["checkpoint_00000006.pth", "checkpoint_00000009.pth"]
    assert mgr.latest() == mgr.path_for(9)
    final = mgr.save(model, iteration=9, name="model_final.pth")
    assert mgr.latest() == final and mgr.path_for(9).exists()  # named files are not counted or pruned
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == [
        "checkpoint_00000006.pth", "checkpoint_00000009.pth", "last_checkpoint", "model_final.pth"]  # no temp files
    ck = load_weights(mgr.path_for(9))  # weights_only=True
    assert set(ck) == {"format", "model", "optimizer", "scheduler", "iteration", "epoch", "args", "extra",
                       "world_size", "rng"}
    assert ck["iteration"] == 9 and ck["epoch"] == 1 and ck["extra"] == {"best": 0.5}
    assert ck["args"] == {"lr": 0.1, "out": str(tmp_path), "milestones": [1, 2], "name": None}
    assert _bitwise_equal(ck["model"], model.state_dict())
    assert torch.equal(ck["optimizer"]["state"][0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"])
    assert ck["scheduler"]["last_epoch"] == 1 and len(ck["rng"]) == 1
    # "last_checkpoint" pointing at a vanished file falls back to the highest number
    final.unlink()
    assert mgr.latest() == mgr.path_for(9)


def test_checkpoint_refuses_values_weights_only_cannot_load(tmp_path):
    model, opt, sched = _tiny_state(tmp_path)
    with pytest.raises(TypeError, match=r"checkpoint\['extra'\]\['obj'\].*weights_only"):
        build_checkpoint(model, extra={"obj": object()})


def test_resume_restores_optimizer_scheduler_and_rejects_bad_files(tmp_path):
    model, opt, sched = _tiny_state(tmp_path)
    mgr = CheckpointManager(tmp_path)
    mgr.save(model, opt, sched, iteration=1, epoch=0)
    seed_everything(5)
    model2 = tiny_train.TinyNet()
    opt2 = torch.optim.SGD(model2.parameters(), lr=0.1, momentum=0.9)
    sched2 = WarmupMultiStepLR(opt2, [2])
    state = resume("auto", model2, opt2, sched2, directory=tmp_path, verbose=False)
    assert state.iteration == 1 and state.path == str(mgr.path_for(1))
    assert _bitwise_equal(model2.state_dict(), model.state_dict())
    assert sched2.last_epoch == 1 and opt2.state_dict()["state"].keys() == opt.state_dict()["state"].keys()

    # AMP grad scaler state (CPU scaler here) comes back too; a checkpoint without one warns
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=7)
    mgr.save(model, opt, sched, scaler, iteration=3)
    scaler2 = torch.amp.GradScaler("cpu", init_scale=2.0)
    resume(mgr.path_for(3), model2, opt2, sched2, scaler2, verbose=False)
    assert scaler2.get_scale() == 1024.0 and scaler2.get_growth_interval() == 7
    with pytest.warns(UserWarning, match="no grad-scaler state"):
        resume(mgr.path_for(1), model2, opt2, sched2, torch.amp.GradScaler("cpu"), verbose=False)

    assert resume("", model2) is None
    assert resume("auto", model2, directory=tmp_path / "empty", verbose=False) is None
    with pytest.raises(FileNotFoundError):
        resume(tmp_path / "missing.pth", model2)
    torch_save_atomic(model.state_dict(), tmp_path / "weights.pth")
    with pytest.raises(DataError, match="use --weights"):
        resume(tmp_path / "weights.pth", model2)
    with pytest.raises(DataError, match="does not match the model"):
        resume(mgr.path_for(1), tiny_train.TinyNet(num_classes=5), verbose=False)
    mgr.save(model, iteration=2)  # no optimizer state saved
    with pytest.raises(DataError, match="no optimizer state"):
        resume(mgr.path_for(2), model2, opt2, verbose=False)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="junk.pth"):
        resume(tmp_path / "junk.pth", model2)


# ---------------------------------------------------------------- --weights


def test_load_weights_into_ddp_prefix_and_partial(tmp_path, capsys):
    seed_everything(1)
    src = tiny_train.TinyNet(num_classes=5)
    ddp_like = {f"module.{k}": v for k, v in src.state_dict().items()}
    ddp_like["module.extra.weight"] = torch.zeros(2)
    torch_save_atomic({"model": ddp_like, "iteration": 3}, tmp_path / "ck.pth")

    seed_everything(2)
    dst = tiny_train.TinyNet(num_classes=3)
    before = {k: v.clone() for k, v in dst.state_dict().items()}
    report = load_weights_into(dst, tmp_path / "ck.pth")
    assert report.loaded == ["fc1.bias", "fc1.weight"]
    assert report.unexpected == ["extra.weight"] and report.missing == []
    assert report.mismatched == [("fc2.bias", (5,), (3,)), ("fc2.weight", (5, 16), (3, 16))]
    assert not report.complete
    assert torch.equal(dst.fc1.weight, src.fc1.weight) and torch.equal(dst.fc2.weight, before["fc2.weight"])
    printed = capsys.readouterr().out
    assert "unexpected (not in model, ignored): extra.weight" in printed
    assert "shape mismatch, skipped: fc2.weight: checkpoint [5, 16] vs model [3, 16]" in printed

    with pytest.raises(DataError, match="do not match the model exactly"):
        load_weights_into(tiny_train.TinyNet(num_classes=3), tmp_path / "ck.pth", strict=True, verbose=False)

    # a bare state dict missing a tensor, into a DDP-style wrapper
    partial = {k: v for k, v in src.state_dict().items() if k != "fc1.bias"}
    wrapped = torch.nn.DataParallel(tiny_train.TinyNet(num_classes=5))
    rep = load_weights_into(wrapped, partial, verbose=False)
    assert rep.missing == ["fc1.bias"] and rep.unexpected == [] and rep.mismatched == []
    assert torch.equal(wrapped.module.fc2.weight, src.fc2.weight)
    full = load_weights_into(tiny_train.TinyNet(num_classes=5), src.state_dict(), strict=True, verbose=False)
    assert full.complete and len(full.loaded) == 4
    assert strip_prefix({"module.module.a": 1, "b": 2}) == {"a": 1, "b": 2}


def test_weights_flag_of_a_train_script(tmp_path, capsys):
    seed_everything(3)
    torch_save_atomic(tiny_train.TinyNet(num_classes=5).state_dict(), tmp_path / "pre.pth")
    assert tiny_train.main(["--output_dir", str(tmp_path / "run"), "--iters", "2",
                            "--weights", str(tmp_path / "pre.pth")]) == 0
    out = capsys.readouterr().out
    assert "loaded 2 tensors" in out and "shape mismatch, skipped: fc2.bias" in out


# ---------------------------------------------------------------- logger


def test_smoothed_value_hand_computed():
    v = SmoothedValue(window_size=3)
    for x in (1.0, 5.0, 2.0, 10.0):
        v.update(x)
    assert (v.median, v.avg, v.max, v.value) == (5.0, pytest.approx(17 / 3), 10.0, 10.0)
    assert v.global_avg == 4.5 and str(v) == "5.0000 (4.5000)"


def test_metric_logger_json_lines_console_and_resume_truncation(tmp_path):
    stream = __import__("io").StringIO()
    logger = make_metric_logger(tmp_path, "none", stream=stream)
    for i in logger.log_every(range(7), print_freq=3, header="Epoch: [0]"):
        logger.update(loss=torch.tensor(float(i)), acc=1.0)
    records = read_log(tmp_path / "log.txt")
    assert [r["step"] for r in records] == [3, 6, 7]  # every 3 steps and the last
    assert [r["loss"] for r in records] == [1.0, 2.5, 3.0]  # window means of 0..2, 0..5, 0..6 (window 20)
    assert all(set(r) >= {"step", "loss", "acc", "time", "data", "eta_seconds"} for r in records)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and "Total time" in lines[-1]
    assert lines[0].startswith("Epoch: [0]  [3/7]  step: 3  eta: 0:00:00  loss: 1.0000 (1.0000)")
    # a resumed run continuing from step 10 counts global steps
    for _ in logger.log_every(range(7), print_freq=5, start_step=10):
        logger.update(loss=0.0)
    assert [r["step"] for r in read_log(tmp_path / "log.txt")] == [3, 6, 7, 15, 17]
    logger.close()
    # a crash mid-line: the partial line is skipped; resuming from step 6 drops the later lines
    with open(tmp_path / "log.txt", "a") as f:
        f.write('{"step": 18, "lo')
    assert [r["step"] for r in read_log(tmp_path / "log.txt")] == [3, 6, 7, 15, 17]
    JsonLinesWriter(tmp_path / "log.txt", resume_step=6)
    assert [r["step"] for r in read_log(tmp_path / "log.txt")] == [3, 6]
    assert all(json.loads(line) for line in (tmp_path / "log.txt").read_text().splitlines())


def _tb_scalars(logdir: Path) -> dict:
    """Parse tensorboard event files (TFRecord framing) with tensorboardX's protobufs."""
    from tensorboardX.proto import event_pb2

    out: dict = {}
    for f in sorted(logdir.glob("events.out.tfevents.*")):
        data = f.read_bytes()
        pos = 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event.FromString(data[pos + 12:pos + 12 + n])
            pos += 12 + n + 4
            for v in event.summary.value:
                out.setdefault(v.tag, []).append((event.step, round(v.simple_value, 6)))
    return out


def test_tensorboard_backend_writes_scalars(tmp_path):
    logger = make_metric_logger(tmp_path, "tensorboard", stream=None)
    for i in logger.log_every(range(4), print_freq=2):
        logger.update(loss=float(i))
    logger.close()
    scalars = _tb_scalars(tmp_path / "tensorboard")
    assert scalars["loss"] == [(2, 0.5), (4, 1.5)]
    assert [s for s, _ in scalars["time"]] == [2, 4]


def test_tqdm_mode_still_writes_json(tmp_path):
    stream = __import__("io").StringIO()
    logger = MetricLogger(make_metric_logger(tmp_path, "none").writers, use_tqdm=True, stream=stream)
    for _ in logger.log_every(range(4), print_freq=2, header="val"):
        logger.update(loss=1.0)
    assert [r["step"] for r in read_log(tmp_path / "log.txt")] == [2, 4]
    assert "4/4" in stream.getvalue()


def test_tqdm_missing_falls_back_to_lines(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    stream = __import__("io").StringIO()
    logger = MetricLogger([], use_tqdm=True, stream=stream)
    with pytest.warns(LoggerBackendWarning, match="tqdm is not installed"):
        for _ in logger.log_every(range(2), print_freq=1):
            logger.update(loss=1.0)
    assert stream.getvalue().count("loss: 1.0000") == 2


def _fake_visdom(monkeypatch, *, connect: bool = True, fail_after: int = 10**9):
    calls = []

    class Visdom:
        def __init__(self, **kwargs):
            if not connect:
                raise ConnectionRefusedError(111, "Connection refused")
            self.kwargs = kwargs

        def check_connection(self):
            return True

        def line(self, **kwargs):
            if len(calls) >= fail_after:
                raise ConnectionResetError("server went away")
            calls.append(kwargs)

    monkeypatch.setitem(sys.modules, "visdom", types.SimpleNamespace(Visdom=Visdom))
    return calls


@pytest.mark.parametrize("case", ["not_installed", "server_down", "fails_mid_run"])
def test_visdom_problems_warn_once_and_never_stop_logging(tmp_path, monkeypatch, case):
    if case == "not_installed":
        monkeypatch.setitem(sys.modules, "visdom", None)  # import visdom -> ImportError
    else:
        _fake_visdom(monkeypatch, connect=case != "server_down", fail_after=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger = make_metric_logger(tmp_path, "visdom", stream=None)
        for _ in logger.log_every(range(10), print_freq=1):
            logger.update(loss=1.0)
        logger.close()
    backend = [w for w in caught if issubclass(w.category, LoggerBackendWarning)]
    assert len(backend) == 1 and "continuing without visdom" in str(backend[0].message)
    assert len(read_log(tmp_path / "log.txt")) == 10


def test_visdom_backend_plots_when_server_is_up(tmp_path, monkeypatch):
    calls = _fake_visdom(monkeypatch)
    logger = make_metric_logger(tmp_path, "visdom", stream=None, visdom_env="exp1")
    for _ in logger.log_every(range(2), print_freq=1):
        logger.update(loss=2.0)
    loss = [c for c in calls if c["win"] == "loss"]
    assert [(int(c["X"][0]), float(c["Y"][0]), c["update"]) for c in loss] == [(1, 2.0, None), (2, 2.0, "append")]
    assert logger.writers[1].viz.kwargs["env"] == "exp1"


# ---------------------------------------------------------------- flags


def test_add_common_args_keeps_paper_flags():
    p = argparse.ArgumentParser()
    p.add_argument("--num_workers", type=int, default=8)  # the paper's own default stays
    add_common_args(p, seed=42, logger="none")
    a = p.parse_args([])
    assert (a.resume, a.weights, a.seed, a.device, a.logger, a.num_workers) == ("", "", 42, "auto", "none", 8)
    a = p.parse_args(["--resume", "auto", "--weights", "w.pth", "--logger", "visdom", "--device", "cpu"])
    assert (a.resume, a.weights, a.logger, a.device) == ("auto", "w.pth", "visdom", "cpu")
    with pytest.raises(SystemExit):
        p.parse_args(["--logger", "wandb"])
    q = add_common_args(argparse.ArgumentParser(), skip=["--seed"])
    assert not hasattr(q.parse_args([]), "seed")


def test_args_to_dict_is_plain():
    ns = argparse.Namespace(p=Path("/x"), t=(1, 2), s={3}, f=np.float32(0.5), o=object, n=None)
    d = args_to_dict(ns)
    assert d["p"] == "/x" and d["t"] == [1, 2] and d["s"] == [3] and d["f"] == 0.5 and d["n"] is None
    assert isinstance(d["o"], str)


def test_amp_cpu_bfloat16_autocast_and_passthrough_scaler():
    from core.train import amp_dtype, autocast, grad_scaler

    cpu = torch.device("cpu")
    assert amp_dtype(cpu) == torch.bfloat16 and amp_dtype(torch.device("cuda")) == torch.float16
    conv = torch.nn.Conv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8)
    with autocast(cpu, True):
        y = conv(x)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), conv(x), rtol=2e-2, atol=2e-2)  # bfloat16: 8 mantissa bits
    with autocast(cpu, False):
        assert conv(x).dtype == torch.float32
    scaler = grad_scaler(cpu, True)  # no loss scaling off CUDA: scale() is the loss itself
    loss = conv(x).sum()
    assert scaler.scale(loss) is loss
    opt = torch.optim.SGD(conv.parameters(), lr=0.5)
    w = conv.weight.detach().clone()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    torch.testing.assert_close(conv.weight.detach(), w - 0.5 * conv.weight.grad)
