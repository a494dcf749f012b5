"""How train.py's processes find each other: torchrun, one process per SageMaker host, or alone.

Three launch shapes, decided by plan_processes() from the environment alone (pure, unit tested):

* torchrun (SageMaker ``torch_distributed``, or ``python -m torch.distributed.run`` anywhere):
  RANK / WORLD_SIZE / LOCAL_RANK are set, the group is initialised from ``env://``.
* SageMaker without a distribution setting: every host runs ``python train.py`` once. SM_HOSTS
  lists the hosts; rank = index of SM_CURRENT_HOST x processes per host + local rank, the master is
  the first host (MASTER_ADDR overrides it, which is how tests run two "hosts" on localhost),
  port MASTER_PORT or 7777. A host with several GPUs spawns one process per GPU.
* Anything else with one process in total: no process group at all.
"""
from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

DEFAULT_MASTER_PORT = 7777  # what SageMaker's PyTorch toolkit uses


@dataclass(frozen=True)
class LaunchPlan:
    """How many processes this host runs and where they rendezvous."""

    mode: str  # "single" | "torchrun" | "hosts"
    world_size: int = 1
    procs_per_host: int = 1
    node_rank: int = 0
    master_addr: str = "127.0.0.1"
    master_port: int = DEFAULT_MASTER_PORT
    hosts: tuple = field(default_factory=tuple)


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group; ``initialized`` says whether collectives are live."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    initialized: bool = False

    @property
    def is_leader(self) -> bool:
        return self.rank == 0


def _int_env(env, key, default):
    value = env.get(key)
    return int(value) if value not in (None, "") else default


def plan_processes(env, cuda_device_count: int) -> LaunchPlan:
    """Decide the launch shape from the environment (see the module docstring)."""
    if "RANK" in env and "WORLD_SIZE" in env:
        world = int(env["WORLD_SIZE"])
        return LaunchPlan(
            mode="torchrun" if world > 1 else "single",
            world_size=world,
            procs_per_host=_int_env(env, "LOCAL_WORLD_SIZE", 1),
            master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
            master_port=_int_env(env, "MASTER_PORT", DEFAULT_MASTER_PORT),
        )
    hosts = json.loads(env["SM_HOSTS"]) if env.get("SM_HOSTS") else []
    current = env.get("SM_CURRENT_HOST", hosts[0] if hosts else "")
    gpus = _int_env(env, "SM_NUM_GPUS", cuda_device_count)
    # Trust what this process can actually see: SM_NUM_GPUS counts the instance, not visibility.
    procs = max(1, min(gpus, cuda_device_count))
    n_hosts = max(1, len(hosts))
    if n_hosts * procs == 1:
        return LaunchPlan(mode="single")
    if hosts and current not in hosts:
        raise ValueError("SM_CURRENT_HOST {!r} is not in SM_HOSTS {}".format(current, hosts))
    return LaunchPlan(
        mode="hosts",
        world_size=n_hosts * procs,
        procs_per_host=procs,
        node_rank=hosts.index(current) if hosts else 0,
        master_addr=env.get("MASTER_ADDR") or (hosts[0] if hosts else "127.0.0.1"),
        master_port=_int_env(env, "MASTER_PORT", DEFAULT_MASTER_PORT),
        hosts=tuple(hosts),
    )


def _pick_device(local_rank: int) -> torch.device:
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def init_distributed(plan: LaunchPlan, local_rank: int, env, timeout_min: int = 30) -> DistContext:
    """Join the process group the plan describes (or none) and pick this process's device."""
    if plan.mode == "torchrun":
        local_rank = _int_env(env, "LOCAL_RANK", 0)
    device = _pick_device(local_rank if plan.mode != "single" else 0)
    if plan.mode == "single":
        return DistContext(device=device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(minutes=timeout_min)
    if plan.mode == "torchrun":
        rank = int(env["RANK"])
        dist.init_process_group(backend, init_method="env://", timeout=timeout)
    else:
        rank = plan.node_rank * plan.procs_per_host + local_rank
        dist.init_process_group(
            backend,
            init_method="tcp://{}:{}".format(plan.master_addr, plan.master_port),
            world_size=plan.world_size,
            rank=rank,
            timeout=timeout,
        )
    return DistContext(
        rank=rank,
        world_size=plan.world_size,
        local_rank=local_rank,
        local_world_size=plan.procs_per_host,
        device=device,
        initialized=True,
    )


def all_reduce_sum(ctx: DistContext, values):
    """Sum a list of floats over all ranks (identity when alone)."""
    if not ctx.initialized:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_reduce_min_int(ctx: DistContext, value: int) -> int:
    """The smallest value any rank holds: DDP hangs if ranks run different step counts."""
    if not ctx.initialized:
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def broadcast_object(ctx: DistContext, obj):
    """Rank 0's object on every rank (e.g. the checkpoint, so all ranks resume identically)."""
    if not ctx.initialized:
        return obj
    box = [obj if ctx.is_leader else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(ctx: DistContext, obj) -> list:
    """Every rank's object, on every rank."""
    if not ctx.initialized:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: DistContext) -> None:
    if ctx.initialized:
        if ctx.device.type == "cuda":  # tell NCCL which GPU, or it guesses (and warns)
            dist.barrier(device_ids=[ctx.device.index])
        else:
            dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.initialized and dist.is_initialized():
        dist.destroy_process_group()


def _collective_device(ctx: DistContext) -> torch.device:
    # NCCL only moves CUDA tensors; gloo only CPU ones.
    return ctx.device if ctx.device.type == "cuda" else torch.device("cpu")
