"""ADT tables and figures machinery: table rows and their configs, the SVHN ε, early stopping (Rice et al.),
L2L, the transfer matrix, the λ sweep and training times."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advdist import config, data, evaluate, experiments, methods, store
from advdist.config import resolve

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = dict(epochs=1, milestones=(), n_train=300, n_test=100)


# ----------------------------------------------------------------------------------------- table definitions
def test_every_table_row_resolves_at_every_scale_and_labels_match_the_paper_csv():
    from advdist import report

    for key, spec in experiments.TABLES.items():
        if spec.paper != "adt":
            continue
        paper = report.paper_table(spec.paper_csv)
        for r in spec.rows:
            assert r.label in set(paper["model"]), (key, r.label)
            for scale in config.SCALES:
                cfg = spec.config(r, scale)
                assert cfg.method == r.method
                for k, v in r.method_kwargs.items():
                    assert cfg.method_kwargs[k] == v
        # every attack column of the paper CSV that we run is a valid setting name
        assert set(spec.attacks) - set(paper.columns) <= {"C&W", "FeaAttack"}, key


def test_paper_settings_of_the_extra_adt_tables():
    t5 = experiments.table("adt-table5").config("trades β=1", "paper")
    assert (t5.model, t5.eps, t5.batch_size, t5.method_kwargs["beta"]) == ("wrn-34-10", 0.031, 128, 1.0)
    t6 = experiments.table("adt-table6").config("at_pgd", "paper")
    assert (t6.model, t6.epochs, t6.milestones, t6.weight_decay, t6.early_stop) == \
        ("wrn-34-10", 200, (100, 150), 5e-4, "pgd-10")
    assert t6.method_kwargs["steps"] == 10
    madry = experiments.table("adt-table1").config("at_pgd_madry", "paper")
    assert (madry.epochs, madry.milestones, madry.batch_size) == (205, (103, 154), 128)
    svhn = experiments.table("adt-table2-svhn").config("at_pgd", "paper")
    assert svhn.eps == pytest.approx(4 / 255) and svhn.dataset == "svhn"
    # mini halves the budget for SVHN as the paper does, and the table attacks with that budget
    assert experiments.table("adt-table2-svhn").config("at_pgd", "mini").eps == 0.05
    assert experiments.table("adt-table2-svhn").eps_from_config
    # the mini CIFAR-100 stand-in is exactly Table 1's config: same run, no retraining
    a = experiments.table("adt-table2-cifar100").config("adt_exp", "mini")
    b = experiments.table("adt-table1").config("adt_exp", "mini")
    assert a.hash() == b.hash()


def test_literal_rows_carry_the_summed_form_and_the_default_rows_say_their_normalisation():
    from advdist.methods.adt_exp import ADTExp
    from advdist.methods.adt_expam import ADTExpAM
    from advdist.methods.adt_impam import ADTImpAM

    spec = experiments.table("adt-table1")
    labels = [r.label for r in spec.rows]
    assert "adt_exp (literal Eq. 11)" not in labels  # optional: not run by default
    exp = spec.config("adt_exp (literal Eq. 11)", "smoke")
    assert exp.method_kwargs["entropy"] == "sum" and exp.method_kwargs["cumulative_grad"] is False
    assert spec.config("adt_expam (literal Eq. 11)", "smoke").method_kwargs["entropy"] == "sum"
    imp = spec.config("adt_impam (literal Eq. A.3)", "smoke").method_kwargs
    assert imp["hinge"] is None and imp["lam"] == 0.01 and imp["logq"] == "sum" and imp["q_param"] == "std"
    # the default rows train with the methods' defaults = the official code's normalisation, and say so
    assert ADTExp.defaults["entropy"] == "mean" and ADTExp.defaults["cumulative_grad"] is True
    assert ADTExpAM.defaults["entropy"] == "mean"
    assert (ADTImpAM.defaults["lam"], ADTImpAM.defaults["hinge"], ADTImpAM.defaults["logq"]) == (1.0, 0.9, "mean")
    for m in ("adt_exp", "adt_expam", "adt_impam"):
        assert "entropy" not in spec.config(m, "smoke").method_kwargs
        assert spec.row(m).note.startswith("default (official code)")
        assert [r for r in spec.all_rows if r.method == m and r.note.startswith("literal Eq.")]
    with pytest.raises(ValueError, match="unknown row"):
        spec.row("adt_exp (code)")


def test_early_stop_field_keeps_old_run_keys():
    cfg = resolve("smoke", "adt-cifar10", method="standard")
    assert "early_stop" not in cfg.hashable()  # default: hash identical to configs written before the field
    es = cfg.replace(early_stop="pgd-10")
    assert es.hashable()["early_stop"] == "pgd-10" and es.hash() != cfg.hash()
    with pytest.raises(config.ConfigError, match="early_stop"):
        cfg.replace(early_stop="pgd-20")


# ----------------------------------------------------------------------------------------- early stopping
def test_early_stopping_keeps_the_epoch_with_best_pgd10_accuracy(runs_dir):
    cfg = resolve("smoke", "rice-cifar10", method="at_pgd", epochs=3, milestones=(2,), n_train=400, n_test=150)
    splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test)
    model, run = store.get_or_train(cfg, progress=False, splits=splits)
    log = run.log
    assert "test_rob_acc" in log and len(log) == 3
    best = int(log["test_rob_acc"].idxmax()) + 1  # first epoch reaching the maximum
    assert run.meta["best_epoch"] == best
    kept = torch.load(run.path / "model_best.pt", weights_only=True)
    assert kept["epoch"] == best
    for k, v in model.state_dict().items():
        assert torch.equal(v.cpu(), kept["model"][k].cpu()), k
    # the criterion is reproducible: recomputing it on the kept model gives the logged value
    from advdist.train import early_stop_accuracy

    again = early_stop_accuracy(cfg, model, splits, torch.device("cpu"))
    assert again == pytest.approx(float(log["test_rob_acc"].iloc[best - 1]))


# ----------------------------------------------------------------------------------------- L2L
def _l2l(eps=0.1, **kw):
    cfg = resolve("smoke", "adt-cifar10", method="l2l", eps=eps, method_kwargs={"width": 4, **kw})
    torch.manual_seed(0)
    model = __import__("advdist.train", fromlist=["build_model"]).build_model(cfg)
    return cfg, model, methods.build("l2l", cfg, model)


def test_l2l_perturbation_stays_in_the_ball_and_is_deterministic():
    cfg, model, m = _l2l()
    splits = data.load("digits")
    x, y = splits.x_train[:32], splits.y_train[:32]
    m.generator.head.weight.data.mul_(300)
    model.eval()
    a, b = m.perturb(model, x, y), m.perturb(model, x, y)
    assert ((a - x).abs().max() <= cfg.eps + 1e-6) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)  # a point, not a distribution (contrast with ADT_EXP-AM)
    xg = m.inputs(model, x, y)
    assert xg.shape[1] == 3 and torch.equal(m.inputs(model, x, y), xg)
    _, _, m2 = _l2l(inputs="x_grad")
    assert (m2.inputs(model, x, y)[:, 2] == 0).all()
    with pytest.raises(ValueError, match="inputs"):
        _l2l(inputs="pixels")


def test_l2l_generator_ascends_and_classifier_descends_in_one_pass():
    cfg, model, m = _l2l(lr_g=1e-2)
    splits = data.load("digits")
    x, y = splits.x_train[:64], splits.y_train[:64]
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # freeze θ: only the generator moves
    def attacked_loss():
        model.eval()
        with torch.no_grad():
            return F.cross_entropy(model(m.perturb(model, x, y)), y).item()
    before = attacked_loss()
    for _ in range(15):
        model.train()
        loss, logs = m.loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert 0 <= logs["delta_linf"] <= 1
    assert attacked_loss() > before + 0.05  # the attacker learned to raise the classifier's loss
    # and the classifier's gradient is the descent direction of the same loss
    model.train()
    loss, _ = m.loss(model, x, y)
    opt.zero_grad()
    loss.backward()
    g = [p.grad.clone() for p in model.parameters()]
    assert sum(v.abs().sum() for v in g) > 0


# ----------------------------------------------------------------------------------------- transfer, λ, time
def test_transfer_matrix_diagonal_is_white_box_and_matches_evaluate(runs_dir):
    rows = ["standard", "at_pgd"]
    df = experiments.transfer_matrix("adt-table1", scale="smoke", rows=rows, attacks=("FGSM",), n_eval=60,
                                     progress=False)
    assert len(df) == 4 and set(df.source) == set(df.target) == set(rows)
    # FGSM without random start is deterministic: the diagonal equals the robustness matrix's FGSM column
    _, _, mats, _ = experiments.evaluate_table("adt-table1", scale="smoke", rows=rows, n_eval=60, progress=False)
    for r in rows:
        white = df[(df.source == r) & (df.target == r)]["acc"].item()
        assert white == pytest.approx(100 * mats[r].accuracy()["FGSM"])
    # transfer from the standard model hurts the adversarially trained one less than its own white-box attack
    std_to_at = df[(df.source == "standard") & (df.target == "at_pgd")]["acc"].item()
    at_white = df[(df.source == "at_pgd") & (df.target == "at_pgd")]["acc"].item()
    assert std_to_at >= at_white
    lines = experiments.transfer_summary(df)
    assert len(lines) == 2 and all("white-box" in s for s in lines)


def test_run_table_keeps_each_seeds_per_example_results_and_its_first_seed_is_evaluate_table(runs_dir, monkeypatch):
    """The runner behind every table: one trained model and one robustness matrix per (seed, row); seed 0 gives
    exactly ``evaluate_table``'s table; another seed is another run (trained with that seed) on the same examples."""
    from advdist.experiments import core

    monkeypatch.setitem(config.SCALE_OVERRIDES["smoke"], "atent-mnist-linf", dict(FAST))
    res = core.run_table("atent-table2", scale="smoke", seeds=(0, 1), n=40, rows=["standard", "mma"],
                         attacks=["PGD-20"], progress=False)
    assert res.seeds == (0, 1) and res.missing == ["mma"] and set(res.matrices) == {0, 1}
    m0, m1 = res.matrices[0]["standard"], res.matrices[1]["standard"]
    assert list(m0.correct.columns) == ["clean", "PGD-20"] and len(m0.correct) == len(m1.correct) == 40
    t0, t1 = res.trained[0]["standard"], res.trained[1]["standard"]
    assert t0.model is None and t0.cfg.seed == 0 and t1.cfg.seed == 1 and t0.run.key != t1.run.key
    assert torch.equal(t0.x, t1.x) and torch.equal(t0.y, t1.y)
    ours, missing, mats, info = experiments.evaluate_table("atent-table2", scale="smoke", n_eval=40,
                                                           rows=["standard", "mma"], progress=False)
    assert missing == ["mma"] and info == res.info
    cols = ["model", "A_nat", "PGD-20", "n"]  # A_rob differs: evaluate_table also runs C&W
    assert ours[cols].equals(res.accuracy(0)[cols])
    assert res.correct(0)["standard"].equals(mats["standard"].correct[["clean", "PGD-20"]])
    with pytest.raises(ValueError, match="unknown transfer rng"):
        core.transfer_correct({}, {}, (t0.x, t0.y), [], rng="per-example")


