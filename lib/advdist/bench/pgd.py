"""Entry ``pgd20_vs_foolbox``: ℓ∞ PGD-20 (ε = 0.1, α = ε/4, start at x, last iterate) against foolbox's
``LinfPGD`` on the mini standard model, 256 Fashion-MNIST test images."""

from __future__ import annotations

import torch

from advdist.attacks import frozen, pgd
from advdist.bench.core import Context, accuracy, entry, interleaved, median, result


@entry
def pgd20_vs_foolbox(ctx: Context) -> dict:
    """PGD-20 ℓ∞ from x (no random start), last iterate, against foolbox 3 ``LinfPGD`` with the same settings."""
    import foolbox as fb


    model = ctx.standard_model().eval()
    n, steps = (32, 5) if ctx.quick else (256, 20)
    x, y = ctx.subset(n)
    eps = 0.1
    alpha = eps / 4
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), device=x.device)
    attack = fb.attacks.LinfPGD(abs_stepsize=alpha, steps=steps, random_start=False)

    def foolbox():
        return attack(fmodel, x, y, epsilons=eps)[1]

    def foolbox_frozen():  # the same with requires_grad=False on the weights: no weight gradients
        with frozen(model):
            return attack(fmodel, x, y, epsilons=eps)[1]

    def ours():
        return pgd(model, x, y, eps=eps, alpha=alpha, steps=steps, random_start=False, use_best=False)

    try:
        times, out = interleaved({"foolbox": foolbox, "ours": ours, "foolbox_frozen": foolbox_frozen}, ctx.repeats)
    finally:
        model.zero_grad(set_to_none=True)  # foolbox's loss.backward() leaves weight gradients on the model
    ref, mine = out["foolbox"], out["ours"]
    diff = (mine - ref).abs()
    max_diff = float(diff.max())
    n_px_diff = int((diff > 1e-6).sum())
    with torch.no_grad():
        acc_ref = accuracy(model, ref, y)
        acc_ours = accuracy(model, mine, y)
    at_boundary = float(((mine - x).abs().flatten(1).amax(1) > eps * 0.99).float().mean())
    fb_s, ours_s, fbf_s = median(times["foolbox"]), median(times["ours"]), median(times["foolbox_frozen"])
    agree = (f"max |x_ours - x_foolbox| = {max_diff:.2e} ({n_px_diff} of {diff.numel()} pixels differ by > 1e-6); "
             f"accuracy under attack {acc_ours:.4f} (ours) vs {acc_ref:.4f} (foolbox)")
    notes = (f"{n} stratified Fashion-MNIST test images, batch of {n}, eps={eps}, alpha=eps/4, {steps} steps, "
             f"start at x; ours use_best=False (= foolbox's last iterate); {at_boundary:.0%} of ours reach the "
             f"eps boundary; medians of {ctx.repeats} interleaved runs after a warm-up. foolbox calls "
             f"loss.backward() (weight gradients too) and one extra forward pass for its success check; with the "
             f"weights frozen (requires_grad=False) foolbox took {fbf_s:.3f} s: plain/frozen foolbox = "
             f"{fb_s / fbf_s if fbf_s else float('nan'):.2f}x, frozen foolbox/ours = "
             f"{fbf_s / ours_s if ours_s else float('nan'):.2f}x")
    return result(model, "PGD-20 linf, last iterate, from x", f"foolbox {fb.__version__} LinfPGD",
                  "advdist.attacks.pgd", fb_s, ours_s, agree, notes, max_abs_diff=max_diff, at_boundary=at_boundary,
                  foolbox_frozen_s=round(fbf_s, 4), n=n, steps=steps, repeats=ctx.repeats)
