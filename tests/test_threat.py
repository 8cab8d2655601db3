"""advdist.threat: the norm parser, the threat model, and the ball operations equal to the formulas they replaced."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from advdist import config
from advdist.attacks import core
from advdist.attacks.deepfool import deepfool, deepfool_boundary_distance
from advdist.samplers.langevin import langevin_chain
from advdist.threat import NORMS, Norm, ThreatModel, check_eps


# ---- the implementations before advdist.threat (attacks/core.py, samplers/langevin.py), verbatim --------------------
def _old_flat_norm(v):
    n = v.flatten(1).norm(dim=1)
    return n.view(-1, *([1] * (v.dim() - 1)))


def _old_project(x_adv, x, eps, norm="linf"):
    delta = x_adv - x
    if norm == "linf":
        delta = delta.clamp(-eps, eps)
    elif norm == "l2":
        delta = delta * torch.clamp(eps / (_old_flat_norm(delta) + 1e-12), max=1.0)
    return (x + delta).clamp(0.0, 1.0)


def _old_langevin_project(x_adv, x, radius, norm, clamp):
    if clamp == (0.0, 1.0):
        return _old_project(x_adv, x, radius, norm)
    d = x_adv - x
    d = d.clamp(-radius, radius) if norm == "linf" else d * torch.clamp(radius / (_old_flat_norm(d) + 1e-12), max=1.0)
    return x + d if clamp is None else (x + d).clamp(*clamp)


def _old_normalize_step(g, norm="linf"):
    if norm == "linf":
        return g.sign()
    return g / (_old_flat_norm(g) + 1e-12)


def _old_random_start(x, eps, norm="linf", generator=None):
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + (2 * u - 1) * eps).clamp(0.0, 1.0)
    d = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    d = d / (_old_flat_norm(d) + 1e-12)
    r = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), generator=generator,
                   device=x.device, dtype=x.dtype) ** (1.0 / x[0].numel())
    return (x + d * r * eps).clamp(0.0, 1.0)


def _old_distance(d, norm):
    d = d.flatten(1)
    return d.norm(dim=1) if norm == "l2" else d.abs().amax(dim=1)


SHAPES = [(16, 3, 8, 8), (32, 10), (5, 1, 28, 28)]
DTYPES = [torch.float32, torch.float64]


def _batch(shape, dtype, seed):
    """Inputs in [0, 1] and perturbed points at many distances: inside, on and far outside the ball, and zero rows."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=dtype)
    scale = torch.logspace(-4, 1, shape[0], dtype=dtype).view(-1, *([1] * (len(shape) - 1)))
    x_adv = x + scale * torch.randn(shape, generator=g, dtype=dtype)
    x_adv[0] = x[0]                                   # zero perturbation
    grad = torch.randn(shape, generator=g, dtype=dtype)
    grad[1] = 0                                       # zero gradient row
    return x, x_adv, grad


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("eps", [0.0, 0.03, 0.5, 1.0])
def test_projection_and_step_equal_the_old_formulas_bitwise(shape, dtype, norm, eps):
    x, x_adv, grad = _batch(shape, dtype, seed=1000 * SHAPES.index(shape) + int(1000 * eps) + (norm == "l2"))
    old = _old_project(x_adv, x, eps, norm)
    tm = ThreatModel(eps, norm)
    assert torch.equal(tm.project(x_adv, x), old)
    assert torch.equal(core.project(x_adv, x, eps, norm), old)
    assert torch.equal(core.project(x_adv, x, eps, Norm.parse(norm.upper())), old)
    assert torch.equal(tm.step(grad), _old_normalize_step(grad, norm))
    assert torch.equal(core.normalize_step(grad, norm), _old_normalize_step(grad, norm))
    assert torch.equal(tm.distance(x_adv, x), _old_distance(x_adv - x, norm))
    for clamp in [None, (-1.0, 2.0), (0.0, 1.0)]:
        tm = ThreatModel(eps, norm, clamp)
        assert torch.equal(tm.project(x_adv, x), _old_langevin_project(x_adv, x, eps, norm, clamp)), clamp


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_draws_the_old_points_from_the_same_stream(shape, norm):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    for eps in (0.05, 0.7):
        a = core.random_start(x, eps, norm, torch.Generator().manual_seed(5))
        b = ThreatModel(eps, norm).random_start(x, torch.Generator().manual_seed(5))
        old = _old_random_start(x, eps, norm, torch.Generator().manual_seed(5))
        assert torch.equal(a, old) and torch.equal(b, old)
        torch.manual_seed(3)
        a = core.random_start(x, eps, norm)
        torch.manual_seed(3)
        assert torch.equal(a, _old_random_start(x, eps, norm))


