"""Definitions of the papers' robustness tables and the loop that fills one in.

A table is a list of rows (a training method, optionally in another paper setting or with method options)
and named attack settings (columns) in one paper setting; ``evaluate_table`` trains or loads each row's
model through the run store, attacks a stratified test subset (``config.EVAL_N``, or the table's own
per-scale size) and returns accuracies in percent beside the paper's. Notebooks call this and plot; they
hold no loops of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from advdist import config, data, evaluate, methods, paths, report, scales, store
from advdist.methods.adt_exp import ADT_EXP_LITERAL
from advdist.methods.adt_expam import ADT_EXPAM_LITERAL
from advdist.methods.adt_impam import ADT_IMPAM_LITERAL
from advdist.methods.atld import ATLD_INFORMATIVE_D, ATLD_OFFICIAL


@dataclass(frozen=True)
class Row:
    """One row of a table: ``label`` (the key in the paper's CSV) trained by ``method`` in ``setting``
    (None = the table's) with ``method_kwargs`` on top of the scale's defaults."""

    label: str
    method: str
    setting: str | None = None
    method_kwargs: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class RobustnessTable:
    key: str
    title: str
    paper: str
    setting: str
    methods: tuple  # of str (label = method) or Row
    attacks: tuple[str, ...]
    paper_csv: str
    #: rows run only when asked for by label (e.g. the ADT rows trained with the paper's equations read literally)
    optional: tuple = ()
    #: test examples attacked per scale, overriding ``config.EVAL_N`` (e.g. the expensive SPSA table)
    n_eval: dict = field(default_factory=dict)
    #: attack budget = the row's training ε (a setting whose ε differs from the paper's default, e.g. SVHN)
    eps_from_config: bool = False

    @property
    def rows(self) -> list[Row]:
        return [r if isinstance(r, Row) else Row(r, r) for r in self.methods]

    @property
    def all_rows(self) -> list[Row]:
        return self.rows + [r if isinstance(r, Row) else Row(r, r) for r in self.optional]

    def row(self, label: str) -> Row:
        for r in self.all_rows:
            if r.label == label:
                return r
        raise ValueError(f"unknown row {label!r} for {self.key}; valid: {', '.join(r.label for r in self.all_rows)}")

    def config(self, row: Row | str, scale: str, seed: int = 0, **overrides) -> config.TrainConfig:
        """The training config of ``row`` at ``scale`` (``overrides``: config fields, e.g. ``model``)."""
        row = self.row(row) if isinstance(row, str) else row
        over = {"method_kwargs": dict(row.method_kwargs)} if row.method_kwargs else {}
        return config.resolve(scale, row.setting or self.setting, method=row.method, seed=seed, **over, **overrides)


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


TABLES: dict[str, RobustnessTable] = {
    # ---- ADT (Dong et al., NeurIPS 2020) -------------------------------------------------------------
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
    # ---- ATLD tables (issue 5) ------------------------------------------------------------------------
    # the IMT rows (ATLD-IMT, ATLD-IMT+) are wrapped models: advdist.atld_experiments adds them
    "atld-table1": RobustnessTable(
        key="atld-table1", title="ATLD Table 1: white-box robustness (paper: CIFAR-10, ε = 8/255)", paper="atld",
        setting="atld-cifar10", methods=("standard", "at_pgd", "feature_scattering", "atld"),
        attacks=("FGSM", "PGD-20", "PGD-40", "PGD-100", "CW-20", "CW-40", "CW-100"), paper_csv="atld_table1",
        # the discriminator diagnostics (atld_experiments.discriminator_table) also train these two variants
        optional=(Row("atld (informative D)", "atld", method_kwargs=ATLD_INFORMATIVE_D,
                      note="issue 15's discriminator: mixed natural/perturbed batches through D's BatchNorm and "
                           "latents from the eval-mode classifier (the default keeps the official code's pure batches)"),
                  Row("atld (code)", "atld", method_kwargs=ATLD_OFFICIAL,
                      note="the official release's step: logits into D, logit MSE with the adaptive weight instead "
                           "of fooling D, random start, pure D batches"))),
    **{f"atld-table2-{ds}": RobustnessTable(
        key=f"atld-table2-{ds}", title=f"ATLD Table 2: white-box robustness (paper: {name}, ε = 8/255)", paper="atld",
        setting=f"atld-{ds}", methods=("standard", "at_pgd", "feature_scattering", "atld"),
        attacks=("FGSM", "PGD-20", "PGD-100", "CW-20", "CW-100"), paper_csv=f"atld_table2_{ds}")
       for ds, name in (("cifar100", "CIFAR-100"), ("svhn", "SVHN"))},
    # transfer (black-box): sources = these rows, targets = the defences incl. the IMT rows (atld_experiments)
    **{key: RobustnessTable(
        key=key, title=title, paper="atld", setting=setting,
        methods=("standard", "at_pgd", "feature_scattering", "atld"), attacks=("FGSM", "PGD-20", "CW-20"),
        paper_csv=csv)
       for key, title, setting, csv in (
           ("atld-table3", "ATLD Table 3: transfer attacks (paper: CIFAR-10, ε = 8/255)", "atld-cifar10", "atld_table3"),
           ("atld-table6-svhn", "ATLD Table 6: transfer attacks (paper: SVHN, ε = 8/255)", "atld-svhn", "atld_table6"),
           ("atld-table6-cifar100", "ATLD Table 6: transfer attacks (paper: CIFAR-100, ε = 8/255)", "atld-cifar100",
            "atld_table6"))},
    **{key: RobustnessTable(
        key=key, title=title, paper="atld", setting=setting, methods=("feature_scattering", "atld"),
        attacks=("CW-100", "AA", "RayS"), paper_csv=csv, n_eval=scales.TABLE_N_EVAL[key])
       for key, title, setting, csv in (
           ("atld-table4", "ATLD Table 4: AutoAttack and RayS (paper: CIFAR-10, ε = 8/255)", "atld-cifar10", "atld_table4"),
           ("atld-table5", "ATLD Table 5: AutoAttack and RayS (paper: CIFAR-100, ε = 8/255)", "atld-cifar100", "atld_table5"))},
    # ---- ATENT tables (issue 6) -----------------------------------------------------------------------
    "atent-table1": RobustnessTable(
        key="atent-table1", title="ATENT Table 1: ℓ2 robustness (MNIST, LeNet5, ε2 = 2)", paper="atent",
        setting="atent-mnist-l2",
        methods=("standard", "entropy_sgd", "at_pgd", Row("trades", "trades", method_kwargs={"beta": 1.0},
                                                          note="TRADES' MNIST β = 1"), "mma", "atent_l2"),
        attacks=("L2-PGD-40", "CW-L2"), paper_csv="atent_table1", n_eval=scales.TABLE_N_EVAL["atent-table1"]),
    "atent-table2": RobustnessTable(
        key="atent-table2", title="ATENT Table 2: ℓ∞ robustness (MNIST, SmallCNN, ε = 0.3)", paper="atent",
        setting="atent-mnist-linf",
        methods=("standard", "entropy_sgd", "at_pgd", Row("trades", "trades", method_kwargs={"beta": 1.0},
                                                          note="TRADES' MNIST β = 1"), "mma", "mart", "atent_linf"),
        attacks=("PGD-20", "C&W"), paper_csv="atent_table2"),
    "atent-table3": RobustnessTable(
        key="atent-table3", title="ATENT Table 3: ℓ∞ robustness (CIFAR-10, WRN-34-10, ε = 8/255)", paper="atent",
        setting="atent-cifar10-linf", methods=("at_pgd", "trades", "mart", "atent_linf"),
        attacks=("PGD-20", "C&W", "DeepFool"), paper_csv="atent_table3"),
}


def table(key: str) -> RobustnessTable:
    if key not in TABLES:
        raise ValueError(f"unknown table {key!r}; valid: {', '.join(TABLES)}")
    return TABLES[key]


def eval_subset(splits, scale: str, n_eval: int | None = None):
    """Stratified, deterministic subset of the test split attacked at ``scale`` (``n_eval`` or ``config.EVAL_N``)."""
    n = n_eval if n_eval else config.EVAL_N[scale]
    if n is None or n >= len(splits.y_test):
        return splits.x_test, splits.y_test
    idx = torch.as_tensor(data.stratified_indices(splits.y_test.numpy(), n, 0, 2))
    return splits.x_test[idx], splits.y_test[idx]


def evaluate_table(key: str, *, scale: str, rows: list[str] | None = None, n_eval: int | None = None,
                   device: str = "auto", cascade: bool = False, seed: int = 0, progress: bool = True,
                   overrides: dict | None = None):
    """Train/load every row's model and attack it. Returns ``(ours, missing, matrices, info)``:

    ``ours``: DataFrame, one row per available row label, accuracies in % (A_nat, attacks, A_rob) and ``n``;
    ``missing``: labels of rows whose training method is not implemented yet;
    ``matrices``: the per-example ``RobustnessMatrix`` of each row; ``info``: scale/dataset strings.
    ``rows`` picks rows by label (default: the table's rows, without the optional ones). ``overrides``: config fields
    set on every row (e.g. ``{"model": "smallcnn"}`` to run the paper's net at mini); ``None`` values are ignored.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    spec = table(key)
    chosen = [spec.row(r) for r in rows] if rows else spec.rows
    available = [r for r in chosen if r.method in methods.names()]
    missing = [r.label for r in chosen if r not in available]
    n_eval = n_eval or spec.n_eval.get(scale)
    out, matrices, cfg = [], {}, None
    for r in available:
        cfg = spec.config(r, scale, seed, **overrides)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        model, run = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
        x, y = eval_subset(splits, scale, n_eval)
        rm = evaluate.robustness_matrix(model, (x, y), spec.attacks, run=run, cascade=cascade, seed=seed,
                                        progress=progress, scale=scale, paper=spec.paper, dataset=cfg.dataset,
                                        target_pool=(x, y), eps=cfg.eps if spec.eps_from_config else None)
        matrices[r.label] = rm
        out.append({"model": r.label, **(rm.accuracy() * 100).to_dict(), "n": len(y)})
    ours = pd.DataFrame(out)
    cfg = cfg or spec.config(spec.rows[0], scale, seed, **overrides)
    paper = config.SETTINGS[spec.setting]
    info = {"scale": scale, "dataset": cfg.dataset, "paper_dataset": paper["dataset"],
            "model": cfg.model, "eps": cfg.eps, "paper_model": paper["model"], "paper_eps": paper["eps"],
            "n_train": cfg.n_train, "epochs": cfg.epochs, "paper_epochs": paper["epochs"],
            "attacks": list(spec.attacks), "paper": spec.paper}
    return ours, missing, matrices, info


def comparable(info: dict) -> bool:
    """Δ to the paper is meaningful: the paper's scale and dataset, or a smaller run on the paper's dataset with the
    paper's model and ε (e.g. ATENT Tables 1-2 on real MNIST at mini; :func:`differences` says what differs)."""
    if info["dataset"] != info["paper_dataset"]:
        return False
    if info["scale"] == "paper":
        return True
    return (info.get("model") == info.get("paper_model") and info.get("paper_eps") is not None
            and abs(float(info["eps"]) - float(info["paper_eps"])) < 1e-9)


def differences(info: dict) -> str:
    """What a comparable smaller run does not share with the paper's: training subset and epochs, and every attack
    setting whose arguments differ from the paper's (``info`` from :func:`evaluate_table`)."""
    from advdist.attacks import settings as attack_settings

    out = []
    if info.get("paper_model") and info.get("model") != info["paper_model"]:
        out.append(f"model {info['model']} (paper: {info['paper_model']})")
    if info.get("paper_eps") is not None and abs(float(info["eps"]) - float(info["paper_eps"])) > 1e-9:
        out.append(f"ε = {info['eps']:.4g} (paper: {info['paper_eps']:.4g})")
    n = info.get("n_train")
    out.append(f"training on {n if n else 'all'} images for {info['epochs']} epochs (paper: all, "
               f"{info['paper_epochs']} epochs)")
    for name in info.get("attacks", []):
        try:
            ours = attack_settings.get(name, scale=info["scale"], paper=info["paper"], dataset=info["dataset"]).kwargs
            theirs = attack_settings.get(name, scale="paper", paper=info["paper"], dataset=info["paper_dataset"]).kwargs
        except ValueError:
            continue
        diff = [f"{k} {ours.get(k)!r} (paper {theirs.get(k)!r})" for k in sorted(set(ours) | set(theirs))
                if ours.get(k) != theirs.get(k)]
        if diff:
            out.append(f"{name}: " + ", ".join(diff))
    return "; ".join(out)


def _finished_runs(key: str, scale: str, rows: list[str] | None, seed: int):
    """``(row, run, splits)`` of each implemented row of table ``key`` whose run is finished (nothing is trained)."""
    spec = table(key)
    for r in ([spec.row(x) for x in rows] if rows else spec.rows):
        if r.method not in methods.names():
            continue
        cfg = spec.config(r, scale, seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        run = store.run_for(cfg, splits.fingerprint)
        if run.done:
            yield r, run, splits


def train_times(key: str, *, scale: str, rows: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Seconds per training epoch of each row's cached run (ADT Fig. 7), from the runs' ``log.csv``.

    Rows whose model is not trained yet are left out (nothing is trained here). Columns: model, epochs,
    mean and min seconds per epoch, images per second, device.
    """
    out = []
    for r, run, splits in _finished_runs(key, scale, rows, seed):
        log, meta, n = run.log, run.meta, len(splits.y_train)
        out.append({"model": r.label, "epochs": len(log), "s/epoch": float(log["time_s"].mean()),
                    "min s/epoch": float(log["time_s"].min()), "img/s": n / float(log["time_s"].min()),
                    "device": meta.get("device", "?")})
    return pd.DataFrame(out)


def learning_curves(key: str, *, scale: str, rows: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Per-epoch logs of each row's finished run (nothing is trained here): a long DataFrame with columns model,
    epoch, lr, test_acc (clean, whole test split) and train_adv_acc (accuracy on the training method's own
    adversarial samples; NaN for standard training), in %."""
    frames = []
    for r, run, _ in _finished_runs(key, scale, rows, seed):
        log = run.log
        frames.append(pd.DataFrame({"model": r.label, "epoch": log["epoch"], "lr": log["lr"],
                                    "test_acc": 100 * log["test_acc"],
                                    "train_adv_acc": 100 * log.get("train_adv_acc", pd.Series(float("nan"),
                                                                                            index=log.index))}))
    cols = ["model", "epoch", "lr", "test_acc", "train_adv_acc"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def train_rows(key: str, *, scale: str, rows: list[str] | None = None, device: str = "auto", seed: int = 0,
               progress: bool = True) -> dict:
    """{label: (model, run, cfg, splits)} for the implemented rows of table ``key`` among ``rows`` (default: the
    table's rows), each trained on a cache miss of the run store."""
    spec, out = table(key), {}
    for label in rows or [r.label for r in spec.rows]:
        r = spec.row(label)
        if r.method not in methods.names():
            continue
        cfg = spec.config(r, scale, seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        model, run = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
        out[label] = (model, run, cfg, splits)
    return out


def best_epochs(key: str, *, scale: str, seed: int = 0) -> dict[str, int]:
    """{row label: the epoch early stopping kept} for the finished runs of table ``key`` (Rice et al.; Table 6)."""
    spec, out = table(key), {}
    for r in spec.rows:
        if r.method not in methods.names():
            continue
        cfg = spec.config(r, scale, seed)
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
        run = store.run_for(cfg, splits.fingerprint)
        if run.done and "best_epoch" in run.meta:
            out[r.label] = int(run.meta["best_epoch"])
    return out


def transfer_matrix(key: str = "adt-table1", *, scale: str, rows: list[str] | None = None,
                    attacks: tuple[str, ...] = ("PGD-20", "MIM"), n_eval: int | None = None, device: str = "auto",
                    seed: int = 0, progress: bool = True, batch_size: int = 500) -> pd.DataFrame:
    """Transfer-based black-box accuracy (ADT Sec. 5.2, Fig. 4): adversarial examples crafted on each source
    model with each attack, scored on every target model (the diagonal is the white-box accuracy).

    Models are the rows of table ``key`` (default: the implemented ones); all are attacked on the same
    stratified test subset. Returns a long DataFrame: attack, source, target, acc (in %), n.
    """
    from advdist.attacks import settings as attack_settings
    from advdist.evaluate import chunk_seed as _chunk_seed
    from advdist.train import resolve_device

    spec = table(key)
    labels = rows or [r.label for r in spec.rows]
    models = train_rows(key, scale=scale, rows=labels, device=device, seed=seed, progress=progress)
    if not models:
        raise ValueError(f"none of the rows {labels} of {key} is implemented")
    dev = resolve_device(device)
    _, _, cfg, splits = next(iter(models.values()))
    x, y = eval_subset(splits, scale, n_eval or spec.n_eval.get(scale))
    out = []
    for name in attacks:
        atk = attack_settings.get(name, scale=scale, paper=spec.paper, dataset=cfg.dataset)
        for src, (source, *_rest) in models.items():
            correct = {t: 0 for t in models}
            for i in range(0, len(y), batch_size):
                xb, yb = x[i:i + batch_size].to(dev), y[i:i + batch_size].to(dev)
                with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                    torch.manual_seed(_chunk_seed(seed, f"transfer:{name}:{src}", i))
                    x_adv = atk(source, xb, yb)
                with torch.no_grad():
                    for t, (target, *_r) in models.items():
                        correct[t] += (target(x_adv).argmax(1) == yb).sum().item()
            out += [{"attack": name, "source": src, "target": t, "acc": 100.0 * c / len(y), "n": len(y)}
                    for t, c in correct.items()]
    return pd.DataFrame(out)


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
    from advdist.samplers import check_entropy

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
                cfg = config.resolve(scale, "adt-cifar10", method=method, seed=seed, **over)
                splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
                model, run = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
                x, y = eval_subset(splits, scale, n_eval)
                rm = evaluate.robustness_matrix(model, (x, y), attacks, run=run, seed=seed, progress=progress,
                                                scale=scale, paper="adt", dataset=cfg.dataset)
                log = run.log
                last = {c: float(log[c].iloc[-1]) if c in log else float("nan") for c in ("entropy", "sigma")}
                cache[key] = {**(rm.accuracy() * 100).to_dict(), **last, "n": len(y)}
            out.append({"form": form, "lam": float(lam), **cache[key]})
    return pd.DataFrame(out)


def with_paper(key: str, ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """``ours`` beside the paper's numbers (Δ only when the setting matches the paper's: :func:`comparable`)."""
    return report.beside_paper(ours, report.paper_table(table(key).paper_csv), comparable=comparable(info))


def write_report(key: str, ours: pd.DataFrame, info: dict, missing: list[str], name: str,
                 floatfmt: str = ".2f") -> str:
    """Write table ``key`` (ours beside the paper's) as ``figures/<scale>/<paper>/<name>.{csv,md,tex}`` and
    return the text a notebook prints: the header line (scale, data, substitution), the Markdown table and
    the rows left out (a :class:`advdist.report.Document`: in a notebook, the rendered table and those lines)."""
    spec = table(key)
    tab = with_paper(key, ours, info)
    n = int(ours["n"].iloc[0]) if len(ours) else 0
    same = comparable(info)
    note = report.header(scale=info["scale"], dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                         extra=f"model {info['model']}, ε = {info['eps']:.4g}; protocol: white-box "
                               f"{', '.join(spec.attacks)} on each model; {n} test examples attacked",
                         comparable=same,
                         differences=differences(info) if info["dataset"] == info["paper_dataset"] else "")
    report.write_table(tab, paths.figures_dir(info["scale"], spec.paper) / name, title=spec.title, note=note,
                       floatfmt=floatfmt)
    lines = [note, report.to_markdown(tab, floatfmt)]
    notes = [f"{r.label}: {r.note}" for r in spec.all_rows if r.note and r.label in set(ours["model"])] if len(ours) else []
    if notes:
        lines.append("rows: " + "; ".join(notes))
    if missing:
        lines.append("not yet implemented (rows left out): " + ", ".join(missing))
    shown = report.show(tab, title=spec.title, note=note, paper=spec.paper, floatfmt=floatfmt)
    return report.Document("\n".join(lines), [shown, *lines[2:]])


def compare_rows(ours: pd.DataFrame, rows: list[str], baseline: str, column: str = "A_rob") -> list[str]:
    """Plain sentences: does each of ``rows`` beat ``baseline`` on ``column``? (only rows present)."""
    vals = dict(zip(ours["model"], ours[column]))
    if baseline not in vals:
        return [f"{baseline} not in the table; no comparison"]
    out = []
    for r in rows:
        if r not in vals:
            continue
        d = vals[r] - vals[baseline]
        verdict = "beats" if d > 0 else ("ties" if d == 0 else "does not beat")
        out.append(f"{r} {verdict} {baseline} on {column}: {vals[r]:.2f} vs {vals[baseline]:.2f} ({d:+.2f} pp)")
    return out
