"""ADT (Dong et al., NeurIPS 2020): the paper's tables and figures — rows, attacks and the runners that fill them.

- Tables 1-3, 5, 6, 11: :data:`ADT_TABLES` (registered in :data:`advdist.experiments.core.TABLES`), filled by
  :func:`advdist.experiments.core.evaluate_table`.
- Table 4 (Sec. 5.3) and Fig. 6 (App. D.3): the learned distributions used as attacks (below).
- Fig. 1 (Sec. 2.2.1) and Fig. 2 (Sec. 5.3): sample diversity, loss surfaces and input-Hessian eigenvalues (below).
- Fig. 4 (Sec. 5.2): :func:`transfer_matrix`; Fig. 5 (Sec. 5.3): :func:`lambda_sweep`; Fig. 7: ``core.train_times``.

Table 4 and Fig. 6.

The attacks (EXP, EXP-AM, IMP-AM; robust = all samples correct) are in :mod:`advdist.attacks.distribution`;
here are their settings per scale (:func:`attack_setting`) and the Table 4 / Fig. 6 runners.

The entropy weight of the attacks. The paper gives no λ for the attacks. The authors' attack scripts (the source
of the Table 4 numbers, adt-official.md §4) use λ = 0.01 on the *per-coordinate mean* entropy for EXP-AM and
λ = 1 with the 0.9 hinge for IMP-AM — the training methods' defaults (the official code's normalisation, issue 14)
— so every attack uses them, with the EXP inner loop exactly as ADT_EXP trains (``entropy="mean"``,
cumulative gradients); the generators' architecture stays the scale's training generator. The extra column
``EXP (literal Eq. 11)`` fits EXP with Eq. (11) as printed (λ = 0.01 on the entropy *summed* over the d
coordinates, plain Adam), which on Fashion-MNIST (d = 784, ε = 0.1) pulls the samples away from the ε-ball's
corners and makes EXP clearly weaker than PGD-20.

Fig. 6 (App. D.3): :func:`~advdist.attacks.distribution.exp_convergence` records the EXP attack's cross-entropy and
accuracy after 0…T iterations (k = 10, lr 0.3, betas (0, 0), T = 100) from :func:`advdist.samplers.fit_explicit`
traces.

Per-scale settings (:data:`EXP`, :data:`GENERATOR`, :data:`CONVERGENCE`, :data:`TABLE4_N`): ``paper`` as above
(the authors' generator attack trains up to 1000 epochs and evaluates every 25 after epoch 400; we train 400
epochs [assumption]); ``mini`` keeps EXP's T, k and 100 samples, and trains a narrow attack generator (width 8,
Adam lr 1e-2 for the generator and q instead of the training generator's width 32, lr 1e-3 / 2e-4: it learns the
attack in ~100 steps; with q at 2e-4 IMP-AM's hinge stays active and the generator never attacks) for 15 epochs
on a 500-image subset — a far shorter generator training than the paper's; ``smoke`` is tiny (CI only).

Fig. 1 and Fig. 2.

Fig. 1 (ADT Sec. 2.2.1): "for each data we generate a set of adversarial examples by PGD with random restarts and
sample another set of adversarial examples from the adversarial distribution learned by ADT_EXP [...] targeted
at a standard trained model", projected by a joint 2-D PCA; the average pairwise ℓ2 distance over 100 CIFAR-10
test images is 1.95 (ADT_EXP) vs 1.56 (PGD). So the attacked model is the *Standard* model and "ADT_EXP" names
the explicit adversarial distribution (ADT Eq. 8) fitted by ADT_EXP's inner maximisation against it, not an
ADT_EXP-trained classifier. The paper states neither the PGD settings, the number of samples, nor whether the
ADT_EXP distribution is fitted with the training inner loop or the EXP attack's longer one (no code exists,
adt-official.md §5). Our choices (assumptions, all arguments): PGD = the paper's PGD-20 (α = ε/4, uniform random
start), each restart's *last* iterate (Madry's PGD; ``use_best=False``); the distribution = ADT_EXP's training
inner loop (T = 7, k = 5, lr 0.3, betas (0, 0), λ = 0.01 on the entropy averaged per coordinate, cumulative
gradients: :class:`ADTExp.defaults`, the official code's normalisation); the same number N of samples per image
for both.

Fig. 2 (ADT Sec. 5.3): loss surfaces on the plane of the sign-gradient and an orthogonal Rademacher direction
for Standard, AT_PGD, ADT_EXP, ADT_EXP-AM and ADT_IMP-AM, panels (a)-(e)
(:func:`advdist.analysis.loss_surface`), and (f) the dominant eigenvalue of the input Hessian of the CE loss,
mean ± std over 1000 test images (:func:`advdist.analysis.top_eigenvalues`, per-example scale; the official
script's numbers are 1/100 of these, adt-official.md §5).
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd
import torch
from torch import nn

from advdist import config, evaluate, methods, scales, store
from advdist.analysis.diversity import (
    error_rate,
    explicit_distribution_samples,
    explicit_fit_defaults,
    pairwise_l2,
    pgd_restart_samples,
)
from advdist.analysis.hessian import top_eigenvalues
from advdist.analysis.landscape import LossSurface, grid_parts, loss_surface, surface_rises
from advdist.attacks import settings as attack_settings
from advdist.attacks.core import check_eps, check_inputs, check_positive
from advdist.attacks.distribution import GENERATOR_METHODS, DistributionAttack, exp_convergence
from advdist.attacks.settings import AttackSpec
from advdist.experiments import core
from advdist.experiments.core import RobustnessTable, Row
from advdist.methods.adt_exp import ADT_EXP_LITERAL
from advdist.methods.adt_expam import ADT_EXPAM_LITERAL
from advdist.methods.adt_impam import ADT_IMPAM_LITERAL
from advdist.samplers import check_entropy, explicit_robust, fit_explicit

# per-scale budgets (defined once in advdist.scales)
#: EXP attack (ADT Sec. 5.3 T = 20, k = 10; App. D.3 lr 0.3, betas (0, 0); λ = 0.01 on the per-coordinate mean
#: entropy with cumulative gradients, as ADT_EXP's training and the authors' code)
_EXP_OBJECTIVE = scales.EXP_OBJECTIVE
EXP: dict[str, dict[str, Any]] = scales.EXP_ATTACK
#: EXP-AM / IMP-AM attacks: epochs over the attacked examples, batch size (authors: 64), samples per example, and
#: per-method generator options on top of the scale's training options and the authors' attack objective
GENERATOR: dict[str, dict[str, Any]] = scales.GENERATOR_ATTACK
#: ADT Fig. 6: EXP iterations 0..steps, k MC samples (App. D.3), n_eval test images [paper: assumption]
CONVERGENCE: dict[str, dict[str, Any]] = scales.EXP_CONVERGENCE
#: test examples attacked in Table 4 per scale (stratified subset; None = the whole test set)
TABLE4_N: dict[str, int | None] = scales.TABLE4_N
#: rows of ADT Fig. 6
FIG6_ROWS = ("at_pgd", "adt_exp")
#: per-scale sizes of the Fig. 1/2 analyses (paper: Fig. 1 text, Sec. 5.3; see advdist.scales.ANALYSIS_SIZES)
SIZES: dict[str, dict[str, int]] = scales.ANALYSIS_SIZES

_ADT_WHITEBOX = ("FGSM", "PGD-20", "PGD-100", "MIM", "C&W", "FeaAttack")
_ADT_MODELS = ("standard", "at_pgd", "adt_exp", "adt_expam", "adt_impam")
#: the ADT rows' normalisation: the defaults (the official code's, the setting behind the paper's numbers)
ADT_DEFAULT_NOTES = {
    "adt_exp": "default (official code): λ = 0.01 on the entropy averaged per coordinate, batch-mean loss, "
               "cumulative inner gradients",
    "adt_expam": "default (official code): λ = 0.01 on the entropy averaged per coordinate, batch-mean loss",
    "adt_impam": "default (official code): λ = 1 on relu(−mean log q − 0.9), log q averaged over z, q a variance",
}
#: the three ADT methods with the paper's equations read literally (λ in per-image units), as optional rows
LITERAL_SUFFIX = " (literal Eq. 11)"
_ADT_LITERAL = (
    Row("adt_exp" + LITERAL_SUFFIX, "adt_exp", method_kwargs=ADT_EXP_LITERAL,
        note="literal Eq. 11: λ = 0.01 on the entropy summed over the d coordinates (per-image units), plain Adam "
             "on each inner step's gradient"),
    Row("adt_expam" + LITERAL_SUFFIX, "adt_expam", method_kwargs=ADT_EXPAM_LITERAL,
        note="literal Eq. 11: λ = 0.01 on the entropy summed over the d coordinates (per-image units)"),
    Row("adt_impam (literal Eq. A.3)", "adt_impam", method_kwargs=ADT_IMPAM_LITERAL,
        note="literal Eq. A.3: λ = 0.01 on log q summed over z's 64 dimensions, no hinge, q a standard deviation"),
)


def _trades_rows(beta: float) -> tuple[Row, ...]:
    b = f"β={beta:g}"
    return (Row(f"trades {b}", "trades", method_kwargs={"beta": beta}),
            Row(f"adt_exp {b}", "adt_exp_trades", method_kwargs={"beta": beta}),
            Row(f"adt_expam {b}", "adt_expam", method_kwargs={"outer": "trades", "beta": beta}),
            Row(f"adt_impam {b}", "adt_impam", method_kwargs={"outer": "trades", "beta": beta}))


ADT_TABLES: dict[str, RobustnessTable] = {
    "adt-table1": RobustnessTable(
        key="adt-table1", title="ADT Table 1: white-box robustness (CIFAR-10, ε = 8/255)", paper="adt",
        setting="adt-cifar10",
        methods=("standard", "at_fgsm",
                 Row("at_pgd_madry", "at_pgd", setting="madry-cifar10",
                     note="AT_PGD†: Madry et al.'s released model in the paper; trained here with Madry's recipe"),
                 "at_pgd", "alp", "feature_scattering",
                 *(Row(m, m, note=ADT_DEFAULT_NOTES[m]) for m in ("adt_exp", "adt_expam", "adt_impam"))),
        attacks=_ADT_WHITEBOX, paper_csv="adt_table1", optional=_ADT_LITERAL,
        # 9 models x 6 attacks (FeaAttack alone ~1000 forward-backward passes per image): 500 images keep the
        # mini table within its 15 min budget on 2 cores
        n_eval=scales.TABLE_N_EVAL["adt-table1"]),
    "adt-table2-cifar100": RobustnessTable(
        key="adt-table2-cifar100", title="ADT Table 2(a) / Table 9: white-box robustness (CIFAR-100, ε = 8/255)",
        paper="adt", setting="adt-cifar100", methods=_ADT_MODELS, attacks=_ADT_WHITEBOX,
        paper_csv="adt_table2_cifar100"),
    "adt-table2-svhn": RobustnessTable(
        key="adt-table2-svhn", title="ADT Table 2(b) / Table 9: white-box robustness (SVHN, ε = 4/255)",
        paper="adt", setting="adt-svhn", methods=_ADT_MODELS, attacks=_ADT_WHITEBOX,
        paper_csv="adt_table2_svhn", eps_from_config=True),
    "adt-table3": RobustnessTable(
        key="adt-table3", title="ADT Table 3: query-based black-box robustness under SPSA (CIFAR-10, ε = 8/255)",
        paper="adt", setting="adt-cifar10", methods=_ADT_MODELS,
        attacks=("SPSA-256", "SPSA-512", "SPSA-1024", "SPSA-2048"), paper_csv="adt_table3",
        n_eval=scales.TABLE_N_EVAL["adt-table3"]),
    "adt-table5": RobustnessTable(
        key="adt-table5", title="ADT Table 5 / Table 10: ADT with the TRADES loss (CIFAR-10, WRN-34-10, ε = 8/255)",
        paper="adt", setting="adt-trades-cifar10", methods=_trades_rows(1.0) + _trades_rows(6.0),
        attacks=_ADT_WHITEBOX, paper_csv="adt_table5"),
    "adt-table6": RobustnessTable(
        key="adt-table6", title="ADT Table 6: against AT_PGD with Rice et al.'s settings (CIFAR-10, WRN-34-10)",
        paper="adt", setting="rice-cifar10",
        methods=(Row("at_pgd", "at_pgd", method_kwargs={"steps": 10}), Row("adt_exp", "adt_exp"),
                 Row("adt_expam", "adt_expam"), Row("adt_impam", "adt_impam")),
        attacks=("PGD-10", "PGD-20", "PGD-100"), paper_csv="adt_table6"),
    "adt-table11": RobustnessTable(
        key="adt-table11", title="ADT Table 11: L2L against the amortised ADT methods (CIFAR-10, ε = 8/255)",
        paper="adt", setting="adt-cifar10", methods=("l2l", "adt_expam", "adt_impam"),
        attacks=_ADT_WHITEBOX, paper_csv="adt_table11"),
}
core.register(*ADT_TABLES.values())


# ------------------------------------------------------------------------------------------------
# Fig. 4 (transfer) and Fig. 5 (λ)
# ------------------------------------------------------------------------------------------------
def transfer_matrix(key: str = "adt-table1", *, scale: str, rows: list[str] | None = None,
                    attacks: tuple[str, ...] = ("PGD-20", "MIM"), n_eval: int | None = None, device: str = "auto",
                    seed: int = 0, progress: bool = True, batch_size: int = 500) -> pd.DataFrame:
    """Transfer-based black-box accuracy (ADT Sec. 5.2, Fig. 4): adversarial examples crafted on each source
    model with each attack, scored on every target model (the diagonal is the white-box accuracy).

    Models are the rows of table ``key`` (default: the implemented ones); all are attacked on the same
    stratified test subset. Returns a long DataFrame: attack, source, target, acc (in %), n.
    """
    spec = core.table(key)
    labels = rows or [r.label for r in spec.rows]
    models = core.trained_rows(key, scale=scale, rows=labels, seed=seed, n_eval=n_eval or spec.n_eval.get(scale),
                               device=device, progress=progress)
    if not models:
        raise ValueError(f"none of the rows {labels} of {key} is implemented")
    first = next(iter(models.values()))
    specs = [attack_settings.get(a, scale=scale, paper=spec.paper, dataset=first.cfg.dataset) for a in attacks]
    nets = {label: t.model for label, t in models.items()}
    correct = core.transfer_correct(nets, nets, (first.x, first.y), specs, seed=seed, batch_size=batch_size,
                                    device=device, rng="chunk")
    n = len(first.y)
    return pd.DataFrame([{"attack": a, "source": src, "target": t, "acc": 100.0 * int(c.sum()) / n, "n": n}
                         for (a, src, t), c in correct.items()])


def transfer_summary(df: pd.DataFrame) -> list[str]:
    """Plain sentences from :func:`transfer_matrix`: per attack and target, the white-box accuracy (diagonal) and
    the lowest accuracy under examples crafted on another model, and whether transfer is the weaker attack."""
    out = []
    for (name, target), g in df.groupby(["attack", "target"], sort=False):
        white = g.loc[g.source == target, "acc"]
        other = g[g.source != target]
        if white.empty or other.empty:
            continue
        worst = other.loc[other["acc"].idxmin()]
        verdict = "weaker" if worst.acc > white.iloc[0] else "not weaker"
        out.append(f"{name} → {target}: white-box {white.iloc[0]:.2f} %, best transfer (from {worst.source}) "
                   f"{worst.acc:.2f} % — transfer is {verdict}")
    return out


#: Fig. 5's two entropy normalisations: the method's default (per-coordinate mean, λ in the paper's units) and Eq. 11
#: as printed (summed over the d coordinates, λ in per-image units)
LAMBDA_FORMS = ("mean", "sum")


def lambda_sweep(lams=(0.0, 0.001, 0.01, 0.1, 1.0), *, scale: str, method: str = "adt_expam",
                 forms: tuple[str, ...] = LAMBDA_FORMS, attacks: tuple[str, ...] = ("FGSM", "PGD-20", "MIM", "C&W"),
                 n_eval: int | None = None, device: str = "auto", seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """The λ ablation of ADT Sec. 5.3 / Fig. 5: ``method`` (ADT_EXP-AM in the paper) trained once per entropy
    weight λ and entropy normalisation in ``forms`` in ADT's CIFAR-10 setting; its accuracy under white-box
    ``attacks``, and the average entropy per coordinate (Eq. 11 with all constants) and σ of its adversarial
    distributions over the last training epoch (the runs' ``entropy`` and ``sigma`` log columns).

    ``"mean"`` (the default normalisation: λ in the paper's units, those of the official code) and ``"sum"`` (Eq. 11
    as printed: λ on the entropy summed over the d coordinates, i.e. d times the weight). λ = 0 does not depend on
    the form: one run, reported in both. The default's λ = 0.01 shares Table 1's run.
    Returns one row per (form, λ): form, lam, A_nat, one column per attack, A_rob (in %), entropy, sigma, n.
    """
    for f in forms:
        check_entropy(f, "lambda_sweep form")
    spec = methods.get(method)
    out, cache = [], {}
    for form in forms:
        for lam in lams:
            kw = {}
            if lam != spec.defaults["lam"]:
                kw["lam"] = float(lam)
            if lam != 0 and form != spec.defaults["entropy"]:
                kw["entropy"] = form
            key = tuple(sorted(kw.items()))
            if key not in cache:
                over = {"method_kwargs": kw} if kw else {}
                t = core.trained(config.resolve(scale, "adt-cifar10", method=method, seed=seed, **over),
                                 device=device, progress=progress, n_eval=n_eval, scale=scale)
                rm = core.robustness(t, attacks, paper="adt", seed=seed, scale=scale, progress=progress)
                log = t.run.log
                last = {c: float(log[c].iloc[-1]) if c in log else float("nan") for c in ("entropy", "sigma")}
                cache[key] = {**(rm.accuracy() * 100).to_dict(), **last, "n": len(t.y)}
            out.append({"form": form, "lam": float(lam), **cache[key]})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------
# Table 4: the learned distributions as attacks
# ------------------------------------------------------------------------------------------------
#: the paper setting whose models Table 4 attacks (ADT Sec. 5.3: the CIFAR-10 defences of Table 1)
SETTING = "adt-cifar10"
#: rows of ADT Table 4 (training methods), in the paper's order
ROWS = ("standard", "at_pgd", "adt_exp", "adt_expam", "adt_impam")
#: EXP with Eq. (11) as printed (λ on the sum over coordinates, plain Adam): a sensitivity column, not in the paper
EXP_LITERAL = "EXP (literal Eq. 11)"
#: columns of ADT Table 4 (attacks), then our extra column
COLUMNS = ("PGD-20", "EXP", "EXP-AM", "IMP-AM", EXP_LITERAL)
#: the training method whose generator each amortised attack retrains
#: the options that turn EXP into Eq. (11) as printed (column :data:`EXP_LITERAL`): ADT_EXP's literal reading
EXP_LITERAL_OPTIONS = {"entropy": "sum", "cumulative_grad": False}


def attack_objective(method: str) -> dict[str, Any]:
    """The authors' attack-script objective for a generator method (adt-official.md §2, §4): the options of
    ``ADT_EXPAM_OFFICIAL`` / ``ADT_IMPAM_OFFICIAL`` that shape the entropy term (EXP-AM: the per-coordinate mean
    entropy; IMP-AM: λ = 1, the 0.9 hinge, mean log q, q's variance parameterisation) — the methods' defaults
    since issue 14, spelled out so that the attack does not change with a scale's training options. ``code_layout`` and
    ``input_grad`` are left out: the generator's architecture and inputs stay the scale's training generator's
    (the code's batch-mean input gradients are 1/64 of the paper's per-example ones next to the image channel,
    which a briefly trained attack generator cannot use: mini EXP-AM on AT_PGD 74.0 % instead of 70.8 %)."""
    mod = importlib.import_module(f"advdist.methods.{method}")
    official = getattr(mod, f"{method.upper()}_OFFICIAL", {})
    return {k: v for k, v in official.items() if k not in ("code_layout", "input_grad")}


def _scale(scale: str) -> str:
    if scale not in config.SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(config.SCALES)}")
    return scale


def attack_setting(name: str, *, scale: str, dataset: str | None = None, eps: float | None = None,
                   method_kwargs: dict | None = None) -> AttackSpec:
    """Column ``name`` of Table 4 at ``scale`` on ``dataset`` (default: the scale's dataset), ε the one of
    ``attacks.settings`` for that dataset. ``PGD-20`` is the ADT setting of :mod:`advdist.attacks.settings`;
    ``EXP``, ``EXP (literal Eq. 11)``, ``EXP-AM``, ``IMP-AM`` are :class:`DistributionAttack` settings
    (:data:`EXP`, :data:`GENERATOR`). The generators' ``method_kwargs`` default to the scale's training options of
    the method, then the authors' attack objective (:func:`attack_objective`), then ``GENERATOR[scale]``'s."""
    _scale(scale)
    if name not in COLUMNS:
        raise ValueError(f"unknown Table 4 attack {name!r}; valid: {', '.join(COLUMNS)}")
    pgd = attack_settings.get("PGD-20", scale=scale, paper="adt", dataset=dataset, eps=eps)
    if name == "PGD-20":
        return pgd
    if name == "EXP":
        kw = {"eps": pgd.eps, **EXP[scale]}
        return DistributionAttack(name=name, fn="explicit_attack", kwargs=kw, paper="adt", scale=scale,
                                  dataset=pgd.dataset, note="ADT Sec. 5.3 / App. D.3: T = 20, k = 10, lr 0.3, "
                                  "betas (0, 0); robust iff all samples correct")
    if name == EXP_LITERAL:
        kw = {"eps": pgd.eps, **EXP[scale], **EXP_LITERAL_OPTIONS}
        return DistributionAttack(name=name, fn="explicit_attack", kwargs=kw, paper="adt", scale=scale,
                                  dataset=pgd.dataset, note="EXP with Eq. (11) as printed: λ on the entropy summed "
                                  "over the coordinates, plain Adam (not in the paper's table)")
    method = GENERATOR_METHODS[name]
    gen = dict(GENERATOR[scale])
    if method_kwargs is None:
        method_kwargs = {**config.resolve(scale, SETTING, method=method, dataset=pgd.dataset).method_kwargs,
                         **attack_objective(method), **gen["method_kwargs"].get(method, {})}
    gen["method_kwargs"] = dict(method_kwargs)
    kw = {"eps": pgd.eps, "method": method, "dataset": pgd.dataset, **gen}
    return DistributionAttack(name=name, fn="generator_attack", kwargs=kw, paper="adt", scale=scale,
                              dataset=pgd.dataset, note=f"ADT Sec. 5.3: fresh {method} generator trained against the "
                              "frozen model on the attacked examples; robust iff all samples correct")


def available_columns(columns: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """``(available, skipped)``: the Table 4 columns whose attack exists (EXP-AM / IMP-AM need their method)."""
    wanted = list(columns) if columns else list(COLUMNS)
    unknown = [c for c in wanted if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown Table 4 attack {unknown[0]!r}; valid: {', '.join(COLUMNS)}")
    ok = [c for c in wanted if c not in GENERATOR_METHODS or GENERATOR_METHODS[c] in methods.names()]
    return ok, [c for c in wanted if c not in ok]


def split_rows(rows: Sequence[str] | None, valid: Sequence[str], what: str) -> tuple[list[str], list[str]]:
    wanted = list(rows) if rows else list(valid)
    unknown = [r for r in wanted if r not in valid]
    if unknown:
        raise ValueError(f"unknown {what} row {unknown[0]!r}; valid: {', '.join(valid)}")
    ok = [r for r in wanted if r in methods.names()]
    return ok, [r for r in wanted if r not in ok]


#: ADT Table 4 as a table of the common runner: its rows, its columns built by :func:`attack_setting`
TABLE4 = RobustnessTable(
    key="adt-table4", title="ADT Table 4: accuracy (%) under PGD-20 and the learned distributions as attacks",
    paper="adt", setting=SETTING, methods=ROWS, attacks=COLUMNS, paper_csv="adt_table4", n_eval=TABLE4_N,
    attack_setting=attack_setting)


def evaluate_table4(*, scale: str, rows: Sequence[str] | None = None, columns: Sequence[str] | None = None,
                    n_eval: int | None = None, device: str = "auto", seed: int = 0, progress: bool = True):
    """ADT Table 4 (:data:`TABLE4`): every row's model (trained or loaded through the run store) under PGD-20 and the
    learned distributions used as attacks (:func:`advdist.experiments.core.run_table`). Returns
    ``(ours, skipped, matrices, info)``:

    ``ours``: DataFrame, one row per available method: ``A_nat`` and each attack's accuracy in % (robust = all
    samples correct), and ``n``; ``skipped``: ``{"rows": [...], "columns": [...]}`` not implemented (left out);
    ``matrices``: each row's per-example :class:`advdist.evaluate.RobustnessMatrix` (cached beside the run);
    ``info``: :func:`advdist.experiments.core.run_info`. PGD-20 and EXP attack the examples in chunks; each generator
    attack is trained on all ``n_eval`` examples at once (:data:`TABLE4_N` by default).
    """
    _scale(scale)
    avail_rows, skipped_rows = split_rows(rows, ROWS, "Table 4")
    cols, skipped_cols = available_columns(columns)
    res = core.run_table(TABLE4, scale=scale, seeds=(seed,), n=n_eval, rows=avail_rows, attacks=cols, device=device,
                         progress=progress)
    records = [{k: v for k, v in r.items() if k != "A_rob"} for r in res.accuracy(seed).to_dict("records")]
    ours = pd.DataFrame(records, columns=["model", "A_nat", *cols, "n"])
    return ours, {"rows": skipped_rows, "columns": skipped_cols}, res.matrices[seed], res.info


#: variants of the EXP attack's objective tried on one model (:func:`exp_variants`): name → options over the scale's
#: EXP setting (:data:`EXP`). The official attack script of Table 4 is not in the release (adt-official.md §4): the
#: default is the training inner loop with the attack's T and k; the others are what the code history and the
#: paper leave open — no entropy term, plain (non-cumulative) Adam gradients, 5× the steps, the development code's
#: initial σ (pre-softplus −5), and the exploratory ``mc_attack.py`` (Adam 0.5 with default betas, λ = 0.05).
EXP_VARIANTS: dict[str, dict[str, Any]] = {
    "default (this scale's EXP column)": {},
    "λ = 0": {"lam": 0.0},
    "non-cumulative gradients": {"cumulative_grad": False},
    "5 × the steps": {"steps_factor": 5},
    "initial σ = softplus(−5) (development code)": {"init_scale": math.log1p(math.exp(-5.0))},
    "mc_attack.py: Adam 0.5, default betas, λ = 0.05": {"lr": 0.5, "betas": (0.9, 0.999), "lam": 0.05},
}


def exp_variants(*, scale: str, row: str = "standard", variants: dict[str, dict] | None = None,
                 n_eval: int | None = None, device: str = "auto", seed: int = 0,
                 progress: bool = False) -> pd.DataFrame:
    """The EXP attack (ADT Sec. 5.3, Eq. 8-11 as an attack; Table 4's "all samples correct" rule) in each of
    ``variants`` (default :data:`EXP_VARIANTS`) on Table 4's model ``row``, on Table 4's test subset. Also the mean
    point of the default fit, x + ε·tanh(μ), and the median |μ| there (where |μ| ≳ 3 the tanh saturates and EXP acts
    like one sign step). Returns one row per variant: ``variant``, ``acc`` (%), ``median |mu|``, ``n``."""
    _scale(scale)
    variants = EXP_VARIANTS if variants is None else variants
    t = core.trained(TABLE4.config(TABLE4.row(row), scale, seed), device=device, progress=progress,
                     n_eval=n_eval or TABLE4_N[scale], scale=scale)
    dev = _device_of(t.model)
    model, x, y, eps = t.model, t.x.to(dev), t.y.to(dev), t.cfg.eps
    base = dict(EXP[scale])
    rows = []
    for name, opts in variants.items():
        kw = {**base, **{k: v for k, v in opts.items() if k != "steps_factor"}}
        kw["steps"] = int(kw["steps"]) * int(opts.get("steps_factor", 1))
        torch.manual_seed(seed)
        ok = explicit_robust(model, x, y, eps=eps, **kw)
        rows.append({"variant": name, "acc": 100 * ok.float().mean().item(), "median |mu|": float("nan"), "n": len(y)})
    fit_kw = {k: v for k, v in base.items() if k not in ("n_samples", "batch_size")}
    torch.manual_seed(seed)
    fit = fit_explicit(model, x, y, eps=eps, **fit_kw)
    with torch.no_grad():
        mean_ok = model((x + eps * torch.tanh(fit.loc)).clamp(0.0, 1.0)).argmax(1) == y
    rows.append({"variant": "mean point x + ε·tanh(μ) of the default fit", "acc": 100 * mean_ok.float().mean().item(),
                 "median |mu|": fit.loc.abs().median().item(), "n": len(y)})
    return pd.DataFrame(rows)


def table4_with_paper(ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """``ours`` beside ADT Table 4 (``data/paper/adt_table4.csv``; :func:`advdist.experiments.core.with_paper`), the
    model and A_nat first; Δ only at paper scale on CIFAR-10."""
    table = core.with_paper(TABLE4, ours, info)
    first = [c for c in ("model", "A_nat") if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def compare_columns(ours: pd.DataFrame, column: str, baseline: str = "PGD-20", tol: float = 1.0) -> list[str]:
    """Plain sentences, one per model: is attack ``column`` stronger than ``baseline`` (lower accuracy), weaker,
    or comparable (within ``tol`` percentage points)?"""
    if column not in ours.columns or baseline not in ours.columns:
        return [f"{column} or {baseline} not in the table; no comparison"]
    out = []
    for r in ours.to_dict("records"):
        a, b = float(r[column]), float(r[baseline])
        d = a - b
        verdict = "comparable to" if abs(d) <= tol else ("stronger than" if d < 0 else "weaker than")
        out.append(f"{r['model']}: {column} is {verdict} {baseline} ({a:.2f} vs {b:.2f}, {d:+.2f} pp)")
    return out


# ------------------------------------------------------------------------------------------------
# Fig. 6
# ------------------------------------------------------------------------------------------------
def convergence_curves(*, scale: str, rows: Sequence[str] | None = None, n_eval: int | None = None,
                       steps: int | None = None, device: str = "auto", seed: int = 0, progress: bool = True):
    """ADT Fig. 6 data: :func:`exp_convergence` for each row's model (AT_PGD and ADT_EXP by default), on a
    stratified test subset, with the scale's :data:`CONVERGENCE` settings (``n_eval``/``steps`` override them).

    Returns ``(curves, skipped, info)``: ``curves`` a long DataFrame (``model, step, loss, acc, acc_all,
    entropy``; accuracies as fractions), ``skipped`` the rows whose method is not implemented. Results are
    cached beside each run (``results/exp_convergence-<key>.csv``), keyed by settings, seed and data.
    """
    _scale(scale)
    avail, skipped = split_rows(rows or FIG6_ROWS, ROWS, "Fig. 6")
    s = dict(CONVERGENCE[scale])
    n = n_eval if n_eval else s.pop("n_eval")
    s.pop("n_eval", None)
    if steps:
        s["steps"] = int(steps)
    frames, cfg = [], None
    for m in avail:
        t = core.trained(config.resolve(scale, SETTING, method=m, seed=seed), device=device, progress=progress,
                         n_eval=n, scale=scale)
        cfg, model, run, x, y = t.cfg, t.model, t.run, t.x, t.y
        eps = attack_settings.get("PGD-20", scale=scale, paper="adt", dataset=cfg.dataset).eps
        kw = {k: v for k, v in s.items() if k not in ("batch_size", "sample_batch")}
        key = config.stable_hash({"fn": "exp_convergence", "eps": eps, "kwargs": kw, "seed": seed,
                                  "data": evaluate.data_key(x, y)}, n=10)
        path = run.results_dir / f"exp_convergence-{key}.csv"
        if path.exists():
            df = pd.read_csv(path)
        else:
            dev = next(model.parameters()).device
            with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                torch.manual_seed(seed)
                df = exp_convergence(model, x.to(dev), y.to(dev), eps=eps, **s)
            store.atomic_write_text(path, df.to_csv(index=False))
        frames.append(df.assign(model=m))
    cols = ["model", "step", "loss", "acc", "acc_all", "entropy"]
    curves = pd.concat(frames)[cols].reset_index(drop=True) if frames else pd.DataFrame(columns=cols)
    return curves, skipped, core.run_info(TABLE4, cfg or config.resolve(scale, SETTING), scale)


#: the models' names in the plots of Fig. 6
FIG6_LABELS = {"standard": "Standard", "at_pgd": "AT$_{PGD}$", "adt_exp": "ADT$_{EXP}$",
               "adt_expam": "ADT$_{EXP-AM}$", "adt_impam": "ADT$_{IMP-AM}$"}


def plot_convergence(curves: pd.DataFrame, title: str = ""):
    """ADT Fig. 6: cross-entropy (left) and accuracy in % (right; solid: per sample, dashed: all k samples of
    an example correct) against EXP attack iterations, one colour per model."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
    for i, (m, df) in enumerate(curves.groupby("model", sort=False)):
        c = f"C{i}"
        label = FIG6_LABELS.get(m, m)
        ax1.plot(df["step"], df["loss"], color=c, label=label)
        ax2.plot(df["step"], 100 * df["acc"], color=c, label=f"{label} (per sample)")
        ax2.plot(df["step"], 100 * df["acc_all"], color=c, ls="--", label=f"{label} (all k samples)")
    ax1.set(xlabel="attack iterations", ylabel="classification loss (CE)")
    ax2.set(xlabel="attack iterations", ylabel="accuracy (%)")
    ax1.legend()
    ax2.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def convergence_summary(curves: pd.DataFrame, at: Sequence[int] = (0, 1, 2, 5, 10, 20, 50, 100)) -> pd.DataFrame:
    """Fig. 6 as a table: loss and accuracies (%) of each model at iterations ``at`` (those present)."""
    df = curves[curves["step"].isin(list(at))].copy()
    df["acc"] = 100 * df["acc"]
    df["acc_all"] = 100 * df["acc_all"]
    return df[["model", "step", "loss", "acc", "acc_all"]].reset_index(drop=True)


#: column names of :func:`convergence_summary` as printed and written
SUMMARY_LABELS = {"loss": "CE loss", "acc": "acc per sample (%)", "acc_all": "acc, all k samples (%)"}


def converged_by(curves: pd.DataFrame, *, tol: float = 1.0) -> dict[str, int]:
    """Per model, the first iteration t after which the per-sample accuracy (%) stays within ``tol``
    percentage points of its final value — "converges within a few iterations" (App. D.3) made checkable."""
    out = {}
    for m, df in curves.groupby("model", sort=False):
        acc = 100 * df.sort_values("step")["acc"].to_numpy()
        steps = df.sort_values("step")["step"].to_numpy()
        ok = abs(acc - acc[-1]) <= tol
        t = len(ok) - 1
        while t > 0 and ok[t - 1]:
            t -= 1
        out[m] = int(steps[t])
    return out


# ------------------------------------------------------------------------------------------------
# Fig. 1 (diversity of adversarial samples) and Fig. 2 (loss surfaces, input-Hessian eigenvalues)
# ------------------------------------------------------------------------------------------------
#: ADT Sec. 2.2.1 (text under Fig. 1): average pairwise ℓ2 distance of the adversarial examples of one image,
#: averaged over 100 CIFAR-10 test images (ε = 8/255), for PGD with random restarts and the ADT_EXP distribution.
PAPER_FIG1 = {"PGD": 1.56, "ADT_EXP": 1.95}
#: the models of ADT Fig. 2 (a)-(e), in panel order, and their display names
FIG2_METHODS = ("standard", "at_pgd", "adt_exp", "adt_expam", "adt_impam")
LABELS = {"standard": "Standard", "at_pgd": "AT_PGD", "adt_exp": "ADT_EXP", "adt_expam": "ADT_EXP-AM",
          "adt_impam": "ADT_IMP-AM", "at_fgsm": "AT_FGSM", "alp": "ALP", "trades": "TRADES",
          "feature_scattering": "FeaScatter", "adt_exp_trades": "ADT_EXP+TRADES"}

#: explicit-distribution variants of Fig. 1 (name → :func:`explicit_distribution_samples` arguments): ADT_EXP's
#: default objective (the official code's: entropy averaged per coordinate, cumulative Adam gradients;
#: adt-official.md §1), Eq. 11 read literally (entropy summed over the coordinates, λ in per-image units, plain
#: Adam) and λ = 0 (no entropy: the distribution may collapse towards PGD-like points).
FIG1_VARIANTS: dict[str, dict] = {
    "ADT_EXP": {},
    "ADT_EXP (literal Eq. 11)": dict(entropy="sum", cumulative_grad=False),
    "ADT_EXP (λ = 0)": dict(lam=0.0),
}


def sizes(scale: str, **overrides: int) -> dict[str, int]:
    """The analysis sizes of ``scale`` (:data:`SIZES`), with every non-zero ``override`` replacing its entry.

    Notebook parameters use 0 for "the scale's default", so ``sizes("mini", fig1_images=0)`` keeps 100.
    """
    if scale not in SIZES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SIZES)}")
    out = dict(SIZES[scale])
    for k, v in overrides.items():
        if k not in out:
            raise ValueError(f"unknown size {k!r}; valid: {', '.join(out)}")
        if v:
            check_positive(k, v, integer=True)
            out[k] = int(v)
    return out


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@dataclass
class Diversity:
    """Adversarial samples of test images by several methods (ADT Fig. 1 and its text).

    ``distances[name]``: (B,) average pairwise ℓ2 distance of each image's N samples; ``errors[name]``: (B,)
    fraction of each image's samples the model misclassifies (attack power); ``samples[name]``: (K, N, ...) the
    samples of the first K images (for the PCA panels) and ``x``/``y`` those images; ``settings``: what ran.
    """

    distances: dict[str, torch.Tensor]
    errors: dict[str, torch.Tensor]
    samples: dict[str, torch.Tensor]
    x: torch.Tensor
    y: torch.Tensor
    settings: dict = field(default_factory=dict)


def sample_diversity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, eps: float, n_samples: int,
                     pgd_steps: int = 20, pgd_alpha: float | None = None, keep: int = 4, image_batch: int = 16,
                     seed: int = 0, variants: dict[str, dict] | None = None,
                     batch_size: int | None = 1024) -> Diversity:
    """PGD-with-restarts samples vs ADT_EXP-distribution samples of each image, and their diversity (ADT Fig. 1).

    For each image (``image_batch`` at a time): ``n_samples`` PGD endpoints (:func:`pgd_restart_samples`,
    ``pgd_steps`` steps of ``pgd_alpha`` = ε/4 by default: ADT's PGD-20), stored as ``"PGD"``, and ``n_samples``
    draws of each fitted explicit distribution in ``variants`` (name → extra :func:`explicit_distribution_samples`
    arguments; default ``{"ADT_EXP": {}}``, ADT_EXP's own inner loop); then the average pairwise ℓ2 distance of each
    set (:func:`advdist.analysis.pairwise_l2`) and the fraction of misclassified samples. The samples of the first
    ``keep`` images are returned for the PCA panels. The RNG is seeded with ``seed`` inside a forked RNG state (the
    caller's global RNG is untouched; every variant starts from the same RNG state), so results are reproducible.
    ``batch_size``: rows per forward pass of the attacks.
    """
    eps = check_eps(eps)
    check_inputs(x, y)
    check_positive("n_samples", n_samples, integer=True)
    check_positive("image_batch", image_batch, integer=True)
    check_positive("keep", keep, integer=True, allow_zero=True)
    if n_samples < 2:
        raise ValueError("n_samples must be >= 2 (pairwise distances)")
    variants = {"ADT_EXP": {}} if variants is None else dict(variants)
    if "PGD" in variants:
        raise ValueError("'PGD' names the PGD samples; give the explicit variants other names")
    alpha = eps / 4 if pgd_alpha is None else float(pgd_alpha)
    dev = _device_of(model)
    x, y = x.to(dev), y.to(dev)
    fit_kw = {k: {**explicit_fit_defaults(), **v} for k, v in variants.items()}
    names = ("PGD", *variants)
    dist = {k: [] for k in names}
    err = {k: [] for k in names}
    kept = {k: [] for k in names}
    devices = [dev] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        gen = torch.Generator(device=dev).manual_seed(seed)
        for i in range(0, x.shape[0], image_batch):
            xb, yb = x[i:i + image_batch], y[i:i + image_batch]
            sets = {"PGD": pgd_restart_samples(model, xb, yb, eps=eps, alpha=alpha, steps=pgd_steps, n=n_samples,
                                               generator=gen, batch_size=batch_size)}
            state = _rng_state(dev)
            for k, kw in fit_kw.items():
                _set_rng_state(dev, state)
                sets[k] = explicit_distribution_samples(model, xb, yb, eps=eps, n=n_samples, **kw)
            for k, s in sets.items():
                dist[k].append(pairwise_l2(s, batched=True).cpu())
                err[k].append(error_rate(model, s, yb, batch_size).cpu())
                if i < keep:
                    kept[k].append(s[: keep - i].cpu())
    cat = lambda d: {k: torch.cat(v) if v else torch.empty(0) for k, v in d.items()}  # noqa: E731
    settings = dict(eps=eps, n_samples=n_samples, n_images=int(x.shape[0]), pgd_steps=pgd_steps, pgd_alpha=alpha,
                    explicit=fit_kw, seed=seed)
    return Diversity(distances=cat(dist), errors=cat(err), samples=cat(kept), x=x[:keep].cpu(), y=y[:keep].cpu(),
                     settings=settings)


