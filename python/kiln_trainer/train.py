"""kiln's training loop, nanoGPT-style: it reads top to bottom.

    python -m kiln_trainer.train --config CFG.json --data DATA_DIR --out OUT_DIR \\
        [--resume CKPT_DIR|auto] [--max-steps-this-run N]
    torchrun --nnodes=N --nproc-per-node=P --node-rank=R --master-addr=A --master-port=PORT \\
        -m kiln_trainer.train ...        (static rendezvous; plain `python -m` means world size 1)

stdout carries JSON-lines events from global rank 0 only (events.py); logs go to stderr.
train.tracking also sends rank 0's curves to W&B and/or TensorBoard (tracking.py).
train.parallelism picks DDP or FSDP2 (parallel.py); train.compile compiles each block.
SIGTERM/SIGINT: every rank stops at the same step boundary, rank 0 checkpoints, exit 75.
Exit codes: 0 done, 75 stopped on request after a checkpoint, 2 fatal (config, data,
diverged loss, a loss spike with train.lossSpikeStop). Anything else (a lost peer, a crash)
is worth a retry from the last checkpoint.
On CPU each rank uses cores / local ranks threads; KILN_CPU_THREADS overrides that.
"""

import argparse
import ctypes
import json
import math
import os
import random
import resource
import signal
import sys
import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.elastic.multiprocessing.errors import record

from . import flops
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainerConfig, load_config
from .data import TrainLoader, open_split, val_batches
from .events import EXIT_FATAL, EXIT_OK, EXIT_STOPPED, Events, FatalError, log
from .model import Llama
from .parallel import build_sharded_model, compile_blocks, full_state, no_grad_sync, wrap_ddp
from .provenance import batch_sources
from .spike import LossSpikeDetector
from .tracking import open_tracking

DIST_TIMEOUT = timedelta(seconds=120)  # a lost peer turns into an error instead of a hang
PROVENANCE_LIMIT = 1024  # samples whose source files a loss-spike event lists
PR_SET_PDEATHSIG = 1
_PARENT_PID = os.getppid()  # taken at import, as early as we can, to close the prctl race


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m kiln_trainer.train", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="trainer config JSON (see config.py)")
    p.add_argument("--data", required=True, help="MDS dataset directory with train/ and val/")
    p.add_argument("--out", required=True, help="output directory; checkpoints go to OUT/checkpoints/")
    p.add_argument("--resume", help="checkpoint directory to resume from, or 'auto' for the newest "
                                    "complete one under OUT/checkpoints (fresh start when none)")
    p.add_argument("--max-steps-this-run", type=int, help="stop (checkpoint, exit 75) after N steps")
    return p.parse_args(argv)


