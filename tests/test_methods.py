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
