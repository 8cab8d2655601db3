"""Entropy-SGD (ATENT Alg. 3): the outer gradient γ(w − μ) converges to its closed form on a quadratic."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from advdist import data, methods
from advdist.config import resolve
from advdist.methods.entropy_sgd import local_entropy_grad

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("a,gamma,w0", [(2.0, 1.0, 1.5), (0.5, 3.0, -2.0)])
def test_outer_gradient_on_a_quadratic_converges_to_the_closed_form(a, gamma, w0):
    # f(w) = a·w²/2, noise off: the inner chain's fixed point is γw/(a + γ), so γ(w − μ) → a·γ·w/(a + γ)
    w = torch.tensor([w0])
    grads, mu, loss0 = local_entropy_grad(lambda p: 0.5 * a * (p["w"] ** 2).sum(), {"w": w}, steps=400,
                                          step_size=0.05, gamma=gamma, alpha=0.75, noise=0.0)
    assert grads["w"].item() == pytest.approx(a * gamma * w0 / (a + gamma), rel=1e-5)
    assert mu["w"].item() == pytest.approx(gamma * w0 / (a + gamma), rel=1e-5)
    assert loss0 == pytest.approx(0.5 * a * w0 ** 2)
    code, _, _ = local_entropy_grad(lambda p: 0.5 * a * (p["w"] ** 2).sum(), {"w": w}, steps=400, step_size=0.05,
                                    gamma=gamma, alpha=0.75, noise=0.0, outer="code")
    assert code["w"].item() == pytest.approx(a * w0 / (a + gamma), rel=1e-5)   # the official code drops γ


def test_few_steps_follow_the_recursion_by_hand():
    a, g, eta, al, w0 = 2.0, 0.5, 0.1, 0.75, 1.0
    wp, mu = w0, w0
    for _ in range(3):                                    # ATENT Alg. 3 lines 6-8
        wp = wp + eta * (-a * wp + g * (w0 - wp))
        mu = (1 - al) * mu + al * wp
    grads, _, _ = local_entropy_grad(lambda p: 0.5 * a * (p["w"] ** 2).sum(), {"w": torch.tensor([w0])}, steps=3,
                                     step_size=eta, gamma=g, alpha=al)
    assert grads["w"].item() == pytest.approx(g * (w0 - mu), rel=1e-6)


def test_method_returns_a_surrogate_whose_gradient_is_the_outer_gradient():
    torch.manual_seed(0)
    splits = data.load("digits")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    x, y = splits.x_train[:64], splits.y_train[:64]
    cfg = resolve("smoke", method="entropy_sgd", method_kwargs={"gamma": 0.5, "steps": 4, "noise": 0.0,
                                                                 "outer": "paper"})
    m = methods.build("entropy_sgd", cfg, model)
    params = dict(model.named_parameters())
    w = {k: v.detach().clone() for k, v in params.items()}
    loss, logs = m.loss(model, x, y)
    loss.backward()
    expected, _, _ = local_entropy_grad(
        lambda p: F.cross_entropy(torch.func.functional_call(model, p, (x,)), y), params, steps=4, step_size=0.1,
        gamma=0.5, alpha=0.75)
    for k, p in params.items():
        torch.testing.assert_close(p.grad, expected[k])
        torch.testing.assert_close(p.detach(), w[k])        # the weights themselves are untouched
    assert logs["train_loss"] == pytest.approx(F.cross_entropy(model(x), y).item(), rel=1e-5)
    # one outer SGD step on the surrogate lowers the loss (a descent direction on a convex problem)
    with torch.no_grad():
        for p in params.values():
            p -= 1.0 * p.grad
    assert F.cross_entropy(model(x), y).item() < logs["train_loss"]
    assert m.state_dict() == {"t": 1}
