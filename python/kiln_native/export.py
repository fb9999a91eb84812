"""Export a checkpoint as a Hugging Face LlamaForCausalLM folder (transformers, vLLM, TGI).

    python -m kiln_native.export --checkpoint CKPT_DIR --tokenizer TOKENIZER_JSON --out OUT_DIR

The weights already carry HF names, so model.safetensors is copied byte for byte. The folder
is written under a temporary name and renamed, so OUT_DIR is complete or absent. Prints one
JSON line {"event":"exported","path":ABS_DIR,"params":N}; errors as {"event":"error",...}, exit 2.
"""

import argparse
import json
import math
import os
import shutil
import sys

from safetensors import safe_open

from kiln_trainer.config import parse_config
from kiln_trainer.events import FatalError, run_tool
from kiln_trainer.model import RMS_NORM_EPS

from .shard import EOS


def hf_config(cfg, eos_id: int) -> dict:
    m = cfg.model
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": m.vocab_size, "hidden_size": m.d_model, "intermediate_size": m.ffn_hidden,
        "num_hidden_layers": m.n_layer, "num_attention_heads": m.n_head,
        "num_key_value_heads": m.n_kv_head, "head_dim": m.head_dim, "hidden_act": "silu",
        "max_position_embeddings": m.max_seq_len, "rms_norm_eps": RMS_NORM_EPS,
        # transformers >= 5 reads rope_parameters; older readers (vLLM, TGI) read rope_theta.
        "rope_theta": m.rope_theta, "rope_parameters": {"rope_type": "default", "rope_theta": m.rope_theta},
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False,
        "bos_token_id": eos_id, "eos_token_id": eos_id, "pad_token_id": eos_id,
        "initializer_range": 0.02, "use_cache": True,
        "torch_dtype": "float32", "dtype": "float32",  # old and new spelling
    }


def tokenizer_files(cfg) -> dict:
    special = {"bos_token": EOS, "eos_token": EOS, "pad_token": EOS}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **special, "unk_token": None,
              "model_max_length": cfg.seq_len, "clean_up_tokenization_spaces": False,
              "add_bos_token": False, "add_eos_token": False}
    return {"tokenizer_config.json": config, "special_tokens_map.json": special}


def check_tokenizer(path: str, cfg) -> None:
    """The tokenizer must know <|endoftext|> under the id the model was trained with."""
    try:
        with open(path) as f:
            tok = json.load(f)
    except (OSError, ValueError) as e:
        raise FatalError(f"cannot read tokenizer {path}: {e}") from None
    ids = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    ids.setdefault(EOS, (tok.get("model") or {}).get("vocab", {}).get(EOS))
    if ids[EOS] != cfg.eos_token_id:
        raise FatalError(f"tokenizer {path} maps {EOS} to {ids[EOS]}, "
                         f"but the model was trained with eosTokenId {cfg.eos_token_id}")


def export(checkpoint: str, tokenizer: str, out: str) -> tuple:
    try:
        with open(os.path.join(checkpoint, "config.json")) as f:
            cfg = parse_config(json.load(f))
        weights = os.path.join(checkpoint, "model.safetensors")
        with safe_open(weights, "pt") as f:
            params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    except (OSError, ValueError) as e:
        raise FatalError(f"cannot read checkpoint {checkpoint}: {e}") from None
    check_tokenizer(tokenizer, cfg)

    out = os.path.abspath(out)
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shutil.copyfile(weights, os.path.join(tmp, "model.safetensors"))
    shutil.copyfile(tokenizer, os.path.join(tmp, "tokenizer.json"))
    eos = cfg.eos_token_id
    files = {"config.json": hf_config(cfg, eos),
             "generation_config.json": {"bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos},
             **tokenizer_files(cfg)}
    for name, obj in files.items():
        with open(os.path.join(tmp, name), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)
    return out, params


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m kiln_native.export", description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True, help="a trainer checkpoint directory (step_*)")
    p.add_argument("--tokenizer", required=True, help="the Hugging Face tokenizer.json")
    p.add_argument("--out", required=True, help="the model folder to write")
    args = p.parse_args(argv)

    def run(events):
        path, params = export(args.checkpoint, args.tokenizer, args.out)
        events.emit("exported", path=path, params=params)

    return run_tool("export", run)


if __name__ == "__main__":
    sys.exit(main())
