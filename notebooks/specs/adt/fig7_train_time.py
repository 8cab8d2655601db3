CELLS = [
("md", """# ADT Fig. 7 — training time per epoch

Dong et al., NeurIPS 2020, App. D.4, Fig. 7: the one-epoch training time of Standard, AT_PGD, ADT_EXP, ADT_EXP-AM
and ADT_IMP-AM on CIFAR-10. The paper's claim: ADT_EXP is about 5× slower than AT_PGD (k = 5 MC samples per
step), while the amortised ADT_EXP-AM and ADT_IMP-AM are about 2× faster than AT_PGD.

Times come from the per-epoch logs of the Table 1 runs (`time_s`: the training pass only; the fastest epoch is
reported to discount load from other processes). Nothing is retrained when the models exist; set `train = True`
to train the missing ones. At `mini` scale: `mini-cnn`s on 12k Fashion-MNIST images with generators of width 8
(the paper's are 256) — the amortised methods' relative cost differs from the paper's for that reason; at
`smoke`, digits MLPs.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
rows: str = "standard,at_pgd,adt_exp,adt_expam,adt_impam"  # Table 1 rows to time
train: bool = True     # train rows whose model is missing (False: show only the existing runs)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, paths, plots, report
from advdist.experiments import core

params = config.notebook_parameters(globals())
labels = [r for r in rows.split(",") if r]
if train:
    core.train_rows("adt-table1", scale=scale, rows=labels, device=device, seed=seed)
times = core.train_times("adt-table1", scale=scale, rows=labels, seed=seed)""", ("nbval-ignore-output",)),
("code", """out = paths.figures_dir(scale, "adt") / "fig7_train_time"
files = plots.savefig(plots.bars(times, "model", "min s/epoch", "seconds per epoch",
                                 title=f"ADT Fig. 7 — training time per epoch ({scale} scale)"), out)""", ()),
("code", """cfg = core.table("adt-table1").config("at_pgd", scale)
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; device {times['device'].iloc[0] if len(times) else '?'}")
report.write_table(times, out, title="ADT Fig. 7: training time per epoch", note=note, floatfmt=".1f")
print(note)
print("models timed:", ", ".join(times["model"]))""", ()),
("md", """Relative cost against AT_PGD (the paper: ADT_EXP ≈ 5×, the amortised methods ≈ 0.5×). Timings vary from
machine to machine, so the nbval golden checks only which models were timed; the numbers are printed here:""", ()),
("code", """ref = times.set_index("model")["min s/epoch"]
for m, t in ref.items():
    print(f"{m}: {t:.2f} s/epoch = {t / ref.get('at_pgd', float('nan')):.2f}× AT_PGD")""", ("nbval-ignore-output",)),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/fig7_train_time", scale, timed_models=times[["model"]])""", ("nbval-check-output",)),
]
