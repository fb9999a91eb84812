"""scripts/bench-loader.py on a small MDS dataset: it reads through the real TrainLoader and
compares with the rate a model needs on a datasheet peak."""

import json
import subprocess
import sys

from conftest import PYTHON_DIR, SEQ_LEN, VOCAB, trainer_env

SCRIPT = PYTHON_DIR.parent / "scripts" / "bench-loader.py"


def _config(tmp_path, mbs=4):
    pipeline = {"tokenizer": {"vocabSize": VOCAB}, "shard": {"seqLen": SEQ_LEN},
                "model": {"nLayer": 2, "nHead": 4, "dModel": 32, "ffnHidden": 64}, "train": {"microBatchSize": mbs}}
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(pipeline))
    return path


def test_loader_bench_reports_rate_and_headroom(mds_data, tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--shards", str(mds_data), "--config", str(_config(tmp_path)),
                           "--batches", "20", "--repeats", "1", "--mfu", "1e-9", "--json"],
                          env=trainer_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["loader"]["samples"] == 96 and result["loader"]["micro_batch"] == 4
    assert result["loader"]["samples_per_s"] > 0
    need = result["needed"]
    assert need["peak_flops"] == 989e12 and need["seq_len"] == SEQ_LEN
    assert abs(need["tokens_per_s"] - 1e-9 * 989e12 / need["flops_per_token"]) < 1e-6 * need["tokens_per_s"]
    assert result["headroom"] == result["loader"]["samples_per_s"] / need["samples_per_s"]
    assert "keeps up" in proc.stdout


def test_loader_bench_fails_when_the_loader_cannot_keep_up(mds_data, tmp_path):
    # at 100% MFU of a datasheet peak a 2-layer toy model needs billions of samples/s: exit 1, said plainly
    proc = subprocess.run([sys.executable, str(SCRIPT), "--shards", str(mds_data), "--config", str(_config(tmp_path)),
                           "--batches", "5", "--repeats", "1", "--mfu", "1.0"],
                          env=trainer_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "DOES NOT keep up" in proc.stdout
