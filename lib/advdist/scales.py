"""The three scales and every number that differs between them, each defined once.

- ``paper`` — the papers' exact settings (their values live with the settings themselves: ``config.SETTINGS``,
  the paper rows of ``attacks.settings``); here only the paper-scale entries of per-scale budgets.
- ``mini``  — a real reproduction on 2 CPU cores: Fashion-MNIST (real MNIST for ATENT Tables 1-2), small nets,
  few epochs.
- ``smoke`` — seconds: scikit-learn digits and a small MLP; used by the tests and nbval in CI.

Every table below is keyed by scale and read by the module named beside it; the old names there are aliases of
these objects (``distribution_attacks.EXP is scales.EXP_ATTACK``), so changing a number here changes it everywhere.
A test (``tests/test_scales.py``) fails if a dict keyed by "smoke"/"mini" appears anywhere else in the package.

This module imports nothing (no torch): ``config`` imports it at import time.
"""

from __future__ import annotations

from typing import Any

SCALES = ("smoke", "mini", "paper")

# ----------------------------------------------------------------------------------------------------------------
# Threat-model budgets at the CPU scales (ε). One definition each; config's training budgets and the attack
# settings read the same names.
# ----------------------------------------------------------------------------------------------------------------
#: ℓ∞ ε on the mini/smoke substitute data (Fashion-MNIST, digits): training and attacks
MINI_EPS = 0.1
#: ℓ2 ε on the mini/smoke substitute data: ATENT Table 4's training and L2-PGD-10, and smoke's ℓ2 settings
#: (ATENT Table 1 at smoke: training and L2-PGD-40 / CW-L2)
MINI_EPS_L2 = 1.0
#: SVHN's ε is half of CIFAR's in ADT (4/255 vs 8/255): half of mini's ℓ∞ ε, at mini and smoke
MINI_EPS_SVHN = MINI_EPS / 2
#: ATENT Tables 1-2 at mini run on real MNIST at the paper's budgets (ℓ∞ 0.3, ℓ2 2.0; ``config.SETTINGS``
#: atent-mnist-linf / atent-mnist-l2 and the paper's MNIST attack rows, which a test checks they equal)
MINI_MNIST_EPS, MINI_MNIST_EPS_L2 = 0.3, 2.0
#: ATENT Table 5: the paper's pixel-space ε₂ = 0.435 kept at every scale
SMOOTH_EPS_L2 = 0.435


class Rel(float):
    """A value given as a fraction of ε (e.g. α = ε/4 → ``Rel(1/4)``); resolved when an attack setting is built."""

    def __repr__(self) -> str:
        return f"Rel({float(self)!r})"


