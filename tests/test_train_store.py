"""Training loop and run store: schedule, checkpoints, exact resume, caching, lock, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
import torch

from advdist import store, train as train_mod, train_loop
from advdist.config import resolve
from advdist.store import get_or_train


def smoke(**kw):
    return resolve("smoke", "adt-cifar10", **kw)


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_lr_schedule_counts_epochs_from_one_like_the_papers():
    c = resolve("paper", "adt-cifar10")  # lr 0.1, reduced to 0.01 in the 75th epoch (ADT App. C.3)
    assert train_mod.lr_at(c, 1) == 0.1 and train_mod.lr_at(c, 74) == 0.1
    assert train_mod.lr_at(c, 75) == pytest.approx(0.01) and train_mod.lr_at(c, 76) == pytest.approx(0.01)
    c2 = resolve("paper", "atld-cifar10")  # decay at 60 and 90
    assert train_mod.lr_at(c2, 90) == pytest.approx(0.001)


def test_get_or_train_trains_once_writes_the_run_and_then_loads(runs_dir, monkeypatch):
    cfg = smoke(epochs=2)
    model, run = get_or_train(cfg, progress=False)
    assert run.path.parent == runs_dir and run.path.name.startswith("standard-digits-mlp-")
    for f in ("config.json", "meta.json", "log.csv", "checkpoint.pt", "model.pt"):
        assert (run.path / f).exists(), f
    meta = run.meta
    assert meta["status"] == "done" and meta["key"] == run.key and meta["data"]["name"] == "digits"
    assert json.loads((run.path / "config.json").read_text())["epochs"] == 2
    log = run.log
    assert list(log["epoch"]) == [1, 2] and log["test_acc"].iloc[-1] > 0.8  # digits: an MLP learns it fast
    # the second call must not train: it loads the same weights
    monkeypatch.setattr(train_loop, "train", lambda *a, **k: pytest.fail("trained twice"))  # what get_or_train calls
    model2, run2 = get_or_train(cfg, progress=False)
    assert run2.path == run.path
    for k, v in _state(model).items():
        assert torch.equal(v, model2.state_dict()[k])


def test_a_different_config_is_a_different_run(runs_dir):
    _, a = get_or_train(smoke(epochs=1), progress=False)
    _, b = get_or_train(smoke(epochs=1, seed=1), progress=False)
    assert a.path != b.path


def test_allow_train_false_is_an_actionable_error(runs_dir):
    with pytest.raises(FileNotFoundError, match="python -m advdist.train --method standard --dataset digits"):
        get_or_train(smoke(epochs=1), allow_train=False)


def test_interrupted_run_resumes_and_ends_with_identical_weights(runs_dir, monkeypatch):
    cfg = smoke(epochs=4)
    reference, ref_run = get_or_train(cfg, progress=False)
    ref = _state(reference)
    ref_log = ref_run.log
    # second store: same config, killed in the middle of epoch 3
    monkeypatch.setenv("ADVDIST_RUNS", str(runs_dir / "second"))
    from advdist.methods.standard import Standard

    real_loss, calls = Standard.loss, {"n": 0}
    batches_per_epoch = -(-1437 // cfg.batch_size)  # digits: 1437 training images

    def dying_loss(self, model, x, y):
        calls["n"] += 1
        if calls["n"] == 2 * batches_per_epoch + 3:
            raise KeyboardInterrupt("simulated kill")
        return real_loss(self, model, x, y)

    monkeypatch.setattr(Standard, "loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        get_or_train(cfg, progress=False)
    run = store.run_for(cfg, ref_run.meta["data"]["fingerprint"])
    assert torch.load(run.path / "checkpoint.pt", weights_only=False)["epoch"] == 2 and not run.done
    monkeypatch.setattr(Standard, "loss", real_loss)
    resumed, run2 = get_or_train(cfg, progress=False)
    assert run2.done and list(run2.log["epoch"]) == [1, 2, 3, 4]
    for k, v in ref.items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert run2.log["test_acc"].tolist() == ref_log["test_acc"].tolist()


def test_concurrent_calls_train_once(runs_dir, monkeypatch):
    cfg = smoke(epochs=1)
    real_train, count = train_loop.train, {"n": 0}

    def slow_train(*a, **k):
        count["n"] += 1
        time.sleep(0.5)
        return real_train(*a, **k)

    monkeypatch.setattr(train_loop, "train", slow_train)
    out = []
    threads = [threading.Thread(target=lambda: out.append(get_or_train(cfg, progress=False)[1].path)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count["n"] == 1 and len(out) == 2 and out[0] == out[1]


def test_atomic_write_never_leaves_a_torn_file(tmp_path):
    p = tmp_path / "x.json"
    store.atomic_write_json(p, {"a": 1})

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.atomic_write_json(p, {"a": Boom()})
    assert json.loads(p.read_text()) == {"a": 1}
    assert [f.name for f in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_code_version_changes_with_training_code(tmp_path):
    v = store.code_version()
    assert len(v) == 12 and v == store.source_hash(store.Path(store.__file__).resolve().parent)
    pkg = tmp_path / "pkg"
    (pkg / "methods").mkdir(parents=True)
    (pkg / "attacks").mkdir(parents=True)
    (pkg / "methods" / "a.py").write_text("x = 1\n")
    (pkg / "attacks" / "gradient.py").write_text("pgd = 1\n")
    (pkg / "train.py").write_text("y = 1\n")
    base = store.source_hash(pkg)
    (pkg / "methods" / "__main__.py").write_text("cli = 1\n")   # CLI entry points do not count
    (pkg / "evaluate.py").write_text("z = 1\n")                 # nor code outside TRAINING_CODE
    (pkg / "attacks" / "settings.py").write_text("s = 1\n")     # nor evaluation-only modules
    assert store.source_hash(pkg) == base
    (pkg / "methods" / "a.py").write_text("x = 2\n")            # a training-code edit does
    assert store.source_hash(pkg) != base
    (pkg / "methods" / "a.py").write_text("x = 1\n")
    (pkg / "attacks" / "gradient.py").write_text("pgd = 2\n")  # and an edit of an attack used in training
    assert store.source_hash(pkg) != base
    (pkg / "attacks" / "gradient.py").write_text("pgd = 1\n")
    (pkg / "methods" / "b.py").write_text("")                    # and so does a new module (all methods)
    assert store.source_hash(pkg) != base


def test_code_version_of_a_method_covers_its_module_and_the_siblings_it_imports(tmp_path):
    import shutil

    real = store.Path(store.__file__).resolve().parent
    pkg = tmp_path / "advdist"
    shutil.copytree(real, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = {m: store.source_hash(pkg, method=m) for m in ("adt_impam", "at_pgd", "alp", "standard")}
    assert store.method_sources(pkg, "adt_impam") == ["methods/adt_expam.py", "methods/adt_impam.py",
                                                      "methods/base.py", "methods/extra_networks.py",
                                                      "methods/trades.py"]
    (pkg / "methods" / "brand_new.py").write_text("NEW = 1\n")        # another method: no key changes
    assert {m: store.source_hash(pkg, method=m) for m in before} == before
    f = pkg / "methods" / "at_pgd.py"
    f.write_text(f.read_text() + "\n# edited\n")                       # at_pgd and its subclass alp change
    after = {m: store.source_hash(pkg, method=m) for m in before}
    assert after["at_pgd"] != before["at_pgd"] and after["alp"] != before["alp"]
    assert after["adt_impam"] == before["adt_impam"] and after["standard"] == before["standard"]
    f = pkg / "methods" / "adt_expam.py"                                 # a module imported by IMP-AM
    f.write_text(f.read_text() + "\n# edited\n")
    assert store.source_hash(pkg, method="adt_impam") != before["adt_impam"]


def _cli(*args, env_runs):
    import os

    env = {**os.environ, "ADVDIST_RUNS": str(env_runs)}
    return subprocess.run([sys.executable, "-m", "advdist.train", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.mark.parametrize("args, needle", [
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'; valid: blobs, cifar10"),
    (["--method", "adtexp"], "unknown method 'adtexp'; valid:"),
    (["--model", "vgg"], "unknown model 'vgg'; valid:"),
    (["--scale", "huge"], "unknown scale 'huge'; valid: mini, paper, smoke"),
    (["--fast-grad", "--compile"], "fast_grad and compile do not combine"),
])
def test_cli_bad_names_exit_2_with_one_line(args, needle, runs_dir):
    r = _cli(*args, env_runs=runs_dir)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]


def test_cli_trains_a_smoke_model(runs_dir):
    r = _cli("--scale", "smoke", "--epochs", "1", "--no-progress", env_runs=runs_dir)
    assert r.returncode == 0, r.stderr
    assert "standard-digits-mlp" in r.stdout and "test accuracy" in r.stdout


def test_cli_missing_dataset_is_one_line_with_the_fix(runs_dir, tmp_path):
    import os

    env = {**os.environ, "ADVDIST_RUNS": str(runs_dir), "ADVDIST_DATA": str(tmp_path / "nodata"),
           "ADVDIST_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "advdist.train", "--scale", "paper", "--dataset", "svhn",
                        "--no-progress"], capture_output=True, text=True, env=env, timeout=300)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "python -m advdist.data download svhn" in lines[0]


def test_fast_grad_runtime_routes_the_training_attack_through_the_view(runs_dir, monkeypatch):
    """``--fast-grad``: the method's inner attack takes its input gradients through models.grad_view, and the run
    trains to the same accuracy as without it (same data order; gradients equal up to float summation order)."""
    from advdist.models import grad_view

    calls = []
    real = grad_view.input_grad_view
    monkeypatch.setattr(grad_view, "input_grad_view", lambda m: calls.append(m) or real(m))
    cfg = smoke(method="at_pgd", model="lenet5-madry", model_kwargs={"input_size": 8}, epochs=1)
    _, plain = get_or_train(cfg, progress=False)
    assert not calls
    monkeypatch.setattr(store, "run_for", lambda c, fp: store.Run(runs_dir / "fast", c, "fast"))
    _, fast = get_or_train(cfg, progress=False, fast_grad=True)
    assert calls and all(type(m).__name__ == "LeNet5Madry" for m in calls)
    assert rewrites_of(calls[0])["relu_pool_swap"] == 2
    assert fast.meta["fast_grad"] is True and plain.meta["fast_grad"] is False
    assert abs(fast.meta["final"]["test_acc"] - plain.meta["final"]["test_acc"]) <= 0.02


def rewrites_of(model):
    from advdist.models.grad_view import input_grad_view, rewrites

    return rewrites(input_grad_view(model))
