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
is a named option of the method (`method_kwargs`). Set `official = True` to add the three ADT rows trained
the way the official release does (`adt_exp (code)`, `adt_expam (code)`, `adt_impam (code)`).
AT_PGD† (`at_pgd_madry`) was Madry et al.'s released checkpoint in the paper; here it is trained with
Madry's recipe (80k iterations of batch 128, lr decays at 40k and 60k; at `mini`, the same schedule shape).""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
rows: str = ""         # comma-separated row labels; "" = every row of the paper's table that is implemented
official: bool = False # also train and attack the ADT rows with the official code's behaviour
n_eval: int = 0        # test examples attacked; 0 = the table's default (smoke 100, mini 500, paper all)
cascade: bool = False  # attack only still-robust examples (same A_rob, per-attack columns incomplete)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, experiments

params = config.notebook_parameters(globals())
spec = experiments.table("adt-table1")
chosen = [r for r in rows.split(",") if r] or [r.label for r in spec.rows]
if official:
    chosen += [r.label for r in spec.optional]
ours, missing, matrices, info = experiments.evaluate_table(
    "adt-table1", scale=scale, rows=chosen, n_eval=n_eval or None, device=device, cascade=cascade, seed=seed)""", ("nbval-ignore-output",)),
("code", """print(experiments.write_report("adt-table1", ours, info, missing, "table1"))""", ()),
("md", """### Does ADT beat AT_PGD on A_rob here?
The paper's claim (Table 1): all three ADT variants beat AT_PGD on the worst-case robustness A_rob.""", ()),
("code", """for line in experiments.compare_rows(ours, ["adt_exp", "adt_expam", "adt_impam"], "at_pgd"):
    print(line)""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/table1_cifar10_whitebox", scale, table1=ours)""", ("nbval-check-output",)),
]
