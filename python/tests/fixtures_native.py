"""Helpers for the tests of the command-line tools (kiln_native's tokenizer, shard, generate,
serve, sandbox, and kiln_trainer.explain_step).

Kept apart from conftest.py (the trainer's fixtures); test files under native/ and trainer/
import what they need (pytest.ini puts tests/ on sys.path).
"""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = PYTHON_DIR.parent
SHARED_DATA = REPO_DIR.parent / "shared" / "data"
HUMANEVAL = SHARED_DATA / "humaneval" / "HumanEval.jsonl.gz"
STACK_SAMPLE = SHARED_DATA / "stack-sample" / "data"

if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def native_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **extra)
    return env


def run_module(module: str, *args, stdin: str | None = None, timeout: float = 300):
    """Run `python -m MODULE ARGS` (e.g. kiln_native.shard); return the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], env=native_env(),
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def events_of(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def load_humaneval() -> list:
    with gzip.open(HUMANEVAL, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_parquet(path: Path, texts: list) -> Path:
    """A Stack-schema-like Parquet file: only `content` matters to the tools."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"content": pa.array(texts, pa.string()),
                             "lang": pa.array(["Python"] * len(texts), pa.string())}), path)
    return path


CODE_SNIPPETS = [
    "def add(a, b):\n    return a + b\n",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
    "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n",
    "import os\n\nfor name in os.listdir('.'):\n    print(name)\n",
    "function greet(name) {\n  return `Hello, ${name}!`;\n}\n",
    "fn main() {\n    println!(\"hello world\");\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n",
    "SELECT id, name FROM users WHERE active = 1 ORDER BY name;\n",
]


def corpus(n: int = 200) -> list:
    """n small code documents, varied enough to train a byte-level BPE on."""
    return [f"# doc {i}\n" + CODE_SNIPPETS[i % len(CODE_SNIPPETS)] * (1 + i % 3) for i in range(n)]


def train_tokenizer(tmp: Path, vocab_size: int = 400) -> Path:
    """A real tokenizer.json from our own tokenizer_train on a small corpus."""
    data = write_parquet(tmp / "tok-data" / "part.parquet", corpus(200))
    out = tmp / "tokenizer"
    proc = run_module("kiln_native.tokenizer_train", "--input", data, "--out", out, "--vocab-size", vocab_size,
                      "--sample-docs", 1000, "--min-frequency", 2, "--seed", 1)
    assert proc.returncode == 0, proc.stderr
    return out / "tokenizer.json"


def tiny_model(tmp: Path, vocab_size: int = 400) -> Path:
    """A random 2-layer LlamaForCausalLM (hidden 32) in Hugging Face format, with our tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tokenizer_json = train_tokenizer(tmp, vocab_size)
    out = tmp / "model"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         bos_token_id=0, eos_token_id=0, pad_token_id=0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(tokenizer_json), eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                        pad_token="<|endoftext|>")
    tokenizer.save_pretrained(out)
    return out


_CACHE: dict = {}


def shared_tiny_model() -> Path:
    """tiny_model built once per test process (generate and serve tests share it)."""
    if "model" not in _CACHE:
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="kiln-tiny-model-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE["model"] = tiny_model(root)
    return _CACHE["model"]
