"""Checkpoints, torchtitan-style: everything an exact resume needs.

    OUT_DIR/checkpoints/step_00000040/
        model.safetensors   full weights under Hugging Face LlamaForCausalLM names (export copies it)
        optimizer.pt        torch.save({"optimizer", "scheduler", "rng"}); loads with weights_only;
                            optimizer state keyed by parameter name (parallel.full_state)
        train_state.json    {"step", "tokens_seen", "loss", "data": {"epoch", "index"}, "seed",
                            "world_size", "parallelism"}
        config.json         the resolved trainer config, in the --config format
        _COMPLETE           the commit marker, written (and fsynced) last

The state is unsharded whatever the parallelism (parallel.py says why), so a checkpoint
resumes under DDP or FSDP and with any world size. A step_* directory exists only once
complete: it is written as step_*.tmp, marked, then renamed. Only the newest `keep` (the
config's train.keepCheckpoints) are kept. RNG states are rank 0's; kiln draws no random
numbers per rank (no dropout; the data order has its own seeded generator).
"""

import json
import os
import random
import re
import shutil

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from .events import FatalError
from .parallel import full_state, load_full_state

KEEP = 2
COMPLETE_MARKER = "_COMPLETE"  # the artifact store's marker too (activities/train/checkpoints.ts)
_NAME = re.compile(r"^step_(\d{8})$")


def checkpoint_dir(out_dir: str, step: int) -> str:
    return os.path.abspath(os.path.join(out_dir, "checkpoints", f"step_{step:08d}"))


def list_checkpoints(out_dir: str) -> list:
    """Complete checkpoint directories, oldest first."""
    root = os.path.join(out_dir, "checkpoints")
    names = sorted(n for n in os.listdir(root) if _NAME.match(n)) if os.path.isdir(root) else []
    return [os.path.abspath(os.path.join(root, n)) for n in names]


def latest_checkpoint(out_dir: str):
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def rng_state() -> dict:
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, key.tolist(), pos, has_gauss, gauss],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate((state["python"][0], tuple(state["python"][1]), state["python"][2]))
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.array(key, dtype=np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_json(path: str, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def save_checkpoint(out_dir, step, model, optimizer, scheduler, train_state: dict, config: dict, *,
                    keep: int = KEEP, model_state: dict | None = None, optim_state: dict | None = None) -> str:
    """Write step_{step:08d}/ atomically, prune to the newest `keep`, return its absolute path.
    Pass model_state/optim_state when they were gathered already (parallel.full_state, a
    collective under FSDP); otherwise they are taken from model and optimizer here."""
    if model_state is None:
        model_state, optim_state = full_state(model, optimizer)
    final = checkpoint_dir(out_dir, step)
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed mid-write
    os.makedirs(tmp)
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model_state.items()}
    save_file(weights, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    torch.save({"optimizer": optim_state, "scheduler": scheduler.state_dict(),
                "rng": rng_state()}, os.path.join(tmp, "optimizer.pt"))
    _write_json(os.path.join(tmp, "train_state.json"), train_state)
    _write_json(os.path.join(tmp, "config.json"), config)
    for name in os.listdir(tmp):  # on disk before the marker and the rename make it visible
        with open(os.path.join(tmp, name), "rb") as f:
            os.fsync(f.fileno())
    with open(os.path.join(tmp, COMPLETE_MARKER), "w") as f:
        f.write(json.dumps({"step": step}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    if os.path.exists(final):  # same step written by an earlier attempt: replace it
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(os.path.dirname(final))
    for old in list_checkpoints(out_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself survives a power cut
    finally:
        os.close(fd)


def load_checkpoint(path: str, model, optimizer=None, scheduler=None, *, broadcast: bool = False) -> dict:
    """Restore weights (and optimizer, scheduler, rng when given); return train_state.
    broadcast: a collective where only rank 0 reads the tensors and sends them to the others
    (one copy of the full state in CPU memory per host instead of one per rank)."""
    import torch.distributed as dist
    try:
        with open(os.path.join(path, "train_state.json")) as f:
            train_state = json.load(f)
        reader = not broadcast or dist.get_rank() == 0
        model_state = load_file(os.path.join(path, "model.safetensors")) if reader else {}
        extra = None
        if optimizer is not None:
            # mmap: ranks that only need the scheduler and RNG state do not read the tensors.
            extra = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=True, mmap=True)
        load_full_state(model, optimizer, model_state, (extra["optimizer"] if reader else {}) if extra else None,
                        broadcast=broadcast)
        if extra is not None:
            scheduler.load_state_dict(extra["scheduler"])
            set_rng_state(extra["rng"])
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise FatalError(f"cannot resume from checkpoint {path}: {e}") from None
    return train_state
