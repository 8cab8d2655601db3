"""Training methods: registry, option validation, and that each method does what it claims."""

from __future__ import annotations

import pytest
import torch

from advdist import methods
from advdist.attacks import pgd
from advdist.config import resolve
from advdist.store import get_or_train


def test_registry_and_unknown_options():
    assert {"standard", "at_pgd"} <= set(methods.names())
    cfg = resolve("smoke", method="at_pgd", method_kwargs={"stepz": 3})
    with pytest.raises(ValueError, match="unknown at_pgd option 'stepz'; valid: alpha_ratio, steps"):
        methods.build("at_pgd", cfg, torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"unknown method .nope.; valid: .*at_pgd"):
        methods.build("nope", cfg, torch.nn.Linear(2, 2))


def test_at_pgd_trains_on_adversarial_examples_and_is_more_robust_than_standard(runs_dir):
    from advdist import data

    splits = data.load("digits")
    x, y = splits.x_test, splits.y_test
    robust = {}
    for m in ("standard", "at_pgd"):
        model, run = get_or_train(resolve("smoke", method=m, epochs=6, eps=0.2), progress=False, splits=splits)
        torch.manual_seed(0)
        x_adv = pgd(model, x, y, eps=0.2, alpha=0.05, steps=10)
        with torch.no_grad():
            robust[m] = (model(x_adv).argmax(1) == y).float().mean().item()
        if m == "at_pgd":  # it logs accuracy on its own adversarial examples, below its clean accuracy
            log = run.log
            assert (log["train_adv_acc"] < log["test_acc"] + 0.05).all()
    assert robust["at_pgd"] > robust["standard"] + 0.15, robust


@pytest.mark.parametrize("method,setting,extra", [("adt_expam", "adt-cifar10", ("generator", "opt_g")),
                                                  ("adt_impam", "adt-cifar10", ("generator", "opt_g", "q", "opt_q")),
                                                  ("l2l", "adt-cifar10", ("generator", "opt_g")),
                                                  ("atld", "atld-cifar10", ("disc", "opt_d"))])
def test_extra_networks_round_trip_through_the_checkpoint_state(method, setting, extra):
    """The methods that own networks checkpoint exactly those networks and optimisers (the keys old checkpoints
    have), and a fresh method loading the state after one training step holds the same weights and optimiser state."""
    from advdist import data
    from advdist.train import build_model

    torch.manual_seed(0)
    cfg = resolve("smoke", setting, method=method)
    splits = data.load(cfg.dataset, n_train=64, n_test=16)
    model = build_model(cfg)
    m = methods.build(method, cfg, model)
    loss, _ = m.loss(model, splits.x_train[:32], splits.y_train[:32])
    loss.backward()
    state = m.state_dict()
    assert tuple(state) == extra
    fresh = methods.build(method, cfg, build_model(cfg))
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict()[extra[0]].values(), state[extra[0]].values()))
    fresh.load_state_dict(state)
    again = fresh.state_dict()
    for k in extra:
        if k.startswith("opt"):
            assert again[k]["state"].keys() == state[k]["state"].keys() and again[k]["state"]
        else:
            assert all(torch.equal(a, b) for a, b in zip(again[k].values(), state[k].values())), k
