"""The experiment layer's core: what a robustness table is, and the one runner that fills one in.

A table is a list of rows (a training method, optionally in another paper setting or with method options)
and named attack settings (columns) in one paper setting. Every table and figure goes through the same steps:

- :func:`trained` — resolve a config → load its data and the test subset attacked (:func:`eval_subset`) → get or
  train the model through the run store; every site that needs a trained model calls it;
- :func:`robustness` — evaluate a trained model through :func:`advdist.evaluate.robustness_matrix` (named settings or
  :class:`~advdist.attacks.AttackSpec` objects: the learned distributions of ADT Table 4, the IMT protocols of ATLD);
- :func:`run_table` — both for every row of a table, per seed, keeping each row's per-example correctness;
  :func:`evaluate_table` is its single-seed form in percent;
- :func:`transfer_correct` — attacks crafted on source models, scored on target models (ADT Fig. 4, ATLD Tables 3/6);
- :func:`with_paper` / :func:`write_report` — ours beside the paper's numbers, written as CSV, Markdown and LaTeX.

Each paper's tables and figure runners live in its wing (:mod:`advdist.experiments.adt`,
:mod:`~advdist.experiments.atld`, :mod:`~advdist.experiments.atent`), which registers its tables in :data:`TABLES`.
Notebooks call these and plot; they hold no loops of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from torch import nn

from advdist import config, data, evaluate, methods, paths, report, store
from advdist.attacks import settings as attack_settings
from advdist.attacks.settings import AttackSpec
from advdist.runtime import resolve_device


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
    #: ``attack_setting(name, scale=, dataset=)`` for columns that are not settings of :mod:`advdist.attacks.settings`
    #: (ADT Table 4's learned distributions); None: the paper's named settings
    attack_setting: Callable[..., AttackSpec] | None = None

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

    def attack_specs(self, names: Sequence[str], *, scale: str, dataset: str) -> list:
        """The columns ``names`` as :func:`robustness` takes them: the names themselves (the paper's settings), or
        the settings :attr:`attack_setting` builds."""
        if self.attack_setting is None:
            return list(names)
        return [self.attack_setting(a, scale=scale, dataset=dataset) for a in names]


#: every table of the three papers by key; each paper's wing (``adt``, ``atld``, ``atent``) registers its own
TABLES: dict[str, RobustnessTable] = {}


def register(*tables: RobustnessTable) -> None:
    """Add ``tables`` to :data:`TABLES` (a key defined twice is an error)."""
    for t in tables:
        if t.key in TABLES:
            raise ValueError(f"table {t.key!r} is defined twice")
        TABLES[t.key] = t


def table(key: str | RobustnessTable) -> RobustnessTable:
    """The table ``key`` of :data:`TABLES` (a :class:`RobustnessTable` is returned as it is)."""
    if isinstance(key, RobustnessTable):
        return key
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


# ------------------------------------------------------------------------------------------------
# resolve config → load data → get or train
# ------------------------------------------------------------------------------------------------
@dataclass
class Trained:
    """A model of the run store with what it was trained and is evaluated on: its config, data splits, run, the
    model (None when only looked up: ``trained(..., train=False)``) and the test subset ``(x, y)`` it is attacked on."""

    cfg: config.TrainConfig
    splits: data.DataSplits
    run: store.Run
    model: nn.Module | None
    x: torch.Tensor
    y: torch.Tensor


def trained(cfg: config.TrainConfig, *, device: str | torch.device = "auto", progress: bool = True, splits=None,
            n_eval: int | None = None, scale: str | None = None, train: bool = True) -> Trained:
    """The model of ``cfg``: its data (``splits``, default ``data.load`` of the config's dataset and subset sizes),
    the stratified test subset attacked at ``scale`` (default ``cfg.scale``; ``n_eval`` as :func:`eval_subset`), and
    the model from the run store, trained on a cache miss (``store.get_or_train``). ``train=False`` only looks the
    run up (``model`` None; ``run.done`` says whether it is finished)."""
    if splits is None:
        splits = data.load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, seed=0)
    if train:
        model, run = store.get_or_train(cfg, device=device, splits=splits, progress=progress)
    else:
        model, run = None, store.run_for(cfg, splits.fingerprint)
    x, y = eval_subset(splits, scale or cfg.scale, n_eval)
    return Trained(cfg=cfg, splits=splits, run=run, model=model, x=x, y=y)


def trained_rows(key: str | RobustnessTable, *, scale: str, rows: Sequence[str] | None = None, seed: int = 0,
                 n_eval: int | None = None, device: str | torch.device = "auto", progress: bool = True,
                 train: bool = True) -> dict[str, Trained]:
    """{label: :func:`trained`} for the implemented rows of table ``key`` among ``rows`` (default: the table's rows),
    each attacked on the subset of ``n_eval`` examples (None: ``config.EVAL_N``)."""
    spec = table(key)
    out = {}
    for r in [spec.row(x) for x in rows] if rows else spec.rows:
        if r.method not in methods.names():
            continue
        out[r.label] = trained(spec.config(r, scale, seed), device=device, progress=progress, n_eval=n_eval,
                               scale=scale, train=train)
    return out


def train_rows(key: str, *, scale: str, rows: list[str] | None = None, device: str = "auto", seed: int = 0,
               progress: bool = True) -> dict:
    """{label: (model, run, cfg, splits)} for the implemented rows of table ``key`` among ``rows`` (default: the
    table's rows), each trained on a cache miss of the run store (:func:`trained_rows`)."""
    got = trained_rows(key, scale=scale, rows=rows, seed=seed, device=device, progress=progress)
    return {label: (t.model, t.run, t.cfg, t.splits) for label, t in got.items()}


def _finished_runs(key: str, scale: str, rows: list[str] | None, seed: int):
    """``(label, run, splits)`` of each implemented row of table ``key`` whose run is finished (nothing is trained)."""
    for label, t in trained_rows(key, scale=scale, rows=rows, seed=seed, train=False).items():
        if t.run.done:
            yield label, t.run, t.splits


def train_times(key: str, *, scale: str, rows: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Seconds per training epoch of each row's cached run (ADT Fig. 7), from the runs' ``log.csv``.

    Rows whose model is not trained yet are left out (nothing is trained here). Columns: model, epochs,
    mean and min seconds per epoch, images per second, device.
    """
    out = []
    for label, run, splits in _finished_runs(key, scale, rows, seed):
        log, meta, n = run.log, run.meta, len(splits.y_train)
        out.append({"model": label, "epochs": len(log), "s/epoch": float(log["time_s"].mean()),
                    "min s/epoch": float(log["time_s"].min()), "img/s": n / float(log["time_s"].min()),
                    "device": meta.get("device", "?")})
    return pd.DataFrame(out)


def learning_curves(key: str, *, scale: str, rows: list[str] | None = None, seed: int = 0) -> pd.DataFrame:
    """Per-epoch logs of each row's finished run (nothing is trained here): a long DataFrame with columns model,
    epoch, lr, test_acc (clean, whole test split) and train_adv_acc (accuracy on the training method's own
    adversarial samples; NaN for standard training), in %."""
    frames = []
    for label, run, _ in _finished_runs(key, scale, rows, seed):
        log = run.log
        frames.append(pd.DataFrame({"model": label, "epoch": log["epoch"], "lr": log["lr"],
                                    "test_acc": 100 * log["test_acc"],
                                    "train_adv_acc": 100 * log.get("train_adv_acc", pd.Series(float("nan"),
                                                                                            index=log.index))}))
    cols = ["model", "epoch", "lr", "test_acc", "train_adv_acc"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def best_epochs(key: str, *, scale: str, seed: int = 0) -> dict[str, int]:
    """{row label: the epoch early stopping kept} for the finished runs of table ``key`` (Rice et al.; Table 6)."""
    return {label: int(run.meta["best_epoch"]) for label, run, _ in _finished_runs(key, scale, None, seed)
            if "best_epoch" in run.meta}


# ------------------------------------------------------------------------------------------------
# evaluation
# ------------------------------------------------------------------------------------------------
def robustness(t: Trained, attacks: Sequence, *, paper: str, seed: int = 0, scale: str | None = None,
               cascade: bool = False, progress: bool = True, eps: float | None = None, cache: bool = True,
               device: str | torch.device | None = None) -> evaluate.RobustnessMatrix:
    """The one evaluation path: ``t.model`` on its test subset under ``attacks`` (setting names of ``paper`` at
    ``scale``, default ``t.cfg.scale``, on the model's dataset; or :class:`~advdist.attacks.AttackSpec` objects),
    through :func:`advdist.evaluate.robustness_matrix`, each column cached beside the run (``cache=False``: not).
    ``eps`` overrides the named settings' budget."""
    return evaluate.robustness_matrix(t.model, (t.x, t.y), attacks, run=t.run if cache else None, cascade=cascade,
                                      seed=seed, progress=progress, scale=scale or t.cfg.scale, paper=paper,
                                      dataset=t.cfg.dataset, target_pool=(t.x, t.y), eps=eps, device=device)


def run_info(key: str | RobustnessTable, cfg: config.TrainConfig, scale: str) -> dict:
    """What a run of table ``key`` at ``scale`` ran on (``cfg``: one of its rows' configs) beside the paper's setting:
    scale, dataset, model, ε, training subset and epochs, attacks, and the paper's dataset, model, ε and epochs."""
    spec = table(key)
    paper = config.SETTINGS[spec.setting]
    return {"scale": scale, "dataset": cfg.dataset, "paper_dataset": paper["dataset"],
            "model": cfg.model, "eps": cfg.eps, "paper_model": paper["model"], "paper_eps": paper["eps"],
            "n_train": cfg.n_train, "epochs": cfg.epochs, "paper_epochs": paper["epochs"],
            "attacks": list(spec.attacks), "paper": spec.paper}


@dataclass
class TableRun:
    """What :func:`run_table` ran: per seed and row label the :func:`trained` model (``model`` None unless
    ``keep_models``) and its :class:`~advdist.evaluate.RobustnessMatrix` (per-example correctness); the rows left out
    (method not implemented) and :func:`run_info`."""

    key: str
    scale: str
    seeds: tuple[int, ...]
    trained: dict[int, dict[str, Trained]]
    matrices: dict[int, dict[str, evaluate.RobustnessMatrix]]
    missing: list[str]
    info: dict

    def accuracy(self, seed: int | None = None) -> pd.DataFrame:
        """One row per row label: accuracies in % (A_nat, one column per attack, A_rob) and ``n``, for ``seed``
        (default: the first)."""
        seed = self.seeds[0] if seed is None else seed
        return pd.DataFrame([{"model": label, **(rm.accuracy() * 100).to_dict(), "n": len(rm.correct)}
                             for label, rm in self.matrices[seed].items()])

    def correct(self, seed: int) -> dict[str, pd.DataFrame]:
        """Per row label, the per-example correctness (columns ``clean`` and one per attack) for ``seed``."""
        return {label: rm.correct for label, rm in self.matrices[seed].items()}


def run_table(key: str | RobustnessTable, *, scale: str, seeds: Sequence[int] = (0,), n: int | None = None,
              rows: Sequence[str] | None = None, attacks: Sequence[str] | None = None, device: str = "auto",
              cascade: bool = False, progress: bool = True, overrides: dict | None = None,
              keep_models: bool = False) -> TableRun:
    """Train/load every row's model of table ``key`` once per seed in ``seeds`` (the training and the attacks' seed)
    and attack it on the table's stratified test subset (``n`` examples; default the table's per-scale size, else
    ``config.EVAL_N``). ``rows`` picks rows by label (default: the table's rows, without the optional ones);
    ``attacks`` a subset of its columns. ``overrides``: config fields set on every row (e.g. ``{"model":
    "smallcnn"}``); ``None`` values are ignored."""
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    spec = table(key)
    chosen = [spec.row(r) for r in rows] if rows else spec.rows
    available = [r for r in chosen if r.method in methods.names()]
    missing = [r.label for r in chosen if r not in available]
    names = list(attacks) if attacks else list(spec.attacks)
    n = n or spec.n_eval.get(scale)
    got, matrices, cfg = {}, {}, None
    for seed in seeds:
        got[seed], matrices[seed] = {}, {}
        for r in available:
            cfg = spec.config(r, scale, seed, **overrides)
            t = trained(cfg, device=device, progress=progress, n_eval=n, scale=scale)
            specs = spec.attack_specs(names, scale=scale, dataset=cfg.dataset)
            matrices[seed][r.label] = robustness(t, specs, paper=spec.paper, seed=seed, scale=scale, cascade=cascade,
                                                 progress=progress, eps=cfg.eps if spec.eps_from_config else None)
            got[seed][r.label] = t if keep_models else Trained(t.cfg, t.splits, t.run, None, t.x, t.y)
    cfg = cfg or spec.config(spec.rows[0], scale, seeds[-1], **overrides)
    return TableRun(key=spec.key, scale=scale, seeds=tuple(seeds), trained=got, matrices=matrices, missing=missing,
                    info=run_info(spec, cfg, scale))


def evaluate_table(key: str, *, scale: str, rows: list[str] | None = None, n_eval: int | None = None,
                   device: str = "auto", cascade: bool = False, seed: int = 0, progress: bool = True,
                   overrides: dict | None = None):
    """:func:`run_table` for one seed. Returns ``(ours, missing, matrices, info)``:

    ``ours``: DataFrame, one row per available row label, accuracies in % (A_nat, attacks, A_rob) and ``n``;
    ``missing``: labels of rows whose training method is not implemented yet;
    ``matrices``: the per-example ``RobustnessMatrix`` of each row; ``info``: :func:`run_info`.
    """
    res = run_table(key, scale=scale, seeds=(seed,), n=n_eval, rows=rows, device=device, cascade=cascade,
                    progress=progress, overrides=overrides)
    return res.accuracy(seed), res.missing, res.matrices[seed], res.info


# ------------------------------------------------------------------------------------------------
# transfer: crafted on one model, scored on another
# ------------------------------------------------------------------------------------------------
def seeded_attack(spec, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, seed: int, batch_size: int = 500,
                  x_init: torch.Tensor | None = None) -> torch.Tensor:
    """``spec(model, ·)`` on all examples, ``batch_size`` at a time, after seeding the global RNG once with ``seed``
    (``x_init``: per-example starting points for attacks that take one)."""
    torch.manual_seed(seed)
    kw = lambda i: {} if x_init is None else {"x_init": x_init[i:i + batch_size]}  # noqa: E731
    return torch.cat([spec(model, x[i:i + batch_size], y[i:i + batch_size], **kw(i))
                      for i in range(0, len(y), batch_size)])


#: how :func:`transfer_correct` seeds the attacks: per chunk of examples from (seed, attack, source) in a forked RNG
#: (ADT Fig. 4), or the global RNG once per attack with seed + the attack's index (ATLD Tables 3 and 6)
TRANSFER_RNG = ("chunk", "attack")


def transfer_correct(sources: Mapping[str, nn.Module], targets: Mapping[str, nn.Module], data_xy, attacks: Sequence,
                     *, seed: int = 0, batch_size: int = 500, device: str | torch.device = "auto",
                     rng: str = "chunk") -> dict[tuple[str, str, str], torch.Tensor]:
    """Transfer (black-box) evaluation: adversarial examples crafted with each of ``attacks`` (AttackSpec objects) on
    each source model, classified by every target model. Returns ``{(attack, source, target): per-example correct}``
    (bool, CPU). ``rng``: how the attacks are seeded (:data:`TRANSFER_RNG`)."""
    if rng not in TRANSFER_RNG:
        raise ValueError(f"unknown transfer rng {rng!r}; valid: {', '.join(TRANSFER_RNG)}")
    dev = resolve_device(device)
    x, y = (t.to(dev) for t in data_xy)
    out = {}
    for k, spec in enumerate(attacks):
        for src, source in sources.items():
            source.eval()
            if rng == "attack":
                x_adv = seeded_attack(spec, source, x, y, seed=seed + k, batch_size=batch_size)
            else:
                parts = []
                for i in range(0, len(y), batch_size):
                    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
                        torch.manual_seed(evaluate.chunk_seed(seed, f"transfer:{spec.name}:{src}", i))
                        parts.append(spec(source, x[i:i + batch_size], y[i:i + batch_size]))
                x_adv = torch.cat(parts)
            for t, target in targets.items():
                out[(spec.name, src, t)] = evaluate.predict_correct(target, x_adv, y, batch_size)
    return out


# ------------------------------------------------------------------------------------------------
# ours beside the paper's, and the written report
# ------------------------------------------------------------------------------------------------
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


def with_paper(key: str | RobustnessTable, ours: pd.DataFrame, info: dict, *,
               paper: pd.DataFrame | None = None) -> pd.DataFrame:
    """``ours`` beside the paper's numbers of table ``key`` (``paper``: its CSV, ``data/paper/<paper_csv>.csv``, or
    the rows of it given); Δ only when the setting matches the paper's (:func:`comparable`)."""
    paper = report.paper_table(table(key).paper_csv) if paper is None else paper
    return report.beside_paper(ours, paper, comparable=comparable(info))


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
    notes = ([f"{r.label}: {r.note}" for r in spec.all_rows if r.note and r.label in set(ours["model"])]
             if len(ours) else [])
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
