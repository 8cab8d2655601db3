CELLS = [
("md", """# ATLD Fig. 4 — decision boundaries after standard, PGD, Feature Scattering and ATLD training

ATLD (ICLR 2021 submission), App. B.4, Fig. 4: the decision boundary of (a) a model trained on clean data, and after
adversarial training with (b) PGD, (c) Feature Scattering and (d) ATLD. The paper's reading: PGD and FS move the
original boundary a lot (PGD "corrupts the data manifold completely", FS's boundary is non-smooth), ATLD changes it
only slightly.

No code or setting exists for this figure (atld-atent-baselines.md §A.6). Our reconstruction
(`advdist.analysis.toy2d`, config setting `atld-toy`): two moons in the unit square, a 2-64-64-2 ReLU MLP
(2-32-32-2 at `smoke`), ℓ∞ ε = 0.08, each method trained through the run store with its paper defaults except:
label smoothing δ = 0.2 for FS and ATLD (with 2 classes the paper's δ = 0.5 makes the smoothed target uniform) and
ATLD's invariance weight λ = 0.1 (λ = 1 collapsed the toy game to a constant classifier in our runs); PGD training
uses 7 steps of ε/4 (Madry et al.). The table gives each model's clean test accuracy and how much of the plane changes
class relative to the clean model.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed of every model""", ("parameters",)),
("code", """import matplotlib.pyplot as plt

from advdist import config, paths, plots, report
from advdist.analysis import toy2d
from advdist.experiments import atld

params = config.notebook_parameters(globals())
trained = {m: atld.train_toy(scale, m, seed=seed, device=device) for m in atld.FIG4_METHODS}""", ("nbval-ignore-output",)),
("code", """stats = toy2d.boundary_stats({m: t[0] for m, t in trained.items()}, trained["standard"][2], reference="standard")
cfg = trained["standard"][1].config
note = f"toy 2-D reconstruction ({scale} scale): moons in the unit square, {cfg.model} {cfg.model_kwargs['hidden']}, ε = {cfg.eps}"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig4_boundaries",
                           title="ATLD Fig. 4: models after each training method", note=note, floatfmt=".2f")
print(note)
print(report.to_markdown(stats))""", ()),
("code", """fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
titles = {"standard": "(a) original", "at_pgd": "(b) adversarial training (PGD)",
          "feature_scattering": "(c) Feature Scattering", "atld": "(d) ATLD (ours)"}
for ax, (m, (model, run, splits)) in zip(axes, trained.items()):
    toy2d.plot_boundary(ax, model)
    if m != "standard":
        toy2d.plot_boundary(ax, trained["standard"][0], fill=False, color="0.6")
    toy2d.plot_points(ax, splits.x_train, splits.y_train, s=3, alpha=0.5)
    ax.set_title(titles[m])
fig.suptitle(f"ATLD Fig. 4 ({scale} scale): decision boundaries after training (grey: the clean model's)")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig4_boundaries")""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/fig4_boundaries", scale, stats=stats)""", ("nbval-check-output",)),
]
