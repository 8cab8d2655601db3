"""Entries ``throughput_<method>``: images/s of one training step of every method at mini scale, against
``standard`` (one entry per name in ``methods.names()``)."""

from __future__ import annotations

import time
from typing import Callable

import torch

from advdist import config, data, methods, train
from advdist.bench.core import Context, entry, result


def method_setup(name: str, scale: str, seed: int = 0, batch_size: int | None = None):
    """(cfg, model, method) of ``name`` at ``scale`` in the first paper setting it accepts (``adt-cifar10`` first;
    e.g. an ℓ2-only method takes an ℓ2 setting)."""

    err = None
    for setting in ("adt-cifar10", *config.SETTINGS):
        try:
            cfg = config.resolve(scale, setting, method=name, seed=seed,
                                 **({"batch_size": batch_size} if batch_size else {}))
            torch.manual_seed(seed)
            model = train.build_model(cfg)
            return cfg, model, methods.build(name, cfg, model)
        except ValueError as e:
            err = e
    raise ValueError(f"no paper setting accepts method {name!r} at {scale}: {err}")


def method_throughput(name: str, *, scale: str = "mini", batches: int = 3, batch_size: int | None = None,
                      seed: int = 0) -> tuple[float, int]:
    """Seconds for ``batches`` training steps of method ``name`` (its ``loss`` + backward + SGD step, as the
    training loop does them) on fixed synthetic batches of the ``scale``'s shape, after one warm-up step.

    Returns (seconds, images). The batches are uniform noise in [0, 1] with random labels; the cost of a step
    does not depend on the data (except through early stopping, which no training method uses).
    """

    cfg, model, method = method_setup(name, scale, seed, batch_size)
    info = data.info(cfg.dataset)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(seed)
    xs = [torch.rand(cfg.batch_size, *info.input_shape, generator=g) for _ in range(batches + 1)]
    ys = [torch.randint(0, info.num_classes, (cfg.batch_size,), generator=g) for _ in range(batches + 1)]
    model.train()

    def step(xb, yb):
        loss, _ = method.loss(model, xb, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(xs[0], ys[0])
    t0 = time.perf_counter()
    for xb, yb in zip(xs[1:], ys[1:]):
        step(xb, yb)
    return time.perf_counter() - t0, batches * cfg.batch_size


def throughput_entry(name: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        scale, batches, bs = ("smoke", 1, 16) if ctx.quick else ("mini", 5, None)
        base_s, images = method_throughput("standard", scale=scale, batches=batches, batch_size=bs)
        s, _ = method_throughput(name, scale=scale, batches=batches, batch_size=bs)
        cfg = method_setup(name, scale)[0]
        epoch_images = cfg.n_train or 60000
        ips = images / s
        notes = (f"{scale} scale, setting {cfg.setting} ({cfg.dataset} shape, {cfg.model}, {cfg.norm} eps={cfg.eps}, "
                 f"batch {images // batches}), "
                 f"{batches} fixed synthetic batches after one warm-up step; a step = method.loss + backward + SGD "
                 f"step (no data loading, no evaluation). ratio = standard training's time / this method's (< 1: "
                 f"dearer than standard). Epoch of {epoch_images} images at this rate: {epoch_images / ips:.0f} s")
        return result(torch.device("cpu"), f"training throughput: {name}", "standard training (same batches)",
                       name, base_s, s, f"{ips:.1f} images/s (standard {images / base_s:.1f} images/s)", notes,
                       images_per_s=round(ips, 2), standard_images_per_s=round(images / base_s, 2),
                       epoch_s_estimate=round(epoch_images / ips, 1), method=name, batches=batches)

    run.__name__ = f"throughput_{name}"
    run.__doc__ = f"Training throughput (images/s) of {name} at mini scale, against standard training."
    return run


def register_throughput() -> None:

    for name in methods.names():
        entry(throughput_entry(name))


register_throughput()
