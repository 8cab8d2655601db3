"""The experiment layer's core: what a robustness table is, and the one loop that fills one in.

A table is a list of rows (a training method, optionally in another paper setting or with method options)
and named attack settings (columns) in one paper setting; ``evaluate_table`` trains or loads each row's
model through the run store, attacks a stratified test subset (``config.EVAL_N``, or the table's own
per-scale size) and returns accuracies in percent beside the paper's. Each paper's tables and figure runners
live in its wing (:mod:`advdist.experiments.adt`, :mod:`~advdist.experiments.atld`,
:mod:`~advdist.experiments.atent`), which registers its tables in :data:`TABLES`. Notebooks call these and plot;
they hold no loops of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from advdist import config, data, evaluate, methods, paths, report, store


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


#: every table of the three papers by key; each paper's wing (``adt``, ``atld``, ``atent``) registers its own
TABLES: dict[str, RobustnessTable] = {}


def register(*tables: RobustnessTable) -> None:
    """Add ``tables`` to :data:`TABLES` (a key defined twice is an error)."""
    for t in tables:
        if t.key in TABLES:
            raise ValueError(f"table {t.key!r} is defined twice")
        TABLES[t.key] = t


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


def with_paper(key: str, ours: pd.DataFrame, info: dict) -> pd.DataFrame:
    """``ours`` beside the paper's numbers (Δ only when the setting matches the paper's: :func:`comparable`)."""
    return report.beside_paper(ours, report.paper_table(table(key).paper_csv), comparable=comparable(info))


def write_report(key: str, ours: pd.DataFrame, info: dict, missing: list[str], name: str,
                 floatfmt: str = ".2f") -> str:
    """Write table ``key`` (ours beside the paper's) as ``figures/<scale>/<paper>/<name>.{csv,md,tex}`` and
    return the text a notebook prints: the header line (scale, data, substitution), the Markdown table and
    the rows left out."""
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
    return "\n".join(lines)


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