# ----------------------------------------------------------------------------------------------------------------
# Training (``config``): overrides applied on top of a paper setting. "*" applies to every setting; a setting name
# refines it. Read by ``config.resolve`` (alias ``config.SCALE_OVERRIDES``).
# ----------------------------------------------------------------------------------------------------------------
SCALE_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {"*": {}},
    "mini": {
        "*": dict(dataset="fashion_mnist", model="mini-cnn", eps=MINI_EPS, norm="linf", epochs=4,
                  milestones=(3,), lr=0.05, momentum=0.9, weight_decay=5e-4, batch_size=128,
                  n_train=None, n_test=None),
        # ADT Table 1 trains 9 models (ADT_EXP alone costs ~36 forward-backward passes per image) on a 12k-image
        # stratified subset. Schedule (issue 14): 12 epochs (1128 SGD steps), lr 0.05 dropped x0.1 for the last
        # epoch only, as the paper's drop at epoch 75 of 76; 4 epochs with the drop at 50 % (376 steps) stopped
        # short. Measured learning curves at constant lr (PGD-20 on 500 test images after each epoch): AT_PGD
        # 60.4 % (epoch 1), 67.4 (7), 69.6 (10), 69.8 (12), 70-73 over epochs 13-24; ADT_EXP 59.2 (1), 67.6 (7),
        # 69.2 (10), 70.8 (12), 70-72 over epochs 13-16 — both within ~2 pp (the noise at n = 500) of their later
        # level by epoch 12; with the drop AT_PGD ends at 71.2 %. Cost: ~80 s per epoch for all 9 models on 2 idle
        # AVX512-BF16 cores (ADT Fig. 7's per-epoch times) → ~16 min of training + ~3.3 min of attacks.
        **{s: dict(n_train=12000, epochs=12, milestones=(12,))
           for s in ("adt-cifar10", "adt-cifar100", "adt-trades-cifar10")},
        # SVHN's ε is half of CIFAR's in the paper (4/255 vs 8/255): half of mini's 0.1 here
        "adt-svhn": dict(n_train=12000, epochs=12, milestones=(12,), eps=MINI_EPS_SVHN),
        # Madry's schedule decays at 50 % and 75 % of training; Rice's at 50 % and 75 % with early stopping
        "madry-cifar10": dict(n_train=12000, epochs=12, milestones=(6, 9)),
        "rice-cifar10": dict(n_train=12000, epochs=6, milestones=(3, 5), weight_decay=5e-4, early_stop="pgd-10"),
        # ATENT Tables 1-2 at mini run on real MNIST at the paper's budgets (l2 eps 2, linf eps 0.3) with the paper's
        # attacks. The paper's nets (LeNet5-Madry, TRADES SmallCNN) cost 10-13x / 8-10x a mini-cnn training step on
        # a CPU (measured on AVX-512 EPYC cores, issue 15): with them a table takes 1-2 h, not the 30 min of a mini
        # item, so mini keeps the mini-cnn (the notebooks' `model` parameter runs the paper's nets; only then is the
        # setting the paper's and a delta to the paper shown).
        "atent-mnist-l2": dict(dataset="mnist", eps=MINI_MNIST_EPS_L2, norm="l2", n_train=10000, epochs=5,
                               milestones=(4,)),
        "atent-cifar10-l2": dict(eps=MINI_EPS_L2, norm="l2", n_train=10000, epochs=5, milestones=(4,)),
        # Table 5: the paper's eps2 = 0.435 and sigma = 0.12 are pixel-space values; kept on Fashion-MNIST
        "atent-cifar10-smooth": dict(eps=SMOOTH_EPS_L2, norm="l2", n_train=10000, epochs=5, milestones=(4,)),
        # ATENT Table 2 trains 6 models, ATENT with K Langevin steps + K outer forwards per batch: a subset
        "atent-mnist-linf": dict(dataset="mnist", eps=MINI_MNIST_EPS, norm="linf", n_train=10000, epochs=5,
                                 milestones=(4,)),
        "atent-cifar10-linf": dict(n_train=10000, epochs=5, milestones=(4,)),
        "atent-tsne58": dict(dataset="tsne58_fashion_mnist", model="atent-toy", epochs=30, milestones=(25,), lr=0.01,
                             weight_decay=0.0, batch_size=32),
        # ATLD Tables 1-6 at mini: the ADT Table 1 budget (20k-image subset, 5 epochs), so the shared baselines
        # (standard, at_pgd, feature_scattering) resolve to the same configs and runs as ADT's
        **{s: dict(n_train=20000, epochs=5, milestones=(4,)) for s in ("atld-cifar10", "atld-cifar100", "atld-svhn")},
        # ATLD toy figures: the setting itself (the "*" Fashion-MNIST values do not apply to 2-D data)
        "atld-toy": dict(dataset="moons", model="mlp", model_kwargs={"hidden": (64, 64)}, eps=0.08, epochs=150,
                         milestones=(120,), lr=0.1, weight_decay=0.0, batch_size=64),
    },
    "smoke": {
        "*": dict(dataset="digits", model="mlp", model_kwargs={"hidden": (64,)}, eps=MINI_EPS, norm="linf",
                  epochs=3, milestones=(2,), lr=0.1, momentum=0.9, weight_decay=0.0, batch_size=64,
                  n_train=None, n_test=None),
        "atent-mnist-l2": dict(eps=MINI_EPS_L2, norm="l2"),
        "atent-cifar10-l2": dict(eps=MINI_EPS_L2, norm="l2"),
        "atent-cifar10-smooth": dict(eps=SMOOTH_EPS_L2, norm="l2"),
        "atent-tsne58": dict(dataset="tsne58_digits", model="atent-toy", model_kwargs={}, epochs=10, milestones=(8,),
                             lr=0.01, batch_size=32),
        "adt-svhn": dict(eps=MINI_EPS_SVHN),
        "madry-cifar10": dict(epochs=4, milestones=(2, 3)),  # Madry's two decays (else = AT_PGD's smoke run)
        "rice-cifar10": dict(epochs=4, milestones=(2, 3), early_stop="pgd-10"),
        "atld-toy": dict(dataset="moons", model="mlp", model_kwargs={"hidden": (32, 32)}, eps=0.08, epochs=25,
                         milestones=(20,), lr=0.1, weight_decay=0.0, batch_size=64, n_train=300, n_test=200),
    },
}

