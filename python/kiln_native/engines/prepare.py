"""Prepares an engine for a deploy: converts the exported folder (CTranslate2) and checks that the
converted engine's greedy tokens equal transformers' token for token on a fixed prompt set.

    python -m kiln_native.engines.prepare --model HF_DIR --out CT2_DIR [--max-new-tokens 24]

The conversion is reused when out already holds one. A mismatch is an `error` event naming the
prompt (exit 2: the deploy fails without retrying); a pass writes out/_CHECK.json last.
stdout: {"event":"converted","path":..,"seconds":..}
        {"event":"prepared","path":..,"check":{"prompts":n,"tokens":n,"match":true,...}}
"""

import argparse
import json
import os
import time
from pathlib import Path

from kiln_trainer.events import FatalError, run_tool

from .base import generate_ids

# Code prefixes in the languages kiln trains on, and one fill-in-the-middle prompt.
CHECK_PROMPTS = [
    "def fibonacci(n):\n",
    "import os\nimport sys\n\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n",
    "function greet(name) {\n  return ",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\t",
    "fn main() {\n    let v: Vec<i32> = ",
    "SELECT id, name FROM users WHERE ",
    "",
]
FIM_CHECK = ("def add(a, b):\n    ", "\n\nprint(add(1, 2))\n")
CHECK_FILE = "_CHECK.json"


def check_prompts(tokenizer) -> list:
    """(label, ids) of the fixed prompt set."""
    out = [(repr(p), tokenizer.encode(p) or [tokenizer.eos]) for p in CHECK_PROMPTS]
    if None not in tokenizer.fim:
        out.append((f"FIM {FIM_CHECK!r}", tokenizer.fim_prompt(*FIM_CHECK)))
    return out


def compare(reference, candidate, max_new: int) -> list:
    """Per check prompt: {prompt, tokens, first_mismatch (index or None), reference, candidate}."""
    rows = []
    for label, ids in check_prompts(reference.tokenizer):
        want, got = generate_ids(reference, ids, max_new), generate_ids(candidate, ids, max_new)
        mismatch = next((k for k, (a, b) in enumerate(zip(want, got)) if a != b),
                        None if len(want) == len(got) else min(len(want), len(got)))
        rows.append({"prompt": label, "tokens": len(want), "first_mismatch": mismatch, "reference": want,
                     "candidate": got})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Convert an exported model for CTranslate2 and check it "
                                                 "against transformers, token for token.")
    parser.add_argument("--model", required=True, help="exported Hugging Face model folder")
    parser.add_argument("--out", required=True, help="folder of the CTranslate2 model")
    parser.add_argument("--max-new-tokens", type=int, default=24)
    args = parser.parse_args(argv)

    def run(events):
        from .ct2 import CT2Engine, convert
        from .hf import HFEngine

        if args.max_new_tokens < 1:
            raise FatalError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
        if not (Path(args.model) / "config.json").is_file():
            raise FatalError(f"{args.model}: not a Hugging Face model folder (no config.json)")
        out = Path(args.out)
        (out / CHECK_FILE).unlink(missing_ok=True)
        started = time.monotonic()
        convert(args.model, str(out))
        events.emit("converted", path=str(out.resolve()), seconds=round(time.monotonic() - started, 2))
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see serve.py
        reference = HFEngine(args.model, threads=1).start()
        candidate = CT2Engine(args.model, ct2_dir=str(out), compute_type="float32", device="cpu", threads=1).start()
        try:
            rows = compare(reference, candidate, args.max_new_tokens)
        finally:
            reference.close()
            candidate.close()
        for row in rows:
            k = row["first_mismatch"]
            if k is not None:
                raise FatalError(
                    f"CTranslate2 (float32) and transformers disagree on check prompt {row['prompt']}: greedy token "
                    f"{k} is {row['candidate'][k] if k < len(row['candidate']) else 'the end'} in CTranslate2 and "
                    f"{row['reference'][k] if k < len(row['reference']) else 'the end'} in transformers "
                    f"(the conversion in {out} does not reproduce the exported model)")
        check = {"engine": "ct2", "computeType": "float32", "reference": "transformers", "prompts": len(rows),
                 "tokens": sum(r["tokens"] for r in rows), "match": True,
                 "seconds": round(time.monotonic() - started, 2)}
        (out / CHECK_FILE).write_text(json.dumps(check, indent=2) + "\n")
        events.emit("prepared", path=str(out.resolve()), check=check)

    return run_tool("prepare", run)


if __name__ == "__main__":
    raise SystemExit(main())
