"""ATENT methods (ATENT Alg. 1-2): the returned loss is the α-averaged Langevin loss; training makes models robust."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from advdist import data, methods
from advdist.attacks import pgd
from advdist.config import resolve
from advdist.samplers import ema_weights
from advdist.store import get_or_train

pytestmark = pytest.mark.usefixtures("one_thread")


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


@pytest.mark.parametrize("name,setting,kw", [("atent_linf", None, {}), ("atent_l2", "atent-mnist-l2", {"gamma": 0.3})])
def test_loss_is_the_alpha_averaged_loss_of_the_langevin_samples(digits, name, setting, kw):
    model = _net()
    cfg = resolve("smoke", setting, method=name, method_kwargs={"steps": 5, **kw})
    m = methods.build(name, cfg, model)
    x, y = digits.x_train[:32], digits.y_train[:32]
    torch.manual_seed(3)
    xs = m.samples(model, x, y)
    torch.manual_seed(3)
    loss, logs = m.loss(model, x, y)
    mu = 0.0
    for s in xs:                                        # ATENT Alg. 1-2 lines 9-10, by hand
        mu = (1 - 0.9) * mu + 0.9 * F.cross_entropy(model(s), y)
    torch.testing.assert_close(loss, mu)
    w = ema_weights(5).tolist()
    torch.testing.assert_close(loss, sum(wk * F.cross_entropy(model(s), y) for wk, s in zip(w, xs)))
    assert len(xs) == 5 and 0 <= logs["train_adv_acc"] <= 1
    if name == "atent_linf":                            # projected at the K-th step onto the ε-ball
        assert (xs[-1] - x).abs().max() <= cfg.eps + 1e-6
    # truncating the average keeps the newest terms with their weights
    m2 = methods.build(name, cfg.replace(method_kwargs={**cfg.method_kwargs, "ema_terms": 2}), model)
    torch.manual_seed(3)
    loss2, _ = m2.loss(model, x, y)
    torch.testing.assert_close(loss2, sum(w[k] * F.cross_entropy(model(xs[k]), y) for k in (3, 4)))


def test_norm_must_match_the_config():
    with pytest.raises(ValueError, match="atent_l2 needs cfg.norm='l2'"):
        methods.build("atent_l2", resolve("smoke", method="atent_l2"), _net())
    with pytest.raises(ValueError, match="unknown atent_linf option 'K'"):
        methods.build("atent_linf", resolve("smoke", method="atent_linf", method_kwargs={"K": 3}), _net())


def test_atent_training_is_more_robust_than_standard(runs_dir, digits):
    eps = 0.2
    runs = {m: get_or_train(resolve("smoke", method=m, eps=eps, epochs=6, method_kwargs=kw), progress=False,
                            splits=digits)
            for m, kw in (("standard", {}), ("atent_linf", {"steps": 10, "step_ratio": 0.1}))}
    log = runs["atent_linf"][1].log
    loss = log["train_loss"].to_numpy()
    assert np.isfinite(loss).all() and loss[-1] < loss[0]   # lowers its own objective
    x, y = digits.x_test[:200], digits.y_test[:200]
    rob = {}
    for m, (model, _) in runs.items():
        xa = pgd(model, x, y, eps=eps, alpha=eps / 4, steps=10)
        with torch.no_grad():
            rob[m] = (model(xa).argmax(1) == y).float().mean().item()
    assert rob["atent_linf"] > rob["standard"] + 0.2, rob


def test_tsne_two_class_set_for_fig1(tmp_path, monkeypatch):
    from advdist import paths
    from advdist.analysis import toy2d_tsne

    monkeypatch.setattr(paths, "DATA", tmp_path)
    ts = toy2d_tsne.tsne_two_class("smoke")
    s = ts.splits
    assert ts.source == "digits" and (tmp_path / "tsne").is_dir()       # cached under data/tsne
    x = torch.cat([s.x_train, s.x_test])
    y = torch.cat([s.y_train, s.y_test])
    full = data.load("digits")
    n58 = int(sum(((t == 5) | (t == 8)).sum() for t in (full.y_train, full.y_test)))
    assert len(y) == n58 and set(y.tolist()) == {0, 1} and len(s.y_train) == round(0.7 * n58)
    assert x.min() >= 0.05 - 1e-6 and x.max() <= 0.95 + 1e-6
    assert (x.max(0).values - x.min(0).values).max().item() == pytest.approx(0.9, rel=1e-5)   # one scale, both axes
    # the cached embedding is reused: same set again
    again = toy2d_tsne.tsne_two_class("smoke")
    torch.testing.assert_close(again.splits.x_train, s.x_train)
    assert again.splits.fingerprint == s.fingerprint and again.unit == ts.unit


def test_tsne_sets_are_registered_datasets(tmp_path, monkeypatch):
    """ATENT Fig. 1's configs name the embedded data (tsne58_<source>), and data.load builds the same splits."""
    from advdist import config, data, paths
    from advdist.analysis import toy2d_tsne

    monkeypatch.setattr(paths, "DATA", tmp_path)
    splits = data.load("tsne58_digits")
    ts = toy2d_tsne.tsne_two_class("smoke")
    assert splits.fingerprint == ts.splits.fingerprint and splits.info.name == "tsne58_digits"
    assert splits.x_train.shape[1] == 2 and set(splits.y_train.tolist()) == {0, 1}
    for scale, name in (("smoke", "tsne58_digits"), ("mini", "tsne58_fashion_mnist"), ("paper", "tsne58_mnist")):
        assert config.resolve(scale, "atent-tsne58").dataset == name
    assert data.info("tsne58_mnist").kind == "embedding"