#: per-scale method options (merged under any ``method_kwargs`` given explicitly; alias ``config.METHOD_KWARGS``).
#: The amortised ADT generators (Table 7: 256–512 filters) are far too slow for CPU scales; smaller widths stand in.
METHOD_KWARGS: dict[str, dict[str, dict[str, Any]]] = {
    # Entropy-SGD: ATENT App. A.1's gamma = 1e-3 with the paper's outer gradient gamma*(w - mu) would not train in
    # 50 epochs (step ~ 1e-3 x the code's); its Table 1-2 rows (99.2% benign) imply the code's w - mu.
    "paper": {"entropy_sgd": {"outer": "code"}},
    # ATENT at mini/smoke: fewer Langevin steps; linf keeps the paper's path length K*eta' = 4/3 eps; l2 takes
    # steps of eps/4 (smoke 0.4 eps) so that the pull (gamma = 1/eps) settles the chain near distance eps in K steps.
    "mini": {"entropy_sgd": {"outer": "code"}, "atent_linf": {"steps": 10, "step_ratio": 2 / 15},
             "atent_l2": {"steps": 10, "step_ratio": 0.25},
             # IMP-AM's z-encoder keeps Table 7's 256 units (its own option, z_width): ~2 % of the width-8
             # generator's and q's multiply-adds at 28×28, so nothing to save by narrowing it (issue 14)
             "adt_expam": {"width": 8, "lr_g": 1e-3}, "adt_impam": {"width": 8, "q_width": 16, "lr_g": 1e-3},
             "l2l": {"width": 8, "lr_g": 1e-3},
             # ATLD: the code's D lr 1e-3 is for 400 epochs, few-epoch scales use more; λ = 1 collapsed (atld.py)
             "atld": {"lr_d": 0.01, "lam": 0.1}},
    "smoke": {"entropy_sgd": {"outer": "code"}, "atent_linf": {"steps": 5, "step_ratio": 4 / 15},
              "atent_l2": {"steps": 5, "step_ratio": 0.4},
              "adt_expam": {"width": 8, "lr_g": 2e-3}, "adt_impam": {"width": 8, "q_width": 8, "lr_g": 2e-3},
              "l2l": {"width": 8, "lr_g": 2e-3},
              "atld": {"lr_d": 0.05, "lam": 0.1}},
}

# ----------------------------------------------------------------------------------------------------------------
# Evaluation sizes: test examples attacked per scale (stratified subset; None = the whole test set)
# ----------------------------------------------------------------------------------------------------------------
#: robustness tables (alias ``config.EVAL_N``)
EVAL_N: dict[str, int | None] = {"smoke": 100, "mini": 1000, "paper": None}
#: tables whose size differs from :data:`EVAL_N` (``experiments.TABLES[key].n_eval``)
TABLE_N_EVAL: dict[str, dict[str, int]] = {
    # 9 models x 6 attacks (FeaAttack alone ~1000 forward-backward passes per image): 500 images keep the
    # mini table within its 15 min budget on 2 cores
    "adt-table1": {"mini": 500},
    # SPSA: 100 iterations x up to 2048 samples per image
    "adt-table3": {"smoke": 50, "mini": 200},
    # AutoAttack and RayS (40 000 queries)
    "atld-table4": {"smoke": 4, "mini": 200},
    "atld-table5": {"smoke": 4, "mini": 200},
    "atent-table1": {"mini": 500},
}

