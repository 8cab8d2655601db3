CELLS = [
("md", """# ATENT Table 5 — certified accuracy of smoothed classifiers (σ = 0.12)

Jagatap et al., *Adversarially robust learning via entropic regularization*, Table 5 (App. A.2): randomized
smoothing (Cohen et al. 2019, CERTIFY: n0 = 100 selection draws, n = 100 000 estimation draws, α = 0.001,
one-sided Clopper–Pearson bound, abstain when it is below 1/2, radius σ·Φ⁻¹(p̲_A); `advdist.analysis.certify`)
of ResNet-20s trained on CIFAR-10 with TRADES and with ℓ2-ATENT whose Langevin noise √(2η')·ε has standard
deviation σ = 0.12. Certified accuracy at ℓ2 radius 0 and 0.435 (≈ ℓ∞ 2/255).

Substitutes: at `mini` scale `mini-cnn`s on a 10 000-image subset of **Fashion-MNIST** (ℓ2 ε = 1, 5 epochs), Cohen's n = 100 000 draws on
100 test images; at `smoke`, digits MLPs, n = 400 on 40 images — with so few draws no radius above
σ·Φ⁻¹(α^{1/n}) ≈ 0.25 can be certified (printed below), so the r = 0.435 column is 0 by construction. TRADES here is plain ℓ2 TRADES (the paper's "TRADES smoothing" of Blum et al. also trains with noise).
The ResNet-110 rows are the paper's citations of other work and are shown from the paper only.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
sigma: float = 0.12    # smoothing noise (and the ATENT row's Langevin noise std)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config, paths, report
from advdist.analysis import smoothing

params = config.notebook_parameters(globals())
ours = smoothing.certified_table(scale, sigma=sigma, radii=(0.0, 0.435), device=device, seed=seed)
cfg = config.resolve(scale, "atent-cifar10-l2")""", ("nbval-ignore-output",)),
("code", """table = report.beside_paper(ours, report.paper_table("atent_table5"), comparable=False)
n0, n, n_ex = smoothing.CERTIFY_BUDGET[scale]
note = report.header(scale=scale, dataset=cfg.dataset, paper_dataset="cifar10",
                     extra=f"model {cfg.model}; σ = {sigma:g}, n0 = {n0}, n = {n}, α = 0.001, {n_ex} test images")
report.write_table(table, paths.figures_dir(scale, "atent") / "table5_smoothing",
                   title="ATENT Table 5: certified accuracy (%) of smoothed classifiers", note=note)
print(note)
print(f"largest certifiable radius with n = {n}: {smoothing.max_radius(sigma, n):.3f}")
print(report.to_markdown(table))
paper = report.paper_table("atent_table5")
print("\\ncited from the paper (not reproduced here):")
print(report.to_markdown(paper[paper["cited"] == "yes"].drop(columns="cited")))""", ()),
("md", """### Is ATENT's certificate competitive with TRADES'?
The paper's claim (Table 5): ℓ2-ATENT, unmodified, certifies a little less than TRADES smoothing on ResNet-20
(55.4 vs 58.1 % at radius 0.435).""", ()),
("code", """r = ours.set_index("model")["r=0.435"]
print(f"certified accuracy at r = 0.435: atent_l2 {r['atent_l2']:.1f} % vs trades {r['trades']:.1f} %")""",
 ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("atent/table5_smoothing", scale, table5=ours)""", ("nbval-check-output",)),
]
