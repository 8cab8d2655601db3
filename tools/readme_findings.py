"""Regenerate the README's generated findings from the committed mini tables (never typed by hand).

    python tools/readme_findings.py [--check]

Each block sits between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` in README.md and is rewritten from
the table it names. ``--check`` exits 1 when the README differs from what the tables give (a test runs it).
Until the claims ledger (issue 17) gives seeds and paired confidence intervals, every sentence says "one seed, n = …".
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path

import pandas as pd

from advdist import report

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: the papers' method names (``advdist.report.METHOD_NAMES``; ADT's win where the papers differ), with two README
#: spellings that read better in running text than the table headers' abbreviations
LABELS = {**report.METHOD_NAMES["atent"], **report.METHOD_NAMES["atld"], **report.METHOD_NAMES["adt"],
          "feature_scattering": "Feature Scattering", "atld": "ATLD"}


def read_table(path: Path) -> tuple[pd.DataFrame, list[str]]:
    lines = path.read_text().splitlines()
    notes = [ln[2:] for ln in lines if ln.startswith("# ")]
    return pd.read_csv(io.StringIO("\n".join(ln for ln in lines if not ln.startswith("#")))), notes


def _label(row: str) -> str:
    base, _, rest = row.partition(" ")
    return LABELS.get(base, base) + (f" {rest}" if rest else "")


def adt_table1() -> str:
    df, notes = read_table(ROOT / "figures" / "mini" / "adt" / "table1.csv")
    r = df.set_index("model")
    n = int(r["n"].iloc[0])
    base = r.loc["at_pgd", "A_rob"]
    adt = [m for m in r.index if m.startswith("adt_")]
    parts = [f"{_label(m)} {r.loc[m, 'A_rob']:.1f} % ({r.loc[m, 'A_rob'] - base:+.1f} pp)" for m in adt]
    better = [_label(m) for m in adt if r.loc[m, "A_rob"] > base]
    verdict = (f"{', '.join(better)} {'is' if len(better) == 1 else 'are'} above AT_PGD on A_rob" if better
               else "no ADT row is above AT_PGD on A_rob")
    others = [f"{_label(m)} {r.loc[m, 'A_rob']:.1f} %" for m in r.index if m not in adt and m != "at_pgd"]
    return (f"ADT Table 1 at mini (`figures/mini/adt/table1.md`; {notes[-1] if notes else ''}): AT_PGD reaches "
            f"A_rob {base:.1f} %; {'; '.join(parts)}. In this run (one seed, n = {n}) {verdict}; differences of a few "
            f"pp are within one run's sampling error (the claims ledger, issue 17, tests them with seeds and paired "
            f"confidence intervals). Other rows: {'; '.join(others)}. Standard falls to "
            f"{r.loc['standard', 'PGD-20']:.1f} % under PGD-20.")


def versus(csv: str, subject: str, baselines: list[str], name: str) -> str:
    """One sentence: ``subject``'s A_rob beside each baseline's, from the committed table ``csv``."""
    df, notes = read_table(ROOT / "figures" / "mini" / csv)
    r = df.set_index("model")
    n = int(r["n"].iloc[0])
    a = r.loc[subject, "A_rob"]
    parts = [f"{_label(b)} {r.loc[b, 'A_rob']:.1f} % ({a - r.loc[b, 'A_rob']:+.1f} pp)"
             for b in baselines if b in r.index]
    above = [_label(b) for b in baselines if b in r.index and a > r.loc[b, "A_rob"]]
    return (f"{name} at mini (`figures/mini/{csv.replace('.csv', '.md')}`; {notes[-1] if notes else ''}): "
            f"{_label(subject)} reaches A_rob {a:.1f} %; against it {'; '.join(parts)}. In this run (one seed, "
            f"n = {n}) {_label(subject)} is above {', '.join(above) if above else 'none of them'} on A_rob.")


def atent_table5() -> str:
    df, notes = read_table(ROOT / "figures" / "mini" / "atent" / "table5_smoothing.csv")
    r = df.set_index("model")
    a, t = r.loc["atent_l2", "r=0.435"], r.loc["trades_smooth", "r=0.435"]
    return (f"ATENT Table 5 at mini (`figures/mini/atent/table5_smoothing.md`; {notes[-1] if notes else ''}): "
            f"certified accuracy at ℓ2 radius 0.435 is {a:.0f} % for ℓ2-ATENT and {t:.0f} % for TRADES (smooth) "
            f"({a - t:+.0f} pp; one seed, n = {int(r['n'].iloc[0])} images; the paper: 55.41 vs 58.1 %).")


def _mini(csv: str) -> tuple[pd.DataFrame, str]:
    df, notes = read_table(ROOT / "figures" / "mini" / csv)
    return df, (notes[-1] if notes else "")


def atld_table1() -> str:
    t, note = _mini("atld/table1.csv")
    r = t.drop_duplicates("model").set_index("model")
    arob = next(c for c in r.columns if c.startswith("A_rob"))
    n = int(r["n"].iloc[0])
    ad, _ = _mini("atld/table1_adaptive.csv")
    ad = ad.set_index(["model", "protocol"])
    d, _ = _mini("atld/table1_discriminator.csv")
    auc = d[d.attack == "PGD-20"].set_index("variant")["auc"]
    c, _ = _mini("atld/table1_imt_controls.csv")
    full = c[(c["step/eps"] == 1.0) & (c.input == "PGD-20")].set_index(["variant", "direction"])["acc"]
    at0 = c[(c["step/eps"] == 0.0) & (c.input == "PGD-20") & (c.direction == "discriminator")]
    base = at0.set_index("variant")["acc"]

    def imt(row: str) -> str:
        return (f"{_label(row)}: PGD-20 {r.loc['atld', 'PGD-20']:.1f} → {r.loc[row, 'PGD-20']:.1f} %, CW-20 "
                f"{r.loc['atld', 'CW-20']:.1f} → {r.loc[row, 'CW-20']:.1f} % under the paper's non-adaptive protocol "
                f"(the paper: {r.loc['atld', 'PGD-20 (paper)']:.2f} → {r.loc[row, 'PGD-20 (paper)']:.2f} and "
                f"{r.loc['atld', 'CW-20 (paper)']:.2f} → {r.loc[row, 'CW-20 (paper)']:.2f}), A_rob "
                f"{ad.loc[(row, 'non-adaptive'), arob]:.1f} % as a worst case over those attacks and "
                f"{ad.loc[(row, 'adaptive'), arob]:.1f} % against attacks through IMT")
    variants = [v for v in auc.index if v in base.index]
    ctrl = "; ".join(f"{v}: AUC {auc[v]:.3f}, PGD-20 {base[v]:.1f} % → {full[(v, 'discriminator')]:.1f} % after a "
                     f"full-ε step along D's sign ({full[(v, 'random')]:.1f} % along a random sign)" for v in variants)
    return (f"ATLD Table 1 at mini (`figures/mini/atld/table1.md`; {note}): ATLD reaches A_rob "
            f"{r.loc['atld', arob]:.1f} % (PGD-20 {r.loc['atld', 'PGD-20']:.1f} %); Feature Scattering "
            f"{r.loc['feature_scattering', arob]:.1f} % "
            f"({r.loc['feature_scattering', 'PGD-20']:.1f} %); AT_PGD {r.loc['at_pgd', arob]:.1f} % "
            f"({r.loc['at_pgd', 'PGD-20']:.1f} %). Test-time IMT — {imt('atld_imt')}; IMT+ — {imt('atld_imt_plus')}. "
            f"The discriminator (ROC-AUC of clean vs PGD-20 latents, and the IMT controls): {ctrl}. One seed, n = {n}.")


def adt_table4() -> str:
    t, note = _mini("adt/table4.csv")
    r = t.set_index("model")
    n = int(r["n"].iloc[0])
    lit = next((c for c in r.columns if c.startswith("EXP (") and "paper" not in c), None)
    parts, weaker = [], []
    for m in r.index:
        d = r.loc[m, "EXP"] - r.loc[m, "PGD-20"]
        parts.append(f"{_label(m)} {r.loc[m, 'EXP']:.1f} vs {r.loc[m, 'PGD-20']:.1f} % ({d:+.1f} pp)")
        if d > 2:
            weaker.append(_label(m))
    verdict = ("EXP is within 2 pp of PGD-20 or stronger on every model" if not weaker else
               f"EXP is weaker than PGD-20 by more than 2 pp on {', '.join(weaker)}")
    extra = ""
    if lit:
        extra = (" With Eq. 11 read literally (entropy summed over the pixels) EXP leaves "
                 + ", ".join(f"{_label(m)} {r.loc[m, lit]:.1f} %" for m in r.index) + ".")
    return (f"ADT Table 4 at mini (`figures/mini/adt/table4.md`; {note}): accuracy under the EXP attack vs PGD-20 — "
            f"{'; '.join(parts)}. In this run (one seed, n = {n}) {verdict} (the paper: EXP slightly stronger than "
            f"PGD-20, e.g. 0.00 vs 0.00 % on Standard, 49.97 vs 50.03 % on AT_PGD).{extra}")


def adt_fig5() -> str:
    t, note = _mini("adt/fig5_lambda.csv")
    n = int(t["n"].iloc[0])
    out = []
    for form, name in (("mean", "in the paper's units (entropy averaged per coordinate, the default)"),
                       ("sum", "with the entropy summed over the pixels (Eq. 11 as printed)")):
        f = t[t["form"] == form].sort_values("lam")
        if f.empty:
            continue
        pts = "; ".join(f"λ = {r.lam:g}: entropy {r.entropy:.2f} per coordinate, σ {r.sigma:.2f}, A_rob {r.A_rob:.1f} %"
                        for r in f.itertuples())
        ent_up = bool((f["entropy"].diff().dropna() > 0).all())
        best = f.loc[f["A_rob"].idxmax()]
        out.append(f"{name}: {pts}. The entropy {'rises' if ent_up else 'does not rise'} with λ at every step; the "
                   f"best A_rob is at λ = {best.lam:g} ({best.A_rob:.1f} %)")
    return (f"ADT Fig. 5 at mini (`figures/mini/adt/fig5_lambda.md`; {note}), ADT_EXP-AM — " + ". ".join(out)
            + f". One seed, n = {n} (the paper: a larger λ gives a larger entropy and better robustness, and λ = 1 "
            f"hurts).")


def claims_block(csv: Path | None = None) -> str:
    """The ``<!-- generated:claims -->`` block: per paper, the verdicts of the claims ledger at mini
    (``figures/mini/claims.csv``, written by ``make claims SCALE=mini``), each measured claim with its effect and
    interval, and the claims not measured with their count. Not in :data:`BLOCKS` until the mini ledger is committed."""
    from advdist import claims

    path = csv or ROOT / "figures" / "mini" / "claims.csv"
    df = pd.read_csv(path, keep_default_na=True)
    m = df[df["status"] == "measured"]
    if m.empty:
        raise SystemExit(f"readme_findings: {path} has no measured claim")
    seeds = sorted({int(v) for v in m["n_seeds"]})
    lines = [f"The claims ledger at mini (`figures/mini/claims.md`; {len(df)} claims of the three papers, "
             f"{len(m)} measured with {'/'.join(map(str, seeds))} seeds on {m['dataset'].iloc[0]}): "
             + " ".join(s.replace("**", "") for s in claims.summary(df))]
    for paper, g in m.groupby("paper", sort=False):
        parts = [f"{r.id} {r.verdict} ({claims.effect_text(r)}; the paper "
                 f"{'–' if pd.isna(r.paper_effect) else claims.number(r.paper_effect, r.unit)})"
                 for r in g.itertuples()]
        lines.append(f"{paper.upper()}: " + "; ".join(parts) + ".")
    return "\n\n".join(lines)


def adt_fig1() -> str:
    t, note = _mini("adt/fig1_pairwise_l2.csv")
    r = t.set_index("model")
    parts = "; ".join(f"{m} {r.loc[m, 'pairwise_l2']:.2f} (misclassified {r.loc[m, 'error %']:.0f} % of the time)"
                      for m in r.index)
    verdict = "more" if r.loc["ADT_EXP", "pairwise_l2"] > r.loc["PGD", "pairwise_l2"] else "less"
    return (f"ADT Fig. 1 at mini (`figures/mini/adt/fig1_pairwise_l2.md`; {note}): mean pairwise ℓ2 distance of "
            f"{int(r['samples/image'].iloc[0])} samples per image over {int(r['images'].iloc[0])} images — {parts}. "
            f"ADT_EXP's samples are {verdict} diverse than PGD's with random restarts here (one seed; the paper: "
            f"1.95 vs 1.56).")


def adt_fig2() -> str:
    s_, note = _mini("adt/fig2_surface_stats.csv")
    e, _ = _mini("adt/fig2f_eigenvalues.csv")
    rise, eig = s_.set_index("model")["rise ±1ε"], e.set_index("model")["eig mean"]
    adt = [m for m in eig.index if m.startswith("adt_")]
    flatter = [_label(m) for m in adt if eig[m] < eig["at_pgd"] and rise[m] < rise["at_pgd"]]
    parts = "; ".join(f"{_label(m)} {eig[m]:.3g} ({rise[m]:.3g})" for m in eig.index)
    return (f"ADT Fig. 2 at mini (`figures/mini/adt/fig2f_eigenvalues.md`, `fig2_surface_stats.md`; {note}): mean "
            f"dominant input-Hessian eigenvalue over {int(e['images'].iloc[0])} images (and the loss rise within ±ε "
            f"over {int(s_['inputs'].iloc[0])} inputs) — {parts}. "
            + (f"{', '.join(flatter)} {'is' if len(flatter) == 1 else 'are'} flatter than AT_PGD on both measures"
               if flatter else "No ADT model is flatter than AT_PGD on both measures")
            + " in this run (one seed; the paper: the ADT models are flatter than AT_PGD).")


def adt_fig6() -> str:
    t, note = _mini("adt/fig6_exp_convergence_curves.csv")
    out = []
    for m, g in t.groupby("model", sort=False):
        g = g.sort_values("step")
        final = g["acc_all"].iloc[-1]
        within = g[(g["acc_all"] - final).abs() * 100 <= 1.0]["step"]
        first = int(within.iloc[0]) if len(within) else int(g["step"].iloc[-1])
        out.append(f"{_label(m)}: accuracy (all samples correct) {100 * g['acc_all'].iloc[0]:.1f} % before the fit, "
                   f"within 1 pp of its final {100 * final:.1f} % from step {first} of {int(g['step'].iloc[-1])}")
    return ("ADT Fig. 6 at mini (`figures/mini/adt/fig6_exp_convergence.md`; the EXP attack): " + "; ".join(out)
            + ". One seed (the paper: the EXP fit converges within a few iterations).")


def _table4_exp_standard() -> float:
    t, _ = _mini("adt/table4.csv")
    return float(t.set_index("model").loc["standard", "EXP"])


def adt_table4_variants() -> str:
    t, note = _mini("adt/table4_exp_variants.csv")
    r = t.set_index("variant")
    mean_row = next(v for v in r.index if v.startswith("mean point"))
    default = next(v for v in r.index if v.startswith("default"))
    others = [v for v in r.index if v not in (mean_row, default)]
    return (f"Why EXP leaves accuracy on the Standard model (`figures/mini/adt/table4_exp_variants.md`; {note}): the "
            f"default fit's means sit at median |μ| = {r.loc[mean_row, 'median |mu|']:.2f} (tanh saturates from about "
            f"3), and its mean point alone leaves {r.loc[mean_row, 'acc']:.1f} %; EXP itself leaves "
            f"{r.loc[default, 'acc']:.1f} % (Table 4's EXP column, another draw of the same attack: "
            f"{_table4_exp_standard():.1f} %). The other readings of the objective leave "
            + "; ".join(f"{v}: {r.loc[v, 'acc']:.1f} %" for v in others) + " (one seed).")


def atent_fig1() -> str:
    t, note = _mini("atent/fig1_tsne_accuracy.csv")
    r = t.set_index("model")
    best = r["PGD-40"].idxmax()
    parts = "; ".join(f"{_label(m)} {r.loc[m, 'PGD-40']:.1f} % (paper {r.loc[m, 'PGD-40 (paper)']:.2f})"
                      for m in r.index)
    return (f"ATENT Fig. 1 at mini (`figures/mini/atent/fig1_tsne_accuracy.md`; {note}): accuracy under PGD-40 — "
            f"{parts}. {_label(best)} is the most robust in this run (one seed, {len(r)} models; the paper: ℓ∞-ATENT).")


def atld_fig3() -> str:
    t, note = _mini("atld/fig3_budget.csv")
    g = t[t["attack"] == "PGD-20"].set_index("row")
    cols = [c for c in g.columns if c.startswith("eps=")]
    lo, hi = cols[0], cols[-1]
    parts = "; ".join(f"{_label(m.split(' (')[0])}{' (' + m.split(' (')[1] if ' (' in m else ''} "
                      f"{g.loc[m, lo]:.1f} → {g.loc[m, hi]:.1f} %" for m in g.index)
    above = [c[4:] for c in cols if g.loc["at_pgd", c] >= g.loc["atld", c]]
    verdict = ("AT_PGD stays at or above ATLD at every budget" if len(above) == len(cols) else
               f"AT_PGD is at or above ATLD at ε = {', '.join(above) or 'none'} of {', '.join(c[4:] for c in cols)}")
    return (f"ATLD Fig. 3 at mini (`figures/mini/atld/fig3_budget.md`; {note}): PGD-20 accuracy from ε = "
            f"{lo[4:]} to {hi[4:]} — {parts}. {verdict} (one seed; the paper: AT's accuracy drops quickly as the "
            f"budget grows, below ATLD's).")


def atld_table4() -> str:
    t, note = _mini("atld/table4_adaptive.csv")
    r = t.set_index(["model", "protocol"])
    m, _ = _mini("atld/table4.csv")
    fs = m.set_index("model").loc["feature_scattering"]
    n = int(t["n"].iloc[0])
    imt = "; ".join(f"{_label(row)} {r.loc[(row, 'non-adaptive'), 'AA']:.1f} % under the paper's non-adaptive "
                    f"protocol, {r.loc[(row, 'adaptive'), 'AA']:.1f} % attacked through IMT"
                    for row in ("atld_imt", "atld_imt_plus"))
    return (f"ATLD Table 4 at mini (`figures/mini/atld/table4.md`, `table4_adaptive.md`; {note}): under AutoAttack "
            f"ATLD keeps {r.loc[('atld', '—'), 'AA']:.1f} % and Feature Scattering {fs['AA']:.1f} %; {imt}. One seed, "
            f"n = {n} (the paper: ATLD-IMT+ 70.60 % vs Feature Scattering 36.64 % under AutoAttack).")


BLOCKS = {"adt-table1": adt_table1,
          "adt-table4": adt_table4,
          "adt-table4-variants": adt_table4_variants,
          "adt-fig1": adt_fig1,
          "adt-fig2": adt_fig2,
          "adt-fig6": adt_fig6,
          "adt-table11": lambda: versus("adt/table11.csv", "l2l", ["adt_expam", "adt_impam"], "ADT Table 11"),
          "atld-table1": atld_table1,
          "atld-table4": atld_table4,
          "atld-fig3": atld_fig3,
          "atent-fig1": atent_fig1,
          "atent-table5": atent_table5,
          "atent-table1": lambda: versus("atent/table1_mnist_l2.csv", "atent_l2",
                                         ["at_pgd", "trades", "standard", "entropy_sgd"], "ATENT Table 1"),
          "atent-table2": lambda: versus("atent/table2_mnist_linf.csv", "atent_linf",
                                         ["at_pgd", "trades", "mart", "standard", "entropy_sgd"], "ATENT Table 2")}


def render(text: str) -> str:
    for name, fn in BLOCKS.items():
        pat = re.compile(rf"(<!-- generated:{name} -->)\n(?:.*?\n)?(<!-- /generated:{name} -->)", re.S)
        if not pat.search(text):
            raise SystemExit(f"readme_findings: README.md has no block generated:{name}")
        text = pat.sub(lambda m: m.group(1) + "\n" + fn() + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    old = README.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md's generated findings differ from the tables: run `make readme`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
