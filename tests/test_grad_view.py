"""models.grad_view: the input-gradient view computes the same logits and input gradients as the model."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from advdist.attacks import pgd
from advdist.attacks.core import fast_input_grad, frozen, grad_model
from advdist.models import build
from advdist.models.grad_view import InputGradConv, input_grad_view, rewrites
from advdist.samplers import fit_explicit


def _frozen_copy(name, **kw):
    torch.manual_seed(0)
    m = build(name, **kw).eval()
    for mod in m.modules():  # non-zero heads (SmallCNN's last layer starts at zero: zero input gradients)
        if isinstance(mod, nn.Linear):
            nn.init.normal_(mod.weight, std=0.2)
        if isinstance(mod, nn.BatchNorm2d):  # non-trivial running statistics
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def _logits_and_grad(f, x, y):
    a = x.clone().requires_grad_(True)
    out = f(a)
    (g,) = torch.autograd.grad(F.cross_entropy(out, y), a)
    return out.detach(), g


@pytest.mark.parametrize("name,shape,kw,expect", [
    ("smallcnn", (6, 1, 28, 28), {}, {"relu_pool_swap": 2, "single_channel_conv": 1, "transposed_grad_conv": 3,
                                      "inplace_relu": 4}),
    ("lenet5-madry", (4, 1, 28, 28), {}, {"relu_pool_swap": 2, "single_channel_conv": 1,
                                          "transposed_grad_conv": 1, "inplace_relu": 2}),
    ("mini-cnn", (6, 1, 28, 28), {}, {"relu_pool_swap": 0, "single_channel_conv": 1, "transposed_grad_conv": 1,
                                      "inplace_relu": 0}),  # stride 2, padding 1, BN between conv and ReLU
    ("resnet-20", (3, 3, 32, 32), {}, {"relu_pool_swap": 0, "single_channel_conv": 0, "transposed_grad_conv": 19,
                                       "inplace_relu": 0}),
])
def test_view_matches_model_in_float64(name, shape, kw, expect):
    m = _frozen_copy(name, **kw).double()
    v = input_grad_view(m)
    assert v is not m and rewrites(v) == expect
    torch.manual_seed(1)
    x = torch.rand(*shape, dtype=torch.float64)
    x[:, :, :5] = 0.0  # a constant band: tied conv outputs in the max-pool windows
    y = torch.randint(0, 10, (shape[0],))
    o1, g1 = _logits_and_grad(m, x, y)
    o2, g2 = _logits_and_grad(v, x, y)
    assert g1.abs().max() > 1e-4  # informative gradients: the comparison is not vacuous
    torch.testing.assert_close(o2, o1, rtol=0, atol=1e-12)
    torch.testing.assert_close(g2, g1, rtol=0, atol=1e-12)


def test_relu_pool_swap_is_bitwise_exact_with_ties():
    """max(relu) = relu(max) and the gradient goes to the same first argmax, ties and all-negative windows included."""
    net = nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    v = input_grad_view(net)
    assert rewrites(v)["relu_pool_swap"] == 1
    torch.manual_seed(0)
    x = torch.randn(16, 2, 8, 8)
    x[:4] = 0.25                       # every window a 4-way tie of a positive value
    x[4:8] = -torch.rand(4, 2, 8, 8)   # every window non-positive: zero gradient either way
    x[8:, :, ::2] = x[8:, :, 1::2]     # pairwise ties in the rest
    y = torch.randint(0, 3, (16,))
    o1, g1 = _logits_and_grad(net, x, y)
    o2, g2 = _logits_and_grad(v, x, y)
    assert torch.equal(o1, o2) and torch.equal(g1, g2)
    assert (g1[:4] != 0).sum() == 4 * 2 * 16  # one gradient per tied window, as in the eager model


def test_functional_relu_and_pool_are_rewritten_too():
    """``F.relu`` → ``F.max_pool2d`` in a hand-written forward is swapped like the module form, bitwise."""
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            return self.fc(F.max_pool2d(F.relu(x), 2).flatten(1))

    net = Functional().eval()
    v = input_grad_view(net)
    assert rewrites(v)["relu_pool_swap"] == 1 and rewrites(v)["inplace_relu"] == 1
    torch.manual_seed(0)
    x = torch.randn(8, 2, 8, 8)
    x[:4] = 0.25
    y = torch.randint(0, 3, (8,))
    o1, g1 = _logits_and_grad(net, x, y)
    o2, g2 = _logits_and_grad(v, x, y)
    assert torch.equal(o1, o2) and torch.equal(g1, g2)


@pytest.mark.parametrize("cin", [1, 3])  # 1: matmul + shifted adds; 3: conv_transpose2d
@pytest.mark.parametrize("stride,padding,size", [(1, 0, 7), (2, 1, 8), (2, 1, 9), (2, 0, 10), (1, 2, 6)])
def test_input_grad_conv_gradcheck(cin, stride, padding, size):
    """Input (and weight/bias) gradients of InputGradConv against finite differences, including the output padding
    that recovers odd and even input sizes after a strided convolution."""
    torch.manual_seed(0)
    x = torch.randn(2, cin, size, size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, cin, 3, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    fn = lambda x, w, b: InputGradConv.apply(x, w, b, (stride, stride), (padding, padding))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w, b))
    torch.testing.assert_close(fn(x, w, b), F.conv2d(x, w, b, stride, padding))
    (gx,) = torch.autograd.grad(fn(x, w.detach(), None).sum(), x)  # frozen weights: the input gradient alone
    (ref,) = torch.autograd.grad(F.conv2d(x, w.detach(), None, stride, padding).sum(), x)
    torch.testing.assert_close(gx, ref, rtol=0, atol=1e-12)


def test_untraceable_or_plain_models_are_returned_unchanged():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else -self.fc(x)  # data-dependent: fx cannot trace it

    b = Branchy()
    assert input_grad_view(b) is b and input_grad_view(b) is b  # cached as "unchanged"
    ref = weakref.ref(b)
    del b
    gc.collect()
    assert ref() is None  # the cache does not keep models alive
    mlp = build("mlp", input_shape=(8,), hidden=(4,))
    assert input_grad_view(mlp) is mlp  # traceable, nothing to rewrite


def test_view_is_cached_and_follows_weight_updates():
    m = _frozen_copy("smallcnn")
    v = input_grad_view(m)
    assert input_grad_view(m) is v
    x = torch.rand(3, 1, 28, 28)
    before = v(x).detach()
    with torch.no_grad():
        m.classifier.fc3.bias.add_(1.0)
    after = v(x).detach()
    torch.testing.assert_close(after, before + 1.0)
    torch.testing.assert_close(after, m(x))
    ref = weakref.ref(m)
    del m, v
    gc.collect()
    assert ref() is None  # a traced view does not keep its model alive either


def test_fast_input_grad_context_switches_frozen():
    m = build("smallcnn")
    assert grad_model(m) is m
    with fast_input_grad():
        with frozen(m) as net:
            assert net is input_grad_view(m) and net is not m
        with fast_input_grad(False), frozen(m) as net:
            assert net is m
    with frozen(m) as net:
        assert net is m
    assert m.training and all(p.requires_grad for p in m.parameters())  # frozen still restores the model


def test_attack_and_adt_fit_agree_with_and_without_the_view():
    m = _frozen_copy("smallcnn").double()
    torch.manual_seed(3)
    x = torch.rand(8, 1, 28, 28, dtype=torch.float64)
    y = torch.randint(0, 10, (8,))
    outs = []
    for fast in (False, True):
        with fast_input_grad(fast):
            adv = pgd(m, x, y, eps=0.1, alpha=0.025, steps=5, random_start=False)
            torch.manual_seed(4)
            fit = fit_explicit(m, x, y, eps=0.1, steps=3, k=2)
        outs.append((adv, fit))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=0, atol=1e-12)
    torch.testing.assert_close(outs[1][1].loc, outs[0][1].loc, rtol=0, atol=1e-9)
    torch.testing.assert_close(outs[1][1].scale, outs[0][1].scale, rtol=0, atol=1e-9)
