CELLS = [
("md", """# ADT Fig. 5 — the impact of the entropy weight λ (ADT_EXP-AM, CIFAR-10)

Dong et al., NeurIPS 2020, Sec. 5.3, Fig. 5: ADT_EXP-AM trained with λ = 0, 0.001, 0.01, 0.1 and 1 (Eq. A.1);
accuracy under white-box attacks and the average entropy of the learned adversarial distributions. The paper's
claim: a larger λ gives a larger entropy and better robustness, but a too large λ reduces robustness. The
paper's curves are a figure only (not transcribed).

Entropy here is the per-coordinate −log p of the training samples (Eq. 11 with all constants), averaged over the
last training epoch (the `entropy` column of each run's log). The λ = 0.01 model is Table 1's. `mini`:
`mini-cnn`s on Fashion-MNIST (ε = 0.1, 12k images, 4 epochs, generator width 8), attacks FGSM, PGD-20, MIM and
C&W on 1000 test images; `smoke`: digits MLPs.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
lams: str = "0,0.001,0.01,0.1,1"  # comma-separated entropy weights λ
attacks: str = "FGSM,PGD-20,MIM,C&W"  # white-box attacks (A_rob = worst case over them)
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, experiments, paths, plots, report

params = config.notebook_parameters(globals())
atk = tuple(attacks.split(","))
df = experiments.lambda_sweep([float(v) for v in lams.split(",")], scale=scale, attacks=atk,
                              n_eval=n_eval or None, device=device, seed=seed)""", ("nbval-ignore-output",)),
("code", """out = paths.figures_dir(scale, "adt") / "fig5_lambda"
files = plots.savefig(plots.lambda_sweep(df, atk, title=f"ADT Fig. 5 — λ sweep of ADT_EXP-AM ({scale} scale)"), out)""", ()),
("code", """cfg = config.resolve(scale, "adt-cifar10", method="adt_expam")
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; {int(df['n'].iloc[0])} test images")
report.write_table(df, out, title="ADT Fig. 5: accuracy (%) and average entropy against λ (ADT_EXP-AM)", note=note,
                   floatfmt=".3f")
print(note)
print(report.to_markdown(df, ".3f"))""", ()),
("md", """### Does a larger λ give a larger entropy, and which λ is most robust?""", ()),
("code", """mono = bool((df["entropy"].diff().dropna() >= 0).all())
best = df.loc[df["A_rob"].idxmax()]
print(f"entropy increases with λ: {mono}")
print(f"most robust: λ = {best.lam:g} (A_rob {best.A_rob:.2f} %); λ = 0: {df.A_rob.iloc[0]:.2f} %")""",
 ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/fig5_lambda", scale, lambda_sweep=df)""", ("nbval-check-output",)),
]
