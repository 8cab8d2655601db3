CELLS = [
("md", """# ATLD Table 2 — white-box robustness (paper: CIFAR-100 and SVHN, WRN-28-10, ε = 8/255)

ATLD (ICLR 2021 submission), Sec. 5.1, Table 2: Standard, AT, FS, ATLD, ATLD-IMT and ATLD-IMT+ under FGSM, PGD-20/100
and CW-20/100; LAT and Bilateral shown from the paper (cited). IMT rows are evaluated under three protocols (see the Table 1 notebook): *non-adaptive* (the paper: attack the bare
classifier, then IMT), *end-to-end* (attack through IMT, BPDA) and *adaptive* (per example the worst of both and of
the end-to-end attack warm-started at the non-adaptive example). Rows the paper only cites are marked *cited, not
reproduced*. At `mini` scale every dataset is Fashion-MNIST (`mini-cnn`, ε = 0.1, 20k training images, 5 epochs,
ATLD λ = 0.1), so the CIFAR-100 / SVHN settings resolve to the same models as Table 1; at `smoke` scale MLPs on
digits. When both halves resolve to the same models (`advdist.experiments.atld.shared_runs`), they are one run: it is
evaluated once and shown once, beside both papers' columns, and the notebook says so. The paper-protocol rows and
the attacks that know IMT are written as separate tables (see the Table 1 notebook). No Δ column unless the setting
is the paper's.""", ()),
("code", """scale: str = "smoke"    # smoke | mini | paper
n_eval: int = 0         # test examples attacked; 0 = the table's default for the scale
adaptive: bool = True   # also attack the IMT-wrapped models end to end
device: str = "auto"    # auto = CUDA when present
seed: int = 0""", ('parameters',)),
("code", """from advdist import config, paths, report
from advdist.experiments import atld

params = config.notebook_parameters(globals())
keys = ["atld-table2-cifar100", "atld-table2-svhn"]
shared = atld.shared_runs(keys, scale=scale, seed=seed)
results = {key: atld.evaluate_atld_table(key, scale=scale, n_eval=n_eval or None, device=device,
                                         seed=seed, adaptive=adaptive)
           for key in (keys[:1] if shared else keys)}""", ('nbval-ignore-output',)),
("code", """if shared:
    ours, info = results[keys[0]]
    print(f"At {scale} scale both halves of Table 2 resolve to the same models: one {info['dataset']} run "
          f"({info['model']}, ε = {info['eps']:.4g}), shown once beside the paper's CIFAR-100 and SVHN columns.")
    print(atld.write_atld_tables(keys[0], ours, info, "table2", papers=tuple(keys)))
else:
    for key, (ours, info) in results.items():
        print(atld.write_atld_tables(key, ours, info, key.removeprefix("atld-").replace("-", "_")))""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atld/table2_cifar100_svhn", scale, **({"table2": results[keys[0]][0]} if shared else
                                                    {k.removeprefix("atld-").replace("-", "_"): r[0] for k, r in results.items()}))""", ("nbval-check-output",)),
]
