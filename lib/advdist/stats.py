"""Effects of the claims ledger with paired confidence intervals, and their verdicts.

A claim compares two subjects (methods, attacks, ...) on the same test images, over several training seeds:
``correct[s, j]`` is 1 when the model trained with seed ``s`` classifies test image ``j`` correctly (under the
claim's attack), and seed ``s`` of A is paired with seed ``s`` of B. The estimand is the difference of the two
expected accuracies over the random training runs (seeds) *and* over test images drawn from the test
distribution: "would another training run, scored on another test set, show the same difference?".

The design is crossed, not nested: every seed is scored on the *same* images. Per cell the paired contrast
``d[s, j] = a[s, j] - b[s, j]`` decomposes as (Cornfield & Tukey 1956; Searle, Casella & McCulloch, *Variance
Components*, 1992, ch. 4)::

    d[s, j] = Δ + u[s] + v[j] + e[s, j]          Var(mean d) = σ_u²/S + σ_v²/N + σ_e²/(S·N)

``u``: how much seed ``s`` favours A (training randomness), ``v``: how much image ``j`` favours A in every run
(persistent per-example differences), ``e``: the rest (an image that flips with the seed). Pairing removes
everything A and B share (image difficulty) before any variance is estimated, which is why a paired interval is
far narrower than two separate ones when A and B succeed on mostly the same images.

Default method ``"t"`` (method of moments + Satterthwaite): the three mean squares of the two-way table,
``MS_seed`` (S − 1 df), ``MS_example`` (N − 1 df) and ``MS_residual`` ((S − 1)(N − 1) df), give the
unbiased components σ̂_u² = (MS_seed − MS_res)/N, σ̂_v² = (MS_ex − MS_res)/S, σ̂_e² = MS_res (negative ones set to
0), so Var̂(mean d) = σ̂_u²/S + σ̂_v²/N + σ̂_e²/(SN) — e.g. (MS_seed + MS_ex − MS_res)/(SN) when none is truncated.
The interval is mean ± t_{df} · SE with Satterthwaite's (1946) degrees of freedom for that combination of mean
squares. Why not a plain bootstrap by default: with the ledger's 3 seeds the between-seed variance is estimated
from 2 degrees of freedom; a bootstrap over 3 seeds under-estimates it by the factor (S − 1)/S and, worse,
calibrates with normal instead of t quantiles (t_{0.975, 2} = 4.30 vs 1.96), so where seeds dominate it covers
far below 95 % (``tests/test_stats.py`` measures both). The t interval falls back to its special cases by
itself: one seed -> the paired t interval over examples (the Wald form of McNemar's test), conditional on the
trained models: it says nothing about seed-to-seed variation (the ``note`` field says so); one value per
run (N = 1, e.g. the entropy of a run or its epoch time) -> the paired t interval over seeds with S − 1 df.

Method ``"bootstrap"``: the two-stage (pigeonhole) bootstrap of crossed designs (Owen 2007, *Ann. Appl. Stat.*
1(1), "The pigeonhole bootstrap"; Davison & Hinkley 1997, §3.8): each replicate draws S seeds with replacement
and, independently, N example indices with replacement, the *same* indices for every drawn seed and for A and B
(paired); percentile interval. It is conservative on the residual term (≈ 3σ_e²/(SN)) and, as said above,
optimistic on the seed term when S is small. Replicates are vectorised: per replicate the resampled mean is
``m @ d @ n / (S N)`` with the multinomial counts m (seeds) and n (examples), computed for blocks of replicates
at once; deterministic given ``rng``.

Trends (ADT Fig. 5's λ, ATLD Fig. 3's ε) reduce to the same machinery: the OLS slope of the level means on x is
a linear contrast Σ_k w_k · mean(y_k), w_k = (x_k − x̄)/Σ(x − x̄)², so its per-(seed, example) contrast
``Σ_k w_k y[k, s, j]`` goes through the same crossed-design interval.

Verdicts (the ledger's rule, ``verdict``): *holds* when the 95 % interval excludes the claim's threshold (0 for a
plain comparison) on the claimed side, *fails* when it excludes it on the other side, *inconclusive* otherwise.
``compatible`` says whether the paper's own effect lies inside our interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

DIRECTIONS = ("greater", "less")
VERDICTS = ("holds", "fails", "inconclusive")
METHODS = ("t", "bootstrap")

# ----------------------------------------------------------------------------------------------------------
# the ledger's vocabulary (data/paper/claims.csv)
# ----------------------------------------------------------------------------------------------------------
#: pair: subject_a vs subject_b, effect a − b (verdict against 0); threshold: the same effect (or ratio, for
#: ``time_ratio``) against the row's ``threshold``; trend: slope of the metric (or of the paired gap a − b)
#: against ``x``, verdict against 0
KINDS = ("pair", "threshold", "trend")
#: what the subjects are: trained models (row labels of ``models_from``), a model with an option ("<row> key=v"),
#: attacks (columns) on fixed models, or something else the note explains (sample sets, evaluation protocols)
SUBJECT_TYPES = ("model", "variant", "attack", "other")
LEDGER_SCALES = ("mini", "paper")
DATASETS_MINI = ("fashion_mnist", "mnist", "toy", "tsne")
LEDGER_COLUMNS: dict[str, str] = {
    "id": "unique key, <paper>-<item short>-<what>",
    "paper": "adt | atld | atent",
    "item": "the table/figure: an advdist.experiments.TABLES key where one exists, else <paper>-table<k>/-fig<k>",
    "claim": "the claim in one sentence, with the paper's own numbers",
    "kind": "pair | threshold | trend (KINDS)",
    "metric": "A_rob, A_nat, an attack column, or a named measure (pairwise_l2, loss_rise, eig_max, entropy, "
              "time_ratio, transfer_acc, cert_acc, accuracy)",
    "subject_type": "model | variant | attack | other (SUBJECT_TYPES)",
    "subject_a": "the subject claimed to be greater/less (label as in the table spec)",
    "subject_b": "the reference subject (empty for a trend of one subject)",
    "direction": "greater | less: the claimed sign of effect − threshold",
    "threshold": "0 for a plain comparison; the margin of a threshold claim (metric units; 1 for ratios)",
    "paper_effect": "the paper's own effect in the metric's units (a − b, a ratio, or empty: figure-only claim)",
    "unit": "units of paper_effect and of our effect",
    "on": "what is held fixed, 'key=v1,v2;key=v' (models=..., protocol=..., eps_factor=...)",
    "x": "trend claims: 'name=v1,v2,...', the levels of the trend variable",
    "models_from": "the experiments table whose rows supply the models (empty: a notebook's own models)",
    "scales": "where it can be tested: 'mini;paper' or 'paper' (then the note says why not at mini)",
    "dataset_mini": "the mini dataset (DATASETS_MINI); empty when not testable at mini",
    "source": "table/figure/section of the paper",
    "note": "reading of qualitative claims, margins we chose, variants, and why a claim is not testable at mini",
}


@dataclass(frozen=True)
class Effect:
    """An effect with its confidence interval. ``effect`` and the bounds are in the caller's units (``scale``
    applied: percentage points for 0/1 correctness by default); ``se`` likewise; ``df``: the t interval's degrees
    of freedom (nan for the bootstrap); ``components``: estimated variance components of the per-cell contrast
    (unscaled), ``seed``, ``example``, ``residual``."""

    effect: float
    ci_low: float
    ci_high: float
    se: float
    df: float
    n_seeds: int
    n_examples: int
    method: str
    level: float = 0.95
    note: str = ""
    components: dict = field(default_factory=dict)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def verdict(self, direction: str, threshold: float = 0.0) -> str:
        return verdict(self.ci_low, self.ci_high, direction, threshold)


# ----------------------------------------------------------------------------------------------------------
# Student-t quantiles (numpy + the standard library only)
# ----------------------------------------------------------------------------------------------------------
def _t_cdf_upper_half(t: float, df: float, n: int = 1000) -> float:
    """P(0 < T ≤ t) for T ~ t(df), t ≥ 0: composite Simpson rule on the density after the substitution below
    (smooth and bounded, so 1000 panels give ~1e-11 absolute error even for df = 1 and t in the hundreds).

    Substitution t = tan(θ)·√df maps [0, ∞) to [0, π/2) and the density to c·cos(θ)^(df−1) dθ, bounded and smooth
    for df ≥ 1; for df < 1 (not used by the ledger) the integrand is still integrable and Simpson stays adequate."""
    if t <= 0:
        return 0.0
    theta_max = math.atan(t / math.sqrt(df))
    th = np.linspace(0.0, theta_max, n + 1)
    f = np.cos(th) ** (df - 1.0)
    h = theta_max / n
    integral = h / 3.0 * (f[0] + f[-1] + 4.0 * f[1:-1:2].sum() + 2.0 * f[2:-1:2].sum())
    # normalising constant of c·cos^(df-1): ∫_0^{π/2} cos^(df-1) = B(df/2, 1/2)/2
    log_beta = math.lgamma(df / 2.0) + math.lgamma(0.5) - math.lgamma(df / 2.0 + 0.5)
    return float(integral / (math.exp(log_beta) / 2.0)) / 2.0


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` (> 0, real) degrees of freedom; the normal quantile for
    df = inf. Bisection on the CDF (``_t_cdf_upper_half``) to ~1e-15 in θ; checked against ``scipy.stats.t.ppf``
    in the tests."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must lie in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be positive, got {df}")
    if math.isinf(df) or df > 1e7:
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    target = p - 0.5
    lo, hi = 0.0, math.pi / 2.0  # bisection in θ = atan(t/√df): bounded
    for _ in range(52):
        mid = 0.5 * (lo + hi)
        if _t_cdf_upper_half(math.tan(mid) * math.sqrt(df), df) < target:
            lo = mid
        else:
            hi = mid
    return math.tan(0.5 * (lo + hi)) * math.sqrt(df)


# ----------------------------------------------------------------------------------------------------------
# the crossed seeds × examples mean
# ----------------------------------------------------------------------------------------------------------
def _as_float(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    if hasattr(x, "to_numpy"):  # pandas
        x = x.to_numpy(dtype=float, na_value=np.nan)
    a = np.asarray(x, dtype=float)
    if np.isnan(a).any():
        raise ValueError(f"{name} contains missing values (NA/NaN); pass complete per-example results")
    return a


def _as_seeds_examples(x: Any, name: str, seeds_axis: bool) -> np.ndarray:
    a = _as_float(x, name)
    if a.ndim == 1:
        return a[None, :]
    if a.ndim == 2 and seeds_axis:
        return a
    raise ValueError(f"{name}: expected shape (n_seeds, n_examples)" + ("" if seeds_axis else
                     " only with seeds_axis=True; with seeds_axis=False one run, shape (n_examples,)")
                     + f", got {a.shape}")


def crossed_variance(d: np.ndarray) -> tuple[float, float, float, dict]:
    """Mean of the (S, N) table ``d`` (seeds × examples), the estimated variance of that mean, its Satterthwaite
    degrees of freedom, and the variance components (method of moments, negative estimates set to 0; module
    docstring). S = 1 or N = 1 reduce to the one-way paired cases (their single mean square is reported as the
    ``example`` resp. ``seed`` component: the residual cannot be separated from it); S = N = 1 gives nan."""
    S, N = d.shape
    m = float(d.mean())
    if S * N == 1:
        return m, float("nan"), float("nan"), {"seed": float("nan"), "example": float("nan"), "residual": float("nan")}
    r = d.mean(axis=1, keepdims=True)
    k = d.mean(axis=0, keepdims=True)
    ms = {}  # name -> (mean square, df)
    if S > 1:
        ms["seed"] = (N * float(((r - m) ** 2).sum()) / (S - 1), S - 1)
    if N > 1:
        ms["example"] = (S * float(((k - m) ** 2).sum()) / (N - 1), N - 1)
    if S > 1 and N > 1:
        ms["residual"] = (float(((d - r - k + m) ** 2).sum()) / ((S - 1) * (N - 1)), (S - 1) * (N - 1))
    if S == 1 or N == 1:
        (name, (msv, dfv)), = ms.items()
        comp = {"seed": msv if name == "seed" else 0.0, "example": msv if name == "example" else 0.0,
                "residual": float("nan")}
        return m, msv / (S * N), float(dfv), comp
    msa, msb, mse = ms["seed"][0], ms["example"][0], ms["residual"][0]
    comp = {"seed": max((msa - mse) / N, 0.0), "example": max((msb - mse) / S, 0.0), "residual": mse}
    # Var = σ_u²/S + σ_v²/N + σ_e²/(SN) written as Σ c_k MS_k / (SN) with the truncations applied
    coef = {"seed": 0.0, "example": 0.0, "residual": 1.0}
    if msa > mse:
        coef["seed"] += 1.0
        coef["residual"] -= 1.0
    if msb > mse:
        coef["example"] += 1.0
        coef["residual"] -= 1.0
    num = sum(coef[n] * ms[n][0] for n in ms)
    var = num / (S * N)
    den = sum((coef[n] * ms[n][0]) ** 2 / ms[n][1] for n in ms if coef[n] != 0.0)
    df = num ** 2 / den if den > 0 else float("inf")
    return m, var, df, comp


def _bootstrap_means(d: np.ndarray, n_boot: int, rng: np.random.Generator, block: int = 256) -> np.ndarray:
    """Pigeonhole bootstrap replicates of mean(d), d: (S, N). Per replicate the seed counts m (S) and example
    counts n (N) are multinomial (indices drawn with replacement); the replicate mean is m @ d @ n / (S N)."""
    S, N = d.shape
    out = np.empty(n_boot)
    for start in range(0, n_boot, block):  # blocks of replicates, each block one set of array operations
        b = min(block, n_boot - start)
        si = rng.integers(0, S, size=(b, S))
        ei = rng.integers(0, N, size=(b, N))
        m = np.zeros((b, S))
        np.add.at(m, (np.repeat(np.arange(b), S), si.ravel()), 1.0)
        n = np.bincount((ei + N * np.arange(b)[:, None]).ravel(), minlength=b * N).reshape(b, N).astype(float)
        out[start:start + b] = ((m @ d) * n).sum(axis=1) / (S * N)
    return out


def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def mean_ci(d: Any, *, method: str = "t", level: float = 0.95, n_boot: int = 2000, rng: Any = 0,
            scale: float = 1.0, note: str = "") -> Effect:
    """Mean of a (seeds × examples) table of per-cell contrasts with its ``level`` confidence interval by
    ``method`` ("t": crossed-design variance components + Satterthwaite t; "bootstrap": pigeonhole percentile).
    The workhorse of :func:`paired_effect` and :func:`trend_effect`; ``scale`` multiplies the result."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    d = np.asarray(d, dtype=float)
    S, N = d.shape
    m, var, df, comp = crossed_variance(d)
    notes = [note] if note else []
    if S == 1:
        notes.append("one seed: the interval covers test-set sampling only (conditional on the trained models), "
                     "not seed-to-seed variation")
    if N == 1 and S > 1:
        notes.append("one value per run: the interval covers seed-to-seed variation only")
    if method == "t":
        if not np.isfinite(var):
            lo = hi = float("nan")
            se = float("nan")
            notes.append("a single value: no interval")
        else:
            se = math.sqrt(max(var, 0.0))
            q = t_quantile(0.5 + level / 2.0, df) if se > 0 else 0.0
            lo, hi = m - q * se, m + q * se
    else:
        if S * N == 1:
            lo = hi = se = float("nan")
            notes.append("a single value: no interval")
        else:
            reps = _bootstrap_means(d, n_boot, _rng(rng))
            a = (1.0 - level) / 2.0
            lo, hi = (float(v) for v in np.quantile(reps, [a, 1.0 - a]))
            se = float(reps.std(ddof=1))
        df = float("nan")
    return Effect(effect=m * scale, ci_low=lo * scale, ci_high=hi * scale, se=se * abs(scale), df=float(df),
                  n_seeds=S, n_examples=N, method=method, level=level, note="; ".join(notes),
                  components=comp)


