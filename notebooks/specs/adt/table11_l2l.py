CELLS = [
("md", """# ADT Table 11 — L2L against the amortised ADT methods (CIFAR-10, ε = 8/255)

Dong et al., NeurIPS 2020, App. D.5, Table 11: L2L (Jiang, Chen et al., *Learning to defend by learning to attack*)
trains the classifier against a *deterministic* generator attacker; ADT_EXP-AM and ADT_IMP-AM learn a
*distribution* of perturbations with the same generator network. As in the paper (which could not reproduce L2L's
own recipe), L2L is trained with ADT's configuration and generator (`advdist.methods.l2l`). The paper's text
shows A_nat, FGSM, PGD-20, PGD-100 and MIM; we also report C&W, FeaAttack and A_rob.

At `mini` scale: `mini-cnn`s on Fashion-MNIST (ε = 0.1; the EXP-AM and IMP-AM models are Table 1's, not
retrained), generators of width 8; at `smoke`, MLPs on digits.""", ()),
("code", """scale: str = "smoke"   # smoke | mini | paper
n_eval: int = 0        # test examples attacked; 0 = the scale's default (smoke 100, mini 1000, paper all)
device: str = "auto"   # auto = CUDA when present
seed: int = 0""", ("parameters",)),
("code", """from advdist import config
from advdist.experiments import core

params = config.notebook_parameters(globals())
ours, missing, matrices, info = core.evaluate_table("adt-table11", scale=scale, n_eval=n_eval or None,
                                                    device=device, seed=seed)""", ("nbval-ignore-output",)),
("code", """print(core.write_report("adt-table11", ours, info, missing, "table11"))""", ()),
("md", """### Do the ADT methods beat L2L?""", ()),
("code", """for col in ("PGD-20", "A_rob"):
    for line in core.compare_rows(ours, ["adt_expam", "adt_impam"], "l2l", column=col):
        print(line)""", ()),
("md", """### Checks\nRows, columns, invariants and (at `smoke`) every number against the stored smoke results, within tolerances measured across CPUs (`advdist.goldens`).""", ()),
("code", """from advdist import goldens

goldens.check("adt/table11_l2l", scale, table11=ours)""", ("nbval-check-output",)),
]