def test_lambda_sweep_shares_the_default_run_and_reports_entropy(runs_dir, monkeypatch):
    # tiny and fast: two λ values, one epoch, the scale's width-8 generator
    monkeypatch.setitem(config.SCALE_OVERRIDES["smoke"], "adt-cifar10", dict(FAST))
    df = experiments.lambda_sweep((0.0, 0.01), scale="smoke", attacks=("FGSM",), n_eval=40, progress=False)
    assert list(df["form"]) == ["mean", "mean", "sum", "sum"] and list(df["lam"]) == [0.0, 0.01] * 2
    assert df["entropy"].notna().all() and (df["sigma"] > 0).all()
    assert {"A_nat", "FGSM", "A_rob"} <= set(df.columns)
    # λ = 0 does not depend on the form: one run, the same row in both curves; λ = 0.01 differs by form
    num = ["A_nat", "FGSM", "A_rob", "entropy", "sigma"]
    assert df.loc[0, num].tolist() == df.loc[2, num].tolist()
    assert df.loc[3, "entropy"] > df.loc[1, "entropy"]  # the summed form weighs the entropy d = 64 times more
    with pytest.raises(ValueError, match="unknown lambda_sweep form 'code' \\('code' is now called 'mean'\\)"):
        experiments.lambda_sweep((0.0,), scale="smoke", forms=("code",))
    # λ = 0.01 (the paper's default) is Table 1's run: the sweep trains nothing new for it
    cfg = experiments.table("adt-table1").config("adt_expam", "smoke")
    splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test)
    assert store.run_for(cfg, splits.fingerprint).done
    curves = experiments.learning_curves("adt-table1", scale="smoke", rows=["adt_expam", "standard"])
    assert curves["model"].tolist() == ["adt_expam"] and curves["epoch"].tolist() == [1]  # standard: not trained
    assert 0 <= curves["test_acc"].item() <= 100 and 0 <= curves["train_adv_acc"].item() <= 100
    from advdist import plots
    from advdist.samplers import max_entropy

    fig = plots.lambda_sweep(df, ("FGSM",), h_max=max_entropy(0.1)[0])
    acc_ax, ent_ax = fig.axes
    assert len(acc_ax.lines) == 2 * 3 and len(ent_ax.lines) == 2 + 1  # (A_nat, FGSM, A_rob) x 2 forms; 2 + max line
    assert [ln.get_linestyle() for ln in ent_ax.lines[:2]] == ["-", "--"]
    assert len(plots.learning_curves(curves).axes[0].lines) == 1
    times = experiments.train_times("adt-table1", scale="smoke", rows=["adt_expam", "standard"])
    assert list(times["model"]) == ["adt_expam"]  # standard was never trained in this store: left out
    assert (times["s/epoch"] > 0).all() and (times["img/s"] > 0).all()


