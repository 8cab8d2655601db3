CELLS = [
("md", """# ADT Fig. 6 — convergence of the EXP attack

Dong et al., *Adversarial Distributional Training for Robust Deep Learning*, NeurIPS 2020, App. D.3, Fig. 6.
The explicit adversarial distributions of ADT_EXP (tanh-Gaussian per example, Eq. 8-11) are fitted against
fixed AT_PGD and ADT_EXP models for 0…100 iterations (lr 0.3, betas (0, 0), k = 10 MC samples per step); the
figure shows the classification loss (cross-entropy) and the accuracy of the samples against the iteration.
The paper's claim: learning the explicit adversarial distributions converges within a few iterations. The entropy
weight is the one of Table 4's EXP column and of ADT_EXP's training (λ = 0.01 on the entropy averaged over
pixels, cumulative inner gradients: the authors' code, the default since issue 14).

Accuracy is shown two ways: per sample (the fraction of the k samples classified correctly; solid) and per
example with all k samples correct (dashed). At `mini` scale the models are `mini-cnn`s on Fashion-MNIST
(ε = 0.1), 500 test images, the paper's 100 iterations; at `smoke` scale MLPs on scikit-learn digits, 10
iterations on 50 images. The paper's curves are not transcribed (figure only): compare the shape.""", ()),
("code", """scale: str = "smoke"          # smoke | mini | paper
rows: str = "at_pgd,adt_exp"  # comma-separated methods whose models are attacked (paper: AT_PGD, ADT_EXP)
n_eval: int = 0               # test images; 0: the scale's default (smoke 50, mini 500, paper 1000)
steps: int = 0                # attack iterations; 0: the scale's default (smoke 10, mini/paper 100)
device: str = "auto"          # "auto": CUDA when present, else CPU
seed: int = 0                 # training seed of the models and seed of the attack""", ("parameters",)),
("code", """from advdist import config, paths, plots, report
from advdist.experiments import adt

params = config.notebook_parameters(globals())
curves, skipped, info = adt.convergence_curves(scale=scale, rows=[r for r in rows.split(",") if r] or None,
                                               n_eval=n_eval or None, steps=steps or None, device=device, seed=seed)""",
 ("nbval-ignore-output",)),
("code", """fig = adt.plot_convergence(curves, title=f"ADT Fig. 6 — EXP attack convergence ({info['dataset']}, {scale} scale)")
files = plots.savefig(fig, paths.figures_dir(scale, "adt") / "fig6_exp_convergence")""", ()),
("code", """note = report.header(scale=scale, dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                     extra=f"model {info['model']}; EXP attack, k = {adt.CONVERGENCE[scale]['k']}, lr 0.3, betas (0, 0), "
                           f"{int(curves['step'].max())} iterations")
summary = adt.convergence_summary(curves).rename(columns=adt.SUMMARY_LABELS)
report.write_table(summary, paths.figures_dir(scale, "adt") / "fig6_exp_convergence",
                   title="ADT Fig. 6: EXP attack loss and accuracy against iterations", note=note, floatfmt=".3f")
curves.to_csv(paths.figures_dir(scale, "adt") / "fig6_exp_convergence_curves.csv", index=False, float_format="%.5f")
print(note)
print(report.to_markdown(summary, ".3f"))
if skipped:
    print("rows left out (method not implemented):", ", ".join(skipped))""", ()),
("md", """### Does the EXP attack converge within a few iterations?
The first iteration after which the per-sample accuracy stays within 1 pp of its final value:""", ()),
("code", """for m, t in adt.converged_by(curves, tol=1.0).items():
    last = curves[curves.model == m].iloc[-1]
    print(f"{m}: within 1 pp of its final accuracy ({100 * last.acc:.2f} %) from iteration {t} "
          f"of {int(last.step)}")""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/fig6_exp_convergence", scale, summary=summary)""", ("nbval-check-output",)),
]