# ----------------------------------------------------------------------------------------------------------
# the ledger's three kinds of test
# ----------------------------------------------------------------------------------------------------------
def paired_effect(correct_a: Any, correct_b: Any, *, seeds_axis: bool = True, method: str = "t",
                  n_boot: int = 2000, rng: Any = 0, level: float = 0.95, scale: float = 100.0) -> Effect:
    """Effect = mean(A) − mean(B) with a paired ``level`` confidence interval (module docstring).

    ``correct_a``, ``correct_b``: per-example outcomes on the SAME test images, shape (n_seeds, n_examples) with
    seed s of A paired with seed s of B (``seeds_axis=True``), or (n_examples,) for one run each. 0/1 correctness
    by default, in which case ``scale = 100`` gives percentage points; any per-example value works (pass
    ``scale=1`` for e.g. Hessian eigenvalues or loss rises). numpy arrays, torch tensors or pandas objects.
    ``method``: "t" (default; crossed-design variance components with Satterthwaite's t) or "bootstrap" (the
    two-stage pigeonhole bootstrap, ``n_boot`` replicates, ``rng`` a seed or ``numpy.random.Generator``).
    With one seed the interval is the examples-only paired interval and ``Effect.note`` says so.
    """
    a = _as_seeds_examples(correct_a, "correct_a", seeds_axis)
    b = _as_seeds_examples(correct_b, "correct_b", seeds_axis)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must have the same shape (paired seeds and examples), "
                         f"got {a.shape} and {b.shape}")
    return mean_ci(a - b, method=method, level=level, n_boot=n_boot, rng=rng, scale=scale)