def test_projection_lands_in_the_ball_and_is_idempotent():
    x, x_adv, grad = _batch((64, 3, 4, 4), torch.float64, seed=0)
    for norm in NORMS:
        tm = ThreatModel(0.1, norm)
        p = tm.project(x_adv, x)
        assert (tm.distance(p, x) <= 0.1 + 1e-12).all()
        assert p.min() >= 0 and p.max() <= 1
        assert torch.allclose(tm.project(p, x), p, atol=1e-15)
        s = tm.step(grad)
        assert torch.allclose(Norm.parse(norm).size(s)[2:], torch.ones(62, dtype=s.dtype))  # unit steps
        assert (s[1] == 0).all()                                                              # zero gradient stays
    # ℓ2: a point inside the ball and inside [0, 1] is left alone
    inner = (x + 1e-3 * grad / Norm.L2.size(grad).clamp_min(1).view(-1, 1, 1, 1)).clamp(0, 1)
    assert torch.allclose(ThreatModel(0.5, "l2").project(inner, x), inner, atol=1e-15)


def test_langevin_projection_is_unchanged():
    """The chain's projection now goes through ThreatModel: with the same RNG stream, the last sample of a projected
    chain is the old projection of the same chain's unprojected last sample (inputs kept inside the clamp range, so
    the unprojected chain's clamp is the identity), for clamped and unbounded chains and both norms."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x, y = 0.3 + 0.4 * torch.rand(6, 12), torch.randint(0, 3, (6,))
    for norm, clamp in [("linf", (0.0, 1.0)), ("l2", (0.0, 1.0)), ("linf", None), ("l2", None)]:
        kw = dict(norm=norm, steps=3, step_size=0.01, noise=0.05, radius=0.2, clamp=clamp,
                  init="sphere" if norm == "l2" else "corner")  # start on the sphere: steps leave the ball
        torch.manual_seed(1)
        free = langevin_chain(net, x, y, projection="never", **kw)
        torch.manual_seed(1)
        last = langevin_chain(net, x, y, projection="last", **kw)
        assert all(torch.equal(a, b) for a, b in zip(free[:-1], last[:-1]))
        assert free[-1].min() > 0 and free[-1].max() < 1
        assert not torch.equal(last[-1], free[-1])  # the projection did something
        assert torch.equal(last[-1], _old_langevin_project(free[-1], x, 0.2, norm, clamp))


def test_deepfool_distance_is_the_old_one():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    x, y = torch.rand(8, 12), torch.randint(0, 3, (8,))
    for norm in ("linf", "l2"):
        d = deepfool_boundary_distance(net, x, y, norm=norm.upper(), steps=20)
        x_adv = deepfool(net, x, y, norm=norm, steps=20)
        ref = _old_distance(x_adv - x, norm)
        finite = torch.isfinite(d)
        assert finite.any() and torch.equal(d[finite], ref[finite])


# ---- the parser ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,norm", [
    ("linf", Norm.LINF), ("Linf", Norm.LINF), ("LINF", Norm.LINF), ("l_inf", Norm.LINF), ("L-inf", Norm.LINF),
    (" linf ", Norm.LINF), ("inf", Norm.LINF), ("ℓ∞", Norm.LINF), (Norm.LINF, Norm.LINF),
    ("l2", Norm.L2), ("L2", Norm.L2), ("l_2", Norm.L2), ("ℓ2", Norm.L2), (Norm.L2, Norm.L2),
])
def test_parser_accepts_the_spellings(text, norm):
    assert Norm.parse(text) is norm
    assert ThreatModel(0.1, text).norm is norm


@pytest.mark.parametrize("bad", ["l1", "", "linf2", "l3", "L∞2", None, 2, 2.0, ("linf",)])
def test_parser_rejects_with_one_line(bad):
    with pytest.raises(ValueError, match="unknown norm") as e:
        Norm.parse(bad)
    assert "\n" not in str(e.value) and repr(bad) in str(e.value) and "linf, l2" in str(e.value)
    with pytest.raises(ValueError, match="unknown norm"):
        core.project(torch.zeros(1, 2), torch.zeros(1, 2), 0.1, bad)
    with pytest.raises(ValueError, match="unknown norm"):
        core.normalize_step(torch.ones(1, 2), bad)


def test_members_behave_as_their_strings():
    assert Norm.LINF == "linf" and Norm.L2 == "l2" and Norm.L2 != "linf"
    assert {"linf": 1, "l2": 2}[Norm.L2] == 2 and f"{Norm.LINF}" == "linf" and str(Norm.L2) == "l2"
    assert config.canonical_json({"n": Norm.L2}) == '{"n":"l2"}'
    assert NORMS == ("linf", "l2") == config.NORMS == core.NORMS


@pytest.mark.parametrize("eps,norm,clamp,match", [
    (-0.1, "linf", (0.0, 1.0), "finite number >= 0"),
    (float("inf"), "l2", (0.0, 1.0), "finite number >= 0"),
    (float("nan"), "l2", None, "finite number >= 0"),
    ("a", "l2", None, "eps must be a number"),
    (8, "Linf", (0.0, 1.0), "exceeds the \\[0, 1\\] pixel range"),
    (0.1, "linf", (1.0, 0.0), "lo < hi"),
    (0.1, "linf", (0.0,), "pair"),
])
def test_threat_model_validation_is_one_line(eps, norm, clamp, match):
    with pytest.raises(ValueError, match=match) as e:
        ThreatModel(eps, norm, clamp)
    assert "\n" not in str(e.value)


def test_threat_model_values():
    tm = ThreatModel(8, "Linf", None)  # off the pixel range an ℓ∞ ε above 1 is fine (e.g. 2-D toy coordinates)
    assert tm.eps == 8.0 and tm.norm is Norm.LINF and tm.clamp is None
    assert ThreatModel(2.0, "L2").eps == 2.0 and check_eps("0.5", "l2") == 0.5
    assert ThreatModel.of("l2", 1.0) == ThreatModel(1.0, Norm.L2)
    assert ThreatModel.of(ThreatModel(1.0, "l2"), 0.5) == ThreatModel(0.5, "l2")
    with pytest.raises(ValueError, match="needs eps"):
        ThreatModel.of("l2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tm.eps = 1.0
    assert str(ThreatModel(0.25, "l2")) == "l2 ε=0.25"


def test_configs_store_one_spelling_and_hash_the_same():
    a = config.resolve("smoke", "atent-mnist-l2", norm="L2")
    b = config.resolve("smoke", "atent-mnist-l2")
    assert a.norm == "l2" and type(a.norm) is str and a.hash() == b.hash()
    assert b.threat == ThreatModel(b.eps, "l2")
    with pytest.raises(config.ConfigError, match="unknown norm 'l3'"):
        config.resolve("smoke", norm="l3")


def test_attack_specs_expose_their_threat_model():
    from advdist.attacks import settings

    spec = settings.get("L2-PGD-40", scale="mini", paper="atent", dataset="fashion_mnist")
    assert spec.norm is Norm.L2 and spec.threat == ThreatModel(1.0, "l2")
    pgd = settings.get("PGD-20", scale="paper", paper="adt", dataset="cifar10")
    assert pgd.norm is Norm.LINF and pgd.threat.eps == pytest.approx(8 / 255) and math.isfinite(pgd.threat.eps)
