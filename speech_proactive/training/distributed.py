"""Data-parallel training on torch.distributed: the same command alone or under `torchrun --nproc_per_node N`.

Each rank takes every N-th example of the global batch (so `batch_size` keeps its meaning), DDP averages the
gradients, and only rank 0 logs, evaluates and writes checkpoints (the others wait at a barrier).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, indices: list[int]) -> list[int]:
        return indices[self.rank :: self.world]

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def setup(device: str = "auto") -> Dist:
    """Join the process group torchrun describes in the environment (a no-op for a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device(f"cuda:{local}") if cuda else torch.device(device if device not in ("auto", "cuda") else "cpu")
    if cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    return Dist(rank, world, dev)


def wrap(module: nn.Module, dist: Dist) -> nn.Module:
    """DDP over several processes. Unused parameters are expected: the CTC warm-up leaves the LLM idle."""
    if dist.world == 1:
        return module
    ids = [dist.device.index] if dist.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def teardown(dist: Dist) -> None:
    if dist.world > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
