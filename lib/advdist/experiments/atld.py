"""ATLD (ICLR 2021 submission): the paper's tables and figures — rows, the IMT protocols and the runners.

- Tables 1-6: :data:`ATLD_TABLES` (registered in :data:`advdist.experiments.core.TABLES`); Table 1 with the IMT rows
  (:func:`evaluate_atld_table`), transfer Tables 3 and 6 (:func:`atld_transfer`), Fig. 3 (:func:`eps_sweep`).
- The 2-D toy figures (Fig. 1, 4, 6, 7): their data, configs and trained models (:func:`toy_splits`,
  :func:`toy_config`, :func:`train_toy`, :func:`fit_discriminator`); the measurements and plots on a given model are
  in :mod:`advdist.analysis.toy2d`.

The IMT rows: the paper's non-adaptive protocol beside an end-to-end (adaptive) one.

ATLD (ICLR 2021 submission) Table 1 (Sec. 5.1) evaluates ATLD-IMT and ATLD-IMT+ (Sec. 4.2, Eq. (8)) by attacking the
*bare* classifier and then classifying the attacked input through IMT (official code, atld-atent-baselines.md §A.5).
IMT is a test-time defence, so a fair evaluation also attacks the whole defended model (Athalye et al. 2018;
Tramèr et al. 2020). For every attack column this module reports, per IMT variant:

- ``non-adaptive``: x_adv = attack(f, x, y), then accuracy of IMT(x_adv) — the paper's numbers;
- ``end-to-end``: x_adv = attack(IMT, x, y) through the wrapper (:class:`advdist.defenses.IMT`, BPDA gradients:
  the IMT step is piecewise constant in x, ∂x_t/∂x taken as the identity), then accuracy of IMT(x_adv);
- ``adaptive``: the strongest attacker who knows IMT: per example, the worst of the two above and of the
  end-to-end attack warm-started at the non-adaptive example (``x_init``; iterative attacks keep their best
  iterate, so it is never weaker than its start). By construction at least as strong as the paper's protocol.

On smoke models the cold end-to-end attack alone was slightly *weaker* than the non-adaptive one (IMT's sign step
makes f(IMT(x)) piecewise constant with jumps, a rough surface for gradient steps); hence the warm start.
``A_rob`` per row is the per-example worst case over the row's attack columns (ADT Eq. (12)). The paper reports each
column on its own; for the IMT rows the union is a different quantity (IMT's output depends on which attack made
the input, so the worst case over separately generated attacks can lie far below every column), so the written
tables label it :data:`AROB_LABEL`, and the non-adaptive rows (the paper's protocol, beside the paper's numbers) are
written apart from the end-to-end and adaptive rows (:func:`with_paper`, :func:`adaptive_table`).

Whether D can help at all is measured by :func:`discriminator_report` (D's ROC-AUC for clean vs attacked latents,
IMT controls with random and flipped signs and smaller steps; :mod:`advdist.analysis.discriminator`), for the
default ATLD and for the variants of :data:`DISC_VARIANTS` (the official code's discriminator batching, the
official training step).

The plain rows (standard, at_pgd, feature_scattering, atld = "ATLD−", no IMT) go through
:func:`advdist.experiments.core.run_table` (cached in each run's folder); the IMT rows through the same
:func:`advdist.evaluate.robustness_matrix` on the IMT wrappers, each protocol an attack setting (:class:`ImtAttack`,
:func:`imt_matrices`; not cached), their A_rob also requiring the clean example right (``clean_in_rob``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import ClassVar

import pandas as pd
import torch
from torch import nn

from advdist import config, data, evaluate, methods, paths, report, scales
from advdist.analysis import discriminator as disc_analysis
from advdist.attacks import settings as attack_settings
from advdist.attacks.core import frozen
from advdist.attacks.settings import AttackSpec
from advdist.defenses import build_imt
from advdist.experiments import core
from advdist.experiments.core import RobustnessTable, Row
from advdist.methods.atld import ATLD, ATLD_INFORMATIVE_D, ATLD_OFFICIAL, lmae, load_discriminator
from advdist.methods.feature_scattering import smooth_labels
from advdist.runtime import resolve_device

# per-scale budgets (defined once in advdist.scales)
#: rounds of :func:`fit_discriminator` per scale (Fig. 1 and Fig. 7 fit a discriminator to the clean model)
FIT_ITERS = scales.TOY2D_FIT_ITERS
#: training images whose clean and attacked latents fit the probes of :func:`latent_separability`, per scale
SEPARABILITY_FIT = scales.SEPARABILITY_FIT

ATLD_TABLES: dict[str, RobustnessTable] = {
    # the IMT rows (ATLD-IMT, ATLD-IMT+) are wrapped models: :func:`evaluate_atld_table` adds them
    "atld-table1": RobustnessTable(
        key="atld-table1", title="ATLD Table 1: white-box robustness (paper: CIFAR-10, ε = 8/255)", paper="atld",
        setting="atld-cifar10", methods=("standard", "at_pgd", "feature_scattering", "atld"),
        attacks=("FGSM", "PGD-20", "PGD-40", "PGD-100", "CW-20", "CW-40", "CW-100"), paper_csv="atld_table1",
        # the discriminator diagnostics (:func:`discriminator_table`) also train these two variants
        optional=(Row("atld (informative D)", "atld", method_kwargs=ATLD_INFORMATIVE_D,
                      note="issue 15's discriminator: mixed natural/perturbed batches through D's BatchNorm and "
                           "latents from the eval-mode classifier (the default keeps the official code's pure "
                           "batches)"),
                  Row("atld (code)", "atld", method_kwargs=ATLD_OFFICIAL,
                      note="the official release's step: logits into D, logit MSE with the adaptive weight instead "
                           "of fooling D, random start, pure D batches"))),
    **{f"atld-table2-{ds}": RobustnessTable(
        key=f"atld-table2-{ds}", title=f"ATLD Table 2: white-box robustness (paper: {name}, ε = 8/255)", paper="atld",
        setting=f"atld-{ds}", methods=("standard", "at_pgd", "feature_scattering", "atld"),
        attacks=("FGSM", "PGD-20", "PGD-100", "CW-20", "CW-100"), paper_csv=f"atld_table2_{ds}")
       for ds, name in (("cifar100", "CIFAR-100"), ("svhn", "SVHN"))},
    # transfer (black-box): sources = these rows, targets = the defences incl. the IMT rows (:func:`atld_transfer`)
    **{key: RobustnessTable(
        key=key, title=title, paper="atld", setting=setting,
        methods=("standard", "at_pgd", "feature_scattering", "atld"), attacks=("FGSM", "PGD-20", "CW-20"),
        paper_csv=csv)
       for key, title, setting, csv in (
           ("atld-table3", "ATLD Table 3: transfer attacks (paper: CIFAR-10, ε = 8/255)", "atld-cifar10",
            "atld_table3"),
           ("atld-table6-svhn", "ATLD Table 6: transfer attacks (paper: SVHN, ε = 8/255)", "atld-svhn", "atld_table6"),
           ("atld-table6-cifar100", "ATLD Table 6: transfer attacks (paper: CIFAR-100, ε = 8/255)", "atld-cifar100",
            "atld_table6"))},
    **{key: RobustnessTable(
        key=key, title=title, paper="atld", setting=setting, methods=("feature_scattering", "atld"),
        attacks=("CW-100", "AA", "RayS"), paper_csv=csv, n_eval=scales.TABLE_N_EVAL[key])
       for key, title, setting, csv in (
           ("atld-table4", "ATLD Table 4: AutoAttack and RayS (paper: CIFAR-10, ε = 8/255)", "atld-cifar10",
            "atld_table4"),
           ("atld-table5", "ATLD Table 5: AutoAttack and RayS (paper: CIFAR-100, ε = 8/255)", "atld-cifar100",
            "atld_table5"))},
}
core.register(*ATLD_TABLES.values())

#: IMT rows: name -> IMT+ flag
IMT_ROWS = {"atld_imt": False, "atld_imt_plus": True}
PROTOCOLS = ("non-adaptive", "end-to-end", "adaptive")
#: how the written tables name the per-example worst case over the attack columns
AROB_LABEL = "A_rob (worst case over separately generated attacks)"
#: ATLD models whose discriminator :func:`discriminator_report` measures: row labels of ``atld-table1`` (the
#: default ATLD and its optional rows with the official code's discriminator batching / training step)
DISC_VARIANTS = ("atld", "atld (informative D)", "atld (code)")
#: attacks (on the bare classifier) whose latents D must flag, and whose accuracy the IMT controls report
DISC_ATTACKS = ("PGD-20", "CW-20")
#: attack functions that take a starting point ``x_init`` (warm start of the adaptive protocol)
_WARM = ("pgd", "cw_linf", "mim")


class _ImtInputs:
    """The adversarial inputs of the IMT protocols on one set of examples, crafted once and shared by the IMT rows and
    protocols: per attack the non-adaptive example (on the bare ``model``), per IMT row and attack the end-to-end one
    (through the wrapper). Each is crafted by :func:`advdist.experiments.core.seeded_attack` with the attack's seed."""

    def __init__(self, model: nn.Module, batch_size: int):
        self.model, self.batch_size, self._cache = model, batch_size, {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def non_adaptive(self, spec, x, y, seed: int) -> torch.Tensor:
        return self._get(("non-adaptive", spec.name), lambda: core.seeded_attack(
            spec, self.model, x, y, seed=seed, batch_size=self.batch_size))

    def end_to_end(self, row: str, wrapped: nn.Module, spec, x, y, seed: int) -> torch.Tensor:
        return self._get(("end-to-end", row, spec.name), lambda: core.seeded_attack(
            spec, wrapped, x, y, seed=seed, batch_size=self.batch_size))

    def adaptive(self, row: str, wrapped: nn.Module, spec, x, y, seed: int) -> torch.Tensor:
        """Per example the first of the non-adaptive, end-to-end and (for attacks with a starting point) warm-started
        end-to-end examples that IMT misclassifies, else the non-adaptive one: IMT is correct on it iff on all."""
        x_na = self.non_adaptive(spec, x, y, seed)
        candidates = [x_na, self.end_to_end(row, wrapped, spec, x, y, seed)]
        if spec.fn in _WARM:
            candidates.append(core.seeded_attack(spec, wrapped, x, y, seed=seed, batch_size=self.batch_size,
                                                 x_init=x_na))
        out, undecided = x_na.clone(), torch.ones(len(y), dtype=torch.bool)
        for cand in candidates:
            broken = undecided & ~evaluate.predict_correct(wrapped, cand, y, self.batch_size)
            out[broken.to(out.device)] = cand[broken.to(cand.device)]
            undecided &= ~broken
        return out


@dataclass(frozen=True, eq=False)
class ImtAttack(AttackSpec):
    """The attack setting ``base`` under an IMT ``protocol`` (module docstring), for
    :func:`advdist.evaluate.robustness_matrix` on the IMT wrapper of ``row``: called once with all examples
    (:attr:`whole_batch`), it seeds the global RNG with ``seed`` before each attack, as the ATLD tables always have."""

    base: AttackSpec | None = None
    protocol: str = "non-adaptive"
    row: str = ""
    seed: int = 0
    inputs: _ImtInputs | None = None
    whole_batch: ClassVar[bool] = True

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, **overrides) -> torch.Tensor:
        if self.protocol == "non-adaptive":
            return self.inputs.non_adaptive(self.base, x, y, self.seed)
        if self.protocol == "end-to-end":
            return self.inputs.end_to_end(self.row, model, self.base, x, y, self.seed)
        return self.inputs.adaptive(self.row, model, self.base, x, y, self.seed)