def test_eps_override_reaches_the_attacks():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x, y = torch.rand(20, 1, 8, 8), torch.randint(0, 10, (20,))
    rm = evaluate.robustness_matrix(model, (x, y), ["FGSM"], scale="smoke", dataset="digits", eps=0.0,
                                    progress=False)
    # ε = 0: FGSM cannot change any prediction
    assert rm.accuracy()["FGSM"] == pytest.approx(rm.accuracy()["A_nat"])


def test_count_columns_print_as_integers_beside_cited_rows(tmp_path):
    """A table whose cited paper rows have no ``n`` keeps ``n`` an integer in the csv, md and tex it writes."""
    import pandas as pd

    from advdist import report

    df = pd.DataFrame({"model": ["ours", "cited"], "A_rob": [55.0, float("nan")], "n": [200.0, float("nan")]})
    md = report.to_markdown(df)
    assert "| ours | 55.00 | 200 |" in md and "| cited | – | – |" in md
    paths = report.write_table(df, tmp_path / "t", title="T", note="N")
    csv, tex = paths[0].read_text(), paths[2].read_text()
    assert "ours,55.00,200\n" in csv and "cited,,\n" in csv
    assert "200 \\\\" in tex and "200.00" not in tex
    frac = pd.DataFrame({"n": [0.5, float("nan")]})  # not a count: left as it is
    assert report.counts_as_int(frac)["n"].dtype == float


