"""Shared by tests/trainer and tests/native: an MDS writer (streaming 0.13's binary layout), tiny configs, a trainer runner."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
SEQ_LEN, VOCAB = 32, 300

_CODES = {"uint8": 8, "int8": 9, "uint16": 16, "int16": 17, "uint32": 32, "int32": 33, "uint64": 64, "int64": 65}


def encode_tokens(tokens: np.ndarray, encoding: str) -> bytes:
    """One `tokens` value as streaming's mds_encode writes it."""
    name, _, rest = encoding.partition(":")
    if name == "bytes":
        return tokens.astype("<i4").tobytes()
    parts = rest.split(":") if rest else []
    dtype = parts[0] if parts else "int32"
    head = b"" if parts else bytes([_CODES[dtype]])
    if len(parts) < 2:  # dynamic shape: (ndim << 2 | shape dtype code), dims
        n = len(tokens)
        code, sdt = (0, "uint8") if n < 256 else (1, "uint16")
        head += bytes([(1 << 2) | code]) + np.array([n], sdt).tobytes()
    return head + tokens.astype(dtype).tobytes()


def encode_shard(samples: list, encoding: str) -> bytes:
    fixed = encoding.count(":") == 2
    config = json.dumps({"column_encodings": [encoding], "column_names": ["tokens"],
                         "column_sizes": [None], "compression": None, "format": "mds",
                         "hashes": [], "size_limit": None, "version": 2}, sort_keys=True).encode()
    bodies = []
    for tokens in samples:
        data = encode_tokens(np.asarray(tokens), encoding)
        bodies.append(data if fixed else np.array([len(data)], np.uint32).tobytes() + data)
    offsets = np.cumsum([0] + [len(b) for b in bodies]).astype(np.uint32)
    offsets += 4 + 4 * len(offsets) + len(config)
    return np.uint32(len(samples)).tobytes() + offsets.tobytes() + config + b"".join(bodies)


def write_mds(split_dir, samples, encoding=f"ndarray:int32:{SEQ_LEN}", per_shard=None, compression=None):
    """Write shard.NNNNN.mds files and index.json like streaming.MDSWriter (column `tokens`)."""
    split_dir = Path(split_dir)
    split_dir.mkdir(parents=True, exist_ok=True)
    per_shard = per_shard or max(1, len(samples))
    fixed_size = int(np.prod([int(d) for d in encoding.split(":")[2].split(",")])) * \
        np.dtype(encoding.split(":")[1]).itemsize if encoding.count(":") == 2 else None
    shards = []
    for k, start in enumerate(range(0, len(samples), per_shard)):
        raw = encode_shard(samples[start:start + per_shard], encoding)
        basename = f"shard.{k:05d}.mds"
        zip_data = None
        if compression:
            import zstd
            packed = zstd.compress(raw, 3)
            zip_data = {"basename": basename + ".zstd", "bytes": len(packed), "hashes": {}}
            (split_dir / zip_data["basename"]).write_bytes(packed)
        else:
            (split_dir / basename).write_bytes(raw)
        shards.append({"column_encodings": [encoding], "column_names": ["tokens"], "column_sizes": [fixed_size],
                       "compression": compression, "format": "mds", "hashes": [], "size_limit": 1 << 26,
                       "version": 2, "samples": len(samples[start:start + per_shard]),
                       "raw_data": {"basename": basename, "bytes": len(raw), "hashes": {}},
                       "zip_data": zip_data})
    (split_dir / "index.json").write_text(json.dumps({"version": 2, "shards": shards}, sort_keys=True))


def make_samples(n: int, seed: int, seq_len=SEQ_LEN, vocab=VOCAB) -> list:
    """Arithmetic progressions mod vocab: random, yet learnable, so the loss falls."""
    rng = np.random.default_rng(seed)
    return [((rng.integers(1, vocab) + np.arange(seq_len) * rng.integers(1, 7)) % vocab).astype(np.int32)
            for _ in range(n)]


@pytest.fixture(scope="session")
def mds_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mds")
    write_mds(root / "train", make_samples(96, seed=1), per_shard=40)
    write_mds(root / "val", make_samples(24, seed=2))
    return root


def tiny_config(**train) -> dict:
    return {"seed": 7, "vocabSize": VOCAB, "seqLen": SEQ_LEN, "eosTokenId": 0,
            "model": {"nLayer": 2, "nHead": 4, "nKvHead": 2, "dModel": 32, "ffnHidden": 64},
            "train": {"steps": 8, "microBatchSize": 4, "gradAccum": 2, "lr": 3e-3, "warmupSteps": 2,
                      "checkpointEvery": 4, "evalEvery": 4, "device": "cpu", **train}}


@pytest.fixture
def write_config(tmp_path):
    def write(cfg=None, name="config.json", **train):
        path = tmp_path / name
        path.write_text(json.dumps(cfg if cfg is not None else tiny_config(**train)))
        return path
    return write


def trainer_env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR), KILN_CPU_THREADS="1", HF_HUB_OFFLINE="1", **extra)
    env.pop("RANK", None)  # never inherit a torchrun environment
    return env


def parse_events(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_trainer(*args, timeout=120):
    """Run `python -m kiln_trainer.train ARGS`; return (exit code, events, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "kiln_trainer.train", *map(str, args)], env=trainer_env(),
                          capture_output=True, text=True, timeout=timeout)
    return proc.returncode, parse_events(proc.stdout), proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