def _rng_state(dev: torch.device):
    return torch.random.get_rng_state(), (torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None)


def _set_rng_state(dev: torch.device, state) -> None:
    torch.random.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], dev)


def diversity_table(div: Diversity) -> pd.DataFrame:
    """One row per method: mean (and std over images) of the average pairwise ℓ2 distance — the quantity ADT
    reports (1.95 vs 1.56) — and the mean fraction (%) of misclassified samples."""
    rows = []
    for k, d in div.distances.items():
        rows.append({"model": k, "pairwise_l2": d.double().mean().item(),
                     "pairwise_l2 std": d.double().std().item() if d.numel() > 1 else float("nan"),
                     "error %": 100 * div.errors[k].double().mean().item(), "images": int(d.numel()),
                     "samples/image": int(div.settings.get("n_samples", 0))})
    return pd.DataFrame(rows)


def paper_fig1() -> pd.DataFrame:
    """ADT's numbers for Fig. 1 (Sec. 2.2.1 text), in the ``report.beside_paper`` layout."""
    return pd.DataFrame([{"model": k, "pairwise_l2": v} for k, v in PAPER_FIG1.items()])


@dataclass
class TrainedModels:
    """Models of one paper setting at one scale, from the run store (``store.get_or_train``)."""

    models: dict[str, nn.Module]
    runs: dict
    skipped: list[str]
    splits: object
    cfg: object


