"""torch.distributed set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK).

No ``mp.spawn`` and no port here: torchrun starts the processes and owns the rendezvous. Without
those variables the job runs as a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device_kind: str = "auto") -> DistEnv:
    """Reads torchrun's variables, picks this rank's device and joins the process group.

    ``device_kind``: "cpu", "cuda" or "auto" (CUDA when available). Backend: NCCL on CUDA, gloo on
    CPU. The long timeout lets rank 0 prepare the data while the others wait at a barrier.
    """
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_kind == "cuda" or (device_kind == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if use_cuda else "gloo",
            timeout=timedelta(hours=6),
            device_id=device if use_cuda else None,
        )
    return DistEnv(rank, world, local, device)


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def shutdown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_gather_objects(env: DistEnv, obj: object) -> list[object]:
    """Every rank's ``obj`` (a list of one element without distribution)."""
    if not env.distributed:
        return [obj]
    out: list[object] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_across(env: DistEnv, values: dict[str, float]) -> dict[str, float]:
    """Averages scalar losses over ranks (for logging only)."""
    if not env.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    if env.device.type == "cuda":
        t = t.to(env.device)
    dist.all_reduce(t)
    return {k: float(v) / env.world_size for k, v in zip(keys, t.tolist(), strict=True)}
