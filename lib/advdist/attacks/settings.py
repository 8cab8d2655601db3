"""Named attack settings of the three papers, per scale — the one table that maps a column name to a call.

    spec = settings.get("PGD-20", paper="adt", scale="paper", dataset="cifar10")
    x_adv = spec(model, x, y)            # = advdist.attacks.pgd(model, x, y, eps=8/255, alpha=2/255, steps=20)

Sources (paper scale; "[code]" = the official code, where the paper is silent; "[assumption]" = ours):
- ADT (Dong et al. 2020) §5.1: ε = 8/255 (CIFAR), 4/255 (SVHN); α = ε/4; PGD-20/100, MIM 20 steps (μ = 1), C&W 30
  steps (margin loss, κ = 50 [code]); FeaAttack App. C.5: α = ε/8, 50 steps, 200 targets (the paper's ε also for
  SVHN; the code's 8/255 there is a bug); SPSA §5.2: 256/512/1024/2048 samples, σ = 1e-3, lr 0.01, 100 iterations,
  CIFAR-10 only; Table 6 adds PGD-10.
- ATLD (ICLR 2021 submission) §5.1, App. B.2: ε = 8 (/255) everywhere; FGSM, PGD-20/40/100, CW-20/40/100, AA, RayS.
  Step 2/255 and a uniform random start for every attack, FGSM included [code]; CW margin κ = 50 [code].
- ATENT (Jagatap et al.) §4: MNIST ℓ∞ ε = 0.3, PGD-20 step 0.01 (Table 2); MNIST ℓ2 ε = 2, PGD-40 step 0.25 with 10
  random restarts (Table 1, §4); CIFAR-10 ℓ∞ ε = 8/255, PGD-20 step 0.003 (Table 3); CIFAR-10 ℓ2 PGD-10 at ε = 0.5
  (Table 4; step 2.5·ε/10 as stated for its training attack [assumption for the test attack]); ℓ∞ C&W, DeepFool and
  C&W-ℓ2 ran through foolbox / ART with unstated settings (C&W-ℓ2 settings from the code's ``scripts/attacks.py``).

Scales (DESIGN.md; the numbers of mini and smoke are defined in ``advdist.scales``): ``paper`` = the numbers
above; ``mini`` = Fashion-MNIST with ℓ∞ ε = 0.1 (ℓ2 ε = 1.0) and the papers' step counts — every ℓ∞ step size is
ε/4 (ADT's rule; FeaAttack ε/8) so that 20 steps can reach the ball's boundary, ℓ2 steps ε/8 (ATENT's MNIST ratio
0.25/2); ``smoke`` = sklearn digits, same ε as mini, tiny step counts for CI. Nothing here is computed on the
paper's dataset unless ``scale="paper"``, with one exception: ATENT Tables 1-2 run on real MNIST at mini, with the
paper's MNIST rows unchanged.

A row names its attack by the function's name in one of the attack modules (``gradient``, ``feature``, ``spsa``,
``deepfool``, ``cw_l2``, ``rays``, ``autoattack``; looked up when the setting is called, so a replaced function is
seen), or, for an attack defined above ``advdist.attacks`` (a sampler used as an attack, e.g. ATENT-20), as
``"module:function"``: such a function registers itself with :func:`register_attack` when its module is imported
(``advdist.samplers`` does; ``advdist.evaluate`` imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from advdist import scales
from advdist.threat import Norm, ThreatModel

from . import autoattack, cw_l2, deepfool, feature, gradient, rays, spsa

#: a value given as a fraction of ε (α = ε/4 → ``Rel(1/4)``), resolved when a setting is built (``scales.Rel``)
Rel = scales.Rel


# ---- the table ---------------------------------------------------------------------------------------------
# Rows: name -> (function in advdist.attacks, kwargs, note). ``eps`` in kwargs overrides the dataset's ε
# (ℓ2 rows). SMOKE / MINI hold per-name overrides applied on top of the paper row at those scales.

_ADT_ROWS: dict[str, tuple[str, dict, str]] = {
    "FGSM": ("fgsm", {}, "ADT §5.1: one ε step, no random start [code]"),
    "PGD-10": ("pgd", {"alpha": Rel(1 / 4), "steps": 10}, "ADT Table 6"),
    "PGD-20": ("pgd", {"alpha": Rel(1 / 4), "steps": 20}, "ADT §5.1: α = ε/4, random start [code]"),
    "PGD-100": ("pgd", {"alpha": Rel(1 / 4), "steps": 100}, "ADT §5.1"),
    "MIM": ("mim", {"alpha": Rel(1 / 4), "steps": 20, "decay": 1.0}, "ADT §5.1: 20 steps, μ = 1, random start [code]"),
    "C&W": ("cw_linf", {"alpha": Rel(1 / 4), "steps": 30, "kappa": 50.0},
            "ADT §5.1: PGD on the C&W margin, κ = 50 [code]"),
    "FeaAttack": ("feature_attack", {"alpha": Rel(1 / 8), "steps": 50, "n_targets": 200},
                  "ADT App. C.5: α = ε/8, 50 steps, 200 targets; pass target_pool=(x_test, y_test)"),
}
_SPSA_ROWS = {
    f"SPSA-{n}": ("spsa", {"samples": n, "delta": 1e-3, "lr": 0.01, "iterations": 100, "early_stop": True},
                  "ADT §5.2 / Table 3: perturbation size 1e-3, Adam lr 0.01, 100 iterations, early stop")
    for n in (256, 512, 1024, 2048)
}
_ATLD_STEP = 2 / 255
_ATLD_ROWS: dict[str, tuple[str, dict, str]] = {
    "FGSM": ("fgsm", {"random_start": True}, "ATLD Table 1; uniform random start then one ε step [code]"),
    **{f"PGD-{k}": ("pgd", {"alpha": _ATLD_STEP, "steps": k}, "ATLD Table 1; step 2/255 [code]")
       for k in (20, 40, 100)},
    **{f"CW-{k}": ("cw_linf", {"alpha": _ATLD_STEP, "steps": k, "kappa": 50.0},
                   "ATLD Table 1; PGD on the C&W margin, step 2/255, κ = 50 [code]") for k in (20, 40, 100)},
    "AA": ("autoattack", {"norm": "linf", "version": "standard"}, "ATLD App. B.2 Tables 4-5: standard AutoAttack"),
    "RayS": ("rays", {"queries": 40000}, "ATLD App. B.2 Table 4; query budget of the RayS leaderboard [assumption]"),
}
_ATENT_MNIST_ROWS: dict[str, tuple[str, dict, str]] = {
    "PGD-20": ("pgd", {"alpha": 0.01, "steps": 20}, "ATENT Table 2 / §4: 20 steps, step 0.01, ε = 0.3"),
    "C&W": ("cw_linf", {"alpha": 0.01, "steps": 20, "kappa": 50.0},
            "ATENT Table 2 ℓ∞ C&W (foolbox/ART, settings unstated): PGD-20 settings on the margin loss [assumption]"),
    "DeepFool": ("deepfool", {"norm": "linf", "steps": 50, "overshoot": 0.02},
                 "ATENT §4 (foolbox defaults [assumption]); robust if the minimal perturbation exceeds ε"),
    "L2-PGD-40": ("pgd", {"eps": 2.0, "norm": "l2", "alpha": 0.25, "steps": 40, "restarts": 10},
                  "ATENT Table 1 / §4: ℓ2 ε = 2, 40 steps of 0.25, 10 random restarts"),
    "CW-L2": ("cw_l2", {"eps": 2.0, "binary_search_steps": 10, "steps": 1000, "lr": 7e-4, "kappa": 0.0},
              "ATENT Table 1; foolbox C&W-ℓ2 settings of the code's scripts/attacks.py [code]"),
}
_ATENT_CIFAR_ROWS: dict[str, tuple[str, dict, str]] = {
    "PGD-20": ("pgd", {"alpha": 0.003, "steps": 20}, "ATENT Table 3 / §4: 20 steps, step 0.003, ε = 8/255"),
    "C&W": ("cw_linf", {"alpha": 0.003, "steps": 20, "kappa": 50.0},
            "ATENT Table 3 ℓ∞ C&W (foolbox, settings unstated): PGD-20 settings on the margin loss [assumption]"),
    "DeepFool": ("deepfool", {"norm": "linf", "steps": 50, "overshoot": 0.02},
                 "ATENT Table 3 (foolbox defaults [assumption])"),
    "L2-PGD-10": ("pgd", {"eps": 0.5, "norm": "l2", "alpha": Rel(1 / 4), "steps": 10},
                  "ATENT Table 4: ℓ2 PGD-10 at ε = 0.5; step 2.5·ε/10 [assumption]"),
    "CW-L2": ("cw_l2", {"eps": 0.5, "binary_search_steps": 10, "steps": 1000, "lr": 7e-4, "kappa": 0.0},
              "ATENT §4 C&W-ℓ2 at ε = 0.5 [code settings]"),
    "ATENT-20": ("advdist.samplers.langevin:langevin_attack", {"alpha": 0.003, "steps": 20, "noise": 1e-3},
                 "ATENT Table 6: ℓ∞ Langevin attack, 'the same configuration as PGD-20' (20 steps of 0.003), "
                 "noise 1e-3 and projection at the last step [code]"),
}

# The CPU scales' budgets are defined in advdist.scales (mini: Fashion-MNIST, ℓ∞ steps ε/4, ℓ2 steps ε/8, the
# papers' step counts; smoke: digits, tiny step counts on top of mini's); these names are aliases.
MINI_EPS, MINI_EPS_L2 = scales.MINI_EPS, scales.MINI_EPS_L2
_MINI = scales.ATTACK_MINI
_SMOKE = scales.ATTACK_SMOKE


def _scaled(rows: dict, overrides: dict) -> dict:
    return {n: (fn, {**kw, **overrides.get(n, {})}, note) for n, (fn, kw, note) in rows.items()}


def _blocks(paper_blocks: list[tuple[dict[str, float], dict]], small_rows: dict) -> dict:
    """{scale: [(datasets {name: ε}, rows)]} for one paper: the paper's blocks, then ``small_rows`` with the
    per-scale overrides of :mod:`advdist.scales` (mini on top of the paper rows, smoke on top of mini)."""
    out = {"paper": paper_blocks}
    rows = small_rows
    for scale in ("mini", "smoke"):
        rows = _scaled(rows, scales.ATTACK_OVERRIDES[scale])
        out[scale] = [(dict(scales.ATTACK_DATASET_EPS[scale]), rows)]
    return out


SETTINGS: dict[str, dict[str, list[tuple[dict[str, float], dict]]]] = {
    "adt": _blocks([({"cifar10": 8 / 255}, {**_ADT_ROWS, **_SPSA_ROWS}),
                    ({"cifar100": 8 / 255, "svhn": 4 / 255}, _ADT_ROWS)],
                   {**_ADT_ROWS, **_SPSA_ROWS}),
    "atld": _blocks([({"cifar10": 8 / 255, "cifar100": 8 / 255, "svhn": 8 / 255}, _ATLD_ROWS)], _ATLD_ROWS),
    "atent": _blocks([({"mnist": 0.3}, _ATENT_MNIST_ROWS), ({"cifar10": 8 / 255}, _ATENT_CIFAR_ROWS)],
                     {**_ATENT_MNIST_ROWS, "ATENT-20": _ATENT_CIFAR_ROWS["ATENT-20"],
                      "L2-PGD-10": _ATENT_CIFAR_ROWS["L2-PGD-10"]}),
}
# ATENT Tables 1-2 at mini run on real MNIST (config.SCALE_OVERRIDES) with the paper's MNIST attack rows
SETTINGS["atent"]["mini"].append((dict(scales.ATTACK_MINI_MNIST_EPS), dict(_ATENT_MNIST_ROWS)))
SCALES = ("paper", "mini", "smoke")
PAPERS = tuple(SETTINGS)


# ---- lookup ------------------------------------------------------------------------------------------------

#: the modules where a row's attack name is looked up (at call time, in this order)
ATTACK_MODULES = (gradient, feature, spsa, deepfool, cw_l2, rays, autoattack)
#: attacks defined above ``advdist.attacks``, ``"module:function"`` → function (filled by :func:`register_attack`)
REGISTERED: dict[str, Callable[..., torch.Tensor]] = {}


def register_attack(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Decorator: make ``fn`` available to settings rows as ``"<its module>:<its name>"`` (for attacks in modules
    that import ``advdist.attacks`` and so cannot be imported by it, e.g. ``advdist.samplers.langevin``)."""
    REGISTERED[f"{fn.__module__}:{fn.__name__}"] = fn
    return fn