def imt_matrices(model, run, data_xy, attacks, *, scale: str, dataset: str, seed: int = 0, batch_size: int = 500,
                 adaptive: bool = True, device: str | torch.device = "cpu") -> dict[str, evaluate.RobustnessMatrix]:
    """Per-example correctness of ATLD-IMT and ATLD-IMT+ under ``attacks`` (ATLD settings at ``scale``) for the
    protocols (module docstring; only the non-adaptive one without ``adaptive``), through
    :func:`advdist.evaluate.robustness_matrix` on the IMT wrappers (not cached). Returns
    ``{"<row>/<protocol>": RobustnessMatrix}``; its A_rob also needs the clean example right (``clean_in_rob``).
    Adversarial examples of the non-adaptive protocol are crafted once and shared by both IMT rows."""
    specs = [attack_settings.get(a, scale=scale, paper="atld", dataset=dataset) if isinstance(a, str) else a
             for a in attacks]
    wrapped = {r: build_imt(run, model, plus=p, device=device) for r, p in IMT_ROWS.items()}
    inputs = _ImtInputs(model, batch_size)
    model.eval()
    out = {}
    for r, w in wrapped.items():
        for protocol in PROTOCOLS if adaptive else PROTOCOLS[:1]:
            imt_specs = [ImtAttack(name=s.name, fn=f"imt-{protocol}:{s.fn}", kwargs=s.kwargs, paper=s.paper,
                                   scale=s.scale, dataset=s.dataset, base=s, protocol=protocol, row=r, seed=seed + k,
                                   inputs=inputs) for k, s in enumerate(specs)]
            rm = evaluate.robustness_matrix(w, data_xy, imt_specs, seed=seed, batch_size=batch_size, device=device,
                                            progress=False)
            out[f"{r}/{protocol}"] = replace(rm, clean_in_rob=True)
    return out


