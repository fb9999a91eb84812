#!/usr/bin/env python3
"""Eval generation throughput: kiln_native.generate's batched decoding (left padding, KV cache,
--batch-size sequences per forward pass) next to one prompt at a time through transformers'
generate (generate_texts, what eval used before), on the same prompts, model and machine.

    .venv/bin/python scripts/bench/eval_generate.py [--model HF_DIR] [--problems N] [--n 1]
        [--max-new-tokens 32] [--batch-sizes 1,8,16] [--temperature 0]

Without --model it builds the tests' tiny random Llama (2 layers, hidden 32: CPU-overhead bound;
pass an exported model for real figures). Prompts: the first N HumanEval problems. Stops are
disabled (every sequence runs max-new-tokens), so both paths generate the same number of tokens.
Prints one JSON line per configuration, then a table of sequences/s and tokens/s.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "python" / "tests"))

from kiln_native.generate import generate_problems, generate_texts, load_model  # noqa: E402
from kiln_native.native_io import read_problems  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-sizes", default="1,8,16")
    parser.add_argument("--temperature", type=float, default=0.0)
    args = parser.parse_args()
    model_dir = args.model
    if not model_dir:
        from fixtures_native import tiny_model

        model_dir = str(tiny_model(Path(tempfile.mkdtemp(prefix="kiln-bench-gen-"))))
    problems = [dict(p, stop=[], stop_keep=[]) for p in read_problems(str(ROOT / "data/humaneval/HumanEval.jsonl.gz"), args.problems)]
    model, tokenizer, device = load_model(model_dir)
    rows = []

    start = time.perf_counter()
    tokens = 0
    for p in problems:  # the previous path: one prompt (n sequences) per generate call
        _, counts, _ = generate_texts(model, tokenizer, device, p["prompt"], n=args.n, max_new_tokens=args.max_new_tokens,
                                     temperature=args.temperature, seed=0, stops=[])
        tokens += sum(counts) if args.temperature > 0 else counts[0]
    rows.append({"path": "transformers generate, one prompt per call", "batch": 1, "seconds": time.perf_counter() - start, "tokens": tokens})

    for batch in [int(b) for b in args.batch_sizes.split(",")]:
        start = time.perf_counter()
        _, _, tokens, batches = generate_problems(model, tokenizer, device, problems, n=args.n, max_new_tokens=args.max_new_tokens,
                                                  temperature=args.temperature, top_p=0.95, seed=0, batch_size=batch)
        rows.append({"path": "kiln batched (KV cache, left padding)", "batch": batch, "seconds": time.perf_counter() - start, "tokens": tokens})

    sequences = len(problems) * (args.n if args.temperature > 0 else 1)
    for r in rows:
        r.update(device=device, sequences=sequences, seq_per_s=round(sequences / r["seconds"], 2), tokens_per_s=round(r["tokens"] / r["seconds"], 1),
                 seconds=round(r["seconds"], 2))
        print(json.dumps(r))
    print(f"\n{'path':<46} {'batch':>5} {'seconds':>8} {'seq/s':>8} {'tokens/s':>9}")
    for r in rows:
        print(f"{r['path']:<46} {r['batch']:>5} {r['seconds']:>8} {r['seq_per_s']:>8} {r['tokens_per_s']:>9}")


if __name__ == "__main__":
    main()
