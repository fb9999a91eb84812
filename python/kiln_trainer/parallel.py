"""Data parallelism: DDP (every rank holds the whole model) or FSDP2 (parameters, gradients and
optimizer state sharded over the ranks, for models that do not fit one device), plus the
gathered state dicts that checkpoints store.

Checkpoints hold FULL (unsharded) state dicts under Hugging Face names, whatever the
parallelism: rank 0 writes them, export copies model.safetensors as it is, and a run may resume
with another world size or switch between ddp and fsdp. Gathering costs one all-gather per
checkpoint and the full state in rank 0's CPU memory (about 16 bytes per parameter with AdamW),
which is fine up to a few billion parameters; torch.distributed.checkpoint's sharded format
would be the next step beyond that.
"""

from contextlib import nullcontext

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     get_optimizer_state_dict, set_model_state_dict,
                                                     set_optimizer_state_dict)
from torch.nn.parallel import DistributedDataParallel as DDP

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def compile_blocks(model) -> None:
    """torch.compile each transformer block in place (names and state dict keys unchanged), as
    torchtitan does: small graphs compile fast and FSDP keeps its per-block hooks."""
    for block in model.model.layers:
        block.compile()


def shard_model(model, device, dtype: str) -> None:
    """FSDP2: each block is one all-gather unit, the root holds embeddings, final norm and head.
    With bf16, parameters are gathered and computed in bf16 and gradients reduced in fp32."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
        if dtype == "bfloat16" else MixedPrecisionPolicy()
    layers = model.model.layers
    for i, block in enumerate(layers):
        # The last block's parameters are needed again at once by backward: keep them gathered.
        fully_shard(block, mesh=mesh, mp_policy=mp, reshard_after_forward=i < len(layers) - 1)
    fully_shard(model, mesh=mesh, mp_policy=mp)


def build_sharded_model(model_cfg, device, dtype: str, compile: bool):
    """An FSDP2 model whose weights equal Llama(model_cfg) built under the current seed, without
    a whole copy per rank: rank 0 builds it on CPU, every rank builds an empty (meta) one,
    shards it, allocates its shard and receives its part of rank 0's weights."""
    from .model import Llama

    full = Llama(model_cfg).state_dict() if dist.get_rank() == 0 else {}
    with torch.device("meta"):
        model = Llama(model_cfg)
    if compile:
        compile_blocks(model)
    shard_model(model, device, dtype)
    model.to_empty(device=device)
    model.reset_rope()
    set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True))
    return model


def wrap_ddp(model, distributed: bool, device):
    """DDP for a model already on its device; a world of one needs no wrapper."""
    if not distributed:
        return model
    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def no_grad_sync(model, last_micro_step: bool):
    """DDP all-reduces gradients on the last micro-step only. FSDP2 reduce-scatters every
    micro-step (as torchtitan does): skipping it would keep unsharded gradients, the memory
    FSDP is there to save."""
    if isinstance(model, DDP) and not last_micro_step:
        return model.no_sync()
    return nullcontext()


def full_state(model, optimizer) -> tuple:
    """(model state, optimizer state), unsharded, on CPU. A collective under FSDP: every rank
    calls it; ranks other than 0 get empty dicts. Optimizer state is keyed by parameter name."""
    return (get_model_state_dict(model, options=FULL),
            get_optimizer_state_dict(model, optimizer, options=FULL))


def load_full_state(model, optimizer, model_state: dict, optim_state: dict | None, *,
                    broadcast: bool = False) -> None:
    """Load full state dicts; FSDP keeps each rank's shard of them. broadcast: only rank 0
    holds them (the others pass empty dicts) and sends them to every rank."""
    options = StateDictOptions(full_state_dict=True, broadcast_from_rank0=broadcast)
    set_model_state_dict(model, model_state, options=options)
    if optimizer is not None and optim_state is not None:
        set_optimizer_state_dict(model, optimizer, optim_state, options=options)
