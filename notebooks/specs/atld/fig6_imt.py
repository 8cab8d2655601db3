CELLS = [
("md", """# ATLD Fig. 6 — clean, PGD-perturbed and IMT-adjusted points under the ATLD boundary

ATLD (ICLR 2021 submission), App. B.5, Fig. 6: with the decision boundary of an ATLD-trained model in all panels,
(a) clean data, (b) the data perturbed by PGD, which pushes points toward or across the boundary, and (c) the PGD
points adjusted by IMT (Inference with Manifold Transformation, Sec. 4.2, Eq. (8)): one ε step that lowers the
discriminator's "adversarial" score, which the paper says moves the points back toward the natural manifold.

Reconstruction (no code exists, atld-atent-baselines.md §A.6; `advdist.analysis.toy2d`): two moons in the unit
square, the toy ATLD model of Fig. 4 (config setting `atld-toy`, its own trained discriminator, λ = 0.1, δ = 0.2),
PGD = 10 steps of ε/4 against the ATLD classifier (non-adaptive, as the paper), IMT = one ε step (ε = 0.08). The table
gives the ATLD model's accuracy on each set, the mean absolute logit margin, the discriminator's mean P(natural) and
its ROC-AUC for the clean points against each set (0.5 = it cannot tell them apart). The controls below repeat the
IMT step with a random and with the flipped sign, at steps 0 to ε (`advdist.analysis.discriminator.imt_controls`):
if a random step does as well as D's, the discriminator's direction carries nothing.""",
 ()),
("code", """scale: str = "smoke"   # smoke | mini | paper (all use the toy 2-D set; they differ in size and epochs)
n_points: int = 300    # test points shown
device: str = "cpu"    # the toy MLPs are fastest on the CPU
seed: int = 0          # training seed, and the PGD seed""", ("parameters",)),
("code", """import matplotlib.pyplot as plt

from advdist import config, paths, plots, report
from advdist.analysis import discriminator as disc_analysis
from advdist.analysis import toy2d
from advdist.experiments import atld
from advdist.methods.atld import load_discriminator

params = config.notebook_parameters(globals())
model, run, splits = atld.train_toy(scale, "atld", seed=seed, device=device)
disc = load_discriminator(run, model)
x, y = splits.x_test[:n_points], splits.y_test[:n_points]
points = toy2d.imt_points(model, disc, x, y, eps=run.config.eps, seed=seed)""", ("nbval-ignore-output",)),
("code", """stats = toy2d.perturbation_stats(model, x, y, {"PGD": points["PGD"], "PGD + IMT": points["IMT"]}, disc=disc)
note = f"toy 2-D reconstruction ({scale} scale): moons in the unit square, ATLD-trained {run.config.model} {run.config.model_kwargs['hidden']}, ε = {run.config.eps}, {len(y)} test points"
files = report.write_table(stats, paths.figures_dir(scale, "atld") / "fig6_imt", title="ATLD Fig. 6: IMT on the toy ATLD model",
                           note=note, floatfmt=".3f")
print(note)
print(report.to_markdown(stats, ".3f"))
controls = disc_analysis.imt_controls(model, disc, y, {"clean": x, "PGD": points["PGD"]}, eps=run.config.eps, seed=seed)
report.write_table(controls, paths.figures_dir(scale, "atld") / "fig6_imt_controls",
                   title="ATLD Fig. 6, IMT controls: one step of D's sign / a random sign / the flipped sign",
                   note=note + "; PGD on the bare classifier (non-adaptive)", floatfmt=".3f")
wide = controls.pivot_table(index=["direction", "step/eps"], columns="input", values=["acc", "dP_nat"], sort=False)
print(wide.round(3).to_string())""", ()),
("code", """fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
for ax, (k, title) in zip(axes, [("clean", "(a) clean data"), ("PGD", "(b) perturbed by PGD"),
                                 ("IMT", "(c) adjusted by ATLD-IMT")]):
    toy2d.plot_boundary(ax, model)
    toy2d.plot_points(ax, points[k], y, legend=(k == "clean"))
    ax.set_title(title)
fig.suptitle(f"ATLD Fig. 6 ({scale} scale): the ATLD model's boundary in every panel")
fig.tight_layout()
files = plots.savefig(fig, paths.figures_dir(scale, "atld") / "fig6_imt")""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/fig6_imt", scale, stats=stats, imt_controls=controls)""", ("nbval-check-output",)),
]
