CELLS = [
("md", """# ATLD Table 3 — transfer (black-box) attacks (paper: CIFAR-10, WRN-28-10, ε = 8/255)

ATLD (ICLR 2021 submission), Sec. 5.2, Table 3. Adversarial examples are crafted on each *source* model (Vanilla = `standard`, AT = `at_pgd`, FS, ATLD) with FGSM,
PGD-20 and CW-20 (ATLD settings) and classified by each *defence* (AT, FS, ATLD, ATLD-IMT, ATLD-IMT+; the IMT rows
classify through IMT). Source = defence cells are white-box attacks on the bare classifier. At `mini` scale all
datasets are Fashion-MNIST (`mini-cnn`, ε = 0.1), at `smoke` MLPs on digits; the paper's numbers are shown for
orientation (no Δ unless the setting is the paper's).""", ()),
("code", """scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"    # auto = CUDA when present
seed: int = 0""", ('parameters',)),
("code", """from advdist import config, paths, report
from advdist.experiments import atld, core

params = config.notebook_parameters(globals())
results = {key: atld.atld_transfer(key, scale=scale, n_eval=n_eval or None, device=device, seed=seed)
           for key in ['atld-table3']}""", ('nbval-ignore-output',)),
("code", """df, info = results['atld-table3']
table = atld.transfer_beside_paper('atld-table3', df, info)
note = atld.caption(info, atld.TRANSFER_PROTOCOL, int(df['n'].iloc[0]))
files = report.write_table(table, paths.figures_dir(scale, "atld") / 'table3', title=core.table('atld-table3').title, note=note)
print(note)
print(report.to_markdown(table))""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/table3_transfer_cifar10", scale, table3=results["atld-table3"][0])""", ("nbval-check-output",)),
]
