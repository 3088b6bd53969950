"""Distributed set-up: torchrun detection, DDP or FSDP wrapping, rank-0 I/O helpers.

Without torchrun everything here is a no-op and the trainer runs one process. Under
``torchrun --standalone --nproc_per_node=N -m harness train ...`` each process joins a process group
(gloo on CPU, nccl on CUDA), takes its slice of every global batch, and only rank 0 writes files.

Seeds: rank r seeds python/numpy/torch and the stochastic activation with :func:`rank_seed` (seed, r);
rank 0's seed equals the single-process seed, so a 1-process torchrun run equals a plain run. Model
weights are initialised identically on every rank (DDP also broadcasts rank 0's at wrapping).

FSDP (``fully_shard``, per transformer block, then the root) is used for the ``1.5b``/``3b`` scales on
GPUs, or when asked (``--fsdp on``). Checkpoints always hold the full, unsharded state dicts, gathered
on rank 0, so they load the same way whatever wrote them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

FSDP_SCALES = ("1.5b", "3b")


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.backend is not None


def rank_seed(seed: int, rank: int) -> int:
    """Per-rank seed; rank 0 keeps ``seed`` (a large odd stride keeps seeds of different runs apart)."""
    return seed + 1_000_003 * rank


def pick_device(device: str | None = None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device} requested but CUDA is not available")
    return device


def setup(device: str | None = None) -> DistEnv:
    """Join the torchrun process group if there is one (RANK/WORLD_SIZE set), else a single process."""
    device = pick_device(device)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return DistEnv(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return DistEnv(rank, world, local, device, backend)


def shutdown(env: DistEnv) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()


def all_gather_object(env: DistEnv, obj) -> list:
    """Every rank's ``obj``, in rank order (a one-element list in a single process)."""
    if not env.distributed:
        return [obj]
    out = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(env: DistEnv, obj):
    """Rank 0's ``obj`` on every rank (errors found by rank 0 reach all ranks this way)."""
    if not env.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_mean(env: DistEnv, x: torch.Tensor) -> torch.Tensor:
    if env.distributed:
        x = x.clone()
        dist.all_reduce(x, op=dist.ReduceOp.SUM)
        x /= env.world_size
    return x


def use_fsdp(env: DistEnv, scale: str, flag: str = "auto") -> bool:
    if flag == "on":
        return env.distributed
    if flag == "off":
        return False
    return env.distributed and env.device.startswith("cuda") and scale in FSDP_SCALES


def wrap(model: torch.nn.Module, env: DistEnv, fsdp: bool = False) -> torch.nn.Module:
    """DDP (replicated) or FSDP2 (sharded per block) around ``model``; unchanged in a single process."""
    if not env.distributed:
        return model
    if fsdp:
        from torch.distributed.fsdp import fully_shard

        for layer in model.layers:
            fully_shard(layer)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [env.local_rank] if env.device.startswith("cuda") else None
    # Buffers (RoPE tables) are computed identically on every rank: no need to broadcast them per step.
    return DDP(model, device_ids=ids, broadcast_buffers=False)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def full_state(model, optimizer, fsdp: bool) -> tuple[dict, dict]:
    """Unsharded (model, optimizer) state dicts; with FSDP, complete on every rank's CPU (call on all)."""
    if not fsdp:
        return unwrap(model).state_dict(), optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    return get_state_dict(model, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_full_state(model, optimizer, model_sd: dict, optim_sd: dict, fsdp: bool) -> None:
    if not fsdp:
        unwrap(model).load_state_dict(model_sd)
        optimizer.load_state_dict(optim_sd)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    set_state_dict(model, optimizer, model_state_dict=model_sd, optim_state_dict=optim_sd,
                   options=StateDictOptions(full_state_dict=True))
