"""Entry ``feaattack_batched_vs_loop``: FeaAttack with all targets of an image in one batch against one target at
a time (each target's 50-step attack on the images not yet broken), same targets, 64 images, 20 targets."""

from __future__ import annotations

import torch

from advdist.attacks import draw_targets, feature_attack, settings
from advdist.bench.core import ROBUST_OVERRIDES, Context, entry, interleaved, median, result


@entry
def feaattack_batched_vs_loop(ctx: Context) -> dict:
    """FeaAttack, all K targets of an image in one batch vs one target at a time (same targets)."""

    model = ctx.robust_model().eval()
    n, k = (8, 4) if ctx.quick else (64, 20)
    pool = ctx.subset(64 if ctx.quick else 1000)
    x, y = ctx.subset(n)
    spec = settings.get("FeaAttack", scale=ctx.scale, paper="adt", dataset=ctx.settings_dataset)
    kw = {key: v for key, v in spec.kwargs.items() if key != "n_targets"}
    targets = draw_targets(y, pool[1], k, torch.Generator().manual_seed(0))

    def batched(random_start=True, batch_size=512):
        return feature_attack(model, x, y, **kw, target_pool=pool, targets=targets, early_stop=True,
                              random_start=random_start, generator=torch.Generator().manual_seed(1),
                              batch_size=batch_size, return_success=True)[1]

    def loop(random_start=True):
        """Target j: the 50-step attack of every image not yet broken towards its j-th target."""
        g = torch.Generator().manual_seed(1)
        broken = torch.zeros(n, dtype=torch.bool)
        for j in range(k):
            idx = (~broken).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:
                break
            _, ok = feature_attack(model, x[idx], y[idx], **kw, target_pool=pool, targets=targets[idx, j:j + 1],
                                   early_stop=True, random_start=random_start, generator=g, return_success=True)
            broken[idx[ok]] = True
        return broken

    times, out = interleaved({"loop": loop, "batched": batched, "batched_bs128": lambda: batched(batch_size=128)},
                             ctx.repeats)
    b_mask, l_mask = out["batched"], out["loop"]
    det_b, det_l = batched(random_start=False), loop(random_start=False)  # no random start: must agree exactly
    l_s, b_s, b128_s = median(times["loop"]), median(times["batched"]), median(times["batched_bs128"])
    agree = (f"broken: batched {b_mask.float().mean():.4f} vs loop {l_mask.float().mean():.4f} of {n} images, "
             f"{int((b_mask != l_mask).sum())} differ (random starts differ between the two); without random "
             f"start {det_b.float().mean():.4f} vs {det_l.float().mean():.4f}, {int((det_b != det_l).sum())} differ")
    notes = (f"at_pgd mini model ({ROBUST_OVERRIDES}); {n} stratified test images, {k} targets each drawn once "
             f"(draw_targets, pool = {len(pool[1])} stratified test images) and passed to both via targets=; "
             f"eps={spec.eps}, alpha=eps/8, {kw['steps']} steps, random start; batched = one call, "
             f"{n * k} rows in chunks of 512 (chunks of 128: {b128_s:.3f} s, {l_s / b128_s:.2f}x the loop); "
             f"loop = {k} calls of {n} rows or fewer; both stop images once broken. Medians of {ctx.repeats} "
             f"interleaved runs after a warm-up")
    return result(model, f"FeaAttack {k} targets: one batch vs one target at a time", "loop over targets",
                   "feature_attack (all targets batched)", l_s, b_s, agree, notes,
                   broken_batched=float(b_mask.float().mean()), broken_loop=float(l_mask.float().mean()),
                   broken_differ=int((b_mask != l_mask).sum()),
                   broken_differ_no_random_start=int((det_b != det_l).sum()),
                   broken_no_random_start=float(det_b.float().mean()),
                   batched_bs128_s=round(b128_s, 4), n=n, n_targets=k, repeats=ctx.repeats)
