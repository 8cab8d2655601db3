"""advdist.analysis: input-Hessian eigenvalues (ADT Fig. 2(f)), loss surfaces (Fig. 2(a)-(e)), sample diversity
(Fig. 1)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from advdist.analysis import (  # noqa: E402
    LossSurface,
    full_hessian_eigvalsh,
    input_hessian,
    loss_surface,
    orthogonal_rademacher,
    pairwise_l2,
    pca_2d,
    plot_pca,
    plot_surface,
    top_eigenvalues,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------------------------- fixtures

def _smooth_net(dtype=torch.float64, seed=0) -> nn.Module:
    """2-layer tanh/softplus MLP on 1×8×8 inputs (curved, so input Hessians are indefinite), with dropout."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Dropout(0.5), nn.Linear(32, 16),
                        nn.Softplus(), nn.Linear(16, 10))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    return net.to(dtype)


@pytest.fixture(scope="module")
def problem():
    net = _smooth_net()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(10, 1, 8, 8, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (10,), generator=g)
    net.eval()
    H = []
    for i in range(x.shape[0]):
        f = lambda v, i=i: F.cross_entropy(net(v.view(1, 1, 8, 8)), y[i:i + 1])  # noqa: E731
        H.append(torch.autograd.functional.hessian(f, x[i].flatten()))
    evals = torch.linalg.eigvalsh(torch.stack(H))
    for p in net.parameters():
        p.grad = None
    net.train()                                   # the analyses must switch to eval mode themselves
    return net, x, y, torch.stack(H), evals


def _flags(model):
    return model.training, [p.requires_grad for p in model.parameters()]


# ------------------------------------------------------------------------------------------------ Hessian

def test_exact_reference_is_indefinite_with_negative_dominant_eigenvalue(problem):
    """Precondition of the next tests: some example's largest-|λ| eigenvalue is negative, so 'largest
    algebraic' and 'largest magnitude' differ there."""
    *_, ev = problem
    neg_dominant = ev[:, 0].abs() > ev[:, -1].abs()
    assert neg_dominant.any() and (~neg_dominant).any()
    assert (ev[:, -1] > 0).all()


@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_top_eigenvalues_equal_autograd_hessian_eigvalsh(problem, method):
    net, x, y, _, ev = problem
    flags = _flags(net)
    kw = {"iters": 4000, "tol": 1e-9} if method == "power" else {}
    top, info = top_eigenvalues(net, x, y, method=method, return_info=True, **kw)
    assert top.shape == (10,) and top.dtype == torch.float64
    torch.testing.assert_close(top, ev[:, -1], rtol=1e-4, atol=0)
    assert info["converged"].all()
    # largest algebraic, not largest magnitude: positive where the magnitude-dominant one is negative
    neg = ev[:, 0].abs() > ev[:, -1].abs()
    assert (top[neg] > 0).all() and not torch.allclose(top[neg], ev[neg, 0])
    mag = top_eigenvalues(net, x, y, method=method, which="magnitude", **kw)
    ref = torch.where(neg, ev[:, 0], ev[:, -1])
    torch.testing.assert_close(mag, ref, rtol=1e-4, atol=0)
    assert _flags(net) == flags and all(p.grad is None for p in net.parameters())


def test_top_eigenvalues_independent_of_batch_composition(problem):
    net, x, y, _, ev = problem
    for method, kw in (("lanczos", {}), ("power", {"iters": 4000, "tol": 1e-9})):
        full = top_eigenvalues(net, x, y, method=method, batch_size=None, **kw)
        chunked = top_eigenvalues(net, x, y, method=method, batch_size=3, **kw)
        torch.testing.assert_close(chunked, full, rtol=1e-7, atol=0)
        perm = torch.tensor([7, 2, 9, 0, 4, 1, 8, 3, 6, 5])
        torch.testing.assert_close(top_eigenvalues(net, x[perm], y[perm], method=method, **kw), full[perm],
                                   rtol=1e-7, atol=0)
        for i in (0, 4, 9):  # alone == in the batch (mixed signs in the batch: exercises the shifted phase)
            alone = top_eigenvalues(net, x[i:i + 1], y[i:i + 1], method=method, **kw)
            torch.testing.assert_close(alone, full[i:i + 1], rtol=1e-7, atol=0)


