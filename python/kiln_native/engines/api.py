"""The OpenAI completions layer shared by every in-process engine: a request body validated into
parameters (BadRequest names the field), prompts tokenized as in training (FIM in PSM layout), and
the engine's token events turned into choices, whole or streamed, cut at stop strings."""

import json
import queue
import time
import uuid

from .base import END, Job, Sampling

MAX_N = 16


class BadRequest(Exception):
    def __init__(self, message, param=None, status=400, code=None):
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def _number(body, name, default, low, high, integer=False):
    value = body.get(name, default)
    if value is None:
        return default
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"`{name}` must be {kind} between {low} and {high}, got {json.dumps(value)}", name)
    return value


def _strings(body, name, max_items):
    value = body.get(name)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items) or len(items) > max_items:
        raise BadRequest(f"`{name}` must be a string or a list of at most {max_items} strings", name)
    return items


def _flag(body, name):
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"`{name}` must be true or false, got {json.dumps(value)}", name)
    return value


def _fim(body):
    """(prompt, suffix or None) from `prompt`/`suffix` or Tabby's `segments`."""
    segments = body.get("segments")
    if segments is not None:
        if not isinstance(segments, dict) or not isinstance(segments.get("prefix"), str):
            raise BadRequest("`segments` must be an object with a string `prefix` (and an optional string `suffix`)",
                             "segments")
        if segments.get("suffix") is not None and not isinstance(segments["suffix"], str):
            raise BadRequest("`segments.suffix` must be a string", "segments.suffix")
        if body.get("prompt") is not None:
            raise BadRequest("give either `prompt` or `segments`, not both", "segments")
        return [segments["prefix"]], segments.get("suffix")
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise BadRequest("`prompt` is required: a string or a non-empty list of strings", "prompt")
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise BadRequest(f"`suffix` must be a string, got {json.dumps(suffix)}", "suffix")
    return prompts, suffix


def parse_completion_request(body, model_name: str) -> dict:
    """Validated parameters of a /v1/completions body; BadRequest names the offending field."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("model") not in (None, model_name):
        raise BadRequest(f"The model `{body['model']}` does not exist (this server serves `{model_name}`)",
                         "model", status=404, code="model_not_found")
    prompts, suffix = _fim(body)
    if body.get("logprobs") is not None:
        raise BadRequest("`logprobs` is not supported by this server", "logprobs")
    if body.get("best_of") not in (None, 1):
        raise BadRequest("`best_of` is not supported by this server (use `n`)", "best_of")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 32):
        raise BadRequest(f"`seed` must be an integer between 0 and 4294967295, got {json.dumps(seed)}", "seed")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("`stream_options` must be an object", "stream_options")
    return {
        "prompts": prompts,
        "suffix": suffix,
        "max_tokens": _number(body, "max_tokens", 16, 1, 1 << 20, integer=True),
        "temperature": float(_number(body, "temperature", 1.0, 0.0, 2.0)),
        "top_p": float(_number(body, "top_p", 1.0, 1e-9, 1.0)),
        "n": _number(body, "n", 1, 1, MAX_N, integer=True),
        "stop": [s for s in _strings(body, "stop", 4) if s],
        "seed": seed,
        "echo": _flag(body, "echo"),
        "stream": _flag(body, "stream"),
        "include_usage": bool((options or {}).get("include_usage")),
    }


class Sequence:
    """The text of one generated sequence, token by token: cut at the first stop string or EOS,
    and released only where no stop string may still begin (so a stream never takes text back)."""

    def __init__(self, tokenizer, stops):
        self.tokenizer, self.stops = tokenizer, stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.ids, self.text, self.sent, self.reason = [], "", 0, None

    def add(self, token: int) -> str:
        """Takes one token; returns the newly releasable text."""
        if self.reason:
            return ""
        if token == self.tokenizer.eos:
            self.reason = "stop"
            return self.flush()
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.text, self.reason = text[:cut], "stop"
            return self.flush()
        self.text = text
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return ""
        ready = max(self.sent, len(text) - self.hold)
        out, self.sent = text[self.sent:ready], ready
        return out

    def flush(self) -> str:
        out, self.sent = self.text[self.sent:], len(self.text)
        return out


class CompletionService:
    """A request's prompts as engine jobs; their tokens as OpenAI choices, whole or streamed."""

    def __init__(self, engine, name: str):
        self.engine, self.name = engine, name
        self.created = int(time.time())

    def prompt_ids(self, req: dict) -> list:
        tok, context = self.engine.tokenizer, self.engine.context
        out = []
        for p_index, prompt in enumerate(req["prompts"]):
            try:
                ids = tok.encode(prompt) if req["suffix"] is None else tok.fim_prompt(prompt, req["suffix"])
            except ValueError as error:
                raise BadRequest(str(error), "suffix") from None
            if len(ids) >= context:
                raise BadRequest(f"`prompt` {p_index} has {len(ids)} tokens; this model's context is {context}",
                                 "prompt")
            out.append(ids or [tok.eos])  # an empty prompt starts after a document boundary, as in training
        return out

    def run(self, req: dict, send_chunk=None) -> dict:
        """Generates every choice. With send_chunk, each piece of text is passed on as it is ready
        (send_chunk(choice, text, finish_reason)); a send_chunk that raises stops the generation."""
        n, sampling = req["n"], Sampling(req["temperature"], req["top_p"], req["seed"])
        runs = 1 if sampling.greedy else n  # greedy: computed once, copied to the n choices
        events = queue.Queue()
        jobs, seqs = [], []
        for p_index, ids in enumerate(self.prompt_ids(req)):
            max_new = min(req["max_tokens"], self.engine.context - len(ids))
            jobs.append(Job(ids, max_new, sampling, runs, events=events, tag=p_index * runs))
            seqs += [Sequence(self.engine.tokenizer, req["stop"]) for _ in range(runs)]

        def choices_of(seq_index):
            p_index, run = divmod(seq_index, runs)
            return [p_index * n + run] if runs == n else [p_index * n + j for j in range(n)]

        def emit(seq_index, text, reason=None):
            if send_chunk and (text or reason):
                for c in choices_of(seq_index):
                    send_chunk(c, text, reason)

        if send_chunk and req["echo"]:
            for c in range(len(jobs) * n):
                send_chunk(c, req["prompts"][c // n], None)
        for job in jobs:
            self.engine.submit(job)
        open_seqs = len(seqs)
        try:
            while open_seqs:
                seq_index, token = events.get()
                if seq_index < 0:
                    raise token
                job, run = jobs[seq_index // runs], seq_index % runs
                seq = seqs[seq_index]
                if token is END:
                    open_seqs -= 1
                    seq.reason = seq.reason or ("length" if job.counts[run] >= job.max_new else "stop")
                    emit(seq_index, seq.flush(), seq.reason)
                    continue
                was_open = seq.reason is None
                emit(seq_index, seq.add(token))
                if was_open and seq.reason:  # a stop string: the engine may drop this sequence
                    job.finish(run)
        except BaseException:
            for job in jobs:
                for run in range(runs):
                    job.finish(run)
            raise
        choices = []
        for seq_index, seq in enumerate(seqs):
            text = seq.text
            for c in choices_of(seq_index):
                echo = req["prompts"][c // n] if req["echo"] else ""
                choices.append({"text": echo + text, "index": c, "logprobs": None, "finish_reason": seq.reason})
        choices.sort(key=lambda c: c["index"])
        prompt_tokens = sum(len(j.prompt_ids) for j in jobs)
        completion_tokens = sum(j.counts[r] for j in jobs for r in range(runs)) * (n // runs)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": self.name, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }
