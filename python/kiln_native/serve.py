"""An OpenAI-compatible completions server for an exported Hugging Face model (the dev stand-in
for vLLM / TGI / Triton, which load the same folder).

    python -m kiln_native.serve --model HF_DIR --host 127.0.0.1 --port 0 [--model-name NAME]

    GET  /health           {"status":"ok","model":NAME}
    GET  /v1/models        {"object":"list","data":[{"id":NAME,"object":"model",...}]}
    POST /v1/completions   {model, prompt: str | [str], max_tokens=16, temperature=1.0 (0: greedy),
                            top_p=1.0, n=1, stop: str | [str], seed} -> an OpenAI text_completion
Bad requests get 400 with {"error":{"message","type":"invalid_request_error","param"}}.
stdout: {"event":"listening","host":..,"port":..,"url":"http://host:port"} once bound (port 0:
the OS picks one); {"event":"stopped"} after SIGTERM/SIGINT, exit 0. Requests log to stderr.
Standard library HTTP server, one generation at a time (a lock): a dev server, not a fast one.
"""

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kiln_trainer.events import Events, FatalError, log, run_tool

from .generate import context_length, generate_texts, load_model, truncate

MAX_N = 16
MAX_BODY = 1 << 20


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


def parse_completion_request(body, model_name: str) -> dict:
    """Validated parameters of a /v1/completions body; BadRequest names the offending field."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("model") not in (None, model_name):
        raise BadRequest(f"The model `{body['model']}` does not exist (this server serves `{model_name}`)",
                         "model", status=404, code="model_not_found")
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise BadRequest("`prompt` is required: a string or a non-empty list of strings", "prompt")
    if body.get("stream"):
        raise BadRequest("`stream` is not supported by this server", "stream")
    if body.get("echo"):
        raise BadRequest("`echo` is not supported by this server", "echo")
    if body.get("logprobs") is not None:
        raise BadRequest("`logprobs` is not supported by this server", "logprobs")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(f"`seed` must be an integer, got {json.dumps(seed)}", "seed")
    return {
        "prompts": prompts,
        "max_tokens": _number(body, "max_tokens", 16, 1, 1 << 20, integer=True),
        "temperature": float(_number(body, "temperature", 1.0, 0.0, 2.0)),
        "top_p": float(_number(body, "top_p", 1.0, 1e-9, 1.0)),
        "n": _number(body, "n", 1, 1, MAX_N, integer=True),
        "stop": [s for s in _strings(body, "stop", 4) if s],
        "seed": seed,
    }


class CompletionEngine:
    """The model behind a lock: one generation at a time."""

    def __init__(self, model_dir: str, name: str):
        self.model, self.tokenizer, self.device = load_model(model_dir)
        self.name = name
        self.created = int(time.time())
        self.lock = threading.Lock()

    def complete(self, req: dict) -> dict:
        context = context_length(self.model)
        choices, prompt_tokens, completion_tokens = [], 0, 0
        with self.lock:
            for p_index, prompt in enumerate(req["prompts"]):
                n_prompt = len(self.tokenizer(prompt, add_special_tokens=False).input_ids)
                if n_prompt >= context:
                    raise BadRequest(f"`prompt` {p_index} has {n_prompt} tokens; this model's context is {context}",
                                     "prompt")
                max_new = min(req["max_tokens"], context - max(n_prompt, 1))
                texts, counts, _ = generate_texts(
                    self.model, self.tokenizer, self.device, prompt, n=req["n"], max_new_tokens=max_new,
                    temperature=req["temperature"], top_p=req["top_p"],
                    seed=req["seed"] if req["seed"] is not None else int.from_bytes(uuid.uuid4().bytes[:4], "little"),
                    stops=req["stop"])
                prompt_tokens += n_prompt
                for j, (text, count) in enumerate(zip(texts, counts)):
                    text, reason = finish(text, req["stop"], count, max_new)
                    completion_tokens += count
                    choices.append({"text": text, "index": p_index * req["n"] + j, "logprobs": None,
                                    "finish_reason": reason})
        return {
            "id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
            "model": self.name, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }


def finish(text: str, stops, generated: int, max_new: int):
    """(text cut at the first stop string or <|endoftext|>, "stop" | "length")."""
    text, stopped = truncate(text, stops)
    return text, "length" if not stopped and generated >= max_new else "stop"


def make_handler(engine: CompletionEngine):
    class Handler(BaseHTTPRequestHandler):
        server_version = "kiln-serve/0.1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write(f"[kiln-serve] {self.address_string()} {fmt % args}\n")

        def send_json(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_error_json(self, status, message, param=None, code=None, kind="invalid_request_error"):
            self.send_json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

        def do_GET(self):
            path = self.path.split("?")[0].rstrip("/")
            if path == "/health":
                self.send_json(200, {"status": "ok", "model": engine.name})
            elif path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [
                    {"id": engine.name, "object": "model", "created": engine.created, "owned_by": "kiln"}]})
            else:
                self.send_error_json(404, f"Unknown path {self.path}", code="not_found")

        def do_POST(self):
            path = self.path.split("?")[0].rstrip("/")
            if path != "/v1/completions":
                self.send_error_json(404, f"Unknown path {self.path}", code="not_found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    raise BadRequest(f"the request body is larger than {MAX_BODY} bytes")
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    raise BadRequest(f"the request body is not valid JSON ({error})") from None
                self.send_json(200, engine.complete(parse_completion_request(body, engine.name)))
            except BadRequest as error:
                self.send_error_json(error.status, str(error), error.param, error.code)
            except Exception as error:  # noqa: BLE001 - a failed generation is a 500, not a dead server
                log(f"serve: generation failed: {error!r}")
                self.send_error_json(500, f"generation failed: {error}", kind="server_error")

    return Handler


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="OpenAI-compatible completions server for a Hugging Face model.")
    parser.add_argument("--model", required=True, help="Hugging Face model folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port chosen by the OS")
    parser.add_argument("--model-name", default=None, help="name in responses (default: the folder's name)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events: Events):
        if not 0 <= args.port <= 65535:
            raise FatalError(f"--port must be between 0 and 65535, got {args.port}")
        name = args.model_name or Path(args.model).resolve().name
        engine = CompletionEngine(args.model, name)
        try:
            server = ThreadingHTTPServer((args.host, args.port), make_handler(engine))
        except OSError as error:
            raise FatalError(f"cannot listen on {args.host}:{args.port}: {error}") from None
        server.daemon_threads = True

        def stop(signum, frame):
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        host, port = server.server_address[:2]
        log(f"serve: {name} on {engine.device} at http://{host}:{port}")
        events.emit("listening", host=host, port=port, url=f"http://{host}:{port}", model=name)
        server.serve_forever()
        server.server_close()
        events.emit("stopped")

    return run_tool("serve", run)


if __name__ == "__main__":
    raise SystemExit(main())
