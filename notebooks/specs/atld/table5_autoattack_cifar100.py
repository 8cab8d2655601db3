CELLS = [
("md", """# ATLD Table 5 — AutoAttack and RayS (paper: CIFAR-100, WRN-28-10, ε = 8/255)

ATLD (ICLR 2021 submission), App. B.2, Table 5: clean, CW-100, AutoAttack and RayS accuracy of ATLD-IMT and
ATLD-IMT+ (and, here, FS and ATLD without IMT); Robust-overfitting, Pretraining and Gowal et al. from the paper
(cited). Smoke: 4 test examples. IMT rows are evaluated under three protocols (see the Table 1 notebook; the non-adaptive rows beside the paper's numbers, the other two in a table of their own): *non-adaptive* (the paper: attack the bare
classifier, then IMT), *end-to-end* (attack through IMT, BPDA) and *adaptive* (per example the worst of both and of
the end-to-end attack warm-started at the non-adaptive example). Rows the paper only cites are marked *cited, not
reproduced*. At `mini` scale every dataset is Fashion-MNIST (`mini-cnn`, ε = 0.1, 20k training images, 5 epochs,
ATLD λ = 0.1), so the CIFAR-100 / SVHN settings resolve to the same models as Table 1; at `smoke` scale MLPs on
digits. No Δ column unless the setting is the paper's.""", ()),
("code", """scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the table's default for the scale
adaptive: bool = True   # also attack the IMT-wrapped models end to end
device: str = "auto"    # auto = CUDA when present
seed: int = 0""", ('parameters',)),
("code", """from advdist import config, paths, report
from advdist.experiments import atld

params = config.notebook_parameters(globals())
results = {key: atld.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                         seed=seed, adaptive=adaptive)
           for key in ['atld-table5']}""", ('nbval-ignore-output',)),
("code", """ours, info = results['atld-table5']
print(atld.write_atld_tables('atld-table5', ours, info, 'table5'))""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/table5_autoattack_cifar100", scale, table5=results["atld-table5"][0])""", ("nbval-check-output",)),
]
