"""Tests of the model zoo (advdist.models): parameter counts, features/fc split, normalisation,
channels_last, registry errors. Small batches only (the WRNs are run on batches of 2)."""

from __future__ import annotations

import copy
import functools

import pytest
import torch
from torch import nn

from advdist import models
from advdist.models import build, count_parameters

CIFAR_NETS = ["wrn-28-10", "wrn-34-10", "resnet-20", "resnet-18", "preact-resnet-18"]
MNIST_NETS = ["smallcnn", "lenet5-madry", "mini-cnn"]
MEAN3, STD3 = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)


def millions(model: nn.Module) -> float:
    return round(count_parameters(model) / 1e6, 2)


def _cached(name: str, in_channels: int | None, extra: tuple = ()) -> nn.Module:
    return _cached_impl(name, in_channels, tuple(extra))


@functools.lru_cache(maxsize=None)
def _cached_impl(name: str, in_channels: int | None, extra: tuple) -> nn.Module:
    """One randomly initialised instance per configuration (eval mode, non-zero last layer)."""
    torch.manual_seed(0)
    m = build(name, in_channels=in_channels, **dict(extra))
    with torch.no_grad():  # SmallCNN's TRADES init zeroes the last layer: make outputs informative
        m.fc.weight.normal_(0, 0.1)
        m.fc.bias.normal_(0, 0.1)
    return m.eval()


def _batch(shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g)


# configurations: (name, in_channels, extra kwargs, input shape)
CASES = (
    [(n, 3, (), (2, 3, 32, 32)) for n in CIFAR_NETS]
    + [("resnet-20", 1, (), (2, 1, 28, 28))]
    + [(n, 1, (), (2, 1, 28, 28)) for n in MNIST_NETS]
    + [(n, 3, (("input_size", 32),), (2, 3, 32, 32)) for n in MNIST_NETS]
    + [("mlp", None, (("input_shape", (3, 32, 32)),), (2, 3, 32, 32)),
       ("mlp", None, (("input_shape", (1, 28, 28)),), (2, 1, 28, 28)),
       ("mlp", None, (("input_shape", 2), ("hidden", (16,))), (2, 2)),
       ("atent-toy", None, (), (2, 2))]
)


def _id(case):
    name, c, extra, shape = case
    return f"{name}-{'x'.join(map(str, shape[1:]))}" + ("-" + str(dict(extra)) if extra else "")


# --------------------------------------------------------------------------------------------------
# parameter counts (no forward pass)
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [("wrn-28-10", 36.48), ("wrn-34-10", 46.16), ("resnet-20", 0.27), ("resnet-18", 11.17)],
)
def test_param_counts_cifar(name, expected):
    assert millions(_cached(name, 3)) == expected


def test_param_count_smallcnn():
    expected = (
        (32 * 1 * 3 * 3 + 32)      # conv1 1->32, 3x3
        + (32 * 32 * 3 * 3 + 32)   # conv2 32->32
        + (64 * 32 * 3 * 3 + 64)   # conv3 32->64
        + (64 * 64 * 3 * 3 + 64)   # conv4 64->64
        + (1024 * 200 + 200)       # fc1: 64*4*4 = 1024 -> 200
        + (200 * 200 + 200)        # fc2
        + (200 * 10 + 10)          # fc3
    )
    assert expected == 312_202
    assert count_parameters(build("smallcnn", in_channels=1)) == expected


def test_param_count_lenet5_madry():
    expected = (
        (32 * 1 * 5 * 5 + 32)      # conv1 1->32, 5x5, pad 2
        + (64 * 32 * 5 * 5 + 64)   # conv2 32->64, 5x5, pad 2
        + (3136 * 1024 + 1024)     # linear1: 64*7*7 = 3136 -> 1024
        + (1024 * 10 + 10)         # linear2
    )
    assert expected == 3_274_634
    assert count_parameters(build("lenet5-madry", in_channels=1)) == expected


