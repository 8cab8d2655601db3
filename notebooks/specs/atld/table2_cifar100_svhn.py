CELLS = [
("md", """# ATLD Table 2 — white-box robustness on CIFAR-100 and SVHN (ε = 8/255)

ATLD (ICLR 2021 submission), Sec. 5.1, Table 2: Standard, AT, FS, ATLD, ATLD-IMT and ATLD-IMT+ under FGSM, PGD-20/100
and CW-20/100; LAT and Bilateral shown from the paper (cited). IMT rows are evaluated under three protocols (see the Table 1 notebook): *non-adaptive* (the paper: attack the bare
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
("code", """from advdist import atld_experiments, config, experiments, paths, report

params = config.notebook_parameters(globals())
results = {key: atld_experiments.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                                     seed=seed, adaptive=adaptive)
           for key in ['atld-table2-cifar100', 'atld-table2-svhn']}""", ('nbval-ignore-output',)),
("code", """ours, info = results['atld-table2-cifar100']
table = atld_experiments.with_paper('atld-table2-cifar100', ours, info)
note = report.header(scale=scale, dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                     extra=f"model {info['model']}; {int(ours['n'].iloc[0])} test examples attacked; ATLD options {info['atld']}")
files = report.write_table(table, paths.figures_dir(scale, "atld") / 'table2_cifar100', title=experiments.table('atld-table2-cifar100').title, note=note)
print(note)
print(report.to_markdown(table))
for line in atld_experiments.imt_gain(ours):
    print(line)""", ()),
("code", """ours, info = results['atld-table2-svhn']
table = atld_experiments.with_paper('atld-table2-svhn', ours, info)
note = report.header(scale=scale, dataset=info["dataset"], paper_dataset=info["paper_dataset"],
                     extra=f"model {info['model']}; {int(ours['n'].iloc[0])} test examples attacked; ATLD options {info['atld']}")
files = report.write_table(table, paths.figures_dir(scale, "atld") / 'table2_svhn', title=experiments.table('atld-table2-svhn').title, note=note)
print(note)
print(report.to_markdown(table))
for line in atld_experiments.imt_gain(ours):
    print(line)""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/table2_cifar100_svhn", scale, **{k.removeprefix("atld-").replace("-", "_"): r[0] for k, r in results.items()})""", ("nbval-check-output",)),
]
