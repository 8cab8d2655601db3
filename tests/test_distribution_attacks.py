"""ADT's learned distributions as attacks (ADT Sec. 5.3 Table 4, App. D.3 Fig. 6): advdist.distribution_attacks."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from advdist import data, distribution_attacks as da, evaluate, methods, models
from advdist.samplers import fit_explicit

pytestmark = pytest.mark.usefixtures("one_thread")

EPS = 0.2
SMALL = {"adt_expam": {"width": 4}, "adt_impam": {"width": 4, "q_width": 4}}


@pytest.fixture(scope="module")
def digits():
    s = data.load("digits")
    idx = torch.as_tensor(data.stratified_indices(s.y_test.numpy(), 60, 0, 2))
    return s, s.x_test[idx], s.y_test[idx]


@pytest.fixture(scope="module")
def mlp(digits):
    """A standard MLP on digits (~95 % clean test accuracy), trained here with plain SGD."""
    s = digits[0]
    torch.manual_seed(0)
    model = models.build("mlp", 10, 1, hidden=(32,), input_shape=(1, 8, 8))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(30):
        for i in range(0, len(s.y_train), 64):
            loss = F.cross_entropy(model(s.x_train[i:i + 64]), s.y_train[i:i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.zero_grad(set_to_none=True)
    return model.eval()


def _acc(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


# ------------------------------------------------------------------------------------------------ worst_of
class _Fixed(torch.nn.Module):
    """A 'model' whose logits are the first 3 inputs: the prediction is read off the sample itself."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.flatten(1)[:, :3] + 0 * self.w


def test_worst_of_all_samples_rule_and_first_misclassified():
    y = torch.tensor([0, 0, 0])
    # three draws for three examples; logits = the sample's 3 values
    draws = [torch.tensor([[5., 0, 0], [5., 0, 0], [5., 0, 0]]),   # all correct, CE small
             torch.tensor([[1., 0, 0], [0., 4, 0], [5., 0, 0]]),   # ex0 correct (higher CE), ex1 wrong
             torch.tensor([[3., 0, 0], [0., 0, 9], [5., 0, 0]])]   # ex1 wrong again (must not replace)
    it = iter(draws)
    out = da.worst_of(_Fixed(), torch.zeros(3, 3), y, lambda: next(it), 3)
    torch.testing.assert_close(out[0], draws[1][0])  # all correct -> highest CE
    torch.testing.assert_close(out[1], draws[1][1])  # the first misclassified draw
    torch.testing.assert_close(out[2], draws[0][2])  # ties keep the first
    pred = out.argmax(1)
    assert pred.tolist() == [0, 1, 0]  # correct exactly when all draws were correct
    with pytest.raises(ValueError):
        da.worst_of(_Fixed(), torch.zeros(3, 3), y, lambda: torch.zeros(3, 3), 0)


# ------------------------------------------------------------------------------------------------ generator attacks
@pytest.mark.parametrize("method", ["adt_expam", "adt_impam"])
def test_generator_attack_frozen_classifier_ball_and_learning(digits, mlp, method):
    _, x, y = digits
    before = [p.detach().clone() for p in mlp.parameters()]
    mlp.train()
    torch.manual_seed(0)
    m, log = da.train_generator_attack(mlp, x, y, method=method, dataset="digits", eps=EPS, epochs=25,
                                       batch_size=32, method_kwargs=SMALL[method])
    # the classifier is untouched: no step, no gradients left, mode restored
    assert mlp.training
    mlp.eval()
    for p, q in zip(mlp.parameters(), before):
        assert p.grad is None and torch.equal(p, q) and p.requires_grad
    assert list(log["epoch"]) == list(range(1, 26))
    # the generator ascends the classification loss: its samples get harder over training
    assert log["loss"].iloc[-5:].mean() > log["loss"].iloc[:3].mean() + 0.2
    assert log["adv_acc"].iloc[-5:].mean() < log["adv_acc"].iloc[:3].mean()
    torch.manual_seed(1)
    x_adv = da.generator_attack(mlp, x, y, eps=EPS, method=method, dataset="digits", epochs=25, batch_size=32,
                                n_samples=10, method_kwargs=SMALL[method])
    assert x_adv.shape == x.shape
    assert (x_adv - x).abs().max() <= EPS + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() > 0.5 * EPS
    torch.manual_seed(1)
    x_untrained = da.generator_attack(mlp, x, y, eps=EPS, method=method, dataset="digits", epochs=0,
                                      batch_size=32, n_samples=10, method_kwargs=SMALL[method])
    assert _acc(mlp, x_adv, y) < _acc(mlp, x_untrained, y) <= _acc(mlp, x, y) + 1e-9