def trained_models(scale: str, methods_: tuple[str, ...] | list[str] = FIG2_METHODS, *,
                   setting: str = "adt-cifar10", seed: int = 0, device: str = "auto",
                   progress: bool = False) -> TrainedModels:
    """Load (training when missing) the model of every implemented method in ``methods_`` (ADT Fig. 2 (a)-(e)).

    Methods not in :func:`advdist.methods.names` are listed in ``skipped``. The models are shared with the
    tables through the run store (same setting, scale and seed ⇒ same run).
    """
    models, runs, skipped, splits, cfg = {}, {}, [], None, None
    for m in methods_:
        if m not in methods.names():
            skipped.append(m)
            continue
        cfg = config.resolve(scale, setting, method=m, seed=seed)
        t = core.trained(cfg, device=device, progress=progress, splits=splits, scale=scale)
        splits, models[m], runs[m] = t.splits, t.model, t.run
    if cfg is None:
        cfg = config.resolve(scale, setting, seed=seed)
        splits = core.trained(cfg, scale=scale, train=False).splits
    return TrainedModels(models=models, runs=runs, skipped=skipped, splits=splits, cfg=cfg)


def loss_surfaces(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int,
                  span: float = 10.0, seed: int = 0, batch_size: int | None = 2048) -> dict[str, LossSurface]:
    """Per model, the CE loss on the plane x + a·d_g + b·d_r through each input (ADT Fig. 2 (a)-(e)).

    d_g = sign(∇ₓ CE) of that model, d_r an orthogonal Rademacher direction drawn from a generator seeded with
    ``seed`` (fresh for each model), a, b ∈ [−span·ε, span·ε] on ``steps`` points (defaults of
    :func:`advdist.analysis.loss_surface`: the official script's ±10ε, no clamping). Returns name → surface.
    """
    out = {}
    for name, model in models.items():
        dev = _device_of(model)
        gen = torch.Generator().manual_seed(seed)
        out[name] = loss_surface(model, x.to(dev), y.to(dev), eps=eps, steps=steps, span=span, generator=gen,
                                 batch_size=batch_size)
    return out