def test_param_counts_other():
    # option-A shortcuts are parameter-free: exactly the He et al. count
    assert count_parameters(_cached("resnet-20", 3)) == 269_722
    assert count_parameters(_cached("resnet-18", 3)) == 11_173_962
    assert millions(_cached("preact-resnet-18", 3)) == 11.17
    assert count_parameters(build("resnet-20", num_classes=100)) == 269_722 + 90 * 64 + 90


# --------------------------------------------------------------------------------------------------
# forward / features / normalize / channels_last for every registered model
# --------------------------------------------------------------------------------------------------
def test_every_registered_model_is_covered():
    assert {c[0] for c in CASES} == set(models.names())


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_forward_features(case):
    name, c, extra, shape = case
    m = _cached(name, c, extra)
    x = _batch(shape)
    with torch.no_grad():
        out = m(x)
        f = m.features(x)
    assert out.shape == (2, 10)
    assert f.dim() == 2 and f.shape[0] == 2 and f.shape[1] == m.feature_dim
    assert isinstance(m.fc, nn.Linear) and m.fc.in_features == m.feature_dim
    torch.testing.assert_close(m.fc(f), out)
    assert torch.isfinite(out).all() and out.std() > 0


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_normalize_inside_model(case):
    name, c, extra, shape = case
    plain = _cached(name, c, extra)
    k = shape[1]
    if k == 3:
        mean, std = MEAN3, STD3
    elif len(shape) == 2:  # per-feature on 2-D points
        mean, std = (0.3, -0.2), (2.0, 0.5)
    else:
        mean, std = 0.1307, 0.3081
    if name in CIFAR_NETS and name != "resnet-20":
        shape = (2, 3, 16, 16)  # adaptive pooling: a smaller input keeps the big nets cheap
    torch.manual_seed(5)
    normed = build(name, in_channels=c, normalize=(mean, std), **dict(extra))
    normed.load_state_dict(plain.state_dict())  # mean/std are not in the state dict
    normed.eval()
    x = _batch(shape, seed=2)
    mt, st = torch.tensor(mean), torch.tensor(std)
    if mt.dim() and len(shape) == 4:
        mt, st = mt.view(1, -1, 1, 1), st.view(1, -1, 1, 1)
    with torch.no_grad():
        f_normed = normed.features(x)
        torch.testing.assert_close(f_normed, plain.features((x - mt) / st), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(normed.fc(f_normed), plain((x - mt) / st), rtol=1e-4, atol=1e-5)
        assert not torch.allclose(normed.fc(f_normed), plain(x))


@pytest.mark.parametrize("name", ["resnet-20", "preact-resnet-18", "resnet-18", "smallcnn",
                                  "lenet5-madry", "mini-cnn"])
def test_channels_last(name):
    c = 3 if name in CIFAR_NETS else 1
    m = copy.deepcopy(_cached(name, c))
    x = _batch((2, c, 32, 32) if c == 3 else (2, 1, 28, 28))
    with torch.no_grad():
        ref = m(x)
        m = m.to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(m(xc), ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.fc(m.features(xc)), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["wrn-28-10", "wrn-34-10"])
def test_wrn_small_input_and_channels_last(name):
    # adaptive pooling: a WRN runs on any input size (16x16 here, to keep it cheap)
    m = copy.deepcopy(_cached(name, 3))
    x = _batch((2, 3, 16, 16))
    with torch.no_grad():
        ref = m(x)
        m = m.to(memory_format=torch.channels_last)
        torch.testing.assert_close(m(x.contiguous(memory_format=torch.channels_last)), ref,
                                   rtol=1e-4, atol=1e-5)


def test_input_gradient_and_train_mode():
    m = build("smallcnn")  # in_channels defaults to 1 for the MNIST nets
    x = _batch((4, 1, 28, 28)).requires_grad_(True)
    m.train()
    loss = nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 2, 3]))
    (g,) = torch.autograd.grad(loss, x)
    assert g.shape == x.shape and torch.isfinite(g).all()