def test_expam_draw_shortcut_equals_method_sample(digits, mlp):
    """EXP-AM samples are drawn from one generator pass; that must equal the method's own sample()."""
    _, x, y = digits
    torch.manual_seed(0)
    m = da.attack_method(mlp, method="adt_expam", dataset="digits", eps=EPS, method_kwargs=SMALL["adt_expam"])
    inp = m.inputs(mlp, x, y)
    with torch.no_grad():
        draw = da.draw_sampler(m, x, inp)
        torch.manual_seed(5)
        a = draw()
        torch.manual_seed(5)
        b = m.sample(x, inp)[0]
        torch.manual_seed(6)
        c = draw()
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_more_samples_never_increase_accuracy(digits, mlp):
    """All-samples rule: with the same trained generator, n draws are at least as strong as their first one."""
    _, x, y = digits
    torch.manual_seed(0)
    m, _ = da.train_generator_attack(mlp, x, y, method="adt_impam", dataset="digits", eps=EPS, epochs=3,
                                     batch_size=60, method_kwargs=SMALL["adt_impam"])
    inp = m.inputs(mlp, x, y)
    torch.manual_seed(3)
    one = da.worst_of(mlp, x, y, da.draw_sampler(m, x, inp), 1)
    torch.manual_seed(3)
    many = da.worst_of(mlp, x, y, da.draw_sampler(m, x, inp), 20)
    with torch.no_grad():
        ok_one, ok_many = mlp(one).argmax(1) == y, mlp(many).argmax(1) == y
    assert not (ok_many & ~ok_one).any() and ok_many.sum() <= ok_one.sum()


def test_attack_method_rejects_other_methods(mlp):
    with pytest.raises(ValueError, match="valid: adt_expam, adt_impam"):
        da.attack_method(mlp, method="at_pgd", dataset="digits", eps=EPS)


# ------------------------------------------------------------------------------------------------ settings
def test_attack_settings_follow_the_paper():
    exp = da.attack_setting("EXP", scale="paper", dataset="cifar10")
    assert exp.resolve() is da.explicit_attack
    assert (exp.kwargs["steps"], exp.kwargs["k"], exp.kwargs["n_samples"]) == (20, 10, 100)
    assert exp.kwargs["lr"] == 0.3 and tuple(exp.kwargs["betas"]) == (0.0, 0.0)
    assert exp.eps == pytest.approx(8 / 255)
    # the authors' per-coordinate mean with cumulative gradients = ADT_EXP's training defaults (one convention)
    from advdist.methods.adt_exp import ADTExp
    assert exp.kwargs["lam"] == 0.01
    assert {k: exp.kwargs[k] for k in ("entropy", "cumulative_grad")} == \
        {k: ADTExp.defaults[k] for k in ("entropy", "cumulative_grad")} == {"entropy": "mean", "cumulative_grad": True}
    literal = da.attack_setting(da.EXP_LITERAL, scale="paper").kwargs
    assert literal == {**exp.kwargs, "entropy": "sum", "cumulative_grad": False}
    pgd = da.attack_setting("PGD-20", scale="paper", dataset="cifar10")
    assert pgd.fn == "pgd" and pgd.kwargs["steps"] == 20
    gen = da.attack_setting("IMP-AM", scale="mini")
    assert gen.resolve() is da.generator_attack and gen.kwargs["method"] == "adt_impam"
    assert gen.dataset == "fashion_mnist" and gen.eps == pytest.approx(0.1)
    from advdist import config
    from advdist.methods.adt_impam import ADT_IMPAM_OFFICIAL
    mk = gen.kwargs["method_kwargs"]
    assert "code_layout" not in mk and mk["hinge"] == ADT_IMPAM_OFFICIAL["hinge"] and mk["lam"] == 1.0
    assert mk.get("input_grad", "example") == "example"  # the scale's generator inputs
    assert mk["width"] == 8  # the mini attack generator
    smoke = da.attack_setting("EXP-AM", scale="smoke").kwargs["method_kwargs"]
    train_kw = config.resolve("smoke", da.SETTING, method="adt_expam").method_kwargs
    assert smoke == {**train_kw, **da.attack_objective("adt_expam")} and smoke["entropy"] == "mean"
    methods.build("adt_impam", config.resolve("mini", da.SETTING, method="adt_impam", method_kwargs=mk),
                  models.build("mini-cnn", 10, 1))  # the options are valid
    assert da.attack_setting("EXP-AM", scale="paper").kwargs["batch_size"] == 64  # the official attack scripts
    with pytest.raises(ValueError, match="valid: PGD-20, EXP, EXP-AM, IMP-AM, EXP \\(literal Eq. 11\\)"):
        da.attack_setting("FGSM", scale="mini")


def test_missing_generator_methods_drop_their_columns_and_rows(monkeypatch):
    monkeypatch.setattr(methods, "names", lambda: ["at_pgd", "standard"])
    assert da.available_columns() == (["PGD-20", "EXP", da.EXP_LITERAL], ["EXP-AM", "IMP-AM"])
    assert da._split_rows(None, da.ROWS, "x") == (["standard", "at_pgd"], ["adt_exp", "adt_expam", "adt_impam"])
    with pytest.raises(ValueError, match="unknown"):
        da.available_columns(["MIM"])