@dataclass(frozen=True, eq=False)
class AttackSpec:
    """A named attack setting: ``spec(model, x, y, **overrides)`` calls ``advdist.attacks.<fn>`` (see
    :meth:`resolve`)."""

    name: str
    fn: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    paper: str = ""
    scale: str = ""
    dataset: str = ""
    note: str = ""

    @property
    def eps(self) -> float:
        return self.kwargs["eps"]

    @property
    def norm(self) -> Norm:
        """The norm of the setting's ε (ℓ∞ unless its row names another); a ``str`` enum (``== "linf"``)."""
        return Norm.parse(self.kwargs.get("norm", Norm.LINF))

    @property
    def threat(self) -> ThreatModel:
        """The setting's threat model: its ε-ball intersected with [0, 1]."""
        return ThreatModel(self.eps, self.norm)

    def resolve(self) -> Callable[..., torch.Tensor]:
        if ":" in self.fn:  # "module:function" for attacks living outside advdist.attacks (e.g. samplers)
            fn = REGISTERED.get(self.fn)
            if fn is None:
                raise ValueError(f"setting {self.name!r} needs {self.fn}, which is not registered; import "
                                 f"{self.fn.partition(':')[0]} first (advdist.evaluate does)")
            return fn
        for module in ATTACK_MODULES:
            fn = getattr(module, self.fn, None)
            if fn is not None:
                return fn
        raise ValueError(f"setting {self.name!r} needs advdist.attacks.{self.fn}, which is not available")

    def __call__(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, **overrides: Any) -> torch.Tensor:
        return self.resolve()(model, x, y, **{**self.kwargs, **overrides})

    def __repr__(self) -> str:
        kw = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"AttackSpec({self.name!r}: {self.fn}({kw}) [{self.paper}/{self.scale}/{self.dataset}])"


