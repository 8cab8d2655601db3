"""Training across processes and machines: data-parallel training (:mod:`advdist.ddp`, re-exported here) and its
Slurm launcher, ``python -m advdist.distributed [--nodes N --gpus-per-node G ...] -- TRAIN ARGS``
(``make train-slurm``; optional extra ``submitit``).

``torchrun --nproc_per_node=N -m advdist.train ...`` trains data-parallel on one machine; :func:`submit_slurm` runs
the same command as a Slurm job, one task per GPU, each task exporting the job's torch.distributed environment.
"""

from __future__ import annotations

import argparse
import sys

from advdist import train
from advdist.ddp import RANK_SEED_STRIDE, Dist, launched, rank_seed, setup

__all__ = ["RANK_SEED_STRIDE", "Dist", "launched", "main", "rank_seed", "setup", "submit_slurm"]


# ---- Slurm (optional extra: submitit) -------------------------------------------------------------------------

def _slurm_task(argv: list[str]) -> int:
    """One Slurm task of a submitit job: export the torch.distributed environment of the job, then train."""
    import submitit

    env = submitit.JobEnvironment()
    if env.num_tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    return train.main(argv)


def submit_slurm(argv: list[str], *, folder: str = "data/slurm", nodes: int = 1, tasks_per_node: int = 1,
                 gpus_per_node: int = 0, cpus_per_task: int = 2, timeout_min: int = 24 * 60,
                 partition: str | None = None, cluster: str | None = None):
    """Submit ``python -m advdist.train ARGV`` as a Slurm job through submitit (``make train-slurm``).

    ``nodes`` × ``tasks_per_node`` tasks train data-parallel as under ``torchrun`` (one task per GPU; the
    torch.distributed environment comes from submitit's ``TorchDistributedEnvironment``). ``cluster="local"``
    runs the job as local processes (submitit's local executor, for tests) and ``"debug"`` in this process.
    Returns the submitit job (``job.result()`` waits for the CLI's exit status of task 0).
    """
    try:
        import submitit
    except ImportError as e:  # optional extra
        raise ImportError("the Slurm launcher needs submitit: pip install 'advdist[slurm]' "
                          "(or pip install submitit)") from e
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params = dict(nodes=nodes, tasks_per_node=tasks_per_node, cpus_per_task=cpus_per_task, timeout_min=timeout_min)
    if gpus_per_node:
        params["gpus_per_node"] = gpus_per_node
    if partition:
        params["slurm_partition"] = partition
    ex.update_parameters(name="advdist-train", **params)
    return ex.submit(_slurm_task, list(argv))


def main(argv: list[str] | None = None) -> int:
    """``python -m advdist.distributed [--nodes N --gpus-per-node G ...] -- TRAIN ARGS``: submit to Slurm."""
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(
        prog="python -m advdist.distributed",
        description="Submit python -m advdist.train (arguments after --) to Slurm via submitit.")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=1, help="also the tasks per node (one rank per GPU)")
    p.add_argument("--cpus-per-task", type=int, default=8)
    p.add_argument("--timeout-min", type=int, default=24 * 60)
    p.add_argument("--partition", default=None)
    p.add_argument("--folder", default="data/slurm", help="submitit's log folder")
    p.add_argument("--wait", action="store_true", help="wait for the job and return its exit status")
    a = p.parse_args(own)
    job = submit_slurm(train_args, folder=a.folder, nodes=a.nodes, tasks_per_node=max(a.gpus_per_node, 1),
                       gpus_per_node=a.gpus_per_node, cpus_per_task=a.cpus_per_task, timeout_min=a.timeout_min,
                       partition=a.partition)
    print(f"submitted Slurm job {job.job_id}: python -m advdist.train {' '.join(train_args)} (logs in {a.folder})")
    return int(job.result() or 0) if a.wait else 0


if __name__ == "__main__":
    raise SystemExit(main())