def test_distribution_attack_in_the_robustness_matrix(digits, mlp):
    """The EXP setting runs through the common evaluator; its column = the direct call with the same seed."""
    _, x, y = digits
    spec = da.attack_setting("EXP", scale="smoke", dataset="digits")
    rm = evaluate.robustness_matrix(mlp, (x, y), [spec], batch_size=len(y), seed=3, progress=False,
                                    scale="smoke", dataset="digits")
    with torch.random.fork_rng():
        torch.manual_seed(evaluate._chunk_seed(3, evaluate._spec_key(spec, 3), 0))
        x_adv = spec(mlp, x, y)
    with torch.no_grad():
        direct = (mlp(x_adv).argmax(1) == y).tolist()
    assert rm.correct["EXP"].astype(bool).tolist() == direct
    assert rm.accuracy()["EXP"] < rm.a_nat


# ------------------------------------------------------------------------------------------------ Table 4 loop
def test_evaluate_table4_smoke(runs_dir):
    ours, skipped, mats, info = da.evaluate_table4(scale="smoke", rows=["standard"], n_eval=30, progress=False)
    assert list(ours.columns) == ["model", "A_nat", "PGD-20", "EXP", "EXP-AM", "IMP-AM", da.EXP_LITERAL, "n"]
    assert ours["model"].tolist() == ["standard"] and ours["n"].tolist() == [30]
    assert skipped == {"rows": [], "columns": []}
    assert info["dataset"] == "digits" and info["paper_dataset"] == "cifar10"
    rm = mats["standard"]
    assert rm.attacks == list(da.COLUMNS) and len(rm.correct) == 30
    again, *_ = da.evaluate_table4(scale="smoke", rows=["standard"], n_eval=30, progress=False)  # cached
    pd.testing.assert_frame_equal(ours, again)
    table = da.with_paper(ours, info)
    assert list(table.columns[:4]) == ["model", "A_nat", "PGD-20", "PGD-20 (paper)"]
    assert "EXP (paper)" in table.columns and not any(c.endswith("Δ") for c in table.columns)
    assert table.loc[0, "IMP-AM (paper)"] == pytest.approx(9.83)
    with pytest.raises(ValueError, match="valid"):
        da.evaluate_table4(scale="smoke", rows=["atld"])


def test_compare_columns_verdicts():
    df = pd.DataFrame({"model": ["a", "b", "c"], "PGD-20": [50.0, 50.0, 50.0], "EXP": [48.0, 50.5, 53.0]})
    got = da.compare_columns(df, "EXP", "PGD-20", tol=1.0)
    assert [g.split(" is ")[1].split(" PGD")[0] for g in got] == ["stronger than", "comparable to", "weaker than"]


# ------------------------------------------------------------------------------------------------ Fig. 6
def test_exp_convergence_weights_batches_by_size(digits, mlp):
    _, x, y = digits
    x, y = x[:7], y[:7]
    torch.manual_seed(0)
    got = da.exp_convergence(mlp, x, y, eps=EPS, steps=3, k=4, batch_size=5)
    torch.manual_seed(0)
    t1 = pd.DataFrame(fit_explicit(mlp, x[:5], y[:5], eps=EPS, steps=3, k=4, record=True).trace)
    t2 = pd.DataFrame(fit_explicit(mlp, x[5:], y[5:], eps=EPS, steps=3, k=4, record=True).trace)
    assert got["step"].tolist() == [0, 1, 2, 3]
    for c in ("loss", "acc", "acc_all", "entropy"):
        want = (5 * t1[c] + 2 * t2[c]) / 7
        assert got[c].to_numpy() == pytest.approx(want.to_numpy())


def test_exp_convergence_attack_gets_stronger(digits, mlp):
    _, x, y = digits
    torch.manual_seed(0)
    cur = da.exp_convergence(mlp, x, y, eps=EPS, steps=15, k=5)
    assert len(cur) == 16
    assert cur["loss"].iloc[-1] > cur["loss"].iloc[0] + 0.5
    assert cur["acc"].iloc[-1] < cur["acc"].iloc[0] - 0.2
    assert (cur["acc_all"] <= cur["acc"] + 1e-12).all()  # all k samples correct implies the mean is high


def test_converged_by_and_summary():
    steps = list(range(6))
    curves = pd.DataFrame({"model": ["m"] * 6, "step": steps, "loss": [0.0] * 6, "acc_all": [0.5] * 6,
                           "acc": [0.9, 0.7, 0.52, 0.505, 0.50, 0.50], "entropy": [0.0] * 6})
    assert da.converged_by(curves, tol=1.0) == {"m": 3}
    assert da.converged_by(curves, tol=3.0) == {"m": 2}
    s = da.convergence_summary(curves, at=(0, 2, 100))
    assert s["step"].tolist() == [0, 2] and s["acc"].tolist() == pytest.approx([90.0, 52.0])
