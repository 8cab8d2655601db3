"""advdist: a reproducible companion to three papers on distributions of adversarial examples.

- ADT   (Dong et al., NeurIPS 2020) — adversarial distributional training.
- ATLD  (ICLR 2021 submission)      — adversarial training with latent distribution.
- ATENT (Jagatap et al.)            — entropic regularisation via Langevin sampling.
"""

__version__ = "0.1.0"