def trend_effect(x: Any, y_by_seed_examples: Any, *, y_b: Any = None, method: str = "t", n_boot: int = 2000,
                 rng: Any = 0, level: float = 0.95, scale: float = 100.0) -> Effect:
    """OLS slope of the metric against ``x`` (e.g. λ, ε, or a grid index) with a ``level`` confidence interval.

    ``y_by_seed_examples``: shape (K, n_seeds, n_examples) — the per-example metric at each of the K levels of
    ``x`` (same images at every level; seed s of each level taken together), or (K, n_seeds) for one value per
    run (e.g. a run's entropy). With ``y_b`` (same shape) the slope of the paired difference y − y_b is tested
    instead (e.g. "the gap between FS and AT widens with ε"). The slope Σ_k w_k mean(y_k), w_k = (x_k − x̄)/Sxx,
    is a linear contrast, so its per-(seed, example) values Σ_k w_k y[k, s, j] go through the same crossed-design
    interval as :func:`paired_effect`. Units: the metric's (× ``scale``) per unit of x.
    """
    xv = _as_float(x, "x").ravel()
    y = _as_float(y_by_seed_examples, "y_by_seed_examples")
    if y_b is not None:
        yb = _as_float(y_b, "y_b")
        if yb.shape != y.shape:
            raise ValueError(f"y and y_b must have the same shape, got {y.shape} and {yb.shape}")
        y = y - yb
    if y.ndim == 2:
        y = y[:, :, None]
    if y.ndim != 3 or y.shape[0] != len(xv):
        raise ValueError(f"y must have shape (len(x), n_seeds[, n_examples]) = ({len(xv)}, ...), got {y.shape}")
    if len(xv) < 2 or np.ptp(xv) == 0:
        raise ValueError("a trend needs at least two distinct x values")
    w = (xv - xv.mean()) / ((xv - xv.mean()) ** 2).sum()
    contrast = np.tensordot(w, y, axes=(0, 0))  # (S, N)
    return mean_ci(contrast, method=method, level=level, n_boot=n_boot, rng=rng, scale=scale)


