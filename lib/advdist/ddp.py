"""Data-parallel training across processes: ``torchrun --nproc_per_node=N -m advdist.train ...``.

Used by :func:`advdist.train_loop.train` when the environment of a ``torchrun`` launch is set (``WORLD_SIZE`` > 1 with
``RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Not part of any paper: it only spreads the papers' training recipe
(ADT App. C.3 etc.) over devices without changing what is computed:

- the process group uses ``gloo`` on CPU and ``nccl`` on CUDA (device ``cuda:LOCAL_RANK``);
- every rank draws the same shuffling (the loop's seeded generator) and augments the same *global* batch of
  ``cfg.batch_size`` examples, then keeps its own contiguous shard (:meth:`Dist.shard`), so the union of the
  shards is the one-process batch;
- gradients are averaged over ranks after ``backward`` with one flat ``all_reduce`` (:meth:`Dist.average_gradients`),
  each rank's loss weighted by its share of the global batch (:meth:`Dist.loss_weight`), so the update equals
  the one-process update on the global batch up to float summation order — the semantics of
  ``DistributedDataParallel``. The module itself is not wrapped in DDP: every method hands the bare classifier
  to its attacks, which run many grad-enabled forward passes with frozen parameters (and read ``.features`` /
  ``.fc``), which DDP's reducer does not expect; for adversarial training the one outer backward is a small part
  of a step (1 of 8 passes for AT_PGD, 1 of 36 for ADT_EXP), so DDP's overlap of communication with backward
  would gain little;
- the global RNG (the methods' own randomness: attack starts, MC samples) is seeded per rank
  (:func:`rank_seed`), rank 0 keeping the one-process seed;
- rank 0 alone writes the run folder (config, meta, log, checkpoints); all ranks read a checkpoint to resume.

Limits: BatchNorm statistics are per rank (no SyncBatchNorm), so a model with BatchNorm matches the one-process
run only in distribution; networks a method owns besides the classifier (generators, discriminators) are not
averaged across ranks (a warning says so).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist
from torch import nn

#: per-rank offset of the global-RNG seed (a prime; rank 0 keeps the one-process seed)
RANK_SEED_STRIDE = 104_729


def launched() -> bool:
    """True when this process was started by ``torchrun`` (or equivalent) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def rank_seed(seed: int, rank: int) -> int:
    """The global-RNG seed of ``rank`` for a step seeded ``seed`` in one process (rank 0: ``seed`` itself)."""
    return (int(seed) + int(rank) * RANK_SEED_STRIDE) % (2**63 - 1)


@dataclass
class Dist:
    """This process's place in the group: ``rank`` of ``world`` (world 1 = not distributed)."""

    rank: int = 0
    world: int = 1
    owns_group: bool = False

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs and writes checkpoints."""
        return self.rank == 0

    def shard(self, t: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous slice of a global batch (``torch.tensor_split``: sizes differ by at most 1)."""
        if self.world == 1:
            return t
        return torch.tensor_split(t, self.world)[self.rank]

    def loss_weight(self, local: int, global_: int) -> float:
        """Factor on this rank's mean loss so that averaging gradients over ranks gives the global-batch mean."""
        return 1.0 if self.world == 1 else local * self.world / max(global_, 1)

    def average_gradients(self, model: nn.Module) -> None:
        """Average ``.grad`` of ``model``'s parameters over ranks (one flat all_reduce; missing grads count as 0)."""
        if self.world == 1:
            return
        params = [p for p in model.parameters() if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        tdist.all_reduce(flat)
        flat /= self.world
        off = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[off:off + n].view_as(p.grad))
            off += n

    def broadcast_parameters(self, model: nn.Module) -> None:
        """Copy rank 0's parameters and buffers to every rank (the start of DDP training)."""
        if self.world == 1:
            return
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                tdist.broadcast(t.data, 0)

    def sum(self, values: dict[str, float]) -> dict[str, float]:
        """Sum of per-rank floats (same keys on every rank), e.g. the epoch's weighted log sums."""
        if self.world == 1 or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        if tdist.get_backend() == "nccl":
            t = t.cuda()
        tdist.all_reduce(t)
        out = dict(zip(keys, t.cpu().tolist()))
        return {k: out[k] for k in values}  # the caller's key order

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def close(self) -> None:
        """Destroy the process group if :func:`setup` created it."""
        if self.owns_group and tdist.is_initialized():
            tdist.destroy_process_group()


def setup(device: torch.device) -> tuple[Dist, torch.device]:
    """Join the process group of a ``torchrun`` launch (gloo on CPU, nccl on CUDA) and return (Dist, device).

    Without a launch environment: ``Dist()`` (rank 0 of 1) and ``device`` unchanged. On CUDA each rank uses
    ``cuda:LOCAL_RANK``.
    """
    if not launched():
        return Dist(), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    owns = False
    if not tdist.is_initialized():
        tdist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return Dist(rank=tdist.get_rank(), world=tdist.get_world_size(), owns_group=owns), device
