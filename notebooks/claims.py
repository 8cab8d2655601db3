# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (advdist)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The claims ledger — does each claim of the three papers hold here, and how sure are we?
#
# Every claim that ADT, ATLD and ATENT make in their text, tables and captions is a row of `data/paper/claims.csv`,
# with its test as data: the metric, the two subjects (or the trend), the claimed direction and the paper's own
# effect. This notebook measures every claim the runner can measure at the chosen scale with several training seeds
# on the same test examples, and lists the others with the reason (not testable at this scale, or not measured by
# the runner yet).
#
# **Effect and interval.** For a comparison of A and B, the effect is A − B in percentage points on the same test
# examples, seed s of A paired with seed s of B; the 95 % interval counts both the test examples and the seeds
# (crossed variance components with Satterthwaite's t, `advdist.stats`). Trends (ADT Fig. 5's λ) are the slope per
# grid step; training-time ratios (ADT Fig. 7) the geometric mean over seeds. **Verdict**: *holds* when the interval
# lies on the claimed side of 0 (or of the claim's threshold), *fails* on the other side, *inconclusive* otherwise;
# *compatible*: the paper's effect lies inside our interval. Every result names its scale, dataset, model, ε and
# variant (the rows' normalisation, the IMT protocol).
#
# The same run from a terminal, with progress bars: `make claims SCALE=mini SEEDS=3`
# (`python -m advdist.claims --scale mini --seeds 3`). Models and attack results come from the run store, so a
# second run, or this notebook after `make claims`, only reads them.

# %% tags=["parameters"]
scale: str = "smoke"   # smoke | mini | paper
seeds: int = 2         # training seeds per claim (0 … seeds−1); `make claims` uses 3
n_eval: int = 0        # test examples per table; 0 = each table's default
only: str = ""         # comma-separated claim ids; "" = every claim
device: str = "auto"   # auto = CUDA when present

# %% tags=["keep-output"]
from advdist import config, report

params = config.notebook_parameters(globals())  # a misspelled or mistyped parameter is an error here
report.smoke_banner(scale, "claims")

# %% [markdown]
# ### What is measured, and what is not
# One row per claim: measured (how, from which table: rows attacked, attack columns, `*` = all of the table's for
# A_rob, the IMT rows, rows only trained for their logs), not testable at this scale, or not measured yet (why).

# %%
from advdist import claims

ids = [s for s in only.split(",") if s]
ledger = claims.load_ledger()
plans = claims.plan(ledger, scale, ids)
report.show(claims.plan_table(plans), title=f"The claims ledger at {scale} scale: the plan")

# %% tags=["nbval-ignore-output"]
import time

t0 = time.perf_counter()
results = claims.run(scale, seeds, n=n_eval or None, only=ids, ledger=ledger, device=device, progress=False)
seconds = time.perf_counter() - t0
files = claims.write(results, scale=scale, seconds=seconds)
print(f"{seconds:.0f} s; wrote " + ", ".join(str(f.relative_to(f.parents[2])) for f in files))

# %% [markdown]
# ### Summary per paper

# %%
report.Prose("\n".join(f"- {s}" for s in claims.summary(results)))

# %% [markdown]
# ### The measured claims
# Our effect with its 95 % interval, the claimed side, the paper's effect, the verdict and whether the paper's
# effect lies in our interval; seeds and test examples per subject (n "–": one value per run).

# %%
report.show(claims.measured_table(results), title=f"Measured claims ({scale} scale)")

# %% [markdown]
# ### Forest plot
# One row per measured claim: our effect and 95 % interval (colour = verdict), the paper's effect (×) and the
# claim's threshold (|); one panel per unit.

# %%
fig = claims.forest(results, title=f"Claims ledger at {scale} scale: our effect (95 % CI) vs the paper's")

# %% [markdown]
# ### Not measured here

# %%
rest = results[results["status"] != "measured"][["id", "paper", "status", "reason"]]
report.show(rest, title="Claims not measured at this scale, and why")

# %% [markdown]
# ### Counts
# No stored smoke comparison (`goldens.check`) for this notebook: its numbers are verdicts and intervals of tiny
# smoke models whose labels (holds / inconclusive) can flip between floating-point environments, and its structure is
# the ledger's, which `tests/test_claims.py` checks (every claim planned exactly once, with a reason when not
# measured; the end-to-end smoke run). This cell only shows the counts.

# %%
results.groupby(["paper", "status"]).size().unstack(fill_value=0)
