"""An OpenAI-compatible completions server for an exported Hugging Face model, on an engine.

    python -m kiln_native.serve --model HF_DIR [--engine ct2|hf|vllm] [--ct2-dir DIR]
        [--compute-type float32|int8] [--max-batch 32] [--batch-wait-ms 5] [--threads 1]
        --host 127.0.0.1 --port 0 [--model-name NAME]

    GET  /health           {"status":"ok","model":NAME,"engine":"ct2"}
    GET  /v1/models        {"object":"list","data":[{"id":NAME,"object":"model",...}]}
    GET  /stats            {"engine","queued","batches","jobs","max_jobs_per_batch"}
    POST /v1/completions   {model, prompt: str | [str], suffix, segments: {prefix, suffix} (Tabby),
                            max_tokens=16, temperature=1.0 (0: greedy), top_p=1.0, n=1,
                            stop: str | [str], seed, echo, stream} -> an OpenAI text_completion,
                            or with stream: SSE chunks of the same shape, then `data: [DONE]`
A suffix (or segments.suffix) makes a fill-in-the-middle prompt in the layout the model was
trained with: <fim_prefix> prefix <fim_suffix> suffix <fim_middle>.
Bad requests get 400 with {"error":{"message","type":"invalid_request_error","param"}}.
stdout: {"event":"listening","host":..,"port":..,"url":"http://host:port","engine":..} once bound
(port 0: the OS picks one); {"event":"stopped"} after SIGTERM/SIGINT, exit 0. Requests log to stderr.

One thread per connection; generation happens in the engine (engines/), whose scheduler batches
the requests waiting at the same moment. Engines: ct2 (CTranslate2, batched: the default), hf
(transformers, one request at a time: the reference), vllm (hands the port to vLLM's own server).
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from kiln_trainer.events import Events, FatalError, log, run_tool

from .engines import ENGINES, load_engine
from .engines.api import BadRequest, CompletionService, parse_completion_request

MAX_BODY = 1 << 20


def make_handler(service: CompletionService):
    engine = service.engine

    class Handler(BaseHTTPRequestHandler):
        server_version = "kiln-serve/0.2"
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # each streamed token leaves at once, not after a delayed ACK

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
                self.send_json(200, {"status": "ok", "model": service.name, "engine": engine.kind})
            elif path == "/stats":  # for the gateway's queue-depth gauge and the benchmark
                self.send_json(200, {"engine": engine.kind, "queued": engine.queue.qsize() + len(engine.pending),
                                     **engine.stats})
            elif path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [
                    {"id": service.name, "object": "model", "created": service.created, "owned_by": "kiln"}]})
            else:
                self.send_error_json(404, f"Unknown path {self.path}", code="not_found")

        def write_chunk(self, data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def stream(self, req: dict):
            """SSE over chunked transfer encoding: one OpenAI chunk per piece of text."""
            cid, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def event(payload):
                self.write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

            def send_chunk(index, text, reason):
                event({"id": cid, "object": "text_completion", "created": created, "model": service.name,
                       "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": reason}]})

            try:
                result = service.run(req, send_chunk)
                if req["include_usage"]:
                    event({"id": cid, "object": "text_completion", "created": created, "model": service.name,
                           "choices": [], "usage": result["usage"]})
            except (BrokenPipeError, ConnectionResetError):
                return  # the client left; service.run cancelled its sequences
            except Exception as error:  # noqa: BLE001 - headers are sent: the error goes in the stream
                log(f"serve: generation failed: {error!r}")
                event({"error": {"message": f"generation failed: {error}", "type": "server_error", "param": None,
                                 "code": None}})
            self.write_chunk(b"data: [DONE]\n\n")
            self.write_chunk(b"")

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
                req = parse_completion_request(body, service.name)
                if req["stream"]:
                    service.prompt_ids(req)  # a prompt too long is a 400, before the stream starts
                    self.stream(req)
                else:
                    self.send_json(200, service.run(req))
            except BadRequest as error:
                self.send_error_json(error.status, str(error), error.param, error.code)
            except (BrokenPipeError, ConnectionResetError):
                pass
            except Exception as error:  # noqa: BLE001 - a failed generation is a 500, not a dead server
                log(f"serve: generation failed: {error!r}")
                self.send_error_json(500, f"generation failed: {error}", kind="server_error")

    return Handler


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="OpenAI-compatible completions server for a Hugging Face model.")
    parser.add_argument("--model", required=True, help="Hugging Face model folder")
    parser.add_argument("--engine", choices=ENGINES, default="ct2",
                        help="ct2: CTranslate2, batched (default); hf: transformers, the reference; vllm: vLLM's server")
    parser.add_argument("--ct2-dir", default=None, help="CTranslate2 conversion of --model (default: <model>/ct2, "
                                                        "converted on first use)")
    parser.add_argument("--compute-type", default="float32", help="ct2: float32 (token-exact) or int8, int8_float32, ...")
    parser.add_argument("--max-batch", type=int, default=32, help="ct2: sequences per forward pass at most")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0,
                        help="ct2: how long the first waiting request waits for others to share its batch")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for the model's math (ct2 and hf alike; 0: one per core)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port chosen by the OS")
    parser.add_argument("--model-name", default=None, help="name in responses (default: the folder's name)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)

    def run(events: Events):
        if not 0 <= args.port <= 65535:
            raise FatalError(f"--port must be between 0 and 65535, got {args.port}")
        if args.max_batch < 1 or args.batch_wait_ms < 0 or args.threads < 0:
            raise FatalError("--max-batch must be at least 1, --batch-wait-ms and --threads at least 0")
        # Idle OpenMP threads sleep instead of spinning: on cores shared with other work, spinning
        # made a 32-token CTranslate2 completion take 3.3 s instead of 13 ms (2 threads, loaded 2-core box).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        name = args.model_name or Path(args.model).resolve().name
        if args.engine == "vllm":
            from .engines.vllm import serve_vllm

            serve_vllm(args.model, name, args.host, args.port, events)
            return
        engine = load_engine(args.engine, args.model, ct2_dir=args.ct2_dir, compute_type=args.compute_type,
                             max_batch=args.max_batch, batch_wait_ms=args.batch_wait_ms, threads=args.threads).start()
        try:
            server = ThreadingHTTPServer((args.host, args.port), make_handler(CompletionService(engine, name)))
        except OSError as error:
            raise FatalError(f"cannot listen on {args.host}:{args.port}: {error}") from None
        server.daemon_threads = True

        def stop(signum, frame):
            threading.Thread(target=server.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        host, port = server.server_address[:2]
        log(f"serve: {name} on {args.engine} ({engine.device}) at http://{host}:{port}")
        events.emit("listening", host=host, port=port, url=f"http://{host}:{port}", model=name, **engine.describe())
        server.serve_forever()
        server.server_close()
        engine.close()
        events.emit("stopped")

    return run_tool("serve", run)


if __name__ == "__main__":
    raise SystemExit(main())
