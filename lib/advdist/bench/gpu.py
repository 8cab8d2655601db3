"""``make bench-gpu``: training throughput of the adversarial-training methods on a CUDA GPU.

For AT_PGD (7 PGD steps, ADT App. C.3), ADT_EXP, ADT_EXP-AM and ADT_IMP-AM on WRN-28-10 (ADT's CIFAR model)
with CIFAR-shaped synthetic batches, one training step (``method.loss`` + backward + SGD step, what
``advdist.train`` does per batch) is timed under each of the GPU options of the training loop:

- ``fp32``: eager, float32 (cuDNN may use TF32 for convolutions, torch's default);
- ``bf16``: ``torch.autocast("cuda", bfloat16)`` around the loss (``TrainConfig.amp``);
- ``bf16+cl``: and the model and batch in ``channels_last`` (``Runtime.channels_last``, on by default on CUDA);
- ``bf16+cl+compile``: and the classifier wrapped in ``torch.compile`` (``Runtime.compile``);
- ``bf16+cl (train.py defaults)``, AT_PGD only (fp32 too): the ``bf16+cl`` step under ``advdist.train``'s
  reproducibility settings (``torch.use_deterministic_algorithms``, ``cudnn.benchmark`` off), to show what
  determinism costs.

Every other variant runs with ``cudnn.benchmark`` on and deterministic algorithms off. Shapes are pinned
(one batch size per measurement, the data already on the GPU). The floating-point work of a step is counted
with ``torch.utils.flop_counter.FlopCounterMode`` on the real step (convolutions and matrix products, forward
and the backward passes that are really run: the attack's input-gradient passes skip the weight gradients),
so ``achieved TFLOP/s = counted FLOPs x steps / seconds`` and the fraction of peak is against the card's dense
bf16 datasheet rate and against a measured 8192^3 bf16 matrix product on the same card.

    PYTHONPATH=lib python -m advdist.bench.gpu [--out figures/bench/gpu.json] [--steps 10] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from advdist import config, data, methods, train
from advdist.bench.core import write_json

#: dense bf16 tensor-core rates (TFLOP/s, no sparsity) from NVIDIA's datasheets, matched on the device name
DATASHEET_BF16_TFLOPS = (
    ("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.4),  # "H100 80GB HBM3" = SXM5
    ("H200", 989.4), ("GH200", 989.4), ("A100", 312.0), ("L40S", 362.05), ("L4", 121.0), ("A10", 125.0),
)
METHODS = ("at_pgd", "adt_exp", "adt_expam", "adt_impam")
VARIANTS = ("fp32", "bf16", "bf16+cl", "bf16+cl+compile", "bf16+cl (train.py defaults)")


def datasheet_peak(name: str) -> float | None:
    for key, tflops in DATASHEET_BF16_TFLOPS:
        if key in name:
            return tflops
    return None


def measured_matmul_peak(n: int = 8192, reps: int = 20) -> float:
    """TFLOP/s of an n^3 bf16 matrix product on random data (median of ``reps`` after warm-up)."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    return 2 * n ** 3 / _event_median(lambda: a @ b, reps) / 1e12


def _event_median(fn, reps: int) -> float:
    """Seconds of one call of ``fn`` by CUDA events: the middle (upper middle for even ``reps``) of ``reps``
    single-call timings, each synchronised."""
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return times[len(times) // 2]


@contextlib.contextmanager
def _reproducible(on: bool):
    """``advdist.train``'s settings (deterministic algorithms, no cuDNN autotuning) when ``on``; else fast ones."""
    det, bench = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.benchmark = not on
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det, warn_only=True)
        torch.backends.cudnn.benchmark = bench


