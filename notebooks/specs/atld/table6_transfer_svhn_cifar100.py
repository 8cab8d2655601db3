CELLS = [
("md", """# ATLD Table 6 — transfer (black-box) attacks (paper: SVHN and CIFAR-100, WRN-28-10, ε = 8/255)

ATLD (ICLR 2021 submission), App. B.3, Table 6. Adversarial examples are crafted on each *source* model (Vanilla = `standard`, AT = `at_pgd`, FS, ATLD) with FGSM,
PGD-20 and CW-20 (ATLD settings) and classified by each *defence* (AT, FS, ATLD, ATLD-IMT, ATLD-IMT+; the IMT rows
classify through IMT). Source = defence cells are white-box attacks on the bare classifier. At `mini` scale all
datasets are Fashion-MNIST (`mini-cnn`, ε = 0.1), at `smoke` MLPs on digits; the paper's numbers are shown for
orientation (no Δ unless the setting is the paper's). When both halves resolve to the same models
(`advdist.experiments.atld.shared_runs`) they are one run, evaluated and shown once beside both papers' columns.""", ()),
("code", """scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"    # auto = CUDA when present
seed: int = 0""", ('parameters',)),
("code", """from advdist import config, paths, report
from advdist.experiments import atld, core

params = config.notebook_parameters(globals())
keys = ["atld-table6-svhn", "atld-table6-cifar100"]
shared = atld.shared_runs(keys, scale=scale, seed=seed)
results = {key: atld.atld_transfer(key, scale=scale, n_eval=n_eval or None, device=device, seed=seed)
           for key in (keys[:1] if shared else keys)}""", ('nbval-ignore-output',)),
("code", """if shared:
    df, info = results[keys[0]]
    print(f"At {scale} scale both halves of Table 6 resolve to the same models: one {info['dataset']} run "
          f"({info['model']}, ε = {info['eps']:.4g}), shown once beside the paper's SVHN and CIFAR-100 columns.")
    tables = {"table6": atld.transfer_beside_papers(keys, df, info)}
    title = "ATLD Table 6: transfer attacks (paper: SVHN and CIFAR-100, ε = 8/255)"
else:
    tables = {key.removeprefix("atld-").replace("-", "_"): atld.transfer_beside_paper(key, *results[key])
              for key in keys}
    title = None
for name, table in tables.items():
    df, info = results[keys[0]] if shared else results["atld-" + name.replace("_", "-")]
    info = atld.joint_info(keys, info) if shared else info
    note = atld.caption(info, atld.TRANSFER_PROTOCOL, int(df['n'].iloc[0]))
    report.write_table(table, paths.figures_dir(scale, "atld") / name,
                       title=title or core.table("atld-" + name.replace("_", "-")).title, note=note)
    print(note)
    print(report.to_markdown(table))""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/table6_transfer_svhn_cifar100", scale, **({"table6": results[keys[0]][0]} if shared else
                                                            {k.removeprefix("atld-").replace("-", "_"): r[0] for k, r in results.items()}))""", ("nbval-check-output",)),
]