def ratio_effect(a: Any, b: Any, *, level: float = 0.95) -> Effect:
    """Ratio of two positive per-run quantities (e.g. seconds per epoch: ADT Fig. 7's "≈ 5× slower"), paired by
    seed: the geometric mean of a_s / b_s with the t interval of the mean log ratio (S − 1 df), exponentiated.
    ``a``, ``b``: shape (n_seeds,) or (n_seeds, n_examples) (then crossed as in :func:`paired_effect`)."""
    la, lb = _as_float(a, "a"), _as_float(b, "b")
    if (la <= 0).any() or (lb <= 0).any():
        raise ValueError("ratio_effect needs positive values")
    if la.shape != lb.shape:
        raise ValueError(f"a and b must have the same shape, got {la.shape} and {lb.shape}")
    d = np.log(la) - np.log(lb)
    d = d[:, None] if d.ndim == 1 else d
    e = mean_ci(d, method="t", level=level)
    return Effect(effect=math.exp(e.effect), ci_low=math.exp(e.ci_low) if np.isfinite(e.ci_low) else float("nan"),
                  ci_high=math.exp(e.ci_high) if np.isfinite(e.ci_high) else float("nan"), se=e.se, df=e.df,
                  n_seeds=e.n_seeds, n_examples=e.n_examples, method="t (log ratio)", level=level,
                  note="; ".join(n for n in (e.note, "se on the log scale") if n), components=e.components)


def verdict(ci_low: float, ci_high: float, direction: str, threshold: float = 0.0) -> str:
    """The ledger's verdict on a claim "effect is ``direction`` than ``threshold``" (0: a plain comparison).

    ``holds``: the interval lies entirely on the claimed side (excludes the threshold); ``fails``: entirely on
    the other side; ``inconclusive``: it contains the threshold, or is undefined (nan)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return "inconclusive"
    if ci_low > ci_high:
        raise ValueError(f"ci_low ({ci_low}) > ci_high ({ci_high})")
    above, below = ci_low > threshold, ci_high < threshold
    if direction == "greater":
        return "holds" if above else ("fails" if below else "inconclusive")
    return "holds" if below else ("fails" if above else "inconclusive")


def compatible(ci: tuple[float, float], paper_effect: float | None) -> bool | None:
    """Whether the paper's own effect lies inside our interval (closed); None when the paper gives no number
    (a figure-only or qualitative claim) or our interval is undefined."""
    if paper_effect is None:
        return None
    lo, hi = ci
    pe = float(paper_effect)
    if not (np.isfinite(pe) and np.isfinite(lo) and np.isfinite(hi)):
        return None
    return bool(lo <= pe <= hi)
