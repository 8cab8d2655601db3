"""Data-parallel training (``torchrun --nproc_per_node=2 -m advdist.train``, gloo on CPU): same result as one process.

The 2-process run must end with the weights of a 1-process run on the same global batch. The batch size is
odd (33: shards of 17 and 16, last batch 19 = 10 + 9), so a wrong shard weighting, a missing gradient average,
different shuffling per rank or a rank training on its own half only would all move the weights far beyond
the tolerance (checked against a control run that differs only in its batch). Tolerance: the two runs differ
only in float summation order (each rank sums its shard, then gloo sums the two partial gradients), ~1e-7
relative per step; over 44 SGD-momentum steps on the smoke MLP the weights differed by 2.4e-7 at most
(tolerance 1e-5, 40x that), while the training itself moves them by ~1e-1 and the control by > 1e-3.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from advdist import distributed
from advdist.config import resolve
from advdist.store import get_or_train

pytestmark = pytest.mark.usefixtures("one_thread")

ARGS = ["--scale", "smoke", "--method", "standard", "--epochs", "1", "--batch-size", "33", "--device", "cpu",
        "--threads", "1", "--no-progress"]


def _cfg(batch_size: int = 33):
    return resolve("smoke", None, method="standard", epochs=1, batch_size=batch_size)


def _torchrun(runs, nproc: int = 2):
    env = {**os.environ, "ADVDIST_RUNS": str(runs), "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1", f"--nproc_per_node={nproc}",
           "-m", "advdist.train", *ARGS]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    runs = tmp_path_factory.mktemp("ddp") / "runs"
    proc = _torchrun(runs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return runs, proc


def _load(runs, monkeypatch, cfg, **kw):
    monkeypatch.setenv("ADVDIST_RUNS", str(runs))
    return get_or_train(cfg, device="cpu", progress=False, **kw)


def test_two_processes_match_one_process(ddp_run, tmp_path, monkeypatch):
    runs, proc = ddp_run
    cfg = _cfg()
    ddp_model, ddp = _load(runs, monkeypatch, cfg, allow_train=False)  # trained by torchrun, not here
    assert ddp.meta["world_size"] == 2
    one_model, one = _load(tmp_path / "one", monkeypatch, cfg)
    assert one.meta["world_size"] == 1 and one.key == ddp.key  # the same config: the same run key
    torch.manual_seed(cfg.seed)
    from advdist.train import build_model

    init = build_model(cfg).state_dict()
    control, _ = _load(tmp_path / "control", monkeypatch, _cfg(batch_size=32))
    for k, w in one_model.state_dict().items():
        d = ddp_model.state_dict()[k]
        assert torch.allclose(d, w, rtol=0, atol=1e-5), (k, float((d - w).abs().max()))
        assert float((w - init[k]).abs().max()) > 1e-2  # training moved the weights: the match is not vacuous
    moved = max(float((control.state_dict()[k] - w).abs().max()) for k, w in one_model.state_dict().items())
    assert moved > 1e-3  # a different global batch is far outside the tolerance
    # the log's train loss is the mean over global batches on both
    assert ddp.log["train_loss"].iloc[0] == pytest.approx(one.log["train_loss"].iloc[0], rel=1e-4)
    assert ddp.log["test_acc"].iloc[0] == pytest.approx(one.log["test_acc"].iloc[0], abs=2e-3)


def test_only_rank_zero_writes_the_run(ddp_run):
    runs, proc = ddp_run
    folders = [p for p in runs.iterdir() if p.is_dir()]
    assert len(folders) == 1
    files = {p.name for p in folders[0].iterdir()}
    assert {"config.json", "meta.json", "log.csv", "checkpoint.pt", "model.pt"} <= files
    assert proc.stdout.count("test accuracy") == 2  # both ranks returned the finished run


def test_shards_cover_the_batch_and_weights_give_the_global_mean():
    t = torch.arange(19)
    for world in (1, 2, 3, 4):
        parts = [distributed.Dist(rank=r, world=world).shard(t) for r in range(world)]
        assert torch.equal(torch.cat(parts), t)  # disjoint, contiguous, the union is the batch
        assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
        # Σ_r weight_r · mean_r / world = global mean for any per-example values
        vals = torch.randn(19, dtype=torch.float64)
        parts_v = [distributed.Dist(rank=r, world=world).shard(vals) for r in range(world)]
        dists = [distributed.Dist(rank=r, world=world) for r in range(world)]
        est = sum(d.loss_weight(len(p), 19) * p.mean() for d, p in zip(dists, parts_v)) / world
        assert float(est) == pytest.approx(float(vals.mean()), rel=1e-12)


def test_rank_seeds_differ_and_rank_zero_keeps_the_seed(monkeypatch):
    assert distributed.rank_seed(123, 0) == 123
    assert len({distributed.rank_seed(123, r) for r in range(8)}) == 8
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    assert not distributed.launched()
    d, dev = distributed.setup(torch.device("cpu"))
    assert (d.rank, d.world, d.main, dev) == (0, 1, True, torch.device("cpu"))
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert not distributed.launched()  # one process: no group


def test_slurm_launcher_local_executor(tmp_path, monkeypatch):
    """``make train-slurm`` path through submitit's local executor (skipped without the optional submitit)."""
    pytest.importorskip("submitit")
    monkeypatch.setenv("ADVDIST_RUNS", str(tmp_path / "runs"))
    job = distributed.submit_slurm(ARGS, folder=str(tmp_path / "slurm"), cluster="local", timeout_min=5)
    assert job.result() == 0
    _, run = get_or_train(_cfg(), device="cpu", progress=False, allow_train=False)
    assert run.meta["status"] == "done" and run.meta["world_size"] == 1


def test_slurm_launcher_without_submitit_says_what_to_install(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_submitit(name, *a, **k):
        if name == "submitit":
            raise ImportError("no submitit")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_submitit)
    with pytest.raises(ImportError, match="pip install"):
        distributed.submit_slurm(ARGS, cluster="local")
