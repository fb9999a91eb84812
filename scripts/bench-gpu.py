#!/usr/bin/env python3
"""GPU training-throughput benchmark: tokens/s and MFU of kiln's model on ONE device.

    .venv/bin/python scripts/bench-gpu.py                       # ~125M model (configs/gpu-125m.json), CUDA
    .venv/bin/python scripts/bench-gpu.py --batch-sizes 8,16,32 --compile both --steps 20
    .venv/bin/python scripts/bench-gpu.py --config configs/gpu-1b.json --batch-sizes 4,8 --ac both
    .venv/bin/python scripts/bench-gpu.py --device cpu --tiny   # smoke test of the script itself

Each configuration (compile off/on x activation checkpointing off/on x micro-batch size) trains the model for --warmup steps
(compilation, allocator warm-up) and then times --steps steps exactly as kiln_trainer.train
runs them: bf16 autocast, fused SDPA attention, fused AdamW, gradient clipping. Data are
SYNTHETIC (uniform random token ids generated on the device), so the figures measure the
model and the step, not the data loader. MFU = tokens/s x FLOPs per token (6N + attention,
kiln_trainer.flops) / the device's dense bf16 peak, looked up by its name.
Anchors: llm-foundry MPT-1B 41.8% MFU on H100; torchtitan Llama-3 8B 57% on A100. Goal: >= 45%.
Prints one JSON line per configuration, then a table. When the best MFU misses the goal (or with
--profile), the best configuration is run again under torch.profiler and its top kernels by
device time are printed (a `profile` JSON line and a table): where the step's time goes.
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402

from kiln_trainer import flops  # noqa: E402
from kiln_trainer.config import parse_config  # noqa: E402
from kiln_trainer.model import Llama  # noqa: E402
from kiln_trainer.parallel import compile_blocks  # noqa: E402
from kiln_trainer.train import build_optimizer  # noqa: E402

TINY = {"vocabSize": 512, "seqLen": 129, "model": {"nLayer": 2, "nHead": 4, "dModel": 64}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "gpu-125m.json"),
                   help="pipeline config whose model, tokenizer.vocabSize and shard.seqLen are benchmarked")
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    p.add_argument("--tiny", action="store_true", help="a 2-layer model and short sequences (smoke test)")
    p.add_argument("--batch-sizes", default=None, help="comma-separated micro-batch sizes (default 8,16,32; tiny: 2,4)")
    p.add_argument("--compile", default=None, choices=("off", "on", "both"), help="default both (tiny: off)")
    p.add_argument("--seq-len", type=int, help="override the config's seqLen (tokens per sample)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default 20; tiny: 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5; tiny: 1)")
    p.add_argument("--dtype", default=None, choices=("bfloat16", "float32"),
                   help="default bfloat16 on CUDA, float32 on CPU")
    p.add_argument("--ac", default="off", choices=("off", "on", "both"),
                   help="activation checkpointing (recompute each block in backward); default off")
    p.add_argument("--goal", type=float, default=0.45, help="MFU goal; below it the best configuration is profiled")
    p.add_argument("--profile", action="store_true", help="profile the best configuration even when the goal is met")
    p.add_argument("--top-kernels", type=int, default=15, help="kernels listed by the profile")
    return p.parse_args(argv)


def trainer_config(args):
    if args.tiny:
        obj = dict(TINY)
    else:
        with open(args.config) as f:
            pipeline = json.load(f)
        obj = {"vocabSize": pipeline.get("tokenizer", {}).get("vocabSize", 32768),
               "seqLen": pipeline.get("shard", {}).get("seqLen", 2048), "model": pipeline.get("model", {})}
    if args.seq_len:
        obj["seqLen"] = args.seq_len
    return parse_config({**obj, "eosTokenId": 0, "seed": 1234, "train": {"lr": 3e-4, "warmupSteps": 0}})


def build_step(cfg, device, dtype, batch, compiled, ac):
    torch.manual_seed(0)
    model = Llama(cfg.model).to(device)
    model.activation_checkpointing = ac
    if compiled:
        compile_blocks(model)
    optimizer, _ = build_optimizer(model, cfg, device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bfloat16" else torch.autocast(
        device.type, enabled=False)
    T = cfg.seq_len - 1
    x = torch.randint(0, cfg.vocab_size, (batch, T), device=device)
    y = torch.randint(0, cfg.vocab_size, (batch, T), device=device)

    def step():
        with autocast:
            _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return model, T, step


def run_one(cfg, device, dtype, batch, compiled, ac, steps, warmup, peak):
    model, T, step = build_step(cfg, device, dtype, batch, compiled, ac)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    sync()
    seconds = time.perf_counter() - t0
    tokens_per_s = batch * T * steps / seconds
    return {"micro_batch": batch, "seq_len": T, "compile": compiled, "ac": ac, "tokens_per_s": tokens_per_s,
            "step_ms": 1000 * seconds / steps, "warmup_s": warm_s, "loss": loss.item(),
            "mfu": model.estimate_mfu(tokens_per_s, peak, T),
            "max_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


def profile_best(cfg, device, dtype, best, top):
    """Top kernels by device time over a few steps of the best configuration (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile

    model, T, step = build_step(cfg, device, dtype, best["micro_batch"], best["compile"], best["ac"])
    for _ in range(3):  # compile and warm up outside the trace
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(3):
            step()
        sync()
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, key, 0) > 0]
    events.sort(key=lambda e: getattr(e, key), reverse=True)
    total = sum(getattr(e, key) for e in events) or 1
    kernels = [{"name": e.key[:120], "share": getattr(e, key) / total, "ms_per_step": getattr(e, key) / 1000 / 3,
                "calls_per_step": e.count / 3} for e in events[:top]]
    del model
    return kernels


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: run with --device cpu --tiny for a smoke test", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    dtype = args.dtype or ("bfloat16" if device.type == "cuda" else "float32")
    batches = [int(b) for b in (args.batch_sizes or ("2,4" if args.tiny else "8,16,32")).split(",")]
    compile_modes = {"off": [False], "on": [True], "both": [False, True]}[args.compile or ("off" if args.tiny else "both")]
    ac_modes = {"off": [False], "on": [True], "both": [False, True]}[args.ac]
    steps = args.steps or (3 if args.tiny else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    cfg = trainer_config(args)
    name = flops.device_name(device)
    peak = flops.peak_flops(name) if device.type == "cuda" else None
    with torch.device("meta"):  # sizes only, no memory
        shape = Llama(cfg.model)
    params = shape.num_params()
    print(json.dumps({"event": "bench", "device": name, "peak_flops": peak,
                      "peak_source": "datasheet dense bf16 tensor-core FLOP/s (kiln_trainer.flops)" if peak else None,
                      "dtype": dtype, "params": params,
                      "flops_per_token": shape.flops_per_token(cfg.seq_len - 1), "torch": torch.__version__,
                      "data": "synthetic"}), flush=True)

    rows = []
    for compiled in compile_modes:
        for ac in ac_modes:
            for batch in batches:
                try:
                    row = run_one(cfg, device, dtype, batch, compiled, ac, steps, warmup, peak)
                except torch.OutOfMemoryError:
                    row = {"micro_batch": batch, "compile": compiled, "ac": ac, "error": "out of memory"}
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                torch._dynamo.reset()  # each configuration compiles afresh
                rows.append(row)
                print(json.dumps({"event": "result", **row}), flush=True)

    peak_text = f"peak {peak / 1e12:.0f} TFLOP/s dense bf16 (datasheet)" if peak else "no peak: MFU n/a"
    print(f"\n{name}, {peak_text}, {params / 1e6:.1f}M parameters, {dtype}, seq {cfg.seq_len - 1}, synthetic data, "
          f"{steps} timed steps after {warmup} warm-up", file=sys.stderr)
    print(f"{'compile':>7} {'AC':>5} {'batch':>5} {'tokens/s':>12} {'step ms':>9} {'MFU':>7} {'mem GiB':>8}", file=sys.stderr)
    for r in rows:
        if "error" in r:
            print(f"{str(r['compile']):>7} {str(r['ac']):>5} {r['micro_batch']:>5} {r['error']:>12}", file=sys.stderr)
            continue
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a"
        mem = f"{r['max_memory_gib']:.1f}" if r["max_memory_gib"] is not None else "n/a"
        print(f"{str(r['compile']):>7} {str(r['ac']):>5} {r['micro_batch']:>5} {r['tokens_per_s']:>12,.0f} "
              f"{r['step_ms']:>9.1f} {mfu:>7} {mem:>8}", file=sys.stderr)
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return 1
    best = max(ok, key=lambda r: (r["mfu"] or 0, r["tokens_per_s"]))
    if best["mfu"] is not None:
        verdict = "met" if best["mfu"] >= args.goal else "NOT met"
        print(f"best MFU {100 * best['mfu']:.1f}% (micro-batch {best['micro_batch']}, compile {best['compile']}, "
              f"AC {best['ac']}); goal {100 * args.goal:.0f}% {verdict} "
              f"(anchors: llm-foundry MPT-1B 41.8% on H100, torchtitan Llama-3 8B 57% on A100)", file=sys.stderr)
    if args.profile or (best["mfu"] is not None and best["mfu"] < args.goal):
        kernels = profile_best(cfg, device, dtype, best, args.top_kernels)
        print(json.dumps({"event": "profile", "config": {k: best[k] for k in ("micro_batch", "compile", "ac")},
                          "kernels": kernels}), flush=True)
        print(f"\ntop {len(kernels)} kernels by {'device' if device.type == 'cuda' else 'CPU'} time, best configuration:",
              file=sys.stderr)
        for k in kernels:
            print(f"{100 * k['share']:>6.1f}% {k['ms_per_step']:>9.2f} ms/step {k['calls_per_step']:>7.0f} calls  {k['name']}",
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