# ----------------------------------------------------------------------------------------------------------------
# Attack settings (``attacks.settings``): the datasets and their ε at each CPU scale, and per-name overrides of the
# paper rows (mini on top of paper; smoke on top of mini).
# ----------------------------------------------------------------------------------------------------------------
#: {scale: {dataset: ε}} of the CPU scales (the paper scale's datasets and ε are the papers', in attacks.settings)
ATTACK_DATASET_EPS: dict[str, dict[str, float]] = {"mini": {"fashion_mnist": MINI_EPS}, "smoke": {"digits": MINI_EPS}}
#: ATENT Tables 1-2 at mini also run on real MNIST, with the paper's MNIST rows unchanged
ATTACK_MINI_MNIST_EPS: dict[str, float] = {"mnist": MINI_MNIST_EPS}
# mini: Fashion-MNIST substitute; ℓ∞ steps ε/4, ℓ2 steps ε/8, ℓ2 ε = MINI_EPS_L2, papers' step counts
ATTACK_MINI: dict[str, dict[str, Any]] = {
    **{f"PGD-{k}": {"alpha": Rel(1 / 4)} for k in (10, 20, 40, 100)},
    **{f"CW-{k}": {"alpha": Rel(1 / 4)} for k in (20, 40, 100)},
    "C&W": {"alpha": Rel(1 / 4)},
    "L2-PGD-40": {"eps": MINI_EPS_L2, "alpha": Rel(1 / 8)},
    "CW-L2": {"eps": MINI_EPS_L2},
    # 20 targets instead of 200: the attack's cost grows with targets × steps for every robust image
    "FeaAttack": {"n_targets": 20},
    # ATENT Table 6 / 4 at mini: the Langevin attack with PGD-20's mini step, ℓ2 PGD-10 at the mini ℓ2 budget
    "ATENT-20": {"alpha": Rel(1 / 4)}, "L2-PGD-10": {"eps": MINI_EPS_L2},
    # SPSA: 1/16 of the paper's samples per gradient estimate (16–128 for 256–2048), same 100 iterations —
    # the paper's 2048 × 100 queries per image would take hours per model on 2 cores; the trend is kept
    **{f"SPSA-{n}": {"samples": n // 16} for n in (256, 512, 1024, 2048)},
}
# smoke: digits, tiny step counts (CI only; numbers mean nothing)
ATTACK_SMOKE: dict[str, dict[str, Any]] = {
    "PGD-10": {"steps": 2}, "PGD-20": {"steps": 3}, "PGD-40": {"steps": 4}, "PGD-100": {"steps": 5},
    "CW-20": {"steps": 3}, "CW-40": {"steps": 4}, "CW-100": {"steps": 5},
    "MIM": {"steps": 3}, "C&W": {"steps": 3}, "FeaAttack": {"steps": 3, "n_targets": 4},
    **{f"SPSA-{n}": {"samples": n // 64, "iterations": 3} for n in (256, 512, 1024, 2048)},
    "DeepFool": {"steps": 3}, "CW-L2": {"binary_search_steps": 2, "steps": 10, "eps": MINI_EPS_L2},
    "RayS": {"queries": 100}, "AA": {"n_iter": 5, "n_queries": 100, "n_target_classes": 2},
    "L2-PGD-40": {"steps": 4, "restarts": 2, "eps": MINI_EPS_L2, "alpha": Rel(1 / 8)},
    "ATENT-20": {"steps": 3},
}
#: the per-name overrides of each CPU scale, applied in this order (mini on the paper rows, smoke on mini's)
ATTACK_OVERRIDES: dict[str, dict[str, dict[str, Any]]] = {"mini": ATTACK_MINI, "smoke": ATTACK_SMOKE}

# ----------------------------------------------------------------------------------------------------------------
# ADT's distribution attacks (``distribution_attacks``): Table 4 and Fig. 6
# ----------------------------------------------------------------------------------------------------------------
#: the EXP attack's objective, the same at every scale (ADT Sec. 5.3; App. D.3 lr 0.3, betas (0, 0); λ = 0.01 on the
#: per-coordinate mean entropy with cumulative gradients, as ADT_EXP's training and the authors' code)
EXP_OBJECTIVE = dict(lr=0.3, betas=(0.0, 0.0), lam=0.01, entropy="mean", cumulative_grad=True)
#: EXP attack (T steps, k MC samples, samples judged); ``batch_size`` examples are fitted together, ``sample_batch``
#: rows per forward pass (speed/memory only). Alias ``distribution_attacks.EXP``.
EXP_ATTACK: dict[str, dict[str, Any]] = {
    "paper": dict(steps=20, k=10, n_samples=100, **EXP_OBJECTIVE, batch_size=250, sample_batch=1000),
    "mini": dict(steps=20, k=10, n_samples=100, **EXP_OBJECTIVE, batch_size=250, sample_batch=2500),
    "smoke": dict(steps=3, k=2, n_samples=5, **EXP_OBJECTIVE, batch_size=None, sample_batch=None),
}
#: EXP-AM / IMP-AM attacks: epochs over the attacked examples, batch size (authors: 64), samples per example, and
#: per-method generator options (alias ``distribution_attacks.GENERATOR``)
GENERATOR_ATTACK: dict[str, dict[str, Any]] = {
    "paper": dict(epochs=400, batch_size=64, n_samples=100, method_kwargs={}),
    "mini": dict(epochs=15, batch_size=64, n_samples=100,
                 method_kwargs={"adt_expam": {"width": 8, "lr_g": 1e-2},
                                "adt_impam": {"width": 8, "q_width": 8, "lr_g": 1e-2, "lr_q": 1e-2}}),
    "smoke": dict(epochs=2, batch_size=64, n_samples=5, method_kwargs={}),
}
#: ADT Fig. 6: EXP iterations 0..steps, k MC samples, n_eval test images [paper: assumption, not stated]
#: (alias ``distribution_attacks.CONVERGENCE``)
EXP_CONVERGENCE: dict[str, dict[str, Any]] = {
    "paper": dict(steps=100, k=10, **EXP_OBJECTIVE, n_eval=1000, batch_size=250, sample_batch=1000),
    "mini": dict(steps=100, k=10, **EXP_OBJECTIVE, n_eval=500, batch_size=500, sample_batch=2500),
    "smoke": dict(steps=10, k=2, **EXP_OBJECTIVE, n_eval=50, batch_size=None, sample_batch=None),
}
#: test examples attacked in ADT Table 4 (alias ``distribution_attacks.TABLE4_N``)
TABLE4_N: dict[str, int | None] = {"smoke": 100, "mini": 500, "paper": None}

# ----------------------------------------------------------------------------------------------------------------
# Analyses
# ----------------------------------------------------------------------------------------------------------------
#: ADT Figs. 1-2 (alias ``analysis.collect.SIZES``). Paper: Fig. 1 text (100 images; N unstated, 100 assumed),
#: Sec. 5.3 (1000 images for the eigenvalues; the script's 200 × 200 grid, here 201 so the clean input lies on it).
ANALYSIS_SIZES: dict[str, dict[str, int]] = {
    "smoke": dict(fig1_images=10, fig1_samples=20, fig2_surface_images=2, fig2_grid=21, fig2_eig_images=20),
    "mini": dict(fig1_images=100, fig1_samples=100, fig2_surface_images=8, fig2_grid=41, fig2_eig_images=500),
    "paper": dict(fig1_images=100, fig1_samples=100, fig2_surface_images=1, fig2_grid=201, fig2_eig_images=1000),
}
#: ATENT Table 5 certification (n0, n, examples certified) (alias ``analysis.smoothing.CERTIFY_BUDGET``); paper =
#: Cohen et al.'s protocol (500 CIFAR images). mini certifies 100 images: at n = 100 000 draws each, 500 would take
#: about 5× as long (the notebook prints the measured seconds per image).
CERTIFY_BUDGET: dict[str, tuple[int, int, int]] = {
    "smoke": (32, 400, 40), "mini": (100, 100_000, 100), "paper": (100, 100_000, 500)}
#: ATLD Figs. 1 and 7: rounds of ``analysis.toy2d.fit_discriminator`` (alias ``toy2d.FIT_ITERS``)
TOY2D_FIT_ITERS: dict[str, int] = {"smoke": 60, "mini": 300, "paper": 1000}
#: ATENT Fig. 1: inner steps of PGD-AT, TRADES and ATENT (the recipe's 40; fewer for CI) (alias
#: ``analysis.toy2d_tsne.FIG1_STEPS``)
TSNE_FIG1_STEPS: dict[str, int] = {"smoke": 10, "mini": 40, "paper": 40}
#: ATLD latent separability: training images whose clean and attacked latents fit the probes (alias
#: ``atld_experiments.SEPARABILITY_FIT``)
SEPARABILITY_FIT: dict[str, int] = {"smoke": 300, "mini": 2000, "paper": 10000}


#: the claims ledger (advdist.claims): the ledger scale a run scale is tested against (smoke: tiny stand-ins for
#: the mini claims, CI only)
CLAIMS_LEDGER_SCALE = {"smoke": "mini", "mini": "mini", "paper": "paper"}