def test_batched_hvp_rows_follow_any_active_subset(problem):
    """One double backward gives every row's own H_i v_i, whichever rows are active and in whatever order
    (the graph shrinks to the active rows and must be rebuilt when rows outside it come back)."""
    from advdist.analysis.hessian import _InputHVP
    from advdist.attacks.gradient import ce_loss

    net, x, y, H, _ = problem
    net.eval()
    hvp = _InputHVP(net, x, y, ce_loss)
    g = torch.Generator().manual_seed(0)
    for act in ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [6], [2, 6], [0, 3, 9], [8, 1]):
        a = torch.tensor(act)
        v = torch.randn(len(act), 64, generator=g, dtype=torch.float64)
        torch.testing.assert_close(hvp(v, a), torch.einsum("aij,aj->ai", H[a], v), rtol=1e-9, atol=1e-12)
    net.train()


def test_full_hessian_reference_and_code_scale(problem):
    net, x, y, H, ev = problem
    flags = _flags(net)
    torch.testing.assert_close(input_hessian(net, x[:4], y[:4]), H[:4], rtol=1e-9, atol=1e-12)
    full = full_hessian_eigvalsh(net, x, y, batch_size=4)
    torch.testing.assert_close(full, ev, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(full_hessian_eigvalsh(net, x[:3], y[:3], code_scale=True), ev[:3] / 100)
    torch.testing.assert_close(top_eigenvalues(net, x[:3], y[:3], code_scale=True), ev[:3, -1] / 100, rtol=1e-4,
                               atol=0)
    assert _flags(net) == flags and all(p.grad is None for p in net.parameters())


def test_top_eigenvalue_float32_and_linear_model_closed_form():
    """Float32 model within 1e-3 of float64 truth; linear model: H = Wᵀ(diag p − ppᵀ)W in closed form."""
    torch.manual_seed(3)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = torch.rand(5, 1, 8, 8)
    y = torch.randint(0, 10, (5,))
    W = lin[1].weight.double()
    p = torch.softmax(lin(x).double(), 1)
    Hs = W.T @ (torch.diag_embed(p) - p[:, :, None] * p[:, None, :]) @ W
    truth = torch.linalg.eigvalsh(Hs)[:, -1]
    top = top_eigenvalues(lin, x, y)
    assert top.dtype == torch.float32
    torch.testing.assert_close(top.double(), truth, rtol=1e-3, atol=0)
    # PSD Hessian with rank ≤ 9 (10 classes): the Krylov space is exhausted within 10 steps
    _, info = top_eigenvalues(lin, x, y, return_info=True)
    assert (info["iterations"] <= 10).all() and info["converged"].all()


# ------------------------------------------------------------------------------------------- loss surface

def test_loss_surface_centre_grid_and_directions(problem):
    net, x, y, *_ = problem
    flags = _flags(net)
    eps = 0.05
    s = loss_surface(net, x[:3], y[:3], eps=eps, steps=7, span=2.0, batch_size=10)
    assert isinstance(s, LossSurface) and s.losses.shape == (3, 7, 7)
    assert s.alphas[0] == pytest.approx(-2 * eps) and s.alphas[-1] == pytest.approx(2 * eps)
    net.eval()
    clean = F.cross_entropy(net(x[:3]), y[:3], reduction="none")
    torch.testing.assert_close(s.losses[:, 3, 3], clean)
    # d1 = sign(∇ₓ CE), d2 Rademacher and exactly orthogonal to it
    xr = x[:3].clone().requires_grad_(True)
    g, = torch.autograd.grad(F.cross_entropy(net(xr), y[:3], reduction="sum"), xr)
    assert torch.equal(s.d1, g.sign())
    assert set(s.d2.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal((s.d1 * s.d2).flatten(1).sum(1), torch.zeros(3, dtype=s.d1.dtype))
    # every grid entry: rows = second direction (betas), columns = first (alphas)
    for i, r, c in ((0, 0, 6), (1, 6, 1), (2, 2, 5), (0, 5, 0)):
        pt = x[i] + s.alphas[c] * s.d1[i] + s.betas[r] * s.d2[i]
        torch.testing.assert_close(s.losses[i, r, c], F.cross_entropy(net(pt[None]), y[i:i + 1]))
    mean = loss_surface(net, x[:3], y[:3], eps=eps, steps=7, span=2.0, reduction="mean",
                        directions=(s.d1, s.d2))
    torch.testing.assert_close(mean.losses, s.losses.mean(0))
    net.train()
    assert _flags(net) == flags and all(p.grad is None for p in net.parameters())


def test_loss_surface_sign_gradient_step_increases_loss_on_linear_model():
    torch.manual_seed(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = torch.rand(6, 1, 8, 8)
    y = torch.randint(0, 10, (6,))
    s = loss_surface(lin, x, y, eps=0.01, steps=5, span=1.0)
    mid = 2
    assert (s.losses[:, mid, mid + 1] > s.losses[:, mid, mid]).all()
    # the sign-gradient is the steepest ℓ∞ direction: it beats the random one at the same step
    assert (s.losses[:, mid, mid + 1] > s.losses[:, mid + 1, mid]).all()
    # and the loss is monotone along +d_g for a linear model's convex CE with positive slope at 0
    assert (s.losses[:, mid, mid:].diff(dim=1) > 0).all()


def test_loss_surface_clamp_option():
    seen = {}

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(64, 10)

        def forward(self, v):
            seen["min"] = min(seen.get("min", 1.0), v.min().item())
            seen["max"] = max(seen.get("max", 0.0), v.max().item())
            return self.lin(v.flatten(1))

    torch.manual_seed(0)
    net = Probe()
    x, y = torch.rand(2, 1, 8, 8), torch.tensor([1, 2])
    loss_surface(net, x, y, eps=0.1, steps=5)          # script default: ±10ε, no clamping
    assert seen["min"] < -0.5 and seen["max"] > 1.5
    seen.clear()
    loss_surface(net, x, y, eps=0.1, steps=5, clamp=True)
    assert seen["min"] >= 0.0 and seen["max"] <= 1.0


def test_orthogonal_rademacher_is_uniform_and_exact():
    g = torch.Generator().manual_seed(0)
    d1 = torch.where(torch.rand(1, 40, generator=g) < 0.5, -1.0, 1.0)
    d1[0, :4] = 0.0                                      # zero coordinates get free signs
    R = orthogonal_rademacher(d1.expand(3000, 40), generator=g)
    assert set(R.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal((R * d1).sum(1), torch.zeros(3000))
    agree = (R == d1).float().mean(0)[4:]               # each non-zero coordinate agrees half of the time
    assert (agree - 0.5).abs().max() < 0.05
    odd = torch.ones(2, 7)                               # 7 non-zeros: falls back to Gram–Schmidt
    r = orthogonal_rademacher(odd, generator=g)
    assert (r * odd).sum(1).abs().max() < 1e-6 and torch.allclose(r.abs().amax(1), torch.ones(2))


# ---------------------------------------------------------------------------------------------- diversity

def test_pairwise_l2_on_regular_simplex_and_line():
    g = torch.Generator().manual_seed(0)
    L, n = 1.7, 10
    pts = torch.zeros(n, 64, dtype=torch.float64)
    pts[:, :n] = torch.eye(n, dtype=torch.float64) * (L / 2 ** 0.5)     # regular simplex, edge L
    Q, _ = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))
    pts = pts @ Q.T + torch.rand(64, generator=g, dtype=torch.float64)
    assert pairwise_l2(pts.view(n, 1, 8, 8)).item() == pytest.approx(L, rel=1e-12)
    line = torch.tensor([[0.0], [1.0], [3.0]])                          # distances 1, 3, 2 -> 2
    assert pairwise_l2(line).item() == pytest.approx(2.0)
    rnd = torch.rand(2, 6, 5, generator=g)
    brute = [sum((rnd[b, i] - rnd[b, j]).norm() for i in range(6) for j in range(i + 1, 6)) / 15 for b in range(2)]
    torch.testing.assert_close(pairwise_l2(rnd, batched=True), torch.stack(brute).double())
    with pytest.raises(ValueError, match="at least 2"):
        pairwise_l2(torch.zeros(1, 5))


def test_pca_2d_recovers_planted_plane_jointly():
    g = torch.Generator().manual_seed(0)
    d = 64
    U, _ = torch.linalg.qr(torch.randn(d, 2, generator=g, dtype=torch.float64))
    centre = torch.rand(d, generator=g, dtype=torch.float64)

    def cloud(shift, n):
        z = torch.randn(n, 2, generator=g, dtype=torch.float64) * torch.tensor([0.5, 1.0], dtype=torch.float64)
        z[:, 0] += shift
        return centre + z @ U.T + 1e-4 * torch.randn(n, d, generator=g, dtype=torch.float64)

    a, b = cloud(+3.0, 60), cloud(-3.0, 40)
    res = pca_2d({"PGD": a.view(-1, 1, 8, 8), "ADT_EXP": b.view(-1, 1, 8, 8)}, reference=centre + 2.0 * U[:, 0])
    P = res.components
    torch.testing.assert_close(P @ P.T, torch.eye(2, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(P.T @ P, U @ U.T, atol=1e-4, rtol=0)      # same plane
    assert res.explained_variance_ratio.sum() > 0.9999
    # 2-D coordinates preserve the planted geometry (pairwise distances)
    xy = torch.cat([res.coords["PGD"], res.coords["ADT_EXP"]])
    X = torch.cat([a, b])
    torch.testing.assert_close(torch.cdist(xy, xy), torch.cdist(X, X), atol=1e-3, rtol=0)
    # fitted jointly: the two clouds sit on opposite sides of the joint mean along PC 1 (the shift axis)
    ma, mb = res.coords["PGD"].mean(0), res.coords["ADT_EXP"].mean(0)
    assert (ma[0] - mb[0]).abs() == pytest.approx(6.0, abs=0.4)
    assert 60 * ma[0] + 40 * mb[0] == pytest.approx(0, abs=1e-8)
    # the reference projects with the same mean and axes
    torch.testing.assert_close(res.reference, (centre + 2.0 * U[:, 0] - res.mean) @ P.T)
    # deterministic sign convention: each axis' largest loading is positive
    assert (P.gather(1, P.abs().argmax(1, keepdim=True)) > 0).all()


def test_plot_helpers_draw_the_data(problem):
    net, x, y, *_ = problem
    s = loss_surface(net, x[:2], y[:2], eps=0.05, steps=5, span=1.0)
    ax = plot_surface(s, index=1)
    assert ax.name == "3d" and ax.get_zlabel() == "loss" and ax.collections
    fig, ax2 = plt.subplots()
    plot_surface(s.losses[0], ax=ax2, kind="contour")
    assert ax2.collections
    with pytest.raises(ValueError, match="3-D axis"):
        plot_surface(s, ax=ax2)
    res = pca_2d({"PGD": torch.rand(8, 64), "ADT_EXP": torch.rand(5, 64)})
    ax3 = plot_pca(res)
    offsets = [c.get_offsets() for c in ax3.collections]
    torch.testing.assert_close(torch.as_tensor(offsets[0].data), res.coords["PGD"])
    torch.testing.assert_close(torch.as_tensor(offsets[1].data), res.coords["ADT_EXP"])
    plt.close("all")
