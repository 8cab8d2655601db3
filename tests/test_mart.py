"""MART (Wang et al. 2020, Eq. 9): the loss equals its formula computed independently; training lowers it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdist import data, methods
from advdist.config import resolve
from advdist.methods.mart import mart_loss
from advdist.store import get_or_train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mart_loss_matches_the_formula_by_hand():
    torch.manual_seed(0)
    ln, la, y = torch.randn(6, 4), torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    loss, terms = mart_loss(ln, la, y, beta=2.5, stabilizer=0.0)
    total = 0.0
    for i in range(6):
        pn, pa = ln[i].softmax(0).double(), la[i].softmax(0).double()
        other = max(pa[j] for j in range(4) if j != y[i])
        bce = -torch.log(pa[y[i]]) - torch.log(1 - other)
        kl = sum(pn[j] * torch.log(pn[j] / pa[j]) for j in range(4))
        total += bce + 2.5 * kl * (1 - pn[y[i]])
    assert loss.item() == pytest.approx(total.item() / 6, rel=1e-5)
    # identical inputs: KL = 0, only the (boosted) CE remains
    same, t_same = mart_loss(la, la, y, beta=100.0, stabilizer=0.0)
    assert t_same["reg"].item() == pytest.approx(0.0, abs=1e-6)
    assert same.item() == pytest.approx(t_same["bce"].item(), rel=1e-6)
    assert terms["reg"].item() > 0


def test_mart_adversarial_examples_stay_in_the_ball_and_training_lowers_the_loss(runs_dir):
    splits = data.load("digits")
    model, run = get_or_train(resolve("smoke", method="mart", eps=0.2, epochs=4), progress=False, splits=splits)
    loss = run.log["train_loss"].to_numpy()
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
    m = methods.build("mart", resolve("smoke", method="mart", eps=0.2), model)
    x, y = splits.x_test[:64], splits.y_test[:64]
    xa = m.adversarial(model, x, y)
    assert (xa - x).abs().max() <= 0.2 + 1e-6 and xa.min() >= 0 and xa.max() <= 1
    with torch.no_grad():
        assert (model(xa).argmax(1) == y).float().mean() < (model(x).argmax(1) == y).float().mean()
