"""Process-group setup under `torchrun`: NCCL on GPUs, gloo on CPUs; a single process otherwise."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    device: torch.device
    owns_group: bool = False  # made by `start`, so `stop` tears it down

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(preference: str) -> torch.device:
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))


def start(preference: str) -> Context:
    """Join the process group that `torchrun` describes in the environment, if any."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    device = pick_device(preference)
    if world_size == 1:
        return Context(0, 1, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), device, owns)


def stop(ctx: Context) -> None:
    """Leave the process group, if `start` joined it (a caller's own group stays)."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def mean_across(ctx: Context, value: torch.Tensor) -> torch.Tensor:
    """The elementwise mean of a tensor over all ranks (itself in a single process)."""
    if not ctx.distributed:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size


def gather(ctx: Context, obj: object) -> list:
    """Every rank's `obj`, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()
