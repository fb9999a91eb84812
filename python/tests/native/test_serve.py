"""serve: the OpenAI-compatible completions server, as a subprocess hit over HTTP."""

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from fixtures_native import events_of, native_env, shared_tiny_model


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "kiln_native.serve", "--model", str(shared_tiny_model()),
                             "--host", "127.0.0.1", "--port", "0", "--model-name", "kiln-tiny"],
                            env=native_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=180)
    assert lines and lines[0], "the server did not report listening"
    event = json.loads(lines[0])
    yield proc, event
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def call(event, path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(event["url"] + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_listening_event_health_and_models(server):
    _, event = server
    assert event["event"] == "listening" and event["host"] == "127.0.0.1" and event["port"] > 0
    assert event["url"] == f"http://127.0.0.1:{event['port']}"
    assert call(event, "/health") == (200, {"status": "ok", "model": "kiln-tiny"})
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


def test_prompt_lists_n_and_seeded_sampling(server):
    _, event = server
    request = {"prompt": ["a = ", "b = "], "n": 2, "max_tokens": 5, "temperature": 1.0, "top_p": 0.9, "seed": 11}
    status, body = call(event, "/v1/completions", request)
    assert status == 200
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    _, again = call(event, "/v1/completions", request)
    assert [c["text"] for c in again["choices"]] == [c["text"] for c in body["choices"]]


@pytest.mark.parametrize("body, status, param, message", [
    ({"max_tokens": 4}, 400, "prompt", "`prompt` is required: a string or a non-empty list of strings"),
    ({"prompt": []}, 400, "prompt", "`prompt` is required: a string or a non-empty list of strings"),
    ({"prompt": "x", "max_tokens": "8"}, 400, "max_tokens", '`max_tokens` must be an integer between 1 and 1048576, got "8"'),
    ({"prompt": "x", "temperature": 3}, 400, "temperature", "`temperature` must be a number between 0.0 and 2.0, got 3"),
    ({"prompt": "x", "n": 100}, 400, "n", "`n` must be an integer between 1 and 16, got 100"),
    ({"prompt": "x", "stop": 5}, 400, "stop", "`stop` must be a string or a list of at most 4 strings"),
    ({"prompt": "x", "seed": "s"}, 400, "seed", '`seed` must be an integer, got "s"'),
    ({"prompt": "x", "stream": True}, 400, "stream", "`stream` is not supported by this server"),
    ({"prompt": "x", "model": "gpt-4"}, 404, "model", "The model `gpt-4` does not exist (this server serves `kiln-tiny`)"),
])
def test_bad_requests_get_openai_errors_naming_the_field(server, body, status, param, message):
    _, event = server
    got_status, got = call(event, "/v1/completions", body)
    assert got_status == status
    assert got["error"]["message"] == message
    assert got["error"]["type"] == "invalid_request_error" and got["error"]["param"] == param


def test_bad_json_and_unknown_paths(server):
    _, event = server
    status, body = call(event, "/v1/completions", raw=b"{not json")
    assert status == 400 and body["error"]["message"].startswith("the request body is not valid JSON")
    assert call(event, "/v1/chat/completions", {"messages": []})[0] == 404
    assert call(event, "/nothing")[0] == 404


def test_sigterm_stops_cleanly(server):
    proc, event = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert events_of(proc.stdout.read()) == [{"event": "stopped"}]
