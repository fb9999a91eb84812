import json
import os

import pytest
import torch

from conftest import tiny_config
from kiln_native import export
from kiln_trainer.checkpoint import save_checkpoint
from kiln_trainer.config import parse_config
from kiln_trainer.events import EXIT_FATAL, EXIT_OK
from kiln_trainer.model import Llama
from kiln_trainer.train import build_optimizer

os.environ["HF_HUB_OFFLINE"] = "1"  # local files only


def make_tokenizer(path):
    """A tiny byte-level BPE with <|endoftext|> as id 0, like the tokenizer stage's output."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["def add(a, b):\n    return a + b\n", "print('hello world')\n"] * 20, trainer)
    tok.save(str(path))
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a model with GQA, a non-default RoPE theta and non-trivial norm gains."""
    root = tmp_path_factory.mktemp("export")
    cfg_json = tiny_config()
    cfg_json["model"]["ropeTheta"] = 5000.0
    cfg = parse_config(cfg_json)
    torch.manual_seed(3)
    model = Llama(cfg.model)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
    optimizer, scheduler = build_optimizer(model, cfg, torch.device("cpu"))
    path = save_checkpoint(root, 5, model, optimizer, scheduler, {"step": 5}, cfg.to_json())
    return root, path, model


def test_export_round_trips_through_transformers(checkpoint, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    root, ckpt, model = checkpoint
    out = root / "hf"
    assert export.main(["--checkpoint", ckpt, "--tokenizer", str(make_tokenizer(root / "tok.json")),
                        "--out", str(out)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == {"event": "exported", "path": str(out),
                                                   "params": model.num_params()}
    assert sorted(os.listdir(out)) == ["config.json", "generation_config.json", "model.safetensors",
                                       "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]
    config = json.loads((out / "config.json").read_text())
    assert config["num_key_value_heads"] == 2 and config["intermediate_size"] == 64
    assert config["rope_theta"] == 5000.0 and config["tie_word_embeddings"] is False

    hf = AutoModelForCausalLM.from_pretrained(out, local_files_only=True).eval()
    assert type(hf).__name__ == "LlamaForCausalLM"
    idx = torch.randint(0, 300, (2, 31), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model(idx)[0], hf(input_ids=idx).logits
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=0), (ours - theirs).abs().max()

    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    assert (tok.eos_token, tok.eos_token_id) == ("<|endoftext|>", 0)
    text = "def add(a, b):\n    return a + b\n"
    assert tok.decode(tok(text)["input_ids"]) == text


def test_export_refuses_a_tokenizer_with_another_eos_id(checkpoint, tmp_path, capsys):
    _, ckpt, _ = checkpoint
    tok = json.loads(make_tokenizer(tmp_path / "tok.json").read_text())
    for t in tok["added_tokens"]:
        t["id"] = 5
    (tmp_path / "bad.json").write_text(json.dumps(tok))
    code = export.main(["--checkpoint", ckpt, "--tokenizer", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o")])
    assert code == EXIT_FATAL
    event = json.loads(capsys.readouterr().out)
    assert event["event"] == "error" and "eosTokenId 0" in event["message"]
    assert not (tmp_path / "o").exists()