def surface_stats(surfaces: dict[str, LossSurface], *, radius: float = 1.0) -> pd.DataFrame:
    """Flatness of each model's loss surfaces, averaged over the inputs (numbers for ADT Fig. 2 (a)-(e)).

    Columns: ``loss(x)`` — the loss at the clean input; ``rise ±rε`` — :func:`surface_rises` (max over the grid
    points with |a|, |b| ≤ ``radius``·ε of L − L(x)); ``rise grid`` — the same over the whole grid;
    ``range grid`` — max − min over the grid. Smaller rises mean a flatter surface. Needs the clean point
    a = b = 0 on the grid (odd ``steps``).
    """
    rows = []
    rises = surface_rises(surfaces, radius=radius)
    for name, s in surfaces.items():
        L, center, _ = grid_parts(s, radius)
        flat = L.flatten(1)
        rows.append({"model": name, "loss(x)": center.mean().item(),
                     f"rise ±{radius:g}ε": rises[name].mean().item(),
                     "rise grid": (flat.amax(1) - center).mean().item(),
                     "range grid": (flat.amax(1) - flat.amin(1)).mean().item(), "inputs": int(L.shape[0])})
    return pd.DataFrame(rows)


def dominant_eigenvalues(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, *, iters: int = 100,
                         tol: float = 1e-5, batch_size: int | None = 128,
                         seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Per model, the dominant (largest algebraic) eigenvalue of each input's CE Hessian (ADT Fig. 2 (f)).

    :func:`advdist.analysis.top_eigenvalues` (Lanczos on batched Hessian-vector products), per-example scale.
    Returns (name → (B,) eigenvalues on the CPU, name → convergence info).
    """
    vals, infos = {}, {}
    for name, model in models.items():
        dev = _device_of(model)
        v, info = top_eigenvalues(model, x.to(dev), y.to(dev), iters=iters, tol=tol, batch_size=batch_size,
                                  seed=seed, return_info=True)
        vals[name] = v.detach().cpu()
        infos[name] = {k: t.cpu() for k, t in info.items()}
    return vals, infos


def eigen_table(eigs: dict[str, torch.Tensor], infos: dict[str, dict] | None = None) -> pd.DataFrame:
    """Mean and std (ddof = 1, as ``cal_hessian.py``) of the dominant eigenvalue per model (ADT Fig. 2 (f))."""
    rows = []
    for name, v in eigs.items():
        v = v.double()
        row = {"model": name, "eig mean": v.mean().item(),
               "eig std": v.std().item() if v.numel() > 1 else float("nan"), "images": int(v.numel())}
        if infos and name in infos:
            row["converged"] = int(infos[name]["converged"].sum().item())
        rows.append(row)
    return pd.DataFrame(rows)


def compare(values: dict[str, torch.Tensor], rows, baseline: str, *, what: str, expect: str = "smaller",
            z: float = 2.0) -> list[str]:
    """Plain sentences: is the per-image quantity ``values[row]`` ``expect`` (``"smaller"`` | ``"larger"``) than
    ``values[baseline]`` on the same images, as the paper claims (ADT Fig. 2: ADT flatter than AT_PGD; Fig. 1:
    ADT_EXP samples more diverse than PGD's)?

    The images are shared, so the test is paired: Δ = mean over images of (row − baseline), with its standard
    error SE = std(row − baseline)/√n; |Δ| ≤ ``z``·SE (or n < 2) is reported as "no clear difference". Rows
    absent from ``values`` are skipped; an absent baseline is reported.
    """
    if expect not in ("smaller", "larger"):
        raise ValueError(f"unknown expect {expect!r}; valid: smaller, larger")
    base = LABELS.get(baseline, baseline)
    if baseline not in values:
        return [f"{base} not available; no comparison"]
    b = values[baseline].double().flatten()
    out = []
    for r in rows:
        if r not in values:
            continue
        a = values[r].double().flatten()
        if a.shape != b.shape:
            raise ValueError(f"{r} and {baseline} must be measured on the same images, got {a.numel()} vs {b.numel()}")
        d = a - b
        n = d.numel()
        m = d.mean().item()
        se = d.std().item() / n ** 0.5 if n > 1 else float("nan")
        if n < 2 or abs(m) <= z * se:
            verdict = f"no clear difference (|Δ| ≤ {z:g} SE)"
        elif (m < 0) == (expect == "smaller"):
            verdict = f"{expect}, as the paper claims"
        else:
            verdict = f"NOT {expect}, contrary to the paper's claim"
        out.append(f"{LABELS.get(r, r)}: {what} {a.mean().item():.3g} vs {base} {b.mean().item():.3g} "
                   f"(paired Δ {m:+.3g} ± {se:.2g} SE, {n} images) — {verdict}")
    return out
