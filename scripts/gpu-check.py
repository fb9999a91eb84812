#!/usr/bin/env python3
"""Every GPU figure that issue "Speed at the limit" asks for, in one prepared run, so that minutes
of a lent GPU go to measuring. Each step is a subprocess with its own time limit; its log and a
summary land in --out (one JSON file, summary.json, plus step logs).

    .venv/bin/python scripts/gpu-check.py --prepare .kiln/gpu-check [--input PARQUET ...]   # here, on CPU
    python3 scripts/gpu-check.py --out DIR --shards .kiln/gpu-check/shards --tokenizer .kiln/gpu-check/tokenizer
    .venv/bin/python scripts/gpu-check.py --smoke --out DIR                       # CPU, tiny: tests the script

--prepare trains a 32k tokenizer and shards (seq 2048, FIM 0.5) from the input (default: the shared
stack sample), keeping at most --max-mib of shards so that the folder travels to a GPU machine.

Steps (--only / --skip take their names):
  bench-125m  scripts/bench-gpu.py on configs/gpu-125m.json: compile off/on, micro-batch sweep
  bench-1b    scripts/bench-gpu.py on configs/gpu-1b.json: compiled, activation checkpointing off/on;
              profiled (top kernels) when it misses the 45% MFU goal
  train       kiln_trainer.train through torchrun on real MDS shards, 125M config: the loss goes
              down, and its step events' MFU is compared with bench-125m's at the same settings
  resume      the same run again, SIGTERM to torchrun mid-way (checkpoint, exit 75), resumed with
              --resume auto: the losses after the resume compared with the uninterrupted run's
  fsdp        the trainer with train.parallelism=fsdp (FSDP2) on the one device
  generate    the train step's checkpoint exported (kiln_native.export) and the eval's batched
              generation beside transformers' generate (scripts/bench/eval_generate.py)
  loader      scripts/bench-loader.py on the same shards: samples/s against the 1B model's need
--smoke swaps every model for a 2-layer one on the CPU, with shards and a tokenizer made on the spot.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
STEPS = ("bench-125m", "bench-1b", "train", "resume", "fsdp", "generate", "loader")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", help="folder for summary.json and the step logs")
    p.add_argument("--prepare", metavar="DIR", help="make DIR/tokenizer and DIR/shards here (CPU), then stop")
    p.add_argument("--input", nargs="+", default=[str(ROOT.parent / "shared" / "data" / "stack-sample" / "data")],
                   help="Parquet files or folders for --prepare")
    p.add_argument("--max-mib", type=float, default=40, help="--prepare: shard bytes at most (files are dropped)")
    p.add_argument("--shards", help="MDS dataset (train/, val/) made by the shard stage; required unless --smoke")
    p.add_argument("--tokenizer", help="tokenizer folder the shards were made with; required unless --smoke")
    p.add_argument("--smoke", action="store_true", help="CPU, tiny models, data made here: tests this script")
    p.add_argument("--only", help="comma-separated steps to run")
    p.add_argument("--skip", default="", help="comma-separated steps to leave out")
    p.add_argument("--train-steps", type=int, default=200, help="steps of the train/resume runs (125M)")
    p.add_argument("--python", default=sys.executable, help="interpreter that has torch (CUDA) for the steps")
    return p.parse_args(argv)


class Run:
    def __init__(self, args):
        self.args, self.out = args, Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.summary = {"smoke": args.smoke, "steps": {}}
        self.env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1")
        if args.smoke:
            self.env.update(KILN_CPU_THREADS="1", CUDA_VISIBLE_DEVICES="")

    def save(self):
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1))

    def step(self, name, fn):
        t0 = time.perf_counter()
        print(f"==> {name}", flush=True)
        try:
            result = fn()
            status = "ok"
        except Exception as e:  # noqa: BLE001 - one failed step must not cost the others their figures
            result, status = {"error": f"{type(e).__name__}: {e}"}, "failed"
        result = {"status": status, "seconds": round(time.perf_counter() - t0, 1), **(result or {})}
        self.summary["steps"][name] = result
        self.save()
        print(f"    {name}: {json.dumps(result)[:600]}", flush=True)
        return result

    def sh(self, name, argv, timeout, env=None):
        """Runs argv with its output in <out>/<name>.log; returns the stdout lines."""
        log = self.out / f"{name}.log"
        with open(log, "w") as f:
            proc = subprocess.run(argv, env=env or self.env, stdout=subprocess.PIPE, stderr=f, text=True,
                                  timeout=timeout, cwd=ROOT)
            f.write(proc.stdout)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[1] if len(argv) > 1 else argv[0]} exited {proc.returncode}; see {log.name}")
        return proc.stdout.splitlines()


def json_lines(lines):
    out = []
    for line in lines:
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def smoke_data(tmp: Path) -> tuple:
    """A tokenizer and MDS shards from generated code, made here (no shared data needed)."""
    sys.path.insert(0, str(ROOT / "python" / "tests"))
    from fixtures_native import corpus, train_tokenizer, write_parquet

    from kiln_native import shard
    from kiln_trainer.events import Events

    tok = train_tokenizer(tmp)  # <tmp>/tokenizer/tokenizer.json
    parquet = write_parquet(tmp / "corpus.parquet", corpus(400))
    with open(os.devnull, "w") as null:
        shard.shard([str(parquet)], str(tok), tmp / "shards", 65, 0.05, 0.5, 0, 1 << 20, Events(null))
    return tmp / "shards", tok.parent


def trainer_config(run, parallelism="ddp", steps=None):
    if run.args.smoke:
        model, seq, vocab = {"nLayer": 2, "nHead": 4, "dModel": 64, "ffnHidden": 128}, 65, 400
        train = {"microBatchSize": 4, "gradAccum": 1, "compile": False, "device": "cpu", "dtype": "float32"}
    else:
        pipeline = json.loads((ROOT / "configs" / "gpu-125m.json").read_text())
        model, seq, vocab = pipeline["model"], pipeline["shard"]["seqLen"], pipeline["tokenizer"]["vocabSize"]
        train = {"microBatchSize": 16, "gradAccum": 1, "compile": True, "device": "cuda", "dtype": "bfloat16"}
    steps = steps or (12 if run.args.smoke else run.args.train_steps)
    return {"seed": 1234, "vocabSize": vocab, "seqLen": seq, "eosTokenId": 0, "model": model,
            "train": {**train, "steps": steps, "lr": 6e-4, "warmupSteps": max(1, steps // 10),
                      "checkpointEvery": max(2, steps // 4), "evalEvery": steps, "parallelism": parallelism}}


def torchrun(run, config_path, out_dir, extra=()):
    return [run.args.python, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1",
            "-m", "kiln_trainer.train", "--config", str(config_path), "--data", str(run.shards), "--out", str(out_dir),
            *extra]


def bench(run, name, config, extra):
    argv = [run.args.python, str(ROOT / "scripts" / "bench-gpu.py")]
    argv += ["--device", "cpu", "--tiny", "--batch-sizes", "1,2", "--steps", "1", "--warmup", "0"] if run.args.smoke \
        else ["--config", str(ROOT / "configs" / config), *extra]
    if run.args.smoke and name == "bench-1b":
        argv += ["--ac", "both", "--profile", "--top-kernels", "5"]
    lines = json_lines(run.sh(name, argv, timeout=400))
    head = next(x for x in lines if x["event"] == "bench")
    results = [x for x in lines if x["event"] == "result" and "error" not in x]
    best = max(results, key=lambda r: (r["mfu"] or 0, r["tokens_per_s"]))
    prof = next((x for x in lines if x["event"] == "profile"), None)
    return {"device": head["device"], "peak_flops": head["peak_flops"], "params": head["params"], "best": best,
            "results": results, "profile": prof["kernels"][:10] if prof else None}


def train_events(lines):
    events = json_lines(lines)
    return events, {e["step"]: e for e in events if e.get("event") == "step"}


def steady_mfu(steps: dict):
    """Median MFU and tokens/s over the second half of the steps (compile and warm-up behind)."""
    keys = sorted(steps)[len(steps) // 2:]
    mfus = sorted(steps[k]["mfu"] for k in keys if steps[k].get("mfu") is not None)
    tps = sorted(steps[k]["tokens_per_s"] for k in keys)
    return (mfus[len(mfus) // 2] if mfus else None), tps[len(tps) // 2]


def do_train(run):
    cfg_path = run.work / "train.json"
    cfg_path.write_text(json.dumps(trainer_config(run)))
    _, steps = train_events(run.sh("train", torchrun(run, cfg_path, run.work / "train-a"), timeout=500))
    first, last = steps[min(steps)]["loss"], steps[max(steps)]["loss"]
    mfu, tps = steady_mfu(steps)
    result = {"steps": len(steps), "first_loss": first, "last_loss": last, "loss_went_down": last < first,
              "steady_mfu": mfu, "steady_tokens_per_s": tps}
    bench125 = run.summary["steps"].get("bench-125m", {})
    same = [r for r in bench125.get("results", []) if r["micro_batch"] == trainer_config(run)["train"]["microBatchSize"]
            and r["compile"] == trainer_config(run)["train"]["compile"] and not r.get("ac")]
    if same:
        ref = same[0]["mfu"] if same[0]["mfu"] is not None else same[0]["tokens_per_s"]
        got = mfu if same[0]["mfu"] is not None else tps
        result.update(bench_reference=ref, trainer_vs_bench=got / ref, within_10_percent=abs(got / ref - 1) <= 0.10)
    run.losses_a = {k: v["loss"] for k, v in steps.items()}
    return result


def do_resume(run):
    cfg_path = run.work / "train.json"
    out_dir = run.work / "train-b"
    total = trainer_config(run)["train"]["steps"]
    stop_after = total // 2 + 1  # between checkpoints, so the stop writes its own
    log = open(run.out / "resume-first.log", "w")
    proc = subprocess.Popen(torchrun(run, cfg_path, out_dir), env=run.env, stdout=subprocess.PIPE, stderr=log,
                            text=True, cwd=ROOT, start_new_session=True)
    sent_at, stopped = None, None
    for line in proc.stdout:
        log.write(line)
        m = re.match(r'\{"event": "step", "step": (\d+)', line)
        if m and int(m.group(1)) >= stop_after and sent_at is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the torchrun group, as a scheduler's preemption would
            sent_at = time.perf_counter()
        if '"event": "stopped"' in line:
            stopped = json.loads(line)
    code = proc.wait(timeout=120)
    log.close()
    if stopped is None:
        raise RuntimeError(f"no stopped event after SIGTERM (exit {code}); see resume-first.log")
    stop_seconds = time.perf_counter() - sent_at
    _, steps = train_events(run.sh("resume", torchrun(run, cfg_path, out_dir, ["--resume", "auto"]), timeout=500))
    a = getattr(run, "losses_a", {})
    common = sorted(set(a) & set(steps))
    diffs = [abs(a[s] - steps[s]["loss"]) for s in common]
    return {"sigterm_at_step": stopped["step"], "exit_code": code, "sigterm_to_exit_s": round(stop_seconds, 2),
            "resumed_steps": len(steps), "compared_steps": len(common),
            "max_abs_loss_diff": max(diffs) if diffs else None, "bitwise_equal": bool(diffs) and max(diffs) == 0.0}


def do_fsdp(run):
    cfg_path = run.work / "fsdp.json"
    cfg_path.write_text(json.dumps(trainer_config(run, "fsdp", steps=8 if run.args.smoke else 60)))
    _, steps = train_events(run.sh("fsdp", torchrun(run, cfg_path, run.work / "fsdp"), timeout=400))
    mfu, tps = steady_mfu(steps)
    return {"steps": len(steps), "first_loss": steps[min(steps)]["loss"], "last_loss": steps[max(steps)]["loss"],
            "steady_mfu": mfu, "steady_tokens_per_s": tps}


def do_generate(run):
    from kiln_trainer.checkpoint import latest_checkpoint

    ckpt = latest_checkpoint(str(run.work / "train-a"))
    if not ckpt:
        raise RuntimeError("no checkpoint from the train step to export")
    model_dir = run.work / "model"
    run.sh("export", [run.args.python, "-m", "kiln_native.export", "--checkpoint", ckpt, "--tokenizer",
                      str(Path(run.tokenizer) / "tokenizer.json"), "--out", str(model_dir)], timeout=300)
    argv = [run.args.python, str(ROOT / "scripts" / "bench" / "eval_generate.py"), "--model", str(model_dir)]
    argv += ["--problems", "4", "--max-new-tokens", "8", "--batch-sizes", "1,4"] if run.args.smoke \
        else ["--problems", "64", "--max-new-tokens", "128", "--batch-sizes", "1,16,64"]
    rows = [x for x in json_lines(run.sh("generate", argv, timeout=400)) if "path" in x]
    return {"rows": rows}


def do_loader(run):
    argv = [run.args.python, str(ROOT / "scripts" / "bench-loader.py"), "--shards", str(run.shards), "--json",
            "--device", "cpu" if run.args.smoke else "cuda"]
    if run.args.smoke:
        cfg = run.work / "loader-pipeline.json"
        tc = trainer_config(run)
        cfg.write_text(json.dumps({"tokenizer": {"vocabSize": tc["vocabSize"]}, "shard": {"seqLen": tc["seqLen"]},
                                   "model": tc["model"], "train": {"microBatchSize": 4}}))
        argv += ["--config", str(cfg), "--batches", "10", "--repeats", "1", "--mfu", "1e-9"]
    lines = json_lines(run.sh("loader", argv, timeout=300))
    return lines[-1]


def prepare(args) -> int:
    """Tokenizer and shards made here, sized to travel (the device tool carries 64 MiB at most)."""
    from kiln_native import shard
    from kiln_trainer.events import Events

    out = Path(args.prepare)
    files = sorted(str(f) for p in map(Path, args.input) for f in (p.rglob("*.parquet") if p.is_dir() else [p]))
    if not files:
        print(f"no Parquet files under {args.input}", file=sys.stderr)
        return 2
    tok = out / "tokenizer"
    subprocess.run([args.python, "-m", "kiln_native.tokenizer_train", "--input", *files, "--out", str(tok),
                    "--vocab-size", "32768", "--sample-docs", "10000", "--heldout-docs", "0"], check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT / "python")))
    # Parquet is ~3x smaller than the int32 tokens: keep files until their share of the budget is spent.
    budget, kept = args.max_mib * 2**20 / 3.2, []
    for f in sorted(files, key=os.path.getsize):
        if sum(map(os.path.getsize, kept)) + os.path.getsize(f) > budget:
            break
        kept.append(f)
    shutil.rmtree(out / "shards", ignore_errors=True)
    with open(os.devnull, "w") as null:
        stats = shard.shard(kept, str(tok / "tokenizer.json"), out / "shards", 2048, 0.01, 0.5, 0, 1 << 26,
                            Events(null), fim_spm_rate=0.5, jobs=len(os.sched_getaffinity(0)))
    size = sum(f.stat().st_size for f in (out / "shards").rglob("*") if f.is_file()) / 2**20
    print(f"{out}: tokenizer + {stats['train_samples']} train / {stats['val_samples']} val samples of 2048 tokens "
          f"from {len(kept)} of {len(files)} files, {size:.1f} MiB of shards")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.prepare:
        return prepare(args)
    if not args.out:
        print("--out is required", file=sys.stderr)
        return 2
    if not args.smoke and not (args.shards and args.tokenizer):
        print("--shards and --tokenizer are required (or --smoke)", file=sys.stderr)
        return 2
    wanted = [s for s in (args.only.split(",") if args.only else STEPS) if s not in args.skip.split(",")]
    unknown = [s for s in wanted if s not in STEPS]
    if unknown:
        print(f"unknown step(s) {unknown}; steps: {', '.join(STEPS)}", file=sys.stderr)
        return 2
    run = Run(args)
    run.work = Path(tempfile.mkdtemp(prefix="kiln-gpu-check-"))
    try:
        if args.smoke:
            run.shards, run.tokenizer = smoke_data(run.work)
        else:
            run.shards, run.tokenizer = Path(args.shards), Path(args.tokenizer)
        table = {
            "bench-125m": lambda: bench(run, "bench-125m", "gpu-125m.json", ["--batch-sizes", "16,32", "--compile", "both",
                                                                           "--steps", "15", "--warmup", "5"]),
            "bench-1b": lambda: bench(run, "bench-1b", "gpu-1b.json", ["--batch-sizes", "4,8", "--compile", "on", "--ac",
                                                                       "both", "--steps", "10", "--warmup", "4"]),
            "train": lambda: do_train(run), "resume": lambda: do_resume(run), "fsdp": lambda: do_fsdp(run),
            "generate": lambda: do_generate(run), "loader": lambda: do_loader(run),
        }
        for name in wanted:
            run.step(name, table[name])
    finally:
        shutil.rmtree(run.work, ignore_errors=True)
    failed = [n for n, r in run.summary["steps"].items() if r["status"] != "ok"]
    print(f"summary: {run.out / 'summary.json'}; failed steps: {failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
