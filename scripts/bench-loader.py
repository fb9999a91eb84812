#!/usr/bin/env python3
"""The trainer's data loader alone: samples/s from local MDS shards (FIM already applied by the
shard stage) against the rate a model needs at a given MFU on a given GPU.

    .venv/bin/python scripts/bench-loader.py --shards DIR                         # train/ + val/ MDS
    .venv/bin/python scripts/bench-loader.py --tokenizer DIR_OR_JSON [--input PARQUET ...]
                                     (shards the input first, with FIM, into a temporary folder)
    options: --config configs/gpu-1b.json --device-name "NVIDIA H200" --mfu 0.45 --batches 200

The loader is kiln_trainer.data.TrainLoader exactly as train.py drives it (the seeded epoch
permutation, random access into memory-mapped shards, decoding, the range check, stacking into
the x/y batch; with --device cuda also pinned memory and the copy to the device). Needed rate:
tokens/s = mfu x the device's datasheet dense bf16 peak / FLOPs per token of the config's model,
in samples of seqLen. The loader runs in the training process between steps, so its time per
micro-batch is also printed as a share of the step time at that rate.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--shards", help="an MDS dataset folder with train/ (the shard stage's output)")
    src.add_argument("--tokenizer", help="tokenizer.json or its folder: shard --input first (FIM rate 0.5)")
    p.add_argument("--input", nargs="+", default=[str(ROOT.parent / "shared" / "data" / "stack-sample" / "data")],
                   help="Parquet files or folders for --tokenizer")
    p.add_argument("--config", default=str(ROOT / "configs" / "gpu-1b.json"),
                   help="pipeline config: model (FLOPs per token), shard.seqLen, train.microBatchSize")
    p.add_argument("--device-name", default="NVIDIA H200", help="GPU whose datasheet peak sets the needed rate")
    p.add_argument("--mfu", type=float, default=0.45, help="MFU the needed rate assumes")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where batches are delivered")
    p.add_argument("--micro-batch", type=int, help="default: the config's train.microBatchSize")
    p.add_argument("--batches", type=int, default=200, help="micro-batches timed (after 10 untimed)")
    p.add_argument("--repeats", type=int, default=3, help="timed passes; the median is reported")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line last")
    return p.parse_args(argv)


def needed_rate(config: dict, device_name: str, mfu: float) -> dict:
    import torch

    from kiln_trainer import flops
    from kiln_trainer.config import parse_config
    from kiln_trainer.model import Llama

    seq_len = config.get("shard", {}).get("seqLen", 2048)
    cfg = parse_config({"vocabSize": config.get("tokenizer", {}).get("vocabSize", 32768), "seqLen": seq_len,
                        "model": config.get("model", {}), "eosTokenId": 0})
    with torch.device("meta"):
        model = Llama(cfg.model)
    peak = flops.peak_flops(device_name)
    if peak is None:
        raise SystemExit(f"no datasheet peak for {device_name!r} (kiln_trainer.flops); set KILN_PEAK_FLOPS")
    per_token = model.flops_per_token(seq_len - 1)
    tokens_per_s = mfu * peak / per_token
    return {"device": device_name, "peak_flops": peak, "mfu": mfu, "params": model.num_params(),
            "flops_per_token": per_token, "tokens_per_s": tokens_per_s, "samples_per_s": tokens_per_s / (seq_len - 1),
            "seq_len": seq_len}


def make_shards(tokenizer: str, inputs: list, seq_len: int, out: Path) -> Path:
    from kiln_native import shard
    from kiln_trainer.events import Events

    tok = str(Path(tokenizer) / "tokenizer.json") if Path(tokenizer).is_dir() else tokenizer
    files = sorted(str(f) for p in map(Path, inputs) for f in (p.rglob("*.parquet") if p.is_dir() else [p]))
    if not files:
        raise SystemExit(f"no Parquet files under {inputs}")
    with open(os.devnull, "w") as null:
        stats = shard.shard(files, tok, out, seq_len, 0.01, 0.5, 0, 1 << 26, Events(null), fim_spm_rate=0.5,
                            jobs=len(os.sched_getaffinity(0)))
    print(f"sharded {stats['docs']} documents into {stats['train_samples']} train samples of {seq_len} tokens "
          f"(FIM rate 0.5)", file=sys.stderr)
    return out


def measure(data_dir: Path, seq_len: int, vocab: int, micro_batch: int, batches: int, repeats: int, device_type: str):
    import torch

    from kiln_trainer.data import TrainLoader, open_split

    device = torch.device(device_type)
    dataset = open_split(str(data_dir), "train", seq_len, vocab, required=True)
    loader = TrainLoader(dataset, 1234, micro_batch, 0, 1, device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(10):
        loader.next_batch()
    passes = []
    for _ in range(repeats):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(batches):
            x, y = loader.next_batch()
        sync()
        passes.append((time.perf_counter() - t0, time.process_time() - c0))
    seconds = statistics.median(p[0] for p in passes)
    cpu = statistics.median(p[1] for p in passes)
    samples = batches * micro_batch
    return {"samples": len(dataset), "micro_batch": micro_batch, "batches": batches, "seconds": seconds,
            "cpu_seconds": cpu, "samples_per_s": samples / seconds, "samples_per_cpu_s": samples / cpu,
            "ms_per_micro_batch": 1000 * seconds / batches}


def main(argv=None) -> int:
    args = parse_args(argv)
    config = json.loads(Path(args.config).read_text())
    need = needed_rate(config, args.device_name, args.mfu)
    micro_batch = args.micro_batch or config.get("train", {}).get("microBatchSize", 8)
    vocab = config.get("tokenizer", {}).get("vocabSize", 32768)
    with tempfile.TemporaryDirectory(prefix="kiln-bench-loader-") as tmp:
        data_dir = Path(args.shards) if args.shards else make_shards(args.tokenizer, args.input, need["seq_len"], Path(tmp))
        got = measure(data_dir, need["seq_len"], vocab, micro_batch, args.batches, args.repeats, args.device)
    step_ms = 1000 * micro_batch / need["samples_per_s"]  # one micro-batch's compute at the needed rate
    headroom = got["samples_per_s"] / need["samples_per_s"]
    print(f"model {need['params'] / 1e6:.0f}M parameters, {need['flops_per_token'] / 1e9:.2f} GFLOP/token; "
          f"{need['device']} peak {need['peak_flops'] / 1e12:.0f} TFLOP/s dense bf16 (datasheet) at {100 * args.mfu:.0f}% MFU "
          f"needs {need['tokens_per_s']:,.0f} tokens/s = {need['samples_per_s']:.1f} samples/s of {need['seq_len']} tokens")
    print(f"loader ({args.device}): {got['samples_per_s']:,.0f} samples/s ({got['samples_per_cpu_s']:,.0f} per CPU-s), "
          f"{got['ms_per_micro_batch']:.2f} ms per micro-batch of {micro_batch}, over {got['samples']} train samples")
    print(f"headroom {headroom:,.1f}x the needed rate; the loader takes {100 * got['ms_per_micro_batch'] / step_ms:.2f}% "
          f"of a {step_ms:.0f} ms micro-batch step ({'keeps up' if headroom >= 1 else 'DOES NOT keep up'})")
    if args.json:
        print(json.dumps({"needed": need, "loader": got, "headroom": headroom}))
    return 0 if headroom >= 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