def imt_robustness(model, run, data_xy, attacks, *, scale: str, dataset: str, seed: int = 0, batch_size: int = 500,
                   adaptive: bool = True, device: str | torch.device = "cpu") -> dict[str, pd.DataFrame]:
    """:func:`imt_matrices` as ``{"<row>/<protocol>": DataFrame}`` with boolean columns ``clean`` and one per
    attack."""
    mats = imt_matrices(model, run, data_xy, attacks, scale=scale, dataset=dataset, seed=seed, batch_size=batch_size,
                        adaptive=adaptive, device=device)
    return {k: rm.correct.astype(bool) for k, rm in mats.items()}


def evaluate_atld_table(key: str = "atld-table1", *, scale: str, n_eval: int | None = None, device: str = "auto",
                        seed: int = 0, adaptive: bool = True, progress: bool = False):
    """Fill ATLD Table 1 (CIFAR-10 white-box; rows of ``core.TABLES[key]`` plus the IMT rows).

    Returns ``(ours, info)``: ``ours`` has one row per (model, protocol) with accuracies in % (``A_nat``, one column
    per attack, ``A_rob``) and ``n``; ``protocol`` is ``"—"`` for the plain rows. ``info``: scale, dataset,
    paper dataset, model name, the ATLD options used, and the rows left out (methods not implemented).
    """
    spec = core.table(key)
    res = core.run_table(key, scale=scale, seeds=(seed,), n=n_eval, device=device, progress=progress,
                         keep_models=True)
    rows = [(label, "—", rm) for label, rm in res.matrices[seed].items()]
    atld = [t for label, t in res.trained[seed].items() if spec.row(label).method == "atld"]
    if atld:
        t = atld[-1]
        imt = imt_matrices(t.model, t.run, (t.x, t.y), spec.attacks, scale=scale, dataset=t.cfg.dataset, seed=seed,
                           adaptive=adaptive, device=resolve_device(device))
        rows += [(*name.split("/"), rm) for name, rm in imt.items()]
    ours = pd.DataFrame([{"model": m, "protocol": p, **(rm.accuracy() * 100).to_dict(), "n": len(rm.correct)}
                         for m, p, rm in rows])
    atld_opts = {**ATLD.defaults, **config.resolve(scale, spec.setting, method="atld").method_kwargs}
    info = {**table_info(key, scale, seed), "missing": res.missing,
            "atld": {k: atld_opts[k] for k in ("disc_input", "invariance", "lam", "random_start", "disc_batches",
                                               "disc_latents")}}
    return ours, info


def table_info(key: str, scale: str, seed: int = 0) -> dict:
    """What table ``key`` runs at ``scale``: scale, dataset, the paper's dataset, model, ε, the paper's ε (for
    :func:`caption`), from the config of its ATLD row."""
    spec = core.table(key)
    cfg = spec.config(spec.row("atld"), scale, seed) if "atld" in [r.label for r in spec.rows] else \
        config.resolve(scale, spec.setting, seed=seed)
    return {"scale": scale, "dataset": cfg.dataset, "paper_dataset": config.SETTINGS[spec.setting]["dataset"],
            "model": cfg.model, "eps": cfg.eps, "paper_eps": config.SETTINGS[spec.setting]["eps"]}


def caption(info: dict, protocol: str, n: int | None = None) -> str:
    """The line under an ATLD table: what ran (scale, dataset, model, ε, protocol, examples), from ``info``."""
    eps = f"ℓ∞ ε = {info['eps']:.4g}"
    if "paper_eps" in info and abs(info["eps"] - info["paper_eps"]) > 1e-12:
        eps += f" (paper: {info['paper_eps'] * 255:.0f}/255)"
    extra = f"model {info['model']}, {eps}; protocol: {protocol}"
    if n:
        extra += f"; {n} test examples"
    return report.header(scale=info["scale"], dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                         extra=extra)


#: protocol wording for :func:`caption`
TRANSFER_PROTOCOL = ("transfer: attacks crafted on each source model (white-box there), classified by each defence; "
                     "IMT rows classify through IMT; columns = source model / attack")
PAPER_PROTOCOL = ("white-box attacks on the bare classifier; the IMT rows classify those inputs through IMT "
                  "(non-adaptive, the paper's protocol)")
ADAPTIVE_PROTOCOL = ("IMT attacked through the wrapper (end-to-end, BPDA) and the per-example worst of end-to-end, "
                     "warm-started and non-adaptive (adaptive); no paper numbers: the paper ran none of these")


