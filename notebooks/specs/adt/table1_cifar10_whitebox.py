CELLS = [
("md", """# ADT Table 1 — white-box robustness on CIFAR-10 (ε = 8/255)

Dong et al., *Adversarial Distributional Training for Robust Deep Learning*, NeurIPS 2020, Table 1.
Each row is a training method; each column an attack of ADT §5.1 (FGSM, PGD-20, PGD-100, MIM, C&W,
FeaAttack); **A_rob** is the per-example worst case over the attacks (ADT Eq. 12).

At `mini` scale the models are `mini-cnn`s on Fashion-MNIST (ε = 0.1), at `smoke` scale MLPs on
scikit-learn digits: the paper's numbers are shown beside ours for orientation, with no Δ column,
because the data differ. Rows whose training method is not implemented yet are listed below the table.

Every method runs with its **paper** defaults; where the official code differs (ADT_EXP's entropy averaged
per dimension and cumulative inner gradients, IMP-AM's hinge, ALP's β, TRADES' steps) the code's behaviour
is a named option of the method (`method_kwargs`), not used here. AT_PGD† (Madry's released model in the
paper) is not trained yet.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
rows: str = ""         # comma-separated methods; "" = every row of the paper's table that is implemented
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
cascade: bool = False  # attack only still-robust examples (same A_rob, per-attack columns incomplete)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, experiments, paths, report

params = config.notebook_parameters(globals())
spec = experiments.table("adt-table1")
ours, missing, matrices, info = experiments.evaluate_table(
    "adt-table1", scale=scale, rows=[r for r in rows.split(",") if r] or None, n_eval=n_eval or None,
    device=device, cascade=cascade, seed=seed)""", ("nbval-ignore-output",)),
("code", """table = experiments.with_paper("adt-table1", ours, info)
note = report.header(scale=scale, dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                     extra=f"model {info['model']}; {int(ours['n'].iloc[0])} test examples attacked")
files = report.write_table(table, paths.figures_dir(scale, "adt") / "table1", title=spec.title, note=note)
print(note)
print(report.to_markdown(table))
if missing:
    print("not yet implemented (rows left out):", ", ".join(missing))""", ("nbval-check-output",)),
("md", """### Does ADT beat AT_PGD on A_rob here?
The paper's claim (Table 1): all three ADT variants beat AT_PGD on the worst-case robustness A_rob.""", ()),
("code", """for line in experiments.compare_rows(ours, ["adt_exp", "adt_expam", "adt_impam"], "at_pgd"):
    print(line)""", ("nbval-check-output",)),
]