def test_mlp_lazy_on_2d_points():
    m = build("mlp", num_classes=2)
    assert m.feature_dim == 256
    x = _batch((5, 2))
    out = m(x)
    assert out.shape == (5, 2)
    assert m.body[0].in_features == 2
    torch.testing.assert_close(m.fc(m.features(x)), out)
    m16 = build("mlp", hidden=(16, 8), input_shape=(2,), num_classes=3)
    assert m16.feature_dim == 8 and count_parameters(m16) == (2 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3)


def test_atent_toy_net_shape():
    m = build("atent-toy", num_classes=2)
    # Conv1d(1->20, k=2, pad=2) on a length-2 signal -> length 5 -> 100 features -> 150 -> 2
    assert count_parameters(m) == (20 * 2 + 20) + (100 * 150 + 150) + (150 * 2 + 2)
    assert m(_batch((3, 2))).shape == (3, 2)


# --------------------------------------------------------------------------------------------------
# reference-compatible parameter names, checkpoint quirks
# --------------------------------------------------------------------------------------------------
def test_reference_key_names():
    wrn = _cached("wrn-28-10", 3).state_dict()
    for k in ["conv1.weight", "block1.layer.0.convShortcut.weight", "block3.layer.3.bn2.running_var",
              "bn1.weight", "fc.weight"]:
        assert k in wrn
    assert not any(k.startswith("sub_block1") for k in wrn)
    assert "block1.layer.1.convShortcut.weight" not in wrn
    pre = _cached("preact-resnet-18", 3).state_dict()
    assert {"layer2.0.shortcut.0.weight", "bn.weight", "linear.weight"} <= set(pre)
    small = build("smallcnn").state_dict()
    assert {"feature_extractor.conv4.weight", "classifier.fc3.bias"} <= set(small)
    lenet = build("lenet5-madry").state_dict()
    assert set(lenet) == {f"{m}.{p}" for m in ("conv1", "conv2", "linear1", "linear2")
                          for p in ("weight", "bias")}


def test_wrn_loads_checkpoint_with_dead_sub_block1():
    m = _cached("wrn-28-10", 3)
    sd = dict(m.state_dict())
    sd["sub_block1.layer.0.bn1.weight"] = torch.ones(16)
    sd["sub_block1.layer.0.conv1.weight"] = torch.zeros(160, 16, 3, 3)
    m.load_state_dict(sd, strict=True)  # the unused ADT/TRADES group is ignored


def test_smallcnn_trades_init():
    m = build("smallcnn")
    assert torch.count_nonzero(m.fc.weight) == 0 and torch.count_nonzero(m.fc.bias) == 0
    assert torch.count_nonzero(m.feature_extractor.conv1.bias) == 0


def test_resnet_init_style():
    m = _cached("resnet-20", 3)
    assert torch.all(m.bn1.weight == 1) and torch.all(m.bn1.bias == 0)
    w = build("resnet-20").layer3[0].conv2.weight
    assert abs(w.std().item() - (2 / (9 * 64)) ** 0.5) < 0.01  # He-normal, fan_out


# --------------------------------------------------------------------------------------------------
# registry errors
# --------------------------------------------------------------------------------------------------
def test_unknown_name_lists_valid_names_on_one_line():
    with pytest.raises(ValueError) as e:
        build("wrn28")
    msg = str(e.value)
    assert "\n" not in msg and "'wrn28'" in msg
    for n in models.names():
        assert n in msg


def test_unknown_kwarg_one_line():
    with pytest.raises(ValueError) as e:
        build("resnet-20", widen=3)
    msg = str(e.value)
    assert "\n" not in msg and "widen" in msg and "normalize" in msg


def test_name_aliases_and_registry():
    assert isinstance(build("ResNet_20"), models.CifarResNet)
    assert models.names() == sorted(models.MODELS)
    assert "mini-cnn" in models.MODELS


def test_bad_normalize():
    with pytest.raises(ValueError, match="std must be > 0"):
        build("mini-cnn", normalize=(0.5, 0.0))
    with pytest.raises(ValueError, match="pair"):
        build("mini-cnn", normalize=0.5)