def _block(paper: str, scale: str, dataset: str | None):
    if paper not in SETTINGS:
        raise ValueError(f"unknown paper {paper!r}; valid: {', '.join(PAPERS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SCALES)}")
    blocks = SETTINGS[paper][scale]
    if dataset is None:
        dataset = next(iter(blocks[0][0]))
    for datasets, rows in blocks:
        if dataset in datasets:
            return dataset, datasets[dataset], rows
    valid = [d for ds, _ in blocks for d in ds]
    raise ValueError(f"no {paper}/{scale} settings for dataset {dataset!r}; valid: {', '.join(valid)}")


def datasets(*, paper: str = "adt", scale: str = "paper") -> list[str]:
    """Datasets with settings for ``paper`` at ``scale`` (the first is the default)."""
    _block(paper, scale, None)
    return [d for ds, _ in SETTINGS[paper][scale] for d in ds]


def names(*, paper: str = "adt", scale: str = "paper", dataset: str | None = None) -> list[str]:
    """Attack names available for ``paper`` / ``scale`` / ``dataset``."""
    return list(_block(paper, scale, dataset)[2])


def get(name: str, *, scale: str = "paper", paper: str = "adt", dataset: str | None = None,
        eps: float | None = None) -> AttackSpec:
    """The setting ``name`` of ``paper`` at ``scale`` on ``dataset`` (default: the paper's first dataset at that
    scale: cifar10 / mnist at paper scale, fashion_mnist at mini, digits at smoke).

    ``eps`` overrides the budget (for ε sweeps); step sizes given as a fraction of ε follow it, absolute ones stay.
    """
    dataset, data_eps, rows = _block(paper, scale, dataset)
    if name not in rows:
        raise ValueError(f"unknown attack {name!r} for {paper}/{scale}/{dataset}; valid: {', '.join(rows)}")
    fn, kw, note = rows[name]
    kw = dict(kw)
    budget = float(eps) if eps is not None else float(kw.get("eps", data_eps))
    kw["eps"] = budget
    kw = {k: (float(v) * budget if isinstance(v, Rel) else v) for k, v in kw.items()}
    return AttackSpec(name=name, fn=fn, kwargs=kw, paper=paper, scale=scale, dataset=dataset, note=note)
