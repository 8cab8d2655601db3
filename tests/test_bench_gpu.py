"""``advdist.bench.gpu``'s (old name ``advdist.bench_gpu``) CPU-checkable parts: the FLOP count, the peak table,
the report format."""

from __future__ import annotations

import torch
from torch import nn

from advdist import bench_gpu


def test_flop_count_counts_only_the_gradients_that_run():
    lin = nn.Linear(30, 20)
    x = torch.randn(8, 30, requires_grad=True)
    fwd = 2 * 8 * 30 * 20
    with bench_gpu.FlopCount() as c:
        (g,) = torch.autograd.grad(lin(x).sum(), x)  # input gradient only: one more product, no weight gradient
    assert c.total == 2 * fwd
    with bench_gpu.FlopCount() as c:
        lin(x).sum().backward()  # input and weight gradients
    assert c.total == 3 * fwd


def test_step_flops_of_at_pgd_are_seven_input_gradient_passes_and_one_training_pass():
    """AT_PGD = 7 x (forward + input backward) + forward + weight gradients + input gradients of every layer but
    the first (the clean batch needs no gradient): 17 forwards' worth minus the first layer's input gradient."""
    from advdist import config, train

    cfg = config.resolve("smoke", "adt-cifar10")
    model = train.build_model(cfg)
    x = torch.rand(4, 64)  # smoke: digits (64 features), an MLP
    with bench_gpu.FlopCount() as c:
        model(x)
    per_forward = c.total
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    first_layer = 2 * 4 * first.in_features * first.out_features
    got = bench_gpu.count_flops("at_pgd", 4, device="cpu", scale="smoke")
    assert got == 7 * 2 * per_forward + 3 * per_forward - first_layer


def test_datasheet_peaks_and_markdown():
    assert bench_gpu.datasheet_peak("NVIDIA H100 80GB HBM3") == 989.4
    assert bench_gpu.datasheet_peak("NVIDIA H100 PCIe") == 756.0
    assert bench_gpu.datasheet_peak("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench_gpu.datasheet_peak("Some Future GPU") is None
    row = dict(method="at_pgd", batch=64, variant="bf16+cl", images_per_s=1000.0, gflop_per_image=178.0,
               achieved_tflops=178.0, frac_datasheet_bf16_peak=0.18, frac_measured_matmul_peak=0.23)
    report = {"meta": dict(device="X", torch="t", cuda="c", steps=10, datasheet_bf16_tflops=989.4,
                           measured_matmul_bf16_tflops=780.0),
              "rows": [row], "agreement_at_pgd_b64": {"fp32": {"loss": 2.3, "rel_diff_vs_fp32": 0.0}}}
    md = bench_gpu.markdown(report)
    assert "| at_pgd | 64 | bf16+cl | 1000 | 178 | 178 | 18.0 | 23.0 |" in md


def test_old_module_name_is_the_same_module():
    """``advdist.bench_gpu`` (the name before ``bench/`` was a package) is ``advdist.bench.gpu`` itself, so code
    that patches or reads its names sees the one module; ``python -m advdist.bench_gpu`` still runs its CLI."""
    import subprocess
    import sys

    from advdist.bench import gpu

    assert bench_gpu is gpu and bench_gpu.FlopCount is gpu.FlopCount
    r = subprocess.run([sys.executable, "-m", "advdist.bench_gpu", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--steps" in r.stdout and "advdist.bench.gpu" in r.stdout, r.stderr
