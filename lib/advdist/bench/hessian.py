"""Entry ``hessian_top_eig_vs_full``: batched Hessian-vector-product Lanczos top eigenvalue of the input Hessian
against the official script's full Hessian + ``eigvalsh``, with their agreement."""

from __future__ import annotations

import copy

from advdist.analysis.hessian import CODE_BATCH, full_hessian_eigvalsh, top_eigenvalues
from advdist.bench.core import Context, entry, interleaved, median, result, timed


@entry
def hessian_top_eig_vs_full(ctx: Context) -> dict:
    """Input-Hessian top eigenvalue: batched HVP Lanczos vs full Hessian + eigvalsh (``cal_hessian.py``'s method)."""


    model = ctx.standard_model().eval()
    n, n_full, n64 = (16, 2, 2) if ctx.quick else (1000, CODE_BATCH, 4)
    x, y = ctx.subset(n)
    xf, yf = x[:n_full], y[:n_full]
    # the official method on one of its batches (100 images: d backward passes over the whole batch), timed once
    full_s, ref = timed(lambda: full_hessian_eigvalsh(model, xf, yf, batch_size=n_full)[:, -1])
    times, _ = interleaved({"ours": lambda: top_eigenvalues(model, x, y)}, max(1, ctx.repeats - 1))
    ev, info = top_eigenvalues(model, x, y, return_info=True)
    t_ours = median(times["ours"])
    rel32 = (ev[:n_full] - ref).abs() / ref.abs().clamp_min(1e-12)
    # the same comparison in float64 (both methods on a float64 copy): the algorithms' agreement without fp32 noise
    m64 = copy.deepcopy(model).double()
    ref64 = full_hessian_eigvalsh(m64, x[:n64].double(), y[:n64], batch_size=n64)[:, -1]
    rel64 = (top_eigenvalues(m64, x[:n64].double(), y[:n64]) - ref64).abs() / ref64.abs().clamp_min(1e-300)
    baseline_s = full_s / n_full * n
    agree = (f"max relative error (fp32, as timed) {float(rel32.max()):.1e} on the {n_full} images of the full method "
             f"(median {float(rel32.median()):.1e}, {float((rel32 <= 1e-3).float().mean()):.0%} within 1e-3; fp32 "
             f"round-off dominates for the smallest eigenvalues); in float64 "
             f"{float(rel64.max()):.1e} on {n64} images (goal <= 1e-3); {int(info['converged'].sum())} of {n} "
             f"converged")
    notes = (f"mini standard model (mini-cnn, 1x28x28, d=784), {n} stratified test images, per-example CE Hessian "
             f"(the paper's; cal_hessian.py's numbers are 1/100 of these), largest algebraic eigenvalue. "
             f"Baseline: the full d x d input Hessian (d double-backward passes per batch) + eigvalsh on one batch of "
             f"{n_full} images as cal_hessian.py batches them ({full_s:.1f} s, one run), EXTRAPOLATED linearly to {n} "
             f"images ({baseline_s:.0f} s); ours: top_eigenvalues (batched HVP Lanczos, tol 1e-5, batch 128) on all "
             f"{n} ({t_ours:.2f} s, {t_ours / n * 1e3:.1f} ms/image; median of {max(1, ctx.repeats - 1)} runs after a "
             f"warm-up), mean {float(info['iterations'].float().mean()):.1f} Lanczos steps per image")
    return result(model, f"input-Hessian top eigenvalue, {n} images", "full Hessian + eigvalsh (extrapolated)",
                   "analysis.hessian.top_eigenvalues", baseline_s, t_ours, agree, notes,
                   max_rel_err=float(rel32.max()), median_rel_err=float(rel32.median()),
                   frac_within_1e3=float((rel32 <= 1e-3).float().mean()),
                   max_rel_err_fp64=float(rel64.max()), n=n, n_full=n_full, n_fp64=n64,
                   full_s_measured=round(full_s, 4), eig_mean=float(ev.mean()),
                   eig_std=float(ev.std()) if n > 1 else 0.0)
