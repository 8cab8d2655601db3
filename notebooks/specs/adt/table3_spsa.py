CELLS = [
("md", """# ADT Table 3 — query-based black-box robustness under SPSA (CIFAR-10, ε = 8/255)

Dong et al., NeurIPS 2020, Sec. 5.2, Table 3: SPSA (Uesato et al. 2018) with 256, 512, 1024 and 2048 samples per
gradient estimate, perturbation size 0.001, Adam lr 0.01, 100 iterations, stopping early once an example is
misclassified; an example counts as robust if it survives the attack. A black-box attack that is much weaker
than the white-box ones (Table 1) is evidence against gradient masking.

Scales: at `paper` scale the paper's settings on the CIFAR-10 test set; at `mini` (Fashion-MNIST, the Table 1
models, no retraining) 1/16 of the samples (16-128) for the same 100 iterations on 200 test images — the paper's
2048 × 100 queries per image would take hours per model on 2 cores; at `smoke`, a few iterations on 50 digits.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the table's default (smoke 50, mini 200, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config
from advdist.experiments import core

params = config.notebook_parameters(globals())
ours, missing, matrices, info = core.evaluate_table("adt-table3", scale=scale, n_eval=n_eval or None,
                                                    device=device, seed=seed)""", ("nbval-ignore-output",)),
("code", """print(core.write_report("adt-table3", ours, info, missing, "table3"))""", ()),
("md", """### Is SPSA weaker than the white-box attacks, and does ADT beat AT_PGD under it?""", ()),
("code", """for line in core.compare_rows(ours, ["adt_exp", "adt_expam", "adt_impam"], "at_pgd", column="SPSA-2048"):
    print(line)""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/table3_spsa", scale, table3=ours)""", ("nbval-check-output",)),
]
