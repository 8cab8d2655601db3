"""Typed training configs, the three scales, validation and a stable config hash.

Every paper setting maps to the concrete values each scale uses:

- ``paper`` — the papers' exact settings (ADT App. C.3; ATLD Sec. 5; ATENT Sec. 4 and App. A.1).
- ``mini``  — a real reproduction on 2 CPU cores: Fashion-MNIST, the ``mini-cnn``, few epochs.
- ``smoke`` — seconds: scikit-learn digits and a small MLP; used by the tests and nbval in CI.

The paper settings are here (:data:`SETTINGS`); what each scale changes (ε, epochs, subsets, method options, sizes)
is in :mod:`advdist.scales`, defined once for the whole package.

A number computed at ``mini`` or ``smoke`` runs on a substitute dataset; ``TrainConfig.dataset``
always says which, and tables print it (see ``advdist.report``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
from dataclasses import dataclass, field
from typing import Any, Mapping

from advdist import scales
from advdist.threat import Norm, ThreatModel

SCALES = scales.SCALES
NORMS = tuple(n.value for n in Norm)
EARLY_STOPS = (None, "pgd-10")

# ----------------------------------------------------------------------------------------------
# Paper settings (paper scale). Values are the papers' own; the source is given per entry.
# ----------------------------------------------------------------------------------------------
_ADT_CIFAR = dict(  # ADT App. C.3: SGD(0.9), wd 2e-4, batch 64, lr 0.1 -> 0.01 at epoch 75, 76 epochs
    paper="adt", dataset="cifar10", model="wrn-28-10", eps=8 / 255, norm="linf",
    epochs=76, milestones=(75,), lr=0.1, momentum=0.9, weight_decay=2e-4, batch_size=64,
)
SETTINGS: dict[str, dict[str, Any]] = {
    # "base": what a single training run gets when no paper setting is named (CLI, train notebook):
    # ADT's CIFAR-10 recipe at paper scale, the plain scale defaults at mini/smoke (no per-table budget).
    "base": dict(_ADT_CIFAR, paper="none"),
    "adt-cifar10": dict(_ADT_CIFAR),
    "adt-cifar100": dict(_ADT_CIFAR, dataset="cifar100"),
    "adt-svhn": dict(_ADT_CIFAR, dataset="svhn", eps=4 / 255, lr=0.01),  # ADT Sec. 5 (eps 4/255 on SVHN)
    # ADT Table 1's AT_PGD† is Madry et al.'s released model; its recipe (Madry et al. 2018, cifar10_challenge
    # config): 80k steps of batch 128 (~205 epochs), lr 0.1 -> 0.01 at 40k (epoch 103) -> 0.001 at 60k (epoch
    # 154), wd 2e-4, PGD 7 x 2/255 from a random start; the model is a 10x-wide ResNet with 5 units per stage
    # (WRN-34-10 in the WRN naming).
    "madry-cifar10": dict(_ADT_CIFAR, model="wrn-34-10", epochs=205, milestones=(103, 154), batch_size=128),
    # ADT Sec. 5.4 / Tables 5, 10: TRADES' own setting (Zhang et al. 2019 and its official code): WRN-34-10,
    # batch 128, lr 0.1 -> 0.01 at epoch 75, 76 epochs, wd 2e-4, eps 0.031.
    "adt-trades-cifar10": dict(_ADT_CIFAR, model="wrn-34-10", eps=0.031, batch_size=128),
    # ADT Table 6: Rice et al. (2020)'s AT_PGD: WRN-34-10, batch 128, lr 0.1 decayed x0.1 at epochs 100 and
    # 150 of 200, wd 5e-4, PGD-10 (2/255) in training, early stopping on PGD-10 test robustness.
    "rice-cifar10": dict(_ADT_CIFAR, model="wrn-34-10", epochs=200, milestones=(100, 150), batch_size=128,
                         weight_decay=5e-4, early_stop="pgd-10"),
    # ATLD Sec. 5: WRN-28-10 as in Feature Scattering, lr 0.1, decay 0.1 at epochs 60 and 90, eps 8/255.
    # (The text says "400 epochs"; Feature Scattering's schedule ends at 200 — we keep the paper's text.)
    "atld-cifar10": dict(paper="atld", dataset="cifar10", model="wrn-28-10", eps=8 / 255, norm="linf",
                         epochs=400, milestones=(60, 90), lr=0.1, momentum=0.9, weight_decay=2e-4,
                         batch_size=60),
    "atld-cifar100": dict(paper="atld", dataset="cifar100", model="wrn-28-10", eps=8 / 255, norm="linf",
                          epochs=400, milestones=(60, 90), lr=0.1, momentum=0.9, weight_decay=2e-4,
                          batch_size=60),
    "atld-svhn": dict(paper="atld", dataset="svhn", model="wrn-28-10", eps=8 / 255, norm="linf",
                      epochs=400, milestones=(60, 90), lr=0.1, momentum=0.9, weight_decay=2e-4,
                      batch_size=60),
    # ATENT Sec. 4.1 / App. A.1: MNIST l2 on LeNet5 (batch 50, lr 1e-3), eps2 = 2.
    "atent-mnist-l2": dict(paper="atent", dataset="mnist", model="lenet5-madry", eps=2.0, norm="l2",
                           epochs=50, milestones=(), lr=1e-3, momentum=0.9, weight_decay=0.0, batch_size=50),
    # ATENT Table 2: SmallCNN, batch 128, lr 0.01, eps 0.3.
    "atent-mnist-linf": dict(paper="atent", dataset="mnist", model="smallcnn", eps=0.3, norm="linf",
                             epochs=50, milestones=(), lr=0.01, momentum=0.9, weight_decay=0.0,
                             batch_size=128),
    # ATENT Fig. 1 (official notebook, atld-atent-baselines.md C.5): the 2-D t-SNE 5-vs-8 set built by
    # advdist.analysis.toy2d_tsne (registered as tsne58_<source>: MNIST at paper scale; eps is set per run
    # from the embedding's scale), the "twolayer" net, 30 epochs, SGD lr 0.01 mom 0.9, x0.1 at 25, batch 32.
    "atent-tsne58": dict(paper="atent", dataset="tsne58_mnist", model="atent-toy", eps=0.0125, norm="linf", epochs=30,
                         milestones=(25,), lr=0.01, momentum=0.9, weight_decay=0.0, batch_size=32),
    # ATENT Sec. 4.2: WRN-34-10, batch 128, lr 0.1 decayed to 0.01 at epoch 76, "76 total epochs", wd 5e-4,
    # momentum 0.9, eps 8/255: the 76th (last) epoch runs at 0.01 (Fig. 3: robust test accuracy peaks there).
    "atent-cifar10-linf": dict(paper="atent", dataset="cifar10", model="wrn-34-10", eps=8 / 255, norm="linf",
                               epochs=76, milestones=(76,), lr=0.1, momentum=0.9, weight_decay=5e-4,
                               batch_size=128),
    # ATLD Figs. 1, 4, 6, 7 (App. B.4-B.6): toy 2-D data; no official code or setting exists (atld-atent-baselines.md
    # §A.6). Our reconstruction: two moons rescaled into the unit square (advdist.analysis.toy2d.toy_splits), a
    # 2-64-64-2 ReLU MLP, linf eps 0.08 in unit-square coordinates, SGD. Same at every scale but size/epochs.
    # 150 epochs: with 60 the ATLD model underfit (86.8 % test accuracy, a nearly straight boundary; 93.4 % at 150
    # with the mixed-batch discriminator) while AT_PGD had plateaued (92.6 % at 60, 92.2 % at 150; FS 93.2 -> 95.0).
    "atld-toy": dict(paper="atld", dataset="moons", model="mlp", model_kwargs={"hidden": (64, 64)}, eps=0.08,
                     norm="linf", epochs=150, milestones=(120,), lr=0.1, momentum=0.9, weight_decay=0.0,
                     batch_size=64),
    # ATENT App. A (Table 4): ResNet-20, batch 256, l2 eps 0.5 / 1.
    "atent-cifar10-l2": dict(paper="atent", dataset="cifar10", model="resnet-20", eps=0.5, norm="l2",
                             epochs=100, milestones=(50, 75), lr=0.1, momentum=0.9, weight_decay=2e-4,
                             batch_size=256),
    # ATENT Table 5 (App. A.2, Table 4's last rows): the smoothed ResNet-20s, "TRADES (smooth)" at eps2 = 0.435 with
    # sigma = 0.12 and l2-ATENT in its smoothing setting (advdist.analysis.smoothing.smoothing_rows); the schedule of
    # the l2 setting above (the paper states none for these runs).
    "atent-cifar10-smooth": dict(paper="atent", dataset="cifar10", model="resnet-20", eps=0.435, norm="l2",
                                 epochs=100, milestones=(50, 75), lr=0.1, momentum=0.9, weight_decay=2e-4,
                                 batch_size=256),
}

# Per-scale budgets (training overrides, per-scale method options, evaluation sizes) are defined in
# ``advdist.scales``; these names are aliases of the same objects.
SCALE_OVERRIDES = scales.SCALE_OVERRIDES
METHOD_KWARGS = scales.METHOD_KWARGS
#: test examples attacked per scale in robustness tables (stratified subset); None = the whole test set
EVAL_N = scales.EVAL_N

# Default setting when only a dataset is named (CLI ``--dataset``).
_DEFAULT_SETTING_FOR_DATASET = {
    "cifar10": "adt-cifar10", "cifar100": "adt-cifar100", "svhn": "adt-svhn", "mnist": "atent-mnist-linf",
}
DEFAULT_SETTING = "base"


class ConfigError(ValueError):
    """A bad config key or value; the message is one line naming it and listing valid choices."""


def _choices(name: str, value: Any, valid) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}; valid: {', '.join(sorted(map(str, valid)))}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model. Its hash names the run folder."""

    method: str = "standard"
    dataset: str = "fashion_mnist"
    model: str = "mini-cnn"
    epochs: int = 4
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] = (3,)
    lr_gamma: float = 0.1
    n_train: int | None = None
    n_test: int | None = None
    augment: str = "auto"          # "auto": the dataset's paper augmentation; or "none" / "crop4-flip"
    eps: float = 0.1               # threat model of adversarial training methods
    norm: str = "linf"             # any spelling advdist.threat.Norm.parse accepts; stored as "linf" / "l2"
    method_kwargs: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)
    seed: int = 0
    amp: bool = False              # bf16 autocast (changes numerics, so it is part of the hash)
    early_stop: str | None = None  # "pgd-10": keep the epoch with the best PGD-10 test robustness (Rice et al.)
    # provenance only (not hashed): where the values came from
    scale: str = "mini"
    setting: str = "mini"

    _NOT_HASHED = ("scale", "setting")
    #: fields added later: hashed only when set, so runs trained before they existed keep their keys
    _HASHED_IF_SET = {"early_stop": None}

    def __post_init__(self) -> None:
        try:  # one spelling per norm ("Linf", "l_inf", Norm.LINF -> "linf"), so equal configs hash equally
            object.__setattr__(self, "norm", Norm.parse(self.norm).value)
        except ValueError:
            pass  # validate() names the bad value
        validate(self)

    @property
    def threat(self) -> ThreatModel:
        """The threat model of adversarial training: ε-ball of ``norm`` intersected with [0, 1]."""
        return ThreatModel(self.eps, self.norm)

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        valid = [f.name for f in dataclasses.fields(cls)]
        for k in d:
            if k not in valid:
                raise ConfigError(f"unknown config key {k!r}; valid: {', '.join(valid)}")
        d = dict(d)
        if "milestones" in d:
            d["milestones"] = tuple(int(m) for m in d["milestones"])
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})

    def hashable(self) -> dict[str, Any]:
        d = self.to_dict()
        for k in self._NOT_HASHED:
            d.pop(k)
        for k, default in self._HASHED_IF_SET.items():
            if d[k] == default:
                d.pop(k)
        return d

    def hash(self, extra: Mapping[str, Any] | None = None) -> str:
        """12 hex digits of sha256 over canonical JSON of the hashed fields (+ ``extra``)."""
        return stable_hash({"config": self.hashable(), **(extra or {})})

    @property
    def name(self) -> str:
        return f"{self.method}-{self.dataset}-{self.model}"


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no whitespace, tuples as lists and floats in repr form."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if dataclasses.is_dataclass(o):
        return dataclasses.asdict(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def stable_hash(obj: Any, n: int = 12) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


def validate(cfg: TrainConfig) -> None:
    """Check every field; raise ``ConfigError`` naming the bad key/value and the valid choices."""
    from advdist import data, methods, models  # local: these import torch

    _choices("method", cfg.method, methods.names())
    _choices("dataset", cfg.dataset, data.names())
    _choices("model", cfg.model, models.names())
    _choices("norm", cfg.norm, NORMS)
    _choices("scale", cfg.scale, SCALES)
    _choices("augment", cfg.augment, ("auto", "none", "crop4-flip"))
    for key in ("epochs", "batch_size"):
        v = getattr(cfg, key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{key} must be a positive integer, got {v!r}")
    for key in ("n_train", "n_test"):
        v = getattr(cfg, key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigError(f"{key} must be a positive integer or None, got {v!r}")
    for key in ("lr", "momentum", "weight_decay", "lr_gamma", "eps"):
        v = getattr(cfg, key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ConfigError(f"{key} must be a finite number >= 0, got {v!r}")
    if Norm.parse(cfg.norm) is Norm.LINF and cfg.eps > 1:
        raise ConfigError(f"eps={cfg.eps} exceeds the [0, 1] pixel range for linf; did you mean {cfg.eps}/255?")
    if any(m < 1 for m in cfg.milestones) or list(cfg.milestones) != sorted(cfg.milestones):
        raise ConfigError(f"milestones must be increasing epochs >= 1, got {cfg.milestones!r}")
    _choices("early_stop", cfg.early_stop, EARLY_STOPS)
    if not isinstance(cfg.method_kwargs, dict) or not isinstance(cfg.model_kwargs, dict):
        raise ConfigError("method_kwargs and model_kwargs must be dicts")


def resolve(scale: str = "mini", setting: str | None = None, *, method: str = "standard",
            **overrides: Any) -> TrainConfig:
    """The config of ``method`` in paper ``setting`` at ``scale``, with explicit ``overrides`` last.

    ``overrides`` whose value is ``None`` are ignored (so CLI flags and notebook parameters can
    mean "use the scale's default"), except ``n_train``/``n_test`` given as 0, which mean "all".
    """
    _choices("scale", scale, SCALES)
    if setting is None:
        ds = overrides.get("dataset")
        setting = _DEFAULT_SETTING_FOR_DATASET.get(ds, DEFAULT_SETTING) if scale == "paper" else DEFAULT_SETTING
    _choices("setting", setting, SETTINGS)
    values: dict[str, Any] = dict(SETTINGS[setting])
    values.pop("paper")
    scale_over = SCALE_OVERRIDES[scale]
    values.update(scale_over.get("*", {}))
    values.update(scale_over.get(setting, {}))
    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    for k, v in overrides.items():
        if k not in valid:
            raise ConfigError(f"unknown config key {k!r}; valid: {', '.join(sorted(valid))}")
        if v is None:
            continue
        if k in ("n_train", "n_test") and v == 0:
            v = None
        values[k] = v
    values["method_kwargs"] = {**METHOD_KWARGS[scale].get(method, {}), **values.get("method_kwargs", {})}
    values.update(method=method, scale=scale, setting=setting)
    return TrainConfig.from_dict(values)


def paper_of(setting: str) -> str:
    _choices("setting", setting, SETTINGS)
    return SETTINGS[setting]["paper"]


# ----------------------------------------------------------------------------------------------
# Notebook parameters
# ----------------------------------------------------------------------------------------------
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def notebook_parameters(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a notebook's parameters against its ``parameters`` cell.

    The parameters cell declares each parameter with a type annotation (``scale: str = "smoke"``);
    IPython records those in ``__annotations__``. papermill injects overrides as plain assignments
    and only *warns* about unknown names, so this call (the cell right after the parameters) turns
    a misspelled parameter into an error, and checks each value's type. Returns ``{name: value}``.
    """
    declared: dict[str, Any] = dict(namespace.get("__annotations__", {}))
    if not declared:
        raise ConfigError("the parameters cell declares no typed parameters (write e.g. `scale: str = \"smoke\"`)")
    names = [k for k, v in namespace.items()
             if not k.startswith("_") and k not in _IPYTHON_NAMES and not isinstance(v, types.ModuleType)
             and not callable(v)]
    for k in names:
        if k not in declared:
            raise ConfigError(f"unknown notebook parameter {k!r}; valid: {', '.join(declared)}")
    out: dict[str, Any] = {}
    for k, typ in declared.items():
        if k not in namespace:
            raise ConfigError(f"notebook parameter {k!r} is declared but has no value")
        v = namespace[k]
        typ = {"str": str, "int": int, "float": float, "bool": bool}.get(typ, typ) if isinstance(typ, str) else typ
        if isinstance(typ, type):
            ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
            if typ is float and isinstance(v, int) and not isinstance(v, bool):
                v, ok = float(v), True
            if not ok:
                raise ConfigError(f"notebook parameter {k!r} must be {typ.__name__}, got {v!r}")
        out[k] = v
    if "scale" in out:
        _choices("scale", out["scale"], SCALES)
    return out