def with_paper(key: str, ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """The paper's protocol beside the paper's numbers (``data/paper/<csv>``): the plain rows and the IMT rows under
    the non-adaptive protocol (the only one the paper used), the paper's value ``<col> (paper)`` beside each of our
    columns, then the cited-only rows of the paper (``cited`` = yes), which we do not reproduce. ``A_rob`` (ours
    only) is renamed :data:`AROB_LABEL`. The end-to-end and adaptive rows are in :func:`adaptive_table`. Δ columns
    only when the setting is the paper's."""
    paper = report.paper_table(core.table(key).paper_csv)
    mine = ours[ours["protocol"].isin(["—", "non-adaptive"])] if "protocol" in ours else ours
    merged = core.with_paper(key, mine, info, paper=paper.drop(columns=["cited"]))
    cited = paper[paper["cited"] == "yes"].drop(columns=["cited"])
    cited = cited.rename(columns={c: f"{c} (paper)" for c in cited.columns if c != "model"})
    cited["protocol"] = "cited, not reproduced"
    cols = ["model", "protocol"] + [c for c in merged.columns if c not in ("model", "protocol")]
    return pd.concat([merged, cited], ignore_index=True)[cols].rename(columns={"A_rob": AROB_LABEL})


def adaptive_table(ours: pd.DataFrame) -> pd.DataFrame:
    """Our IMT rows under all three protocols, with ATLD− (no IMT) first for reference; no paper columns (the paper
    evaluated IMT non-adaptively only). ``A_rob`` is renamed :data:`AROB_LABEL`."""
    rows = ours[(ours["model"] == "atld") & (ours["protocol"] == "—")]
    imt = ours[ours["model"].isin(list(IMT_ROWS))]
    return pd.concat([rows, imt], ignore_index=True).rename(columns={"A_rob": AROB_LABEL})


def write_atld_tables(key: str, ours: pd.DataFrame, info: dict, name: str, *, papers: tuple[str, ...] | None = None
                      ) -> str:
    """Write table ``key`` as two files under ``figures/<scale>/atld/``: ``<name>`` (the paper's protocol beside the
    paper's numbers, :func:`with_paper`; with ``papers`` = several table keys, :func:`with_papers`) and
    ``<name>_adaptive`` (:func:`adaptive_table`), each with a caption saying what ran (:func:`caption`). Returns the
    text a notebook prints (a :class:`advdist.report.Document`: in a notebook, the rendered tables and sentences)."""
    spec = core.table(key)
    n = int(ours["n"].iloc[0]) if len(ours) else 0
    out_dir = paths.figures_dir(info["scale"], "atld")
    if papers:
        info = joint_info(papers, info)
    main = with_papers(papers, ours, info) if papers else with_paper(key, ours, info)
    title = spec.title if not papers else " + ".join(core.table(k).title for k in papers)
    note = caption(info, PAPER_PROTOCOL, n) + f"; ATLD options {info['atld']}"
    report.write_table(main, out_dir / name, title=title + " — the paper's protocol", note=note)
    lines = ["The paper's protocol: " + note, report.to_markdown(main), *imt_columns(ours)]
    parts = [report.show(main, title=title + " — the paper's protocol", note=note, paper="atld"), *imt_columns(ours)]
    if set(ours.get("protocol", [])) & {"end-to-end", "adaptive"}:
        adapt = adaptive_table(ours)
        note2 = caption(info, ADAPTIVE_PROTOCOL, n)
        report.write_table(adapt, out_dir / f"{name}_adaptive", title=title + " — IMT under attacks that know IMT",
                           note=note2)
        lines += ["", "Attacks that know IMT (not in the paper): " + note2, report.to_markdown(adapt), *imt_gain(ours)]
        parts += [report.show(adapt, title=title + " — IMT under attacks that know IMT", note=note2, paper="atld"),
                  *imt_gain(ours)]
    return report.Document("\n".join(lines), parts)


def joint_info(keys, info: dict) -> dict:
    """``info`` of one run shown beside several papers' tables: ``paper_dataset`` names them all."""
    names = [config.SETTINGS[core.table(k).setting]["dataset"] for k in keys]
    return {**info, "paper_dataset": " and ".join(dict.fromkeys(names))}


def shared_runs(keys, *, scale: str, seed: int = 0) -> bool:
    """True when every row of the tables ``keys`` resolves to the same training config at ``scale`` (e.g. ATLD Table 2's
    CIFAR-100 and SVHN halves at mini, both Fashion-MNIST): the tables then show one result, not copies of it."""
    specs = [core.table(k) for k in keys]
    labels = [r.label for r in specs[0].rows]
    if any([r.label for r in s.rows] != labels for s in specs):
        return False
    return all(len({s.config(lab, scale, seed).hash() for s in specs}) == 1 for lab in labels)


def with_papers(keys, ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """One result beside several papers' tables (``keys``, e.g. ATLD Table 2's two halves when they share their runs):
    the paper's protocol rows of ours (as :func:`with_paper`), then for every shared column the paper's value of each
    table as ``<col> (paper, <dataset>)``; the cited rows of each table appended, marked with their table."""
    mine = ours[ours["protocol"].isin(["—", "non-adaptive"])] if "protocol" in ours else ours
    merged, cited_all, names = mine.copy(), [], {}
    for k in keys:
        spec = core.table(k)
        ds = config.SETTINGS[spec.setting]["dataset"]
        paper = report.paper_table(spec.paper_csv)
        cols = [c for c in mine.columns if c in paper.columns and c != "model"]
        names[k] = {c: f"{c} (paper, {ds})" for c in cols}
        merged = merged.merge(paper[["model"] + cols].rename(columns=names[k]), on="model", how="left")
        cited = paper[paper["cited"] == "yes"][["model"] + cols].rename(columns=names[k])
        cited["protocol"] = f"cited in the {ds} table, not reproduced"
        cited_all.append(cited)
    order = ["model", "protocol"]
    for c in mine.columns:
        if c in ("model", "protocol"):
            continue
        order.append(c)
        order += [names[k][c] for k in keys if c in names[k]]
    out = pd.concat([merged, *cited_all], ignore_index=True)
    return out[order + [c for c in out.columns if c not in order]].rename(columns={"A_rob": AROB_LABEL})


def imt_columns(ours: pd.DataFrame, columns=None) -> list[str]:
    """Plain sentences, one per IMT row: accuracy under the paper's (non-adaptive) protocol against ATLD− (the bare
    classifier, same attack column), column by column — the comparison the paper's Table 1 makes. ``columns``
    defaults to A_nat and every attack column (not the union A_rob)."""
    base = ours[(ours["model"] == "atld") & (ours["protocol"] == "—")]
    if base.empty:
        return ["atld not in the table; no comparison"]
    if columns is None:
        columns = [c for c in ours.columns if c not in ("model", "protocol", "n", "A_rob")]
    out = []
    for r in IMT_ROWS:
        sub = ours[(ours["model"] == r) & (ours["protocol"] == "non-adaptive")]
        if sub.empty:
            continue
        parts, up = [], 0
        for c in columns:
            if c in sub and c in base:
                na, b = float(sub[c].iloc[0]), float(base[c].iloc[0])
                parts.append(f"{c} {na:.2f} vs {b:.2f} ({na - b:+.2f} pp)")
                up += na > b
        out.append(f"{r} (non-adaptive) vs ATLD− per column: " + "; ".join(parts)
                   + f" — IMT raises {up} of {len(parts)} columns")
    return out


def imt_gain(ours: pd.DataFrame, column: str = "A_rob") -> list[str]:
    """Plain sentences: how much of IMT's gain over ATLD− (the bare classifier) survives the adaptive attack
    (``column`` = ``"A_rob"`` is named the worst case over separately generated attacks)."""
    base = ours[(ours["model"] == "atld") & (ours["protocol"] == "—")]
    if base.empty:
        return ["atld not in the table; no comparison"]
    b = float(base[column].iloc[0])
    label = "worst case over separately generated attacks" if column == "A_rob" else column
    out = []
    for r in IMT_ROWS:
        sub = ours[ours["model"] == r].set_index("protocol")[column]
        if "non-adaptive" not in sub:
            continue
        na = float(sub["non-adaptive"])
        line = f"{r}: {label} {na:.2f} non-adaptive vs {b:.2f} without IMT ({na - b:+.2f} pp)"
        if "adaptive" in sub:
            ad = float(sub["adaptive"])
            gain = na - b
            kept = (ad - b) / gain * 100 if gain > 0 else float("nan")
            line += f"; {ad:.2f} under the adaptive attack ({ad - b:+.2f} pp"
            line += f", {kept:.0f} % of the gain kept)" if gain > 0 else ")"
        if "end-to-end" in sub:
            line += f" [end-to-end alone: {float(sub['end-to-end']):.2f}]"
        out.append(line)
    return out


# ---- does the discriminator separate what it must? (issue 15) --------------------------------------------------
def discriminator_report(model, run, data_xy, *, scale: str, dataset: str, attacks=DISC_ATTACKS,
                         step_ratios=disc_analysis.STEP_RATIOS, directions=disc_analysis.DIRECTIONS, seed: int = 0,
                         batch_size: int = 500,
                         device: str | torch.device = "cpu") -> tuple[pd.DataFrame, pd.DataFrame]:
    """For one trained ATLD ``run``: (auc, controls).

    ``auc``: one row per attack (ATLD settings at ``scale``, crafted on the bare classifier as in the paper): D⁰'s
    ROC-AUC for clean vs attacked latents in eval mode, the mean P(natural) of both, and the mean change in P(natural)
    that IMT (D's sign, step ε) causes on clean and on attacked inputs (:mod:`advdist.analysis.discriminator`).
    ``controls``: :func:`advdist.analysis.discriminator.imt_controls` on clean and attacked inputs (D's sign / random /
    flipped, step r·ε).
    """
    x, y = (t.to(device) for t in data_xy)
    disc = load_discriminator(run, model, device=device)
    disc_input = {**ATLD.defaults, **run.config.method_kwargs}["disc_input"]
    eps = run.config.eps
    model.eval()
    adv = {}
    for k, name in enumerate(attacks):
        spec = attack_settings.get(name, scale=scale, paper="atld", dataset=dataset)
        adv[name] = core.seeded_attack(spec, model, x, y, seed=seed + k, batch_size=batch_size)
    controls = disc_analysis.imt_controls(model, disc, y, {"clean": x, **adv}, eps=eps, step_ratios=step_ratios,
                                          directions=directions, disc_input=disc_input, seed=seed,
                                          batch_size=batch_size)
    imt = controls[(controls["direction"] == "discriminator") & (controls["step/eps"] == 1.0)].set_index("input")
    rows = []
    for name, xa in adv.items():
        a = disc_analysis.discriminator_auc(model, disc, x, xa, disc_input=disc_input, batch_size=batch_size)
        row = {"attack": name, "auc": a["auc"], "p_nat_clean": a["p_nat_clean"], "p_nat_adv": a["p_nat_adv"]}
        if not imt.empty:
            row.update({"dP_nat_imt_clean": float(imt.loc["clean", "dP_nat"]),
                        "dP_nat_imt_adv": float(imt.loc[name, "dP_nat"])})
        rows.append({**row, "n": a["n"]})
    return pd.DataFrame(rows), controls


def latent_separability(model, run, splits, *, scale: str, dataset: str, attack: str = "PGD-20",
                        n_fit: int = 2000, n_eval: int | None = None, seed: int = 0, batch_size: int = 500,
                        device: str | torch.device = "cpu") -> pd.DataFrame:
    """Are clean and attacked latents of one ATLD ``run`` separable at all, and is D the bottleneck?

    Held-out ROC-AUC for clean vs ``attack`` latents (the attack on the bare classifier, ATLD settings at ``scale``)
    on the table's test subset, scored by: D⁰ itself (eval mode, as IMT); probes (:data:`advdist.analysis.
    discriminator.PROBES`) fitted on ``n_fit`` training images and their ``attack`` examples (``fitted on`` =
    ``attack``); and the same probes fitted on the LMAE examples D is trained against (``fitted on`` = ``LMAE``). One
    row per scorer: scorer, fitted on, auc, n_fit, n."""
    disc = load_discriminator(run, model, device=device)
    disc_input = {**ATLD.defaults, **run.config.method_kwargs}["disc_input"]
    spec = attack_settings.get(attack, scale=scale, paper="atld", dataset=dataset)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(splits.y_train), generator=g)[:n_fit]
    x_fit, y_fit = splits.x_train[idx].to(device), splits.y_train[idx].to(device)
    x, y = (t.to(device) for t in core.eval_subset(splits, scale, n_eval))
    model.eval()
    adv_fit = core.seeded_attack(spec, model, x_fit, y_fit, seed=seed, batch_size=batch_size)
    adv = core.seeded_attack(spec, model, x, y, seed=seed + 1, batch_size=batch_size)
    lmae_fit = torch.cat([lmae(model, disc, x_fit[i:i + batch_size], eps=run.config.eps, disc_input=disc_input)
                          for i in range(0, len(x_fit), batch_size)])
    z = lambda t: disc_analysis.latents(model, t, disc_input=disc_input, batch_size=batch_size)  # noqa: E731
    z_fit, z_adv_fit, z_lmae_fit, z_test, z_adv_test = z(x_fit), z(adv_fit), z(lmae_fit), z(x), z(adv)
    d = disc_analysis.discriminator_auc(model, disc, x, adv, disc_input=disc_input, batch_size=batch_size)
    rows = [{"scorer": "D (trained discriminator)", "fitted on": "LMAE (training)", "auc": d["auc"]}]
    for probe in disc_analysis.PROBES:
        for name, neg in ((attack, z_adv_fit), ("LMAE", z_lmae_fit)):
            rows.append({"scorer": f"{probe} probe", "fitted on": name,
                         "auc": disc_analysis.probe_auc(z_fit, neg, z_test, z_adv_test, probe=probe, seed=seed)})
    out = pd.DataFrame(rows)
    out["n_fit"], out["n"] = n_fit, len(y)
    return out


def discriminator_table(key: str = "atld-table1", *, scale: str, variants=DISC_VARIANTS, n_eval: int | None = None,
                        device: str = "auto", seed: int = 0, attacks=DISC_ATTACKS,
                        step_ratios=disc_analysis.STEP_RATIOS,
                        progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`discriminator_report` for each ATLD model of ``variants`` (row labels of table ``key``, trained or
    loaded through the run store on the table's test subset). Returns (auc, controls), each with a ``variant``
    column first and, in ``auc``, the variant's ``disc_batches`` / ``disc_latents`` / ``invariance`` options."""
    spec = core.table(key)
    dev = resolve_device(device)
    aucs, ctrls = [], []
    models = core.trained_rows(key, scale=scale, rows=list(variants), seed=seed,
                               n_eval=n_eval or spec.n_eval.get(scale), device=device, progress=progress)
    for label, t in models.items():
        auc, ctrl = discriminator_report(t.model, t.run, (t.x, t.y), scale=scale, dataset=t.cfg.dataset,
                                         attacks=attacks, step_ratios=step_ratios, seed=seed, device=dev)
        opts = {**ATLD.defaults, **t.cfg.method_kwargs}
        auc.insert(0, "variant", label)
        for i, k in enumerate(("disc_batches", "disc_latents", "invariance"), start=1):
            auc.insert(i, k, opts[k])
        ctrl.insert(0, "variant", label)
        aucs.append(auc)
        ctrls.append(ctrl)
    return pd.concat(aucs, ignore_index=True), pd.concat(ctrls, ignore_index=True)


def step_label(ratio: float) -> str:
    """A step given as a multiple of ε, written as a fraction of ε: 0, ε/8, ε/4, 3ε/4, ε, 2ε."""
    f = Fraction(float(ratio)).limit_denominator(64)
    if f == 0:
        return "0"
    num = "ε" if f.numerator == 1 else f"{f.numerator}ε"
    return num if f.denominator == 1 else f"{num}/{f.denominator}"


def separability_table(key: str = "atld-table1", *, scale: str, variants=DISC_VARIANTS, n_eval: int | None = None,
                       n_fit: int | None = None, device: str = "auto", seed: int = 0, attack: str = "PGD-20",
                       progress: bool = False) -> pd.DataFrame:
    """:func:`latent_separability` for each ATLD model of ``variants`` (as :func:`discriminator_table`; the runs are
    shared with it). ``n_fit`` defaults to :data:`SEPARABILITY_FIT` of the scale. A ``variant`` column comes first."""
    spec = core.table(key)
    dev = resolve_device(device)
    out = []
    n_eval = n_eval or spec.n_eval.get(scale)
    for label, t in core.trained_rows(key, scale=scale, rows=list(variants), seed=seed, n_eval=n_eval, device=device,
                                      progress=progress).items():
        df = latent_separability(t.model, t.run, t.splits, scale=scale, dataset=t.cfg.dataset, attack=attack,
                                 n_fit=n_fit or SEPARABILITY_FIT[scale], n_eval=n_eval, seed=seed, device=dev)
        df.insert(0, "variant", label)
        out.append(df)
    return pd.concat(out, ignore_index=True)


def separability_sentences(sep: pd.DataFrame, attack: str = "PGD-20") -> list[str]:
    """Per variant: D's AUC against the best probe fitted on the LMAE latents D trains on and the best probe fitted on
    ``attack`` latents — whether D or the training perturbation limits the separation IMT needs."""
    out = []
    for v, g in sep.groupby("variant", sort=False):
        d = float(g[g["scorer"].str.startswith("D ")]["auc"].iloc[0])
        lm = float(g[g["fitted on"] == "LMAE"]["auc"].max())
        at = float(g[g["fitted on"] == attack]["auc"].max())
        out.append(f"{v}: clean vs {attack} latents — D {d:.3f}; best probe fitted on the LMAE latents D trains on "
                   f"{lm:.3f}; best probe fitted on {attack} latents {at:.3f}")
    return out


def controls_wide(controls: pd.DataFrame, variant: str | None = None, value: str = "acc") -> pd.DataFrame:
    """The IMT controls of one variant as a wide table: one row per (direction, step), one column per input; the step
    is written as a fraction of ε (:func:`step_label`)."""
    c = controls if variant is None else controls[controls["variant"] == variant]
    w = c.pivot_table(index=["direction", "step/eps"], columns="input", values=value, sort=False)
    w = w[list(dict.fromkeys(c["input"]))].reset_index()
    w.insert(1, "step", [step_label(r) for r in w.pop("step/eps")])
    return w


def discriminator_sentences(auc: pd.DataFrame, controls: pd.DataFrame, attack: str = "PGD-20") -> list[str]:
    """Plain sentences per variant: D's AUC for clean vs ``attack`` latents, and whether IMT's step (D's sign, ε)
    beats a random-sign step and the flipped sign of the same size on ``attack`` inputs."""
    out = []
    for v in dict.fromkeys(auc["variant"]):
        a = auc[(auc["variant"] == v) & (auc["attack"] == attack)]
        if a.empty:
            continue
        a = a.iloc[0]
        line = (f"{v}: D's ROC-AUC clean vs {attack} latents {a['auc']:.3f} (mean P(natural) {a['p_nat_clean']:.3f} "
                f"clean, {a['p_nat_adv']:.3f} attacked)")
        c = controls[(controls["variant"] == v) & (controls["input"] == attack)].set_index(["direction", "step/eps"])
        try:
            acc0 = float(c.loc[("discriminator", 0.0), "acc"])
            d, r, f = (float(c.loc[(k, 1.0), "acc"]) for k in ("discriminator", "random", "flipped"))
        except KeyError:
            out.append(line)
            continue
        n = int(c.loc[("discriminator", 1.0), "n"])
        line += (f"; {attack} accuracy {acc0:.1f} % without IMT, {d:.1f} % with IMT (D's sign, step ε), "
                 f"{r:.1f} % with a random sign, {f:.1f} % with the flipped sign: D's sign − random sign "
                 f"{d - r:+.1f} pp, IMT − no IMT {d - acc0:+.1f} pp (same {n} inputs)")
        if d <= r:
            line += " — a random step of the same size does as well as D's"
        out.append(line)
    return out


# ---- transfer (Tables 3 and 6) ----------------------------------------------------------------------------------
#: defence rows of ATLD Tables 3 and 6 (the sources are the table's rows: standard, at_pgd, feature_scattering, atld)
TRANSFER_DEFENSES = ("at_pgd", "feature_scattering", "atld", "atld_imt", "atld_imt_plus")


def atld_transfer(key: str = "atld-table3", *, scale: str, n_eval: int | None = None, device: str = "auto",
                  seed: int = 0, batch_size: int = 500, progress: bool = False) -> tuple[pd.DataFrame, dict]:
    """ATLD Table 3 / Table 6 (Sec. 5.2, App. B.3): transfer-based black-box accuracy. Adversarial examples are
    crafted on each source model (Vanilla = standard, AT = at_pgd, FS, ATLD) with FGSM / PGD-20 / CW-20 and scored on
    every defence of :data:`TRANSFER_DEFENSES`, the IMT rows classifying through IMT (no gradient of the defence is
    used: black-box). Returns (long DataFrame: attack, source, defense, acc in %, n; info)."""
    spec = core.table(key)
    models = core.trained_rows(key, scale=scale, seed=seed, n_eval=n_eval or spec.n_eval.get(scale), device=device,
                               progress=progress)
    dev = resolve_device(device)
    first = next(iter(models.values()))
    targets = {m: models[m].model for m in TRANSFER_DEFENSES if m in models}
    if "atld" in models:
        targets.update({r: build_imt(models["atld"].run, models["atld"].model, plus=p, device=dev)
                        for r, p in IMT_ROWS.items()})
    specs = [attack_settings.get(a, scale=scale, paper="atld", dataset=first.cfg.dataset) for a in spec.attacks]
    correct = core.transfer_correct({m: t.model for m, t in models.items()}, targets, (first.x, first.y), specs,
                                    seed=seed, batch_size=batch_size, device=dev, rng="attack")
    n = len(first.y)
    out = [{"attack": a, "source": src, "defense": t, "acc": 100.0 * c.float().mean().item(), "n": n}
           for (a, src, t), c in correct.items()]
    return pd.DataFrame(out), table_info(key, scale, seed)


def transfer_beside_paper(key: str, df: pd.DataFrame, info: dict) -> pd.DataFrame:
    """Wide table, one row per defence: for each (source, attack) our accuracy and the paper's
    (``data/paper/atld_table3.csv`` / ``atld_table6.csv``, rows of the paper's dataset)."""
    paper = report.paper_table(core.table(key).paper_csv)
    paper = paper[paper["dataset"] == info["paper_dataset"]]
    merged = df.merge(paper[["defense", "source", "attack", "accuracy"]], on=["defense", "source", "attack"],
                      how="left").rename(columns={"accuracy": "paper"})
    merged["col"] = merged["source"] + " / " + merged["attack"]
    order = list(dict.fromkeys(merged["col"]))
    ours = merged.pivot(index="defense", columns="col", values="acc")[order]
    theirs = merged.pivot(index="defense", columns="col", values="paper")[order]
    wide = pd.concat({"ours": ours, "paper": theirs}, axis=1).swaplevel(axis=1)[order]
    wide.columns = [f"{c} ({w})" if w == "paper" else c for c, w in wide.columns]
    rows = [d for d in TRANSFER_DEFENSES if d in wide.index]
    return wide.loc[rows].reset_index()


def transfer_beside_papers(keys, df: pd.DataFrame, info: dict) -> pd.DataFrame:
    """One transfer result beside several papers' tables (``keys`` whose rows share their runs, e.g. ATLD Table 6's
    SVHN and CIFAR-100 halves at mini): ours once, then ``<column> (paper, <dataset>)`` for each table."""
    out = None
    for k in keys:
        ds = config.SETTINGS[core.table(k).setting]["dataset"]
        w = transfer_beside_paper(k, df, {**info, "paper_dataset": ds})
        w = w.rename(columns={c: c.replace(" (paper)", f" (paper, {ds})") for c in w.columns})
        out = w if out is None else out.merge(w[["defense"] + [c for c in w.columns if "(paper" in c]], on="defense")
    ours = [c for c in out.columns if c != "defense" and "(paper" not in c]
    order = ["defense"] + [x for c in ours for x in [c] + [c2 for c2 in out.columns if c2.startswith(f"{c} (paper")]]
    return out[order]


# ---- accuracy vs ε (Fig. 3) -------------------------------------------------------------------------------------
#: Fig. 3's budgets 4, 8, 12, 16, 20 (/255) as multiples of the training ε (8/255 at paper scale)
FIG3_EPS_RATIOS = (0.5, 1.0, 1.5, 2.0, 2.5)
FIG3_ROWS = ("at_pgd", "feature_scattering", "atld")


def eps_sweep(key: str = "atld-table1", *, scale: str, attacks: tuple[str, ...] = ("PGD-20", "CW-20"),
              ratios: tuple[float, ...] = FIG3_EPS_RATIOS, n_eval: int | None = None, device: str = "auto",
              seed: int = 0, adaptive: bool = True, progress: bool = False) -> pd.DataFrame:
    """ATLD App. B.1 Fig. 3: accuracy (%) under PGD-20 and CW-20 as the attack budget grows (ratios × the training
    ε; 4–20/255 at paper scale), for AT, FS, ATLD and ATLD-IMT (non-adaptive as the paper, and adaptive). Step sizes
    given relative to ε follow it (mini/smoke); absolute ones (2/255 at paper scale) stay. Long DataFrame: model,
    protocol, attack, eps, acc, n."""
    models = core.trained_rows(key, scale=scale, rows=[r for r in FIG3_ROWS if r in methods.names()], seed=seed,
                               n_eval=n_eval, device=device, progress=progress)
    dev = resolve_device(device)
    out = []
    for row, t in models.items():
        n = len(t.y)
        for r in ratios:
            eps = t.cfg.eps * r
            specs = [attack_settings.get(a, scale=scale, paper="atld", dataset=t.cfg.dataset, eps=eps)
                     for a in attacks]
            acc = core.robustness(t, specs, paper="atld", seed=seed, scale=scale, progress=False,
                                  device=dev).accuracy()
            out += [{"model": row, "protocol": "—", "attack": a, "eps": eps, "acc": 100 * acc[a], "n": n}
                    for a in attacks]
            if row == "atld":
                imt = imt_matrices(t.model, t.run, (t.x, t.y), specs, scale=scale, dataset=t.cfg.dataset, seed=seed,
                                   adaptive=adaptive, device=dev)
                for name, rm in imt.items():
                    imt_row, protocol = name.split("/")
                    if imt_row != "atld_imt" or protocol == "end-to-end":
                        continue
                    acc = rm.accuracy()
                    out += [{"model": imt_row, "protocol": protocol, "attack": a, "eps": eps, "acc": 100 * acc[a],
                             "n": n} for a in attacks]
    return pd.DataFrame(out)


# ---- the 2-D toy set of the illustrative figures (Fig. 1, 4, 6, 7) -------------------------------------------------
TOY_SETTING = "atld-toy"
#: method options for the toy runs. With C = 2 classes the paper's label smoothing δ = 0.5 gives the target
#: (1 − δ, δ/(C − 1)) = (0.5, 0.5): no label signal at all, so FS and ATLD use δ = 0.2 here. The tiny discriminator
#: suits a 2-64-64-2 MLP. ATLD's invariance weight λ = 1 (Eq. (7)) made the toy game collapse (features driven to
#: a constant, 50 % accuracy, in our runs); λ = 0.1 trains.
TOY_METHOD_KWARGS: dict[str, dict] = {"atld": {"disc_size": "tiny", "lr_d": 0.05, "label_smoothing": 0.2, "lam": 0.1},
                                      "feature_scattering": {"label_smoothing": 0.2}}
_MARGIN = 0.1  # fraction of the data range left free on each side of the unit square
#: the four models of ATLD Fig. 4 (App. B.4)
FIG4_METHODS = ("standard", "at_pgd", "feature_scattering", "atld")


def toy_splits(name: str = "moons", n_train: int | None = None, n_test: int | None = None) -> data.DataSplits:
    """A toy 2-D set (:func:`advdist.data.load`) mapped into [0, 1]² by one affine map per axis, fitted on the train
    split so that it spans [m, 1 − m] (m = 0.1); the fingerprint covers the mapped points (a distinct data identity
    for the run store)."""
    s = data.load(name, n_train=n_train, n_test=n_test)
    lo, hi = s.x_train.min(0).values, s.x_train.max(0).values
    scale = (1 - 2 * _MARGIN) / (hi - lo)
    f = lambda a: ((a - lo) * scale + _MARGIN).clamp(0, 1).float()  # noqa: E731
    xtr, xte = f(s.x_train), f(s.x_test)
    h = hashlib.sha256(f"advdist.analysis.toy2d/{name}/unit".encode())
    for a in (xtr, s.y_train, xte, s.y_test):
        h.update(a.numpy().tobytes())
    return data.DataSplits(xtr, s.y_train, xte, s.y_test, info=s.info, source=s.source, fingerprint=h.hexdigest(),
                           train_indices=s.train_indices, test_indices=s.test_indices, seed=s.seed)


def toy_config(scale: str, method: str, seed: int = 0, **overrides) -> config.TrainConfig:
    """The :data:`TOY_SETTING` config of ``method`` at ``scale`` with :data:`TOY_METHOD_KWARGS`."""
    kw = {**TOY_METHOD_KWARGS.get(method, {}), **overrides.pop("method_kwargs", {})}
    return config.resolve(scale, TOY_SETTING, method=method, seed=seed, method_kwargs=kw, **overrides)


def train_toy(scale: str, method: str, *, seed: int = 0, device: str = "cpu", splits=None):
    """(model, run, splits) for ``method`` on the toy set of ``scale`` (trained once, then loaded from the store)."""
    cfg = toy_config(scale, method, seed)
    splits = splits if splits is not None else toy_splits(cfg.dataset, cfg.n_train, cfg.n_test)
    t = core.trained(cfg, device=device, progress=False, splits=splits, scale=scale)
    return t.model, t.run, t.splits


def fit_discriminator(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, cfg: config.TrainConfig,
                      iters: int = 200, batch_size: int = 128, seed: int = 0) -> nn.Module:
    """An ATLD discriminator trained against a *fixed* classifier (ATLD Eq. (7) with θ frozen): ``iters`` rounds of
    LMAE + the discriminator's steps on random batches. Used for Fig. 1/7's ATLD perturbations of the clean model.
    Returns the discriminator in eval mode."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    method = ATLD(cfg.replace(method="atld"), model)
    feat = (model.features if method.hp["disc_input"] == "features" else model)
    for _ in range(int(iters)):
        idx = torch.randint(0, len(y), (min(batch_size, len(y)),), generator=g)
        xb, yb = x[idx], y[idx]
        x_adv = method.adversarial(model, xb)
        with torch.no_grad(), frozen(model):
            z_nat, z_adv = feat(xb), feat(x_adv)
        method.update_discriminator(z_nat, z_adv, smooth_labels(yb, method.num_classes, method.hp["label_smoothing"]))
    return method.disc.eval()
