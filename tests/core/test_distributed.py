"""core.train.distributed: single-process fallback, and real 2-process torchrun runs on CPU (gloo,
loopback) checked against hand-computed collectives and a single-process run on the same global
batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.io import load_weights
from core.train import (
    DistInfo,
    ResumableSampler,
    all_gather_object,
    all_reduce_mean,
    all_reduce_sum,
    broadcast_object,
    get_rank,
    get_world_size,
    init_distributed,
    is_main_process,
    place_model,
    resolve_device,
    unwrap_model,
    wrap_ddp,
)

HERE = Path(__file__).resolve().parent
TINY = HERE / "tiny_train.py"
WORKER = HERE / "dist_worker.py"
DROPOUT = ["--dropout", "0.5"]  # after TRAIN's "--dropout 0": the last one wins
TRAIN = ["--dropout", "0", "--iters", "12", "--dataset_size", "40", "--ckpt_every", "3", "--print_freq", "4"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE")}
    env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", CUDA_VISIBLE_DEVICES="")
    return env


def torchrun(script: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script), *args]
    proc = subprocess.run(cmd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def params(path: Path) -> dict:
    return load_weights(path)


@pytest.fixture
def no_dist_env(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)


def test_single_process_fallback(no_dist_env, monkeypatch):
    info = init_distributed("cpu")
    assert info == DistInfo(0, 1, 0, False, None, torch.device("cpu"))
    assert (get_rank(), get_world_size(), is_main_process()) == (0, 1, True)
    t = torch.tensor([1.0, 2.0])
    m = all_reduce_mean(t)
    assert torch.equal(m, t) and m is not t
    assert all_reduce_mean(3) == 3.0 and all_reduce_sum([1, 2.5]) == [1.0, 2.5]
    assert all_reduce_mean({"a": 2, "b": torch.tensor(4.0)})["b"].item() == 4.0
    assert all_gather_object({"x": 1}) == [{"x": 1}]
    assert broadcast_object("hello") == "hello"
    model = torch.nn.Linear(2, 2)
    assert wrap_ddp(model) is model and unwrap_model(torch.nn.DataParallel(model)) is model
    # torchrun with a single process is a single process too: no group is created
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert init_distributed("cpu").distributed is False
    assert not torch.distributed.is_initialized()


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_place_model_cpu_channels_last_same_outputs_and_state_dict():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    plain = torch.nn.Sequential(*[m for m in net])  # same modules: compare before placing
    x = torch.randn(2, 3, 9, 9)
    before = plain(x).detach().clone()
    keys = list(net.state_dict())
    placed = place_model(net, torch.device("cpu"))
    assert placed[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert not placed[0].weight.is_contiguous()  # really reordered, not a no-op
    assert list(placed.state_dict()) == keys
    torch.testing.assert_close(placed(x), before, rtol=1e-5, atol=1e-5)
    kept = place_model(torch.nn.Conv2d(3, 4, 3), torch.device("cpu"), channels_last=False)
    assert kept.weight.is_contiguous()


def test_bad_rank_env_is_reported(monkeypatch):
    monkeypatch.setenv("RANK", "zero")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK='zero'"):
        init_distributed("cpu")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    """One 2-process torchrun (one start-up) for three runs: the collective checks of
    dist_worker.py; 12 steps of tiny_train.py (batch 4 per rank, no dropout) into OUT; the same with
    dropout 0.5 (per-rank dropout streams) into OUT/dropout; and that one stopped after 7 steps
    ("interrupted") into OUT/interrupted."""
    out = tmp_path_factory.mktemp("ddp")
    run = ["--batch_size", "4", *TRAIN]
    torchrun(WORKER, str(out), "--", "--output_dir", str(out), *run,
             "--", "--output_dir", str(out / "dropout"), *run, *DROPOUT,
             "--", "--output_dir", str(out / "interrupted"), *run, *DROPOUT, "--stop_after", "7")
    return out


def test_torchrun_collectives_give_hand_computed_values(ddp_run):
    r0, r1 = (json.loads((ddp_run / f"collectives_rank{r}.json").read_text()) for r in (0, 1))
    for r, res in enumerate((r0, r1)):
        assert res["info"] == {"rank": r, "world_size": 2, "local_rank": r, "distributed": True,
                               "backend": "gloo", "device": "cpu"}
        assert (res["get_rank"], res["get_world_size"], res["is_main"]) == (r, 2, r == 0)
        # hand-computed means/sums of the rank-dependent values of dist_worker.py
        assert res["mean_tensor"] == [1.5, 15.0]  # ([1, 10] + [2, 20]) / 2
        assert res["mean_float"] == 1.5  # (0*0+1 + 1*1+1) / 2
        assert res["mean_int_tensor"] == [0.5, 1.5]  # ([0, 0] + [1, 3]) / 2
        assert res["sum_list"] == [1.0, 4.0]  # [0, 2] + [1, 2]
        assert res["mean_dict"] == {"a": 0.5, "b": 1.0}
        assert [g["rank"] for g in res["gathered"]] == [0, 1]
        assert res["broadcast"] == "from rank 0"
        assert res["meter"] == {"count": 2, "total": 3.0}
    assert r0["gathered"] == r1["gathered"] and r0["gathered"][0]["pid"] != r0["gathered"][1]["pid"]
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(5 + 2)).tolist()
    assert r0["sampler"] == perm[0::2] and r1["sampler"] == perm[1::2]
    assert r0["sampler_skip2"] == perm[0::2][2:] and r1["sampler_skip2"] == perm[1::2][2:]


def test_torchrun_ddp_training_equals_single_process_global_batch(ddp_run, tmp_path, no_dist_env):
    """2 ranks x batch 4 under DDP == 1 process x batch 8 on the same permutation (the same global
    batches: rank r gets perm[r::2]); both ranks end bitwise identical."""
    p0, p1 = params(ddp_run / "final_rank0.pth"), params(ddp_run / "final_rank1.pth")
    assert all(torch.equal(p0[k], p1[k]) for k in p0)

    sys.path.insert(0, str(HERE))
    try:
        import tiny_train
    finally:
        sys.path.remove(str(HERE))
    assert tiny_train.main(["--output_dir", str(tmp_path), "--batch_size", "8", *TRAIN, "--keep_last", "0"]) == 0
    ps = params(tmp_path / "final_rank0.pth")
    first = params(tmp_path / "checkpoints" / "checkpoint_00000003.pth")["model"]
    assert set(ps) == set(p0)
    assert any(not torch.allclose(first[k], ps[k]) for k in ps)  # the weights moved after step 3
    for k in ps:
        torch.testing.assert_close(p0[k], ps[k], rtol=1e-5, atol=1e-6)

    ckpt = load_weights(ddp_run / "checkpoints" / "checkpoint_00000012.pth")
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2
    # each rank's own RNG stream (seeded seed + rank) is saved
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])


def test_torchrun_resume_auto_matches_uninterrupted(ddp_run, tmp_path):
    """Interrupted after 7 steps (latest checkpoint 6: mid-epoch, per-rank epochs are 5 steps),
    resumed with --resume auto by a new torchrun: bitwise equal to the uninterrupted 2-process run,
    so each rank got back its own dropout RNG stream and its shard of the data order."""
    out = ddp_run / "interrupted"
    assert not (out / "final_rank0.pth").exists()
    proc = torchrun(TINY, "--output_dir", str(out), "--batch_size", "4", *TRAIN, *DROPOUT, "--resume", "auto")
    assert "checkpoint_00000006.pth (iteration 6" in proc.stdout
    for r in (0, 1):
        a, b = params(ddp_run / "dropout" / f"final_rank{r}.pth"), params(out / f"final_rank{r}.pth")
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_resumable_sampler_split_without_group():
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(3 + 1)).tolist()
    shards = []
    for rank in range(2):
        s = ResumableSampler(list(range(9)), seed=3, num_replicas=2, rank=rank)
        s.set_epoch(1)
        shards.append(list(s))
    padded = perm + perm[:1]  # DistributedSampler pads 9 -> 10 by repeating the head
    assert shards == [padded[0::2], padded[1::2]]