def die_with_parent() -> None:
    """If torchrun (or the activity) is SIGKILLed, its trainer must not live on as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != _PARENT_PID or os.getppid() == 1:  # parent died before prctl took effect
        os._exit(1)


class StopFlag:
    """SIGTERM/SIGINT only set a flag; the loop stops at the next step boundary, on all ranks.
    Installed when the loop starts: before that there is nothing to save, and the default
    action ends a trainer at once, even one blocked in a rendezvous."""

    def __init__(self):
        self.reason = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.reason = "sigint" if signum == signal.SIGINT else "sigterm"
        log(f"received {signal.Signals(signum).name}: stopping at the next step boundary")


@dataclass
class Dist:
    rank: int = 0
    local_rank: int = 0
    world: int = 1
    local_world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1 or dist.is_initialized()


def pick_device(cfg: TrainerConfig, local_rank: int):
    want = cfg.train.device
    if want == "cuda" and not torch.cuda.is_available():
        raise FatalError("train.device is cuda but no CUDA device is available")
    device = torch.device("cuda", local_rank) if want != "cpu" and torch.cuda.is_available() else torch.device("cpu")
    dtype = cfg.train.dtype
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" else "float32"
    return device, dtype


def setup_distributed(device) -> Dist:
    """torchrun sets RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE; without them we run alone."""
    if "RANK" not in os.environ:
        return Dist()
    d = Dist(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]),
             int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", timeout=DIST_TIMEOUT, device_id=device)
    else:
        dist.init_process_group("gloo", timeout=DIST_TIMEOUT)
    return d


def cpu_threads(local_world: int) -> int:
    """This host's cores shared among its ranks. KILN_CPU_THREADS overrides: several torchrun
    "nodes" on one host each see local world 1, and oversubscribed cores slow tiny models 20x."""
    if os.environ.get("KILN_CPU_THREADS"):
        return max(1, int(os.environ["KILN_CPU_THREADS"]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores // local_world)


def check_same_start(step: int, d: Dist) -> None:
    """Every node must resume from the same step (only rank 0 writes checkpoints, so
    `--resume auto` on another node finds none unless the launcher copied it there)."""
    steps = [None] * d.world
    dist.all_gather_object(steps, step)
    if len(set(steps)) > 1:
        raise FatalError(f"ranks start from different steps {steps}: give every node the same "
                         "--resume checkpoint")


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based): linear warmup, cosine to 1/10."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model, cfg: TrainerConfig, device):
    # Decay matrices (linear weights, embeddings), not the RMSNorm gains.
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.train.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=cfg.train.lr, betas=(0.9, 0.95), eps=1e-8,
                                  fused=device.type == "cuda")
    t = cfg.train
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, t.warmup_steps, t.steps))
    return optimizer, scheduler


@torch.no_grad()
def evaluate(model, val, cfg, d: Dist, device, autocast) -> float:
    """Mean token loss over the fixed validation set, summed across ranks."""
    model.eval()
    total = torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in val_batches(val, cfg.train.micro_batch_size, d.rank, d.world, device):
        with autocast:
            _, loss = model(x, y)
        total[0] += loss.double() * y.numel()
        total[1] += y.numel()
    if d.enabled:
        dist.all_reduce(total)
    model.train()
    return (total[0] / total[1]).item()


def resume_step(path: str) -> int:
    try:
        with open(os.path.join(path, "train_state.json")) as f:
            return int(json.load(f)["step"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FatalError(f"cannot resume from checkpoint {path}: {e}") from None


def memory_bytes(device) -> int:
    """Peak memory of this rank: CUDA max allocated, or the process's peak RSS on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def batch_provenance(data_dir: str, ids: list):
    """Source files of the given train samples (kiln_trainer.provenance), or None when they are
    not available: a spike report must never stop training by itself."""
    try:
        return batch_sources(data_dir, "train", ids[:PROVENANCE_LIMIT])
    except Exception as e:  # missing provenance files, an older dataset: report without it
        log(f"no provenance for the loss-spike batch: {e}")
        return None


def report_spike(spike, recent_ids, data_dir: str, t, events: Events | None) -> None:
    """The loss_spike event (rank 0) with the outlier steps' global sample ids and their
    sources; with train.lossSpikeStop, every rank then stops with a fatal error."""
    if events is not None:
        batches = [{"step": s, "samples": ids} for s, ids in recent_ids if s in spike.outlier_steps]
        events.emit("loss_spike", step=spike.step, loss=spike.loss, running_mean=spike.running_mean,
                    factor=t.loss_spike_factor, window=t.loss_spike_window, outlier_steps=spike.outlier_steps,
                    batches=batches, provenance=batch_provenance(data_dir, [i for b in batches for i in b["samples"]]),
                    stopping=t.loss_spike_stop)
    if t.loss_spike_stop:
        raise FatalError(f"loss spike at step {spike.step}: loss {spike.loss:.4g} >= {t.loss_spike_factor} x the "
                         f"running mean {spike.running_mean:.4g} for {len(spike.outlier_steps)} steps "
                         "(train.lossSpikeStop; lower train.lr or inspect the loss_spike event's batches)")


