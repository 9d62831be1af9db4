"""torch.distributed helpers for evaluation under ``torchrun``: init, sharding, gathering.

Sharding follows the idea of MMAction2's distributed test (Apache-2.0,
https://github.com/open-mmlab/mmaction2) of one dataset split over ranks, but without its
``DistributedSampler`` padding: rank ``r`` of ``w`` takes positions ``r, r + w, r + 2w, ...``
of the work list, so no video is evaluated twice and nothing has to be trimmed afterwards.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

import torch
import torch.distributed as dist

from slowfast_zoo.errors import UsageError

__all__ = ["DistInfo", "init_distributed", "destroy_distributed", "shard", "gather_to_main"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# A full Kinetics-400 pass takes hours; ranks can finish a few videos apart and the final
# gather must not time out while the slowest one ends its shard.
_TIMEOUT = datetime.timedelta(hours=4)


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands in a (possibly single-process) job.

    Attributes:
        rank: global rank (0 when not distributed).
        world_size: number of processes (1 when not distributed).
        local_rank: rank on this machine (selects the GPU).
        group: process group for object collectives (gloo; ``None`` when not distributed).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    group: Any = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, which computes the metrics and writes the final file."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


_GLOO_GROUPS: dict[int, Any] = {}


def init_distributed(device: str | torch.device | None = None) -> DistInfo:
    """Join the ``torchrun`` job described by the environment, if any.

    When ``WORLD_SIZE > 1`` and no default process group exists yet, one is created from the
    environment (``env://``): NCCL when this rank computes on CUDA, gloo otherwise. An
    existing group (created by the caller) is used as it is. Object gathering always runs
    on a gloo group, so gathering scores never takes GPU memory.

    Args:
        device: the compute device this rank will use (``None``: CUDA when available).

    Example:
        >>> init_distributed("cpu").world_size   # plain python: not distributed
        1
    """
    if not dist.is_available():
        return DistInfo()
    if not dist.is_initialized():
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return DistInfo()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        use_cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
        backend = "nccl" if use_cuda else "gloo"
        if use_cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend, init_method="env://", timeout=_TIMEOUT)
        log.info("joined %s process group: rank %d of %d", backend, dist.get_rank(), dist.get_world_size())
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if world <= 1:
        return DistInfo(rank, world, local_rank, None)
    key = id(dist.group.WORLD)
    if key not in _GLOO_GROUPS:
        _GLOO_GROUPS[key] = (dist.group.WORLD if dist.get_backend() == "gloo"
                             else dist.new_group(backend="gloo", timeout=_TIMEOUT))
    return DistInfo(rank, world, local_rank, _GLOO_GROUPS[key])


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """The disjoint share of ``rank``: ``items[rank::world_size]`` (no padding duplicates).

    Example:
        >>> shard(list(range(7)), 1, 3)
        [1, 4]
    """
    if not 0 <= rank < world_size:
        raise UsageError(f"rank must be in [0, {world_size}), got {rank}")
    return list(items[rank::world_size])


def gather_to_main(obj: T, info: DistInfo) -> list[T] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); ``None`` on the other ranks.

    Not distributed: ``[obj]``.
    """
    if not info.distributed:
        return [obj]
    out: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(obj, out, dst=0, group=info.group)
    return out


def destroy_distributed() -> None:
    """Tear down the default process group (if any) and the gloo group made for gathering."""
    _GLOO_GROUPS.clear()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
