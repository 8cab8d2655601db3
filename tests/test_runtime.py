"""advdist.runtime (device, threads, determinism, eval mode, accuracy of logits) and advdist.validate."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advdist import runtime, train, validate


def _net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))


def _flags(m: nn.Module) -> list[bool]:
    return [s.training for s in m.modules()]


def test_eval_mode_sets_eval_and_restores_each_modules_own_flag():
    net = _net()
    net[1].eval()                      # a mix: BatchNorm frozen inside a training model
    before = _flags(net)
    assert before == [True, True, False, True, True]
    with runtime.eval_mode(net):
        assert _flags(net) == [False] * 5
        net(torch.randn(2, 3))
    assert _flags(net) == before       # the mix is kept (``model.train(was)`` would have set BatchNorm to train)
    net.eval()
    with runtime.eval_mode(net):
        pass
    assert _flags(net) == [False] * 5


def test_eval_mode_restores_on_an_exception_and_takes_several_modules():
    a, b = _net(), _net()
    b.eval()
    with pytest.raises(RuntimeError, match="boom"):
        with runtime.eval_mode(a, b):
            assert not a.training and not b.training
            raise RuntimeError("boom")
    assert _flags(a) == [True] * 5 and _flags(b) == [False] * 5


def test_eval_mode_changes_what_the_model_computes_and_only_inside():
    torch.manual_seed(0)
    net, x = _net(), torch.randn(8, 3)
    with runtime.eval_mode(net):
        a, b = net(x), net(x)
    torch.testing.assert_close(a, b)            # dropout off, BatchNorm on running statistics
    assert not torch.equal(net(x), net(x))      # training again: dropout draws differ


def test_correct_and_accuracy_match_the_hand_written_form():
    torch.manual_seed(1)
    logits, y = torch.randn(37, 5), torch.randint(0, 5, (37,))
    assert torch.equal(runtime.correct(logits, y), logits.argmax(1) == y)
    assert runtime.accuracy(logits, y) == (logits.argmax(1) == y).float().mean().item()
    y2 = logits.argmax(1).clone()
    y2[:10] = (y2[:10] + 1) % 5                 # exactly 10 of 37 wrong
    assert runtime.correct(logits, y2).sum().item() == 27
    assert runtime.accuracy(logits, y2) == pytest.approx(27 / 37)


def test_resolve_device_and_its_old_home():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device(torch.device("cpu", 0)) == torch.device("cpu", 0)
    assert runtime.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available; use device='cpu' or 'auto'"):
            runtime.resolve_device("cuda:1")
    assert train.resolve_device is runtime.resolve_device
    assert train.Runtime is runtime.Runtime and train.check_runtime is runtime.check_runtime


def test_check_runtime_rejects_fast_grad_with_compile():
    runtime.check_runtime(runtime.Runtime(fast_grad=True))
    with pytest.raises(ValueError, match="fast_grad and compile do not combine"):
        runtime.check_runtime(runtime.Runtime(fast_grad=True, compile="default"))


def test_set_threads_and_deterministic_settings_are_restored():
    n = torch.get_num_threads()
    try:
        runtime.set_threads(1)
        assert torch.get_num_threads() == 1
        runtime.set_threads(None)                # None keeps the setting
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(n)
    det, bench = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    try:
        for on in (True, False):
            with runtime.deterministic(on):
                assert torch.are_deterministic_algorithms_enabled() is on
                assert torch.backends.cudnn.benchmark is (not on)
            assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark) == (det, bench)
        with pytest.raises(KeyError):
            with runtime.deterministic(not det):
                raise KeyError("x")
        assert torch.are_deterministic_algorithms_enabled() == det
        runtime.set_deterministic(True, torch.device("cpu"))   # on a CPU: cuDNN's flag left alone
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.benchmark == bench
    finally:
        torch.use_deterministic_algorithms(det, warn_only=True)
        torch.backends.cudnn.benchmark = bench


def test_runtime_imports_only_torch_and_the_standard_library():
    import ast
    import sys

    tree = ast.parse(open(runtime.__file__).read())
    tops = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    tops |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert tops - {"torch", "__future__"} <= set(sys.stdlib_module_names), tops


# ---- advdist.validate -------------------------------------------------------------------------------------------

def test_choice_returns_the_value_or_raises_one_line_listing_the_valid_ones():
    assert validate.choice("norm", "l2", ("linf", "l2")) == "l2"
    with pytest.raises(ValueError) as e:
        validate.choice("norm", "l3", ("linf", "l2"))
    assert str(e.value) == "unknown norm 'l3'; valid: linf, l2"
    with pytest.raises(KeyError):
        validate.choice("x", 3, iter([1, 2]), error=KeyError)   # any iterable; the error type is the caller's


def test_option_checks_keep_the_methods_wording():
    assert validate.option_choice("adt_impam", "outer", "kl", ("kl", "ce")) == "kl"
    with pytest.raises(ValueError) as e:
        validate.option_choice("adt_impam", "code_layout", 1.5, (False, True))
    assert str(e.value) == "adt_impam option code_layout=1.5; valid: False, True"
    assert validate.option_number("l2l", "lr_g", 2) == 2.0 and isinstance(validate.option_number("m", "k", 2), float)
    assert validate.option_number("m", "k", 0) == 0.0
    for bad, kw in ((0, {"positive": True}), (-1, {}), (float("nan"), {}), (True, {}), ("1", {})):
        with pytest.raises(ValueError, match="m option k must be a finite number"):
            validate.option_number("m", "k", bad, **kw)
    assert validate.option_betas("m", "betas_g", [0.5, 0.999]) == (0.5, 0.999)
    for bad in ((0.5, 1.0), (0.5,), "ab", None):
        with pytest.raises(ValueError, match=r"m option betas_g must be a pair of numbers in \[0, 1\)"):
            validate.option_betas("m", "betas_g", bad)
