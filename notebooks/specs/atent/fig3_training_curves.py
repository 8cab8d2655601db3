CELLS = [
("md", """# ATENT Fig. 3 — training curves of ℓ∞-ATENT

Jagatap et al., *Adversarially robust learning via entropic regularization*, Fig. 3 (App. A.3): benign and robust
accuracy, on training and test data, of ℓ∞-ATENT (WRN-34-10, CIFAR-10) per epoch; the learning rate decays at
epoch 76, where robust test accuracy peaks — the reported (early-stopped) number.

Here: the ℓ∞-ATENT run of setting `atent-cifar10-linf` with Rice et al.'s early stopping switched on
(`early_stop="pgd-10"`: PGD-10 accuracy on 1 000 fixed test images after every epoch). "Robust train" is the
accuracy on the Langevin samples the model trains on; "benign train" the clean accuracy of the same batches (both
averaged over the epoch, as the weights change). Substitutes: at `mini`, the Fashion-MNIST `mini-cnn`
(ε = 0.1, 10 000 images, 5 epochs, decay at epoch 4); at `smoke`, the digits MLP.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, paths, plots, report
from advdist.analysis import curves
from advdist.experiments import core

params = config.notebook_parameters(globals())
cfg = config.resolve(scale, "atent-cifar10-linf", method="atent_linf", seed=seed, early_stop="pgd-10")
t = core.trained(cfg, device=device)
model, run = t.model, t.run
log = curves.accuracy_curves(run.log)""", ("nbval-ignore-output",)),
("code", """print(report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                    extra=f"model {cfg.model}, ε = {cfg.eps:.4g}, {cfg.epochs} epochs, lr decay at {list(cfg.milestones)}"))
print(report.to_markdown(log, ".3g"))
print(f"best robust test epoch (kept): {run.meta.get('best_epoch')}")""", ()),
("code", """fig = curves.plot_accuracy_curves(log, milestones=cfg.milestones, title=f"ℓ∞-ATENT on {cfg.dataset} ({scale})")
files = plots.savefig(fig, paths.figures_dir(scale, "atent") / "fig3_training_curves")""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atent/fig3_training_curves", scale, curves=log)""", ("nbval-check-output",)),
]