def train(args, cfg: TrainerConfig, d: Dist, device, dtype: str, events: Events) -> int:
    t = cfg.train
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(d.local_world))
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    # FSDP's mixed-precision policy computes in bf16 already; DDP uses autocast.
    fsdp = t.parallelism == "fsdp" and d.enabled
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bfloat16" and not fsdp else nullcontext()

    # data
    train_set = open_split(args.data, "train", cfg.seq_len, cfg.vocab_size, required=True)
    val_set = open_split(args.data, "val", cfg.seq_len, cfg.vocab_size, required=False)
    if val_set is None or len(val_set) == 0:
        log(f"no validation samples under {args.data}/val: eval events are skipped")
        val_set = None
    loader = TrainLoader(train_set, cfg.seed, t.micro_batch_size, d.rank, d.world, device)
    tokens_per_step = d.world * t.micro_batch_size * t.grad_accum * (cfg.seq_len - 1)

    # model: the same initial weights on every rank and under either parallelism
    if fsdp:
        raw_model = model = build_sharded_model(cfg.model, device, dtype, t.compile)
    else:
        raw_model = Llama(cfg.model).to(device)
        if t.compile:
            compile_blocks(raw_model)
        model = wrap_ddp(raw_model, d.enabled, device)
    raw_model.activation_checkpointing = t.activation_checkpointing
    params = raw_model.num_params()  # DTensors count their global size
    peak = flops.peak_flops(flops.device_name(device)) if device.type == "cuda" else None
    optimizer, scheduler = build_optimizer(raw_model, cfg, device)

    # resume: every rank agrees on the step before the (collective) load
    step, tokens_seen, last_loss = 0, 0, None
    resume = latest_checkpoint(args.out) if args.resume == "auto" else args.resume
    if resume:
        resume = os.path.abspath(resume)
    if d.enabled:
        check_same_start(resume_step(resume) if resume else 0, d)
    if resume:
        state = load_checkpoint(resume, raw_model, optimizer, scheduler, broadcast=d.enabled)
        step, tokens_seen, last_loss = state["step"], state["tokens_seen"], state.get("loss")
        loader.load_state_dict(state["data"])
        log(f"resumed from {resume} at step {step}")

    events.emit("start", step=step, world_size=d.world, device=device.type, dtype=dtype,
                params=params, resumed_from=resume, parallelism=t.parallelism if d.enabled else "none",
                compile=t.compile, device_name=flops.device_name(device), peak_flops=peak)
    if step >= t.steps:  # resumed from the final checkpoint: nothing left to do
        events.emit("done", step=step, final_loss=last_loss, checkpoint=resume)
        return EXIT_OK

    def checkpoint() -> str | None:
        t_save = time.perf_counter()
        # Tells the launcher's stall watchdog that a long silence (a multi-GB write) is expected.
        events.emit("checkpoint_start", step=step)
        model_state, optim_state = full_state(raw_model, optimizer)  # a collective under FSDP
        path = None
        if d.rank == 0:
            train_state = {"step": step, "tokens_seen": tokens_seen, "loss": last_loss,
                           "data": loader.state_dict(), "seed": cfg.seed, "world_size": d.world,
                           "parallelism": t.parallelism}
            path = save_checkpoint(args.out, step, raw_model, optimizer, scheduler, train_state, cfg.to_json(),
                                   keep=t.keep_checkpoints, model_state=model_state, optim_state=optim_state)
            events.emit("checkpoint", step=step, path=path, seconds=time.perf_counter() - t_save)
        del model_state, optim_state
        if d.enabled:
            dist.barrier()  # nobody moves on (or exits) before the checkpoint is complete
        return path

    spikes = LossSpikeDetector(t.loss_spike_window, t.loss_spike_factor, t.loss_spike_patience)
    recent_ids = deque(maxlen=t.loss_spike_patience + 1)  # (step, global sample ids), rank 0
    start_step = step
    stop = StopFlag()
    model.train()
    while True:
        t0 = time.perf_counter()
        lr = scheduler.get_last_lr()[0]
        loss_sum = torch.zeros((), device=device)
        step_ids = []
        for micro in range(t.grad_accum):
            x, y = loader.next_batch()
            if d.rank == 0:
                step_ids.append(loader.last_global_ids())
            # DDP all-reduces gradients only on the last micro-step.
            with no_grad_sync(model, micro == t.grad_accum - 1):
                with autocast:
                    _, loss = model(x, y)
                loss = loss / t.grad_accum
                loss.backward()
            loss_sum += loss.detach()
        # The norm before clipping; max_norm inf measures without changing the gradients.
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip if t.grad_clip > 0 else math.inf)
        if hasattr(grad_norm, "full_tensor"):  # a DTensor under FSDP
            grad_norm = grad_norm.full_tensor()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += tokens_per_step

        # One collective per step: the mean loss, and whether any rank was asked to stop.
        stats = torch.stack([loss_sum, torch.tensor(float(stop.reason is not None), device=device)])
        if d.enabled:
            dist.all_reduce(stats)
        last_loss, stop_requested = stats[0].item() / d.world, stats[1].item() > 0
        if not math.isfinite(last_loss):
            raise FatalError(f"loss is {last_loss} at step {step}: training diverged (lower train.lr?)")
        tokens_per_s = tokens_per_step / (time.perf_counter() - t0)
        events.emit("step", step=step, loss=last_loss, lr=lr, grad_norm=grad_norm.item(),
                    tokens_per_s=tokens_per_s, mfu=raw_model.estimate_mfu(tokens_per_s / d.world, peak),
                    tokens_seen=tokens_seen, max_memory_bytes=memory_bytes(device))

        if d.rank == 0:
            recent_ids.append((step, np.concatenate(step_ids).tolist()))
        spike = spikes.update(step, last_loss)  # the same decision on every rank: same loss
        if spike is not None:
            report_spike(spike, recent_ids, args.data, t, events if d.rank == 0 else None)

        last = step >= t.steps
        run_limit = args.max_steps_this_run is not None and step - start_step >= args.max_steps_this_run
        if stop_requested and not last:  # prompt: torchrun SIGKILLs 30 s after SIGTERM
            path = checkpoint()
            events.emit("stopped", step=step, reason=stop.reason or "sigterm", checkpoint=path)
            return EXIT_STOPPED
        if val_set is not None and (step % t.eval_every == 0 or last):
            events.emit("eval", step=step, val_loss=evaluate(raw_model, val_set, cfg, d, device, autocast))
        if step % t.checkpoint_every == 0 or last or run_limit:
            path = checkpoint()
        if last:
            events.emit("done", step=step, final_loss=last_loss, checkpoint=path)
            return EXIT_OK
        if run_limit:
            events.emit("stopped", step=step, reason="max-steps", checkpoint=path)
            return EXIT_STOPPED


