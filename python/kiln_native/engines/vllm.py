"""vLLM for GPU workers: its own OpenAI-compatible server (continuous batching, paged attention)
started on the exported folder, behind kiln's stdout protocol so the deploy stage and the gateway
start it like the other engines.

vLLM is not a dependency of kiln (it needs CUDA): install it on the GPU workers' .venv
(`pip install vllm`). Without it, or without a GPU, this fails at once with a message saying so.
vLLM serves /health, /v1/models and /v1/completions itself; it takes no Tabby `segments` and no
`suffix`, so a FIM client sends the <fim_prefix>/<fim_suffix>/<fim_middle> prompt itself there.
"""

import importlib.util
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from kiln_trainer.events import FatalError, log

START_TIMEOUT_S = 900  # a large model's first load (weights, CUDA graphs) takes minutes


def check_available() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise FatalError("engine vllm: the vllm package is not installed in this worker's Python environment "
                         "(.venv). Install it on a GPU worker (`.venv/bin/pip install vllm`), or set "
                         "deploy.engine to `ct2` (CPU or GPU) or `hf`.")
    import torch

    if not torch.cuda.is_available():
        raise FatalError("engine vllm: this worker has no CUDA GPU; vLLM serves on GPUs only. "
                         "Set deploy.engine to `ct2` for CPU workers.")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_vllm(model_dir: str, name: str, host: str, port: int, events) -> None:
    check_available()
    port = port or free_port(host)
    # vLLM's logs go to stderr: stdout stays kiln's protocol.
    proc = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir,
                             "--served-model-name", name, "--host", host, "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()
        proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            if stopping.is_set():
                events.emit("stopped")
                return
            raise RuntimeError(f"vLLM's server exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"vLLM's server was not healthy within {START_TIMEOUT_S} s")
        time.sleep(1)
    log(f"serve: {name} on vllm at {url}")
    events.emit("listening", host=host, port=port, url=url, model=name, engine="vllm", device="cuda")
    proc.wait()
    if not stopping.is_set():
        raise RuntimeError(f"vLLM's server exited with code {proc.returncode}")
    events.emit("stopped")
