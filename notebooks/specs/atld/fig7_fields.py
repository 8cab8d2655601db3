CELLS = [
("md", """# ATLD Fig. 7 — direction fields of PGD, Feature Scattering and ATLD perturbations

ATLD (ICLR 2021 submission), App. B.6, Fig. 7: over a grid of points, the direction of the adversarial perturbation
of (a) PGD, (b) Feature Scattering and (c) ATLD, with the boundary of the model trained on clean data. The paper: most
PGD directions point at the decision boundary (the examples are "biased towards the decision boundary"); FS and ATLD
directions depend less on it.

Reconstruction (no code exists, atld-atent-baselines.md §A.6; `advdist.analysis.toy2d.direction_field`): the clean
toy model of Fig. 1; at each grid point the unit ascent direction of each scheme's objective — PGD: ∇ CE with the
model's own label; FS: ∇ of the batch OT distance (the grid is the batch) at a random start; ATLD: ∇ log(1 − D⁰(f(x)))
for a discriminator fitted to the clean model. The ℓ∞ steps are the signs of these vectors. The table gives the mean
cosine between each field and the direction straight at the boundary (−∇|margin|), and the share of arrows pointing
toward it.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
n_grid: int = 20       # arrows per axis
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed of the clean model, and the random start of FS""", ("parameters",)),
("code", """import matplotlib.pyplot as plt
import pandas as pd

from advdist import config, paths, plots, report
from advdist.analysis import toy2d
from advdist.experiments import atld

params = config.notebook_parameters(globals())
model, run, splits = atld.train_toy(scale, "standard", seed=seed, device=device)
disc = atld.fit_discriminator(model, splits.x_train, splits.y_train, cfg=atld.toy_config(scale, "atld", seed),
                              iters=atld.FIT_ITERS[scale], seed=seed)
xx, yy, pts = toy2d.grid(n_grid, 0.05, 0.95)
fields = {k: toy2d.direction_field(k, model, pts, eps=run.config.eps, disc=disc, seed=seed) for k in toy2d.PERTURBATIONS}""",
 ("nbval-ignore-output",)),
("code", """cos = {k: toy2d.toward_boundary(model, pts, d) for k, d in fields.items()}
stats = pd.DataFrame([{"field": k, "mean cos to boundary": c.mean().item(), "toward boundary (%)": 100 * (c > 0).float().mean().item()}
                      for k, c in cos.items()])
note = f"toy 2-D reconstruction ({scale} scale): moons in the unit square, clean {run.config.model} {run.config.model_kwargs['hidden']}, {n_grid}x{n_grid} grid"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig7_fields", title="ATLD Fig. 7: perturbation directions vs the boundary",
                           note=note, floatfmt=".3f")
print(note)
print(report.to_markdown(stats, ".3f"))""", ()),
("code", """fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
for ax, (k, title) in zip(axes, [("PGD", "(a) adversarial training by PGD"), ("FS", "(b) Feature Scattering"),
                                 ("ATLD", "(c) ATLD (ours)")]):
    toy2d.plot_boundary(ax, model, fill=False)
    d = fields[k]
    ax.quiver(pts[:, 0], pts[:, 1], d[:, 0], d[:, 1], angles="xy", scale=1.6 * n_grid, width=0.004)
    ax.set_title(title)
fig.suptitle(f"ATLD Fig. 7 ({scale} scale): perturbation directions; boundary of the clean-trained model")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig7_fields")""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/fig7_fields", scale, stats=stats)""", ("nbval-check-output",)),
]
