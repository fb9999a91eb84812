"""Checkpoints, torchtitan-style: everything an exact resume needs.

    OUT_DIR/checkpoints/step_00000040/
        model.safetensors   weights under Hugging Face LlamaForCausalLM names (export copies it)
        optimizer.pt        torch.save({"optimizer", "scheduler", "rng"}); loads with weights_only
        train_state.json    {"step", "tokens_seen", "loss", "data": {"epoch", "index"}, "seed", "world_size"}
        config.json         the resolved trainer config, in the --config format

A step_* directory exists only once complete: it is written as step_*.tmp, then renamed.
Only the newest KEEP checkpoints are kept. RNG states are rank 0's; kiln draws no random
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

KEEP = 2
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


def save_checkpoint(out_dir, step, model, optimizer, scheduler, train_state: dict, config: dict) -> str:
    """Write step_{step:08d}/ atomically, prune old ones, return its absolute path."""
    final = checkpoint_dir(out_dir, step)
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed mid-write
    os.makedirs(tmp)
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(weights, os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": rng_state()}, os.path.join(tmp, "optimizer.pt"))
    _write_json(os.path.join(tmp, "train_state.json"), train_state)
    _write_json(os.path.join(tmp, "config.json"), config)
    for name in os.listdir(tmp):  # on disk before the rename makes the checkpoint visible
        with open(os.path.join(tmp, name), "rb") as f:
            os.fsync(f.fileno())
    if os.path.exists(final):  # same step written by an earlier attempt: replace it
        shutil.rmtree(final)
    os.rename(tmp, final)
    for old in list_checkpoints(out_dir)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str, model, optimizer=None, scheduler=None) -> dict:
    """Restore weights (and optimizer, scheduler, rng when given); return train_state."""
    try:
        with open(os.path.join(path, "train_state.json")) as f:
            train_state = json.load(f)
        model.load_state_dict(load_file(os.path.join(path, "model.safetensors")))
        if optimizer is not None:
            extra = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=True)
            optimizer.load_state_dict(extra["optimizer"])
            scheduler.load_state_dict(extra["scheduler"])
            set_rng_state(extra["rng"])
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise FatalError(f"cannot resume from checkpoint {path}: {e}") from None
    return train_state
