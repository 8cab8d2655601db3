"""``make bench``: timed comparisons of the attack engine against a baseline run in the same process.

Each entry times a baseline and our implementation on the same model and data, interleaved (the order
alternates between repeats) after one warm-up call each, and reports the median seconds, the ratio
``baseline_s / ours_s`` (> 1: ours is faster) and how the two results were checked to agree. Absolute
seconds depend on the machine and its load (2 shared CPU cores in CI); only the ratios are meant to be
compared, and nothing here is a test (``tests/test_bench.py`` checks the schema and the agreement fields).

Entries, one module per family (the module is named for the entries' common prefix):

- ``pgd.py``, ``pgd20_vs_foolbox``: ℓ∞ PGD-20 (ε = 0.1, α = ε/4, start at x, last iterate) against foolbox's
  ``LinfPGD`` on the mini standard model, 256 Fashion-MNIST test images.
- ``cascade.py``, ``cascade_vs_pgd20``: the whole ADT Table 1 attack list in cascade mode
  (``evaluate.robustness_matrix``) against PGD-20 alone and against the full (non-cascade) list, on the at_pgd
  mini model, 1000 test images.
- ``feaattack.py``, ``feaattack_batched_vs_loop``: FeaAttack with all targets of an image in one batch against
  one target at a time (each target's 50-step attack on the images not yet broken), same targets, 64 images,
  20 targets.
- ``adt_exp.py``, ``adt_exp_inner_vs_official``: ADT_EXP's inner maximisation (T = 7, k = 5) on TRADES SmallCNN,
  128 images, against a loop written the way the official code runs it (k sequential passes,
  ``loss.backward()``); variants: default fp32, one k·B batch, channels_last, ``fast_input_grad``
  (``models.grad_view``), both, bf16 autocast.
- ``adt_exp.py``, ``adt_exp_bf16_training``: a mini ADT_EXP model trained with bf16 autocast against fp32: time
  and PGD-20 A_rob.
- ``hessian.py``, ``hessian_top_eig_vs_full``: batched Hessian-vector-product Lanczos top eigenvalue of the input
  Hessian against the official script's full Hessian + ``eigvalsh``, with their agreement.
- ``throughput.py``, ``throughput_<method>``: images/s of one training step of every method at mini scale,
  against ``standard``.

``core.py`` holds what they share (context, interleaved timing, the entry record and registry, machine info),
``cli.py`` the command line. ``gpu.py`` is the separate ``make bench-gpu`` (training throughput on a CUDA GPU,
``python -m advdist.bench.gpu``; ``advdist.bench_gpu`` is its old name); importing this package does not load it.

    python -m advdist.bench [--only NAME ...] [--quick] [--out figures/bench/bench.json]
"""

from __future__ import annotations

import importlib

#: the entry modules, in the order their entries run and appear in the JSON (each registers its entries in
#: ``core.ENTRIES`` when imported, so this import order is the registration order)
FAMILIES = ("pgd", "cascade", "feaattack", "adt_exp", "hessian", "throughput")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")
del _family

# every name the single-module bench.py had, importable from here as before (private helpers included: tests use
# some); after the loop on purpose
# ruff: noqa: E402, F401
from advdist.bench.adt_exp import (
    adt_exp_bf16_training,
    adt_exp_inner_vs_official,
    fit_diff,
    fitted_smallcnn,
    official_style_fit,
)
from advdist.bench.cascade import FULL_BUDGET_S, SIZES, TABLE1_ATTACKS, Timed, cascade_vs_pgd20, grad_evals
from advdist.bench.cli import main, table
from advdist.bench.core import (
    ENTRIES,
    FIELDS,
    ROBUST_OVERRIDES,
    Context,
    build_context,
    cpu_bf16,
    entry,
    interleaved,
    load_robust,
    load_standard,
    load_test,
    machine_info,
    median,
    result,
    select,
    timed,
    write_json,
)
from advdist.bench.feaattack import feaattack_batched_vs_loop
from advdist.bench.hessian import hessian_top_eig_vs_full
from advdist.bench.pgd import pgd20_vs_foolbox
from advdist.bench.throughput import method_setup, method_throughput, register_throughput, throughput_entry

__all__ = ["ENTRIES", "FIELDS", "FAMILIES", "ROBUST_OVERRIDES", "TABLE1_ATTACKS", "SIZES", "FULL_BUDGET_S",
           "Context", "build_context", "entry", "interleaved", "median", "machine_info", "select", "table", "main",
           "write_json", "pgd20_vs_foolbox", "cascade_vs_pgd20", "feaattack_batched_vs_loop", "official_style_fit",
           "adt_exp_inner_vs_official", "adt_exp_bf16_training", "hessian_top_eig_vs_full", "method_throughput"]
