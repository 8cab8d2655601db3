"""No failed run is ever cached, and unreadable run files never give a torch traceback (issue 13).

Tiny digits runs (smoke scale, 300 training images, 2 epochs): each test takes a few seconds.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from advdist import store, train as train_mod, train_loop
from advdist.config import resolve
from advdist.store import UnreadableRunFile, get_or_train
from advdist.train import NonFiniteLoss


def tiny(**kw):
    return resolve("smoke", "adt-cifar10", **{"epochs": 2, "n_train": 300, **kw})


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _no_training(monkeypatch):
    monkeypatch.setattr(train_loop, "train", lambda *a, **k: pytest.fail("trained"))  # what get_or_train calls


def _one_line(text):
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def _warnings(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert all(ln.startswith("advdist: warning: ") for ln in lines), err  # nothing else, no traceback
    return lines


# ---- non-finite loss ------------------------------------------------------------------------------------------
def test_huge_lr_fails_at_once_and_is_never_cached(runs_dir, monkeypatch):
    cfg = tiny(lr=1e10)
    with pytest.raises(NonFiniteLoss) as exc:
        get_or_train(cfg, progress=False)
    msg = str(exc.value)
    (run_path,) = runs_dir.iterdir()
    assert "\n" not in msg and cfg.name in msg and str(run_path) in msg
    assert "epoch 1/2, batch " in msg and "lr 1e+10" in msg and "eps 0.1" in msg and "learning rate too high" in msg
    run = store.Run(path=run_path, config=cfg, key=run_path.name.rsplit("-", 1)[1])
    meta = run.meta
    assert meta["status"] == "failed" and "epoch 1/2" in meta["reason"] and meta["last_finite_epoch"] == 0
    assert not (run_path / "model.pt").exists() and not (run_path / "checkpoint.pt").exists()
    assert run.failed and not run.done
    # asked again: the same one-line error, at once, neither a model nor a retraining (with or without training)
    _no_training(monkeypatch)
    for allow in (None, False):
        with pytest.raises(NonFiniteLoss) as again:
            get_or_train(cfg, progress=False, allow_train=allow)
        msg = str(again.value)
        assert "\n" not in msg and "failed before" in msg and meta["reason"] in msg
        assert f"delete {run_path}" in msg and "--lr" in msg


def test_divergence_in_a_later_epoch_keeps_the_last_finite_checkpoint(runs_dir):
    cfg = tiny(lr=0.1, milestones=(2,), lr_gamma=1e11)  # epoch 1 learns, epoch 2 runs at lr 1e10
    with pytest.raises(NonFiniteLoss, match=r"at epoch 2/2, batch \d+/\d+ \(lr 1e\+10") as exc:
        get_or_train(cfg, progress=False)
    assert "checkpoint.pt of epoch 1 kept" in str(exc.value)
    (run_path,) = runs_dir.iterdir()
    meta = json.loads((run_path / "meta.json").read_text())
    assert meta["status"] == "failed" and meta["last_finite_epoch"] == 1
    assert not (run_path / "model.pt").exists()
    ckpt = torch.load(run_path / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 1 and all(v.isfinite().all() for v in ckpt["model"].values())


def test_non_finite_weights_after_a_finite_loss_fail_at_the_epoch_end(runs_dir, monkeypatch):
    from advdist.methods.standard import Standard

    real_loss = Standard.loss

    def poisoning_loss(self, model, x, y):  # epoch 1's last batch (300 = 4·64 + 44): a finite loss, then a NaN weight
        out = real_loss(self, model, x, y)
        if len(y) == 300 % 64:
            with torch.no_grad():
                next(model.parameters())[0, 0] = math.nan
        return out

    monkeypatch.setattr(Standard, "loss", poisoning_loss)
    with pytest.raises(NonFiniteLoss, match="non-finite weights at epoch 1/2"):
        get_or_train(tiny(), progress=False)
    (run_path,) = runs_dir.iterdir()
    assert json.loads((run_path / "meta.json").read_text())["status"] == "failed"
    assert not (run_path / "checkpoint.pt").exists() and not (run_path / "model.pt").exists()


def test_cli_divergence_is_one_line_and_exit_code_1(runs_dir, capsys):
    argv = ["--scale", "smoke", "--lr", "1e10", "--epochs", "1", "--n-train", "300", "--no-progress"]
    assert train_mod.main(argv) == 1
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("advdist.train: error: standard-digits-mlp diverged: train_loss ") and "lr 1e+10" in err
    assert train_mod.main(argv) == 1  # the failed run is not cached as finished
    err = _one_line(capsys.readouterr().err)
    assert err.startswith("advdist.train: error: standard-digits-mlp failed before (")


# ---- unreadable files -----------------------------------------------------------------------------------------
def test_truncated_model_pt_is_rebuilt_from_the_final_checkpoint(runs_dir, monkeypatch, capsys):
    cfg = tiny()
    model, run = get_or_train(cfg, progress=False)
    ref = _state(model)
    _truncate(run.path / "model.pt")
    capsys.readouterr()
    with pytest.raises(UnreadableRunFile) as exc:  # a one-line error, not torch's traceback
        run.load_model()
    assert "\n" not in str(exc.value) and str(run.path / "model.pt") in str(exc.value)
    assert exc.value.__cause__ is None and exc.value.__suppress_context__
    _no_training(monkeypatch)
    rebuilt, run2 = get_or_train(cfg, progress=False)
    _same(ref, rebuilt.state_dict())
    (warning,) = _warnings(capsys.readouterr().err)
    assert str(run.path / "model.pt") in warning and "rebuilt it from checkpoint.pt (epoch 2)" in warning
    assert run2.done
    again, _ = get_or_train(cfg, progress=False)  # repaired for good: no second warning
    _same(ref, again.state_dict())
    assert capsys.readouterr().err == ""


def test_truncated_model_pt_of_an_early_stopped_run_is_rebuilt_from_model_best(runs_dir, monkeypatch, capsys):
    # lr 0.5 then 5: epoch 2 is worse, so the released model (best epoch 1) differs from the final checkpoint's
    cfg = tiny(early_stop="pgd-10", n_test=200, lr=0.5, milestones=(2,), lr_gamma=10.0)
    model, run = get_or_train(cfg, progress=False)
    ref = _state(model)
    best = run.meta["best_epoch"]
    final = torch.load(run.path / "checkpoint.pt", weights_only=False)
    assert best == 1 and final["epoch"] == 2 and not torch.equal(final["model"]["fc.weight"], ref["fc.weight"])
    _truncate(run.path / "model.pt")
    capsys.readouterr()
    _no_training(monkeypatch)
    rebuilt, _ = get_or_train(cfg, progress=False)
    _same(ref, rebuilt.state_dict())
    (warning,) = _warnings(capsys.readouterr().err)
    assert f"rebuilt it from model_best.pt (epoch {best})" in warning


def test_truncated_model_pt_and_checkpoint_retrain_from_scratch(runs_dir, capsys):
    cfg = tiny()
    model, run = get_or_train(cfg, progress=False)
    ref = _state(model)
    _truncate(run.path / "model.pt")
    _truncate(run.path / "checkpoint.pt")
    capsys.readouterr()
    retrained, run2 = get_or_train(cfg, progress=False)
    _same(ref, retrained.state_dict())  # from scratch gives the same weights
    w_model, w_ckpt = _warnings(capsys.readouterr().err)
    assert "model.pt" in w_model and "moved aside to model.pt.corrupt" in w_model
    assert "checkpoint.pt" in w_ckpt and "checkpoint.pt.corrupt" in w_ckpt and "from scratch" in w_ckpt
    assert run2.done and list(run2.log["epoch"]) == [1, 2]
    assert (run.path / "model.pt.corrupt").exists() and (run.path / "checkpoint.pt.corrupt").exists()


def test_truncated_checkpoint_mid_run_restarts_from_scratch(runs_dir, monkeypatch, capsys):
    cfg = tiny()
    reference, _ = get_or_train(cfg, progress=False)
    ref = _state(reference)
    monkeypatch.setenv("ADVDIST_RUNS", str(runs_dir / "second"))
    real_log = train_loop._write_log

    def killed_after_epoch_1(*a, **k):
        real_log(*a, **k)
        raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(train_loop, "_write_log", killed_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        get_or_train(cfg, progress=False)
    monkeypatch.setattr(train_loop, "_write_log", real_log)
    (run_path,) = (runs_dir / "second").iterdir()
    assert torch.load(run_path / "checkpoint.pt", weights_only=False)["epoch"] == 1
    _truncate(run_path / "checkpoint.pt")
    capsys.readouterr()
    model, run = get_or_train(cfg, progress=False)
    (warning,) = _warnings(capsys.readouterr().err)
    assert str(run_path / "checkpoint.pt") in warning and "unreadable" in warning
    assert "moved checkpoint.pt aside to checkpoint.pt.corrupt" in warning and "from scratch" in warning
    assert run.done and list(run.log["epoch"]) == [1, 2] and (run_path / "checkpoint.pt.corrupt").exists()
    _same(ref, model.state_dict())


def test_allow_train_false_with_a_corrupt_model_pt_is_a_one_line_error(runs_dir, monkeypatch):
    cfg = tiny()
    _, run = get_or_train(cfg, progress=False)
    _truncate(run.path / "model.pt")
    (run.path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _no_training(monkeypatch)
    with pytest.raises(UnreadableRunFile) as exc:
        get_or_train(cfg, progress=False, allow_train=False)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"{run.path / 'model.pt'}: unreadable (")
    assert "training is disabled" in msg and "run: python -m advdist.train --method standard --dataset digits" in msg
    assert (run.path / "model.pt").exists() and not (run.path / "model.pt.corrupt").exists()  # left as it was
    monkeypatch.setenv("ADVDIST_ALLOW_TRAIN", "0")
    with pytest.raises(UnreadableRunFile, match="training is disabled"):
        get_or_train(cfg, progress=False)


def test_allow_train_false_still_rebuilds_from_a_readable_checkpoint(runs_dir, monkeypatch, capsys):
    cfg = tiny()
    model, run = get_or_train(cfg, progress=False)
    (run.path / "model.pt").write_bytes(b"")
    _no_training(monkeypatch)
    rebuilt, _ = get_or_train(cfg, progress=False, allow_train=False)
    _same(_state(model), rebuilt.state_dict())
    assert len(_warnings(capsys.readouterr().err)) == 1


def test_unreadable_meta_json_counts_as_unfinished_and_is_rewritten(runs_dir, capsys):
    cfg = tiny()
    model, run = get_or_train(cfg, progress=False)
    (run.path / "meta.json").write_text('{"status": "do')
    assert run.meta == {} and not run.done
    again, run2 = get_or_train(cfg, progress=False)  # resumes at the final checkpoint: no epoch is trained again
    _same(_state(model), again.state_dict())
    assert run2.done and run2.meta["final"]["epoch"] == 2
