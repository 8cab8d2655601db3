CELLS = [
("md", """# ATENT Fig. 1 — decision boundaries on a 2-D t-SNE embedding of two classes

Jagatap et al., *Adversarially robust learning via entropic regularization*, Fig. 1: the paper's small "3-layer"
network trained with SGD, PGD-AT, TRADES and ℓ∞-ATENT on the 2-D t-SNE embedding of MNIST digits 5 and 8,
with natural and PGD-40 accuracy (ℓ∞ ε = 1.0 t-SNE units, step 0.1). The recipe is the official notebook's
(30 epochs, lr 0.01, batch 32, 40 inner steps of 0.1, TRADES β = 8, ATENT started at x with noise 10⁻⁹ and
projected at the K-th step; `advdist.analysis.toy2d_tsne`).

Substitutes: MNIST is used when a copy is found offline; otherwise (`mini`) the same recipe runs on
**Fashion-MNIST classes 5 and 8 (sandal vs bag)** — the figure title says which. `smoke` uses scikit-learn's 8×8
digits 5 vs 8 (all 1 797 images embedded) with 10 inner steps and 10 epochs. The numbers beside ours are the
official notebook's printout on MNIST (the paper's text lists none), for orientation only.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
eps: float = 1.0       # ℓ∞ budget in t-SNE units (training and PGD-40)
step: float = 0.1      # inner / attack step in t-SNE units
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, paths, plots, report
from advdist.analysis import toy2d_tsne
from advdist.experiments import atent

params = config.notebook_parameters(globals())
ts, models = atent.fig1_models(scale, eps=eps, step=step, device=device, seed=seed)
acc = toy2d_tsne.fig1_accuracy(ts, models, eps=eps, step=step, seed=seed)""", ("nbval-ignore-output",)),
("code", """table = report.beside_paper(acc, report.paper_table("atent_fig1"), comparable=False)
note = (f"t-SNE of {ts.source} images, classes {ts.classes[0]} vs {ts.classes[1]} ({scale} scale); "
        f"{len(ts.splits.y_train)} train / {len(ts.splits.y_test)} test points; model atent-toy; ℓ∞ ε = {eps:g} "
        f"(t-SNE units); protocol: white-box PGD-40 on each model; paper columns: the official notebook on MNIST")
report.write_table(table, paths.figures_dir(scale, "atent") / "fig1_tsne_accuracy",
                   title="ATENT Fig. 1: natural and PGD-40 accuracy on the 2-D t-SNE set", note=note)
print(note)
print(report.to_markdown(table, ".1f"))""", ()),
("code", """fig = toy2d_tsne.plot_fig1(ts, models, acc, eps=eps)
files = plots.savefig(fig, paths.figures_dir(scale, "atent") / "fig1_tsne_boundaries")""", ()),
("md", """### Does ATENT keep the best robust accuracy here?
The paper's claim (Fig. 1): ATENT's boundary keeps a margin around both classes, giving the best PGD-40 accuracy
of the four while losing little natural accuracy.""", ()),
("code", """best = acc.loc[acc["PGD-40"].idxmax(), "model"]
print(f"best PGD-40 accuracy: {best}; ATENT {acc.set_index('model').loc['atent_linf', 'PGD-40']:.1f} %")""",
 ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atent/fig1_tsne_boundaries", scale, accuracy=acc)""", ("nbval-check-output",)),
]
