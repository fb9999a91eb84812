"""serve: the OpenAI-compatible completions server, as a subprocess hit over HTTP, on the ct2
engine (the default) and on the transformers reference."""

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from fixtures_native import events_of, native_env, shared_tiny_model


def start_server(*extra):
    proc = subprocess.Popen([sys.executable, "-m", "kiln_native.serve", "--model", str(shared_tiny_model()),
                             "--host", "127.0.0.1", "--port", "0", "--model-name", "kiln-tiny", *extra],
                            env=native_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=180)
    assert lines and lines[0], "the server did not report listening"
    return proc, json.loads(lines[0])


def stop_server(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def server():
    proc, event = start_server()
    yield proc, event
    stop_server(proc)


@pytest.fixture(scope="module")
def reference():
    proc, event = start_server("--engine", "hf")
    yield proc, event
    stop_server(proc)


def call(event, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(event["url"] + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def stream(event, body):
    """The SSE events of a streamed completion: ([chunk objects], the last data line)."""
    request = urllib.request.Request(event["url"] + "/v1/completions", data=json.dumps({**body, "stream": True}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        data = [line[len("data: "):] for line in response.read().decode().split("\n\n") if line.startswith("data: ")]
    return [json.loads(d) for d in data[:-1]], data[-1]


def joined(chunks, index=0):
    return "".join(c["text"] for chunk in chunks for c in chunk["choices"] if c["index"] == index)


def test_listening_event_health_and_models(server):
    _, event = server
    assert event["event"] == "listening" and event["host"] == "127.0.0.1" and event["port"] > 0
    assert event["url"] == f"http://127.0.0.1:{event['port']}"
    assert (event["engine"], event["computeType"]) == ("ct2", "float32")
    assert call(event, "/health") == (200, {"status": "ok", "model": "kiln-tiny", "engine": "ct2"})
    status, models = call(event, "/v1/models")
    assert status == 200 and models["object"] == "list"
    assert [(m["id"], m["object"]) for m in models["data"]] == [("kiln-tiny", "model")]


def test_a_completion_is_an_openai_text_completion(server):
    _, event = server
    status, body = call(event, "/v1/completions", {"model": "kiln-tiny", "prompt": "def add(a, b):\n",
                                                   "max_tokens": 6, "temperature": 0})
    assert status == 200
    assert body["object"] == "text_completion" and body["model"] == "kiln-tiny" and body["id"].startswith("cmpl-")
    assert isinstance(body["created"], int)
    [choice] = body["choices"]
    assert set(choice) == {"text", "index", "logprobs", "finish_reason"}
    assert choice["index"] == 0 and choice["logprobs"] is None and choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_greedy_is_deterministic_and_stop_cuts_the_text(server):
    _, event = server
    request = {"prompt": "import os\n", "max_tokens": 12, "temperature": 0}
    _, first = call(event, "/v1/completions", request)
    _, second = call(event, "/v1/completions", request)
    text = first["choices"][0]["text"]
    assert text == second["choices"][0]["text"]
    if first["choices"][0]["finish_reason"] == "length":
        assert first["usage"]["completion_tokens"] == 12
    stop = text[len(text) // 2:len(text) // 2 + 2]
    if stop and text.find(stop) > 0:
        _, cut = call(event, "/v1/completions", {**request, "stop": [stop, "never-occurs"]})
        assert cut["choices"][0] == {"text": text[:text.find(stop)], "index": 0, "logprobs": None, "finish_reason": "stop"}
        chunks, _ = stream(event, {**request, "stop": [stop]})
        assert joined(chunks) == text[:text.find(stop)]


def test_prompt_lists_n_echo_and_sampling(server):
    _, event = server
    request = {"prompt": ["a = ", "b = "], "n": 2, "max_tokens": 5, "temperature": 1.0, "top_p": 0.9, "seed": 11}
    status, body = call(event, "/v1/completions", request)
    assert status == 200
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    assert 4 <= body["usage"]["completion_tokens"] <= 20
    _, greedy = call(event, "/v1/completions", {**request, "temperature": 0, "echo": True})
    texts = [c["text"] for c in greedy["choices"]]
    assert texts[0] == texts[1] and texts[2] == texts[3]  # greedy: n copies of one continuation
    assert texts[0].startswith("a = ") and texts[2].startswith("b = ")


def test_streaming_sends_openai_chunks_then_done(server):
    _, event = server
    request = {"prompt": "class Stack:\n", "max_tokens": 10, "temperature": 0}
    _, whole = call(event, "/v1/completions", request)
    chunks, last = stream(event, {**request, "echo": True, "stream_options": {"include_usage": True}})
    assert last == "[DONE]"
    assert all(c["object"] == "text_completion" and c["model"] == "kiln-tiny" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert joined(chunks) == "class Stack:\n" + whole["choices"][0]["text"]
    reasons = [c["finish_reason"] for chunk in chunks for c in chunk["choices"]]
    assert reasons[-1] == whole["choices"][0]["finish_reason"] and set(reasons[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]


def test_fim_through_suffix_and_tabby_segments(server):
    from tokenizers import Tokenizer

    _, event = server
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    _, openai = call(event, "/v1/completions", {"prompt": prefix, "suffix": suffix, "max_tokens": 8, "temperature": 0})
    _, tabby = call(event, "/v1/completions", {"segments": {"prefix": prefix, "suffix": suffix}, "max_tokens": 8,
                                               "temperature": 0})
    assert openai["choices"] == tabby["choices"]
    tok = Tokenizer.from_file(str(shared_tiny_model() / "tokenizer.json"))
    # <fim_prefix> prefix <fim_suffix> suffix <fim_middle>: three special tokens around the two texts.
    expected = len(tok.encode(prefix, add_special_tokens=False).ids) + len(tok.encode(suffix, add_special_tokens=False).ids) + 3
    assert openai["usage"]["prompt_tokens"] == expected
    _, plain = call(event, "/v1/completions", {"prompt": prefix, "max_tokens": 8, "temperature": 0})
    assert plain["usage"]["prompt_tokens"] == expected - 3 - len(tok.encode(suffix, add_special_tokens=False).ids)


def test_concurrent_requests_are_all_answered_as_if_sequential(server):
    _, event = server
    prompts = ["def fibonacci(n):\n", "import sys\n", "fn main() {\n", "SELECT id FROM t WHERE "]
    sequential = [call(event, "/v1/completions", {"prompt": p, "max_tokens": 8, "temperature": 0})[1]["choices"]
                  for p in prompts]
    results = [None] * len(prompts)

    def one(i):
        results[i] = call(event, "/v1/completions", {"prompt": prompts[i], "max_tokens": 8, "temperature": 0})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [r[0] for r in results] == [200] * len(prompts)
    assert [r[1]["choices"] for r in results] == sequential
    status, stats = call(event, "/stats")
    assert status == 200 and stats["engine"] == "ct2" and stats["jobs"] >= 2 * len(prompts) and stats["queued"] == 0


@pytest.mark.parametrize("body, status, param, message", [
    ({"max_tokens": 4}, 400, "prompt", "`prompt` is required: a string or a non-empty list of strings"),
    ({"prompt": []}, 400, "prompt", "`prompt` is required: a string or a non-empty list of strings"),
    ({"prompt": "x", "max_tokens": "8"}, 400, "max_tokens", '`max_tokens` must be an integer between 1 and 1048576, got "8"'),
    ({"prompt": "x", "temperature": 3}, 400, "temperature", "`temperature` must be a number between 0.0 and 2.0, got 3"),
    ({"prompt": "x", "n": 100}, 400, "n", "`n` must be an integer between 1 and 16, got 100"),
    ({"prompt": "x", "stop": 5}, 400, "stop", "`stop` must be a string or a list of at most 4 strings"),
    ({"prompt": "x", "seed": "s"}, 400, "seed", '`seed` must be an integer between 0 and 4294967295, got "s"'),
    ({"prompt": "x", "stream": "yes"}, 400, "stream", '`stream` must be true or false, got "yes"'),
    ({"prompt": "x", "echo": 1}, 400, "echo", "`echo` must be true or false, got 1"),
    ({"prompt": "x", "suffix": 7}, 400, "suffix", "`suffix` must be a string, got 7"),
    ({"segments": {"suffix": "y"}}, 400, "segments",
     "`segments` must be an object with a string `prefix` (and an optional string `suffix`)"),
    ({"segments": {"prefix": "x", "suffix": 1}}, 400, "segments.suffix", "`segments.suffix` must be a string"),
    ({"prompt": "x", "segments": {"prefix": "x"}}, 400, "segments", "give either `prompt` or `segments`, not both"),
    ({"prompt": "x", "model": "gpt-4"}, 404, "model", "The model `gpt-4` does not exist (this server serves `kiln-tiny`)"),
])
def test_bad_requests_get_openai_errors_naming_the_field(server, body, status, param, message):
    _, event = server
    got_status, got = call(event, "/v1/completions", body)
    assert got_status == status
    assert got["error"]["message"] == message
    assert got["error"]["type"] == "invalid_request_error" and got["error"]["param"] == param


def test_a_prompt_longer_than_the_context_is_a_400_even_when_streamed(server):
    _, event = server
    for stream_ in (False, True):
        status, body = call(event, "/v1/completions", {"prompt": "x = 1\n" * 300, "stream": stream_})
        assert status == 400 and body["error"]["param"] == "prompt"
        assert body["error"]["message"].startswith("`prompt` 0 has ") and body["error"]["message"].endswith(
            "tokens; this model's context is 256")


def test_bad_json_and_unknown_paths(server):
    _, event = server
    status, body = call(event, "/v1/completions", raw=b"{not json")
    assert status == 400 and body["error"]["message"].startswith("the request body is not valid JSON")
    assert call(event, "/v1/chat/completions", {"messages": []})[0] == 404
    assert call(event, "/nothing")[0] == 404


def test_the_reference_engine_agrees_with_ct2_and_reproduces_seeded_samples(server, reference):
    _, event = server
    _, ref = reference
    assert ref["engine"] == "hf" and call(ref, "/health")[1]["engine"] == "hf"
    greedy = {"prompt": "def fibonacci(n):\n", "max_tokens": 10, "temperature": 0}
    assert call(ref, "/v1/completions", greedy)[1]["choices"] == call(event, "/v1/completions", greedy)[1]["choices"]
    sampled = {"prompt": ["a = ", "b = "], "n": 2, "max_tokens": 5, "temperature": 1.0, "top_p": 0.9, "seed": 11}
    _, first = call(ref, "/v1/completions", sampled)
    _, again = call(ref, "/v1/completions", sampled)
    assert [c["text"] for c in again["choices"]] == [c["text"] for c in first["choices"]]
    chunks, last = stream(ref, {**greedy, "n": 2})
    assert last == "[DONE]" and joined(chunks, 1) == call(ref, "/v1/completions", greedy)[1]["choices"][0]["text"]


def test_sigterm_stops_cleanly(server):
    proc, event = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert events_of(proc.stdout.read()) == [{"event": "stopped"}]