# @record: an uncaught error's traceback reaches torchrun's failure summary (the part of
# stderr a node's error message keeps), not only the scrolled-away stderr.
@record
def main(argv=None) -> int:
    args = parse_args(argv)
    # The protocol owns stdout: keep it for events, send every stray print to stderr.
    protocol = sys.stdout
    sys.stdout = sys.stderr
    die_with_parent()
    rank = int(os.environ.get("RANK", "0"))
    events = Events(protocol if rank == 0 else None)
    d = None
    tracking = None
    try:
        cfg = load_config(args.config)
        if args.max_steps_this_run is not None and args.max_steps_this_run < 1:
            raise FatalError(f"--max-steps-this-run must be >= 1, got {args.max_steps_this_run}")
        device, dtype = pick_device(cfg, int(os.environ.get("LOCAL_RANK", "0")))
        d = setup_distributed(device)
        log(f"rank {d.rank}/{d.world} on {device} ({dtype})")
        tracking = open_tracking(cfg, args.out) if d.rank == 0 else None  # W&B, TensorBoard
        if tracking is not None:
            events.observers.append(tracking.observe)
        return train(args, cfg, d, device, dtype, events)
    except FatalError as e:
        log(f"fatal: {e}")
        events.emit("error", message=str(e))
        return EXIT_FATAL
    finally:
        if tracking is not None:
            tracking.close()
        if dist.is_initialized():
            dist.destroy_process_group()
        sys.stdout = protocol


if __name__ == "__main__":
    sys.exit(main())
