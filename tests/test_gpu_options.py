"""The training loop's GPU options (torch.compile, non-deterministic mode, CUDA) give the results of the default path.

The compile test runs on the CPU with torch.compile's ``aot_eager`` backend (the same graph capture and
autograd split as the default backend, without generating C++): it checks that the method really calls the
compiled classifier, that checkpoints hold the plain model's keys and that the weights match eager training.
The ``cuda`` tests run only where a GPU is present (``make test`` on a GPU machine); CI has none.
"""

from __future__ import annotations

import pytest
import torch

from advdist import train as train_mod
from advdist.config import resolve
from advdist.store import get_or_train

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _smoke(**kw):
    return resolve("smoke", "adt-cifar10", **kw)


def test_compiled_training_matches_eager_and_saves_plain_keys(runs_dir, monkeypatch):
    cfg = _smoke(method="at_pgd", epochs=1)
    eager, _ = get_or_train(cfg, device="cpu", progress=False)
    calls = []
    real_compile = torch.compile

    def compile_aot_eager(model, **kw):
        calls.append(type(model).__name__)
        return real_compile(model, backend="aot_eager", **kw)

    monkeypatch.setattr(torch, "compile", compile_aot_eager)
    monkeypatch.setenv("ADVDIST_RUNS", str(runs_dir.parent / "runs_compiled"))
    comp, run = get_or_train(cfg, device="cpu", progress=False, compile=True)
    assert calls, "Runtime(compile=True) did not compile the classifier"
    saved = torch.load(run.path / "model.pt", weights_only=True)
    assert not any("_orig_mod" in k for k in saved), "checkpoint holds the compiled wrapper's keys"
    assert set(saved) == set(eager.state_dict())
    for k, v in eager.state_dict().items():
        torch.testing.assert_close(comp.state_dict()[k], v, atol=1e-4, rtol=1e-4, msg=k)


def test_nondeterministic_flag_is_restored_by_default(runs_dir):
    get_or_train(_smoke(epochs=1), device="cpu", progress=False, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    get_or_train(_smoke(epochs=1, seed=1), device="cpu", progress=False)
    assert torch.are_deterministic_algorithms_enabled()


def test_cli_has_the_gpu_options():
    args = train_mod._parser().parse_args(["--compile", "--nondeterministic", "--amp"])
    assert args.compile == "default" and args.nondeterministic and args.amp
    assert train_mod._parser().parse_args(["--compile", "reduce-overhead"]).compile == "reduce-overhead"
    assert train_mod._parser().parse_args([]).compile is None


def test_compile_mode_reaches_torch_compile(runs_dir, monkeypatch):
    modes = []
    real_compile = torch.compile

    def spy(model, **kw):
        modes.append(kw.get("mode"))
        return real_compile(model, backend="aot_eager", dynamic=kw.get("dynamic"))

    monkeypatch.setattr(torch, "compile", spy)
    get_or_train(_smoke(epochs=1), device="cpu", progress=False, compile="reduce-overhead")
    get_or_train(_smoke(epochs=1, seed=1), device="cpu", progress=False, compile=True)
    assert modes == ["reduce-overhead", None]


@cuda
def test_pgd_on_cuda_matches_cpu(monkeypatch):
    """Same iterates on both devices up to sign flips of near-zero gradient coordinates (TF32 off: cuDNN's TF32
    convolutions alone flip about 3 % of them over 10 steps, seen on an H100)."""
    from advdist import models
    from advdist.attacks import pgd

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    torch.manual_seed(0)
    net = models.build("mini-cnn", num_classes=10, in_channels=1).eval()
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    kw = dict(eps=0.1, alpha=0.025, steps=10, random_start=False, use_best=False)
    a_cpu = pgd(net, x, y, **kw)
    a_gpu = pgd(net.cuda(), x.cuda(), y.cuda(), **kw).cpu()
    same = (a_cpu - a_gpu).abs().le(1e-4).float().mean().item()
    assert same > 0.99, f"only {same:.4f} of the PGD coordinates agree between CPU and CUDA"
    with torch.no_grad():
        acc_cpu = (net.cpu()(a_cpu).argmax(1) == y).float().mean()
        acc_gpu = (net.cpu()(a_gpu).argmax(1) == y).float().mean()
    assert abs(acc_cpu - acc_gpu) <= 2 / 64


@cuda
def test_training_on_cuda_matches_cpu_accuracy(runs_dir, monkeypatch):
    cfg = _smoke(method="at_pgd", epochs=2)
    _, run_cpu = get_or_train(cfg, device="cpu", progress=False)
    monkeypatch.setenv("ADVDIST_RUNS", str(runs_dir.parent / "runs_cuda"))
    model, run_gpu = get_or_train(cfg, device="cuda", progress=False)
    assert next(model.parameters()).is_cuda and run_gpu.meta["device"].startswith("cuda")
    assert run_gpu.meta["channels_last"] is True
    acc_cpu, acc_gpu = run_cpu.log["test_acc"].iloc[-1], run_gpu.log["test_acc"].iloc[-1]
    assert abs(acc_cpu - acc_gpu) < 0.05, (acc_cpu, acc_gpu)


@cuda
def test_compile_bf16_and_channels_last_agree_on_cuda():
    from advdist import bench_gpu

    got = bench_gpu.agreement(batch=8)
    assert got["bf16+cl"]["rel_diff_vs_fp32"] < 0.05
    assert got["bf16+cl+compile"]["rel_diff_vs_fp32"] < 0.05
