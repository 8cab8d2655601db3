"""Robustness matrix: A_rob is the per-example AND (ADT Eq. 12); cascade gives the same A_rob; caching."""

from __future__ import annotations

import pytest
import torch

import advdist.attacks.gradient as gradient
from advdist import attacks, evaluate
from advdist.attacks.settings import AttackSpec
from advdist.config import resolve
from advdist.store import get_or_train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    old = os.environ.get("ADVDIST_RUNS")
    os.environ["ADVDIST_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    from advdist import data

    splits = data.load("digits")
    model, run = get_or_train(resolve("smoke", "adt-cifar10", epochs=3), progress=False, splits=splits)
    yield model, run, splits.x_test[:120], splits.y_test[:120]
    if old is None:
        os.environ.pop("ADVDIST_RUNS")
    else:
        os.environ["ADVDIST_RUNS"] = old


def _specs():
    eps = 0.1
    return [
        AttackSpec("FGSM", "fgsm", {"eps": eps}),
        AttackSpec("PGD-5", "pgd", {"eps": eps, "alpha": eps / 4, "steps": 5, "random_start": False}),
        AttackSpec("PGD-10", "pgd", {"eps": 2 * eps, "alpha": eps / 2, "steps": 10, "random_start": False}),
    ]


def test_a_rob_is_the_and_of_the_attack_columns(trained):
    model, _, x, y = trained
    rm = evaluate.robustness_matrix(model, (x, y), _specs(), progress=False)
    cols = rm.correct[["FGSM", "PGD-5", "PGD-10"]].astype(bool)
    assert rm.a_rob == pytest.approx(cols.all(axis=1).mean())
    acc = rm.accuracy()
    assert acc["A_nat"] >= acc["FGSM"] and acc["A_nat"] > acc["PGD-10"]
    assert acc["A_rob"] <= min(acc["FGSM"], acc["PGD-5"], acc["PGD-10"])
    # clean column agrees with a direct forward pass
    with torch.no_grad():
        direct = (model(x).argmax(1) == y).float().mean().item()
    assert acc["A_nat"] == pytest.approx(direct)
    # a stronger budget breaks at least as many examples here (PGD-10 at 2ε vs PGD-5 at ε)
    assert acc["PGD-10"] <= acc["PGD-5"]


def test_cascade_gives_the_same_a_rob_and_attacks_fewer_examples(trained, monkeypatch):
    model, _, x, y = trained
    seen = {"n": 0}
    real = gradient.pgd

    def counting_pgd(model, x, y, **kw):
        seen["n"] += len(x)
        return real(model, x, y, **kw)

    monkeypatch.setattr(gradient, "pgd", counting_pgd)  # where the settings look it up
    full = evaluate.robustness_matrix(model, (x, y), _specs(), progress=False)
    n_full, seen["n"] = seen["n"], 0
    casc = evaluate.robustness_matrix(model, (x, y), _specs(), cascade=True, progress=False)
    assert casc.a_rob == full.a_rob
    assert (casc.robust == full.robust).all()
    assert seen["n"] < n_full
    # per-attack columns are NA exactly where cascade skipped an already-broken example
    assert casc.correct["PGD-10"].isna().sum() == (~full.correct[["FGSM", "PGD-5"]].astype(bool).all(axis=1)).sum()


def test_results_are_cached_beside_the_run_and_reused(trained, monkeypatch):
    model, run, x, y = trained
    first = evaluate.robustness_matrix(model, (x, y), _specs(), run=run, progress=False)
    files = sorted(p.name for p in run.results_dir.iterdir())
    assert len(files) == 3 and any(f.startswith("PGD-5-") for f in files)
    monkeypatch.setattr(gradient, "pgd", lambda *a, **k: pytest.fail("attack re-run despite cache"))
    monkeypatch.setattr(gradient, "fgsm", lambda *a, **k: pytest.fail("attack re-run despite cache"))
    again = evaluate.robustness_matrix(model, (x, y), _specs(), run=run, progress=False)
    assert again.correct.equals(first.correct)


def test_named_settings_resolve_and_duplicate_names_are_rejected(trained):
    model, _, x, y = trained
    rm = evaluate.robustness_matrix(model, (x[:20], y[:20]), ["FGSM", "PGD-20"], scale="smoke", dataset="digits",
                                    progress=False)
    assert list(rm.correct.columns) == ["clean", "FGSM", "PGD-20"]
    with pytest.raises(ValueError, match="unique"):
        evaluate.robustness_matrix(model, (x, y), ["FGSM", "FGSM"], scale="smoke", dataset="digits", progress=False)


def test_model_mode_is_restored(trained):
    model, _, x, y = trained
    model.train()
    evaluate.robustness_matrix(model, (x[:10], y[:10]), _specs()[:1], progress=False)
    assert model.training
    model.eval()


def test_setting_names_resolve_through_the_attack_modules_and_the_registry():
    from advdist.attacks import settings
    from advdist.samplers import langevin_attack

    assert AttackSpec("P", "pgd").resolve() is gradient.pgd
    spec = settings.get("ATENT-20", paper="atent", scale="smoke")  # a sampler used as an attack, defined above attacks
    assert spec.fn == "advdist.samplers.langevin:langevin_attack" and spec.resolve() is langevin_attack
    with pytest.raises(ValueError,
                       match="needs advdist.nowhere:attack, which is not registered; import advdist.nowhere"):
        AttackSpec("X", "advdist.nowhere:attack").resolve()
    with pytest.raises(ValueError, match="needs advdist.attacks.no_such_attack, which is not available"):
        AttackSpec("Y", "no_such_attack").resolve()


def test_whole_batch_setting_sees_all_examples_once_and_predictions_stay_chunked(trained):
    """A setting with ``whole_batch`` (a generator attack trained on what it attacks; ATLD's self-seeding IMT
    protocols) is called once with every example; a plain one per chunk; both columns equal a direct evaluation."""
    from dataclasses import dataclass
    from typing import ClassVar

    model, _, x, y = trained
    calls = {"whole": [], "chunked": []}

    def fgsm_logged(kind):
        def fn(m, xb, yb, **kw):
            calls[kind].append(len(yb))
            return attacks.fgsm(m, xb, yb, **kw)
        return fn

    @dataclass(frozen=True, eq=False)
    class Whole(AttackSpec):
        whole_batch: ClassVar[bool] = True

        def resolve(self):
            return fgsm_logged("whole")

    @dataclass(frozen=True, eq=False)
    class Chunked(AttackSpec):
        def resolve(self):
            return fgsm_logged("chunked")

    specs = [Whole("W", "fgsm", {"eps": 0.1}), Chunked("C", "fgsm", {"eps": 0.1})]
    rm = evaluate.robustness_matrix(model, (x, y), specs, batch_size=50, progress=False)
    assert calls == {"whole": [120], "chunked": [50, 50, 20]}
    with torch.no_grad():
        direct = (model(attacks.fgsm(model, x, y, eps=0.1)).argmax(1) == y).tolist()
    assert rm.correct["W"].astype(bool).tolist() == rm.correct["C"].astype(bool).tolist() == direct
    assert evaluate.predict_correct(model, x, y, 7).tolist() == rm.correct["clean"].astype(bool).tolist()


def test_clean_in_rob_counts_an_example_robust_only_if_it_is_also_clean_correct():
    """An example misclassified without attack but classified right under every attack (possible behind a test-time
    defence such as IMT) is robust by Eq. 12 alone, not with ``clean_in_rob``."""
    import pandas as pd

    correct = pd.DataFrame({"clean": [True, False, True], "a": [True, True, False], "b": [True, True, True]},
                           dtype="boolean")
    plain = evaluate.RobustnessMatrix(correct=correct, attacks=["a", "b"], cascade=False)
    strict = evaluate.RobustnessMatrix(correct=correct, attacks=["a", "b"], cascade=False, clean_in_rob=True)
    assert plain.robust.tolist() == [True, True, False] and strict.robust.tolist() == [True, False, False]
    assert strict.accuracy()["A_rob"] == pytest.approx(1 / 3) and plain.accuracy()["A_rob"] == pytest.approx(2 / 3)
    assert strict.accuracy().drop("A_rob").equals(plain.accuracy().drop("A_rob"))