def make_step(method_name: str, batch: int, variant: str, *, setting: str = "adt-cifar10", seed: int = 0,
              device: str = "cuda", scale: str = "paper"):
    """(step(), model, cfg): one training step of ``method_name`` at paper scale on a fixed synthetic batch."""

    cfg = config.resolve(scale, setting, method=method_name, batch_size=batch, seed=seed,
                         amp=True if variant.startswith("bf16") else None)
    torch.manual_seed(seed)
    cl = "+cl" in variant
    model = train.build_model(cfg).to(device)
    if cl:
        model = model.to(memory_format=torch.channels_last)
    method = methods.build(method_name, cfg, model).to(torch.device(device))
    # "...+compile" = torch.compile's default mode; "...+compile:<mode>" another (e.g. reduce-overhead: CUDA graphs)
    fwd = train.compiled(model, variant.partition("compile:")[2] or None) if "compile" in variant else model
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    info = data.info(cfg.dataset)
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.rand(batch, *info.input_shape, device=device, generator=g)
    y = torch.randint(0, info.num_classes, (batch,), device=device, generator=g)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    amp = torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if cfg.amp else contextlib.nullcontext()
    model.train()

    def step():
        with amp:
            loss, _ = method.loss(fwd, x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step, model, cfg


class FlopCount(TorchDispatchMode):
    """Total FLOPs of the operators run inside it, by ``torch.utils.flop_counter``'s formulas (convolutions, their
    backward with only the gradients asked for, matrix products). ``FlopCounterMode`` itself cannot be used: its
    module tracker breaks ``torch.autograd.grad`` with respect to leaf inputs, which every attack calls."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def count_flops(method_name: str, batch: int, device: str = "cuda", scale: str = "paper") -> float:
    """FLOPs of one training step (convolutions and matrix products, as run), counted on an eager bf16 step."""
    step, _, _ = make_step(method_name, batch, "bf16", device=device, scale=scale)
    step()  # lazy state (generators' optimisers) outside the count
    with FlopCount() as counter:
        step()
    return float(counter.total)


def time_steps(step, steps: int, warmup: int = 3) -> tuple[float, float]:
    """(median seconds per step over ``steps`` single-step timings, seconds of the warm-up incl. compilation)."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    warm_s = time.perf_counter() - t0
    return _event_median(step, steps), warm_s


def agreement(batch: int = 64) -> dict:
    """Loss of one AT_PGD step under each option against fp32 eager, same weights, data and PGD start."""
    out = {}
    ref = None
    for variant in ("fp32", "bf16+cl", "bf16+cl+compile"):  # compile vs eager: compare the last two
        step, _, _ = make_step("at_pgd", batch, variant)
        torch.manual_seed(1)  # the PGD random start
        with _reproducible(False):
            loss = step().item()
        ref = loss if ref is None else ref
        out[variant] = {"loss": loss, "rel_diff_vs_fp32": abs(loss - ref) / abs(ref)}
    return out


def variants_for(method_name: str) -> tuple[str, ...]:
    """Every option for AT_PGD (the issue's reference workload); the bf16 ones for the ADT methods."""
    return VARIANTS if method_name == "at_pgd" else ("bf16", "bf16+cl", "bf16+cl+compile")


def run(methods=METHODS, batches=(64, 256), steps: int = 10, quick: bool = False, partial: Path | None = None,
        variants: list[str] | None = None) -> dict:
    if not torch.cuda.is_available():
        raise SystemExit("bench.gpu needs a CUDA device (torch.cuda.is_available() is False)")
    name = torch.cuda.get_device_name()
    sheet = datasheet_peak(name)
    measured = measured_matmul_peak(4096 if quick else 8192)
    print(f"[bench-gpu] {name}: datasheet bf16 {sheet} TFLOP/s, measured 8192^3 bf16 matmul {measured:.0f} TFLOP/s",
          file=sys.stderr, flush=True)
    rows = []
    for method_name in methods:
        for batch in batches:
            try:
                flops = count_flops(method_name, batch)
            except torch.OutOfMemoryError:
                print(f"[bench-gpu] {method_name} b{batch}: out of memory", file=sys.stderr)
                torch.cuda.empty_cache()
                continue
            for variant in variants or variants_for(method_name):
                try:
                    step, model, cfg = make_step(method_name, batch, variant)
                    with _reproducible("train.py" in variant):
                        sec, warm_s = time_steps(step, steps)
                except torch.OutOfMemoryError:
                    print(f"[bench-gpu] {method_name} b{batch} {variant}: out of memory", file=sys.stderr)
                    step = model = None
                    torch.cuda.empty_cache()
                    continue
                tflops = flops / sec / 1e12
                row = {"method": method_name, "model": cfg.model, "batch": batch, "variant": variant,
                       "step_s": round(sec, 5), "images_per_s": round(batch / sec, 1),
                       "gflop_per_image": round(flops / batch / 1e9, 2), "achieved_tflops": round(tflops, 1),
                       "frac_datasheet_bf16_peak": round(tflops / sheet, 4) if sheet else None,
                       "frac_measured_matmul_peak": round(tflops / measured, 4),
                       "warmup_s": round(warm_s, 1), "max_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
                rows.append(row)
                print(f"[bench-gpu] {method_name:10s} b{batch:<4d} {variant:28s} {row['images_per_s']:8.1f} img/s "
                      f"{tflops:6.1f} TFLOP/s "
                      f"({100 * row['frac_datasheet_bf16_peak'] if sheet else float('nan'):.1f} % "
                      f"of datasheet bf16)", file=sys.stderr, flush=True)
                del step, model
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                if partial is not None:
                    write_json(partial, {"rows": rows})
    return {"meta": {"device": name, "torch": torch.__version__, "cuda": torch.version.cuda,
                     "python": platform.python_version(), "datasheet_bf16_tflops": sheet,
                     "measured_matmul_bf16_tflops": round(measured, 1), "steps": steps,
                     "data": "CIFAR-shaped synthetic batches (uniform [0,1], random labels), on the GPU"},
            "agreement_at_pgd_b64": agreement(), "rows": rows}


def table(report: dict) -> str:
    lines = [f"{'method':10s} {'batch':>5s} {'variant':28s} {'img/s':>9s} {'TFLOP/s':>8s} {'% bf16 peak':>11s}"]
    for r in report["rows"]:
        frac = r["frac_datasheet_bf16_peak"]
        lines.append(f"{r['method']:10s} {r['batch']:5d} {r['variant']:28s} {r['images_per_s']:9.1f} "
                     f"{r['achieved_tflops']:8.1f} {100 * frac if frac else float('nan'):10.1f}%")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The report as the Markdown table committed beside the JSON (``figures/bench/gpu_<card>.md``)."""
    m = report["meta"]
    lines = [f"**Training-step throughput on {m['device']}** (torch {m['torch']}, CUDA {m['cuda']}; "
             f"`make bench-gpu`)", "",
             f"WRN-28-10, CIFAR-shaped synthetic batches on the GPU; median of {m['steps']} timed steps after 3 "
             f"warm-up steps. FLOPs counted on the real step (convolutions and matrix products as run). Peak: "
             f"datasheet dense bf16 {m['datasheet_bf16_tflops']} TFLOP/s; a measured 8192³ bf16 matmul on the same "
             f"card ran at {m['measured_matmul_bf16_tflops']} TFLOP/s.", "",
             "| method | batch | variant | images/s | GFLOP/image | TFLOP/s | % of bf16 datasheet peak "
             "| % of measured matmul |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        sheet = r["frac_datasheet_bf16_peak"]
        lines.append(f"| {r['method']} | {r['batch']} | {r['variant']} | {r['images_per_s']:.0f} "
                     f"| {r['gflop_per_image']:.0f} | {r['achieved_tflops']:.0f} "
                     f"| {100 * sheet if sheet else float('nan'):.1f} "
                     f"| {100 * r['frac_measured_matmul_peak']:.1f} |")
    ag = report["agreement_at_pgd_b64"]
    lines += ["", "Agreement (one AT_PGD step, batch 64, same weights, data and PGD start): loss "
              + ", ".join(f"{k} {v['loss']:.5f} (rel. diff to fp32 {v['rel_diff_vs_fp32']:.1e})" for k, v in ag.items())
              + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m advdist.bench.gpu", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="figures/bench/gpu.json")
    p.add_argument("--steps", type=int, default=10, help="timed steps per measurement (median reported)")
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--batches", nargs="+", type=int, default=[64, 256])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--variants", nargs="+", default=None,
                   help="measure only these variants (e.g. 'bf16+cl+compile:reduce-overhead'); default: variants_for()")
    args = p.parse_args(argv)
    out = Path(args.out)
    report = run(args.methods, tuple(args.batches), args.steps, args.quick,
                 partial=out.with_suffix(".partial.json"), variants=args.variants)
    print(table(report))
    write_json(out, report)
    out.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return report


if __name__ == "__main__":
    main()