def test_atent_mnist_tables_run_on_real_mnist_at_mini_and_show_a_delta_only_with_the_papers_net():
    """ATENT Tables 1-2 at mini: real MNIST at the paper's ε with the paper's attacks; the mini-cnn stands in for the
    paper's nets (no Δ: the setting is not the paper's); with the paper's net (``overrides``) ours − paper is shown and
    the header lists what differs; a substitute dataset never gets a Δ."""
    import pandas as pd

    from advdist import report
    from advdist.attacks import settings as attack_settings

    for key, paper_model, eps in (("atent-table1", "lenet5-madry", 2.0), ("atent-table2", "smallcnn", 0.3)):
        spec = experiments.table(key)
        for r in spec.rows:
            if r.method not in methods.names():
                continue  # MMA: cited only
            cfg = spec.config(r, "mini")
            assert (cfg.dataset, cfg.model, cfg.eps) == ("mnist", "mini-cnn", eps), (key, r.label)
            assert spec.config(r, "mini", model=paper_model).model == paper_model
        for a in spec.attacks:
            mini = attack_settings.get(a, scale="mini", paper="atent", dataset="mnist")
            assert mini.kwargs == attack_settings.get(a, scale="paper", paper="atent", dataset="mnist").kwargs
    info = {"scale": "mini", "dataset": "mnist", "paper_dataset": "mnist", "model": "mini-cnn", "eps": 2.0,
            "paper_model": "lenet5-madry", "paper_eps": 2.0, "n_train": 10000, "epochs": 5, "paper_epochs": 50,
            "attacks": ["L2-PGD-40", "CW-L2"], "paper": "atent"}
    ours = pd.DataFrame([{"model": "atent_l2", "A_nat": 98.0, "L2-PGD-40": 70.0, "CW-L2": 60.0, "A_rob": 55.0, "n": 5}])
    assert not experiments.comparable(info)
    assert not any(c.endswith("Δ") for c in experiments.with_paper("atent-table1", ours, info).columns)
    other = report.header(scale="mini", dataset="mnist", paper_dataset="mnist",
                          differences=experiments.differences(info))
    assert other.startswith("ours ran on mnist (mini scale), the paper's dataset but not its setting (model mini-cnn "
                            "(paper: lenet5-madry); training on 10000 images") and "no Δ" in other
    info["model"] = "lenet5-madry"
    assert experiments.comparable(info)
    diff = experiments.differences(info)
    assert diff == "training on 10000 images for 5 epochs (paper: all, 50 epochs)"  # the attacks are the paper's
    t = experiments.with_paper("atent-table1", ours, info).iloc[0]
    assert t["A_nat Δ"] == pytest.approx(98.0 - 98.66) and t["L2-PGD-40 Δ"] == pytest.approx(70.0 - 77.21)
    note = report.header(scale="mini", dataset="mnist", paper_dataset="mnist", comparable=True, differences=diff)
    assert note.startswith("ours ran on mnist (mini scale) with the paper's dataset, model and ε") and diff in note
    for change in ({"dataset": "fashion_mnist"}, {"eps": 1.5}):
        assert not experiments.comparable({**info, **change}), change
    sub = report.header(scale="mini", dataset="fashion_mnist", paper_dataset="mnist", comparable=True)
    assert "a substitute for the paper's mnist" in sub  # a substitute dataset never claims comparability
