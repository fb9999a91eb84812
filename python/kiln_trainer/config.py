"""The trainer's config: ONE JSON file with the resolved pipeline sections it needs.

    {"seed": 1234, "vocabSize": 1024, "seqLen": 128, "eosTokenId": 0,
     "model": {...configs/schema.json "model"...}, "train": {...schema "train"...}}

Keys are camelCase as in configs/schema.json, with the same defaults and bounds. Unknown keys
and wrong types are refused with the key's name. `TrainerConfig.to_json()` gives the resolved
form (defaults filled in, nKvHead and ffnHidden resolved) that every checkpoint stores.
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field

from .events import FatalError
from .model import ModelConfig


class ConfigError(FatalError, ValueError):
    pass


def _f(default=dataclasses.MISSING, *, min=None, gt=None, choices=None):
    return field(default=default, metadata={"min": min, "gt": gt, "choices": choices})


@dataclass
class ModelSection:
    """configs/schema.json "model"; vocab size and context length come from the top level."""
    n_layer: int = _f(12, min=1)
    n_head: int = _f(12, min=1)
    n_kv_head: int | None = _f(None, min=1)  # null: n_head (plain multi-head attention)
    d_model: int = _f(768, min=8)
    ffn_hidden: int | None = _f(None, min=8)  # null: 8/3 * d_model rounded up to 64
    rope_theta: float = _f(10000.0, gt=0)


@dataclass
class TrainConfig:
    nodes: int = _f(1, min=1)  # gang size; the launcher's business, kept for the record
    procs_per_node: int = _f(1, min=1)
    steps: int = _f(1000, min=1)  # optimizer steps
    micro_batch_size: int = _f(8, min=1)  # sequences per rank per micro-step
    grad_accum: int = _f(1, min=1)
    lr: float = _f(6e-4, gt=0)  # peak; linear warmup, then cosine to lr/10
    warmup_steps: int = _f(100, min=0)
    weight_decay: float = _f(0.1, min=0)  # 2-D parameters only
    grad_clip: float = _f(1.0, min=0)  # 0 disables clipping
    checkpoint_every: int = _f(200, min=1)
    eval_every: int = _f(200, min=1)
    device: str = _f("auto", choices=("auto", "cpu", "cuda"))
    dtype: str = _f("auto", choices=("auto", "float32", "bfloat16"))
    max_gang_restarts: int = _f(5, min=0)  # orchestrator's knob, unused here
    progress_every_seconds: float = _f(10.0, min=1)  # orchestrator's knob, unused here
    parallelism: str = _f("ddp", choices=("ddp", "fsdp"))  # fsdp: FSDP2 shards params, grads, optimizer
    compile: bool = _f(False)  # torch.compile each transformer block
    keep_checkpoints: int = _f(2, min=1)  # newest N complete checkpoints kept on disk
    # Loss-spike detector (llm-foundry KillLossSpike): once lossSpikeWindow losses are in,
    # a loss >= lossSpikeFactor x their mean is an outlier; more than lossSpikePatience
    # outliers in a row is a spike: an event, and with lossSpikeStop a fatal stop.
    loss_spike_window: int = _f(100, min=2)
    loss_spike_factor: float = _f(2.0, gt=1)
    loss_spike_patience: int = _f(4, min=0)
    loss_spike_stop: bool = _f(False)


@dataclass
class TrainerConfig:
    vocab_size: int = _f(min=1)
    seq_len: int = _f(min=8)  # tokens per MDS sample; the model sees seq_len - 1 at a time
    eos_token_id: int = _f(min=0)
    seed: int = _f(1234, min=0)
    model: ModelConfig = None
    train: TrainConfig = None

    def to_json(self) -> dict:
        m = self.model
        return {
            "seed": self.seed, "vocabSize": self.vocab_size, "seqLen": self.seq_len,
            "eosTokenId": self.eos_token_id,
            "model": {"nLayer": m.n_layer, "nHead": m.n_head, "nKvHead": m.n_kv_head,
                      "dModel": m.d_model, "ffnHidden": m.ffn_hidden, "ropeTheta": m.rope_theta},
            "train": {_camel(f.name): getattr(self.train, f.name)
                      for f in dataclasses.fields(TrainConfig)},
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_value(value, f: dataclasses.Field, path: str):
    typ, meta = f.type, f.metadata
    if value is None and typ == int | None:
        return None
    if typ is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false, got {json.dumps(value)}")
        return value
    if typ in (int, int | None):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer, got {json.dumps(value)}")
    elif typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{path} must be a finite number, got {json.dumps(value)}")
        value = float(value)
    elif typ is str and not isinstance(value, str):
        raise ConfigError(f"{path} must be a string, got {json.dumps(value)}")
    if meta["choices"] and value not in meta["choices"]:
        raise ConfigError(f"{path} must be one of {', '.join(meta['choices'])}; got {json.dumps(value)}")
    if meta["min"] is not None and value < meta["min"]:
        raise ConfigError(f"{path} must be >= {meta['min']}, got {value}")
    if meta["gt"] is not None and not value > meta["gt"]:
        raise ConfigError(f"{path} must be > {meta['gt']}, got {value}")
    return value


def parse_section(cls, obj, where: str = "", nested=()) -> dict:
    """Check a JSON object against a dataclass's fields; return snake_case kwargs.
    `nested` names sub-objects that the caller parses itself."""
    if not isinstance(obj, dict):
        raise ConfigError(f"{where.rstrip('.') or 'trainer config'} must be a JSON object, "
                          f"got {json.dumps(obj)[:80]}")
    fields = {_camel(f.name): f for f in dataclasses.fields(cls) if f.name not in nested}
    for key in obj:
        if key not in fields and key not in nested:
            allowed = ", ".join([*fields, *nested])
            raise ConfigError(f"unknown key {where}{key} in trainer config (allowed: {allowed})")
    kwargs = {}
    for key, f in fields.items():
        if key in obj:
            kwargs[f.name] = _check_value(obj[key], f, where + key)
        elif f.default is dataclasses.MISSING:
            raise ConfigError(f"missing required key {where}{key} in trainer config")
    return kwargs


def resolve_ffn_hidden(d_model: int) -> int:
    return -(-8 * d_model // (3 * 64)) * 64  # ceil(8/3 * d_model / 64) * 64 in integers


def parse_config(obj) -> TrainerConfig:
    top = parse_section(TrainerConfig, obj, nested=("model", "train"))
    section = ModelSection(**parse_section(ModelSection, obj.get("model", {}), "model."))
    train = TrainConfig(**parse_section(TrainConfig, obj.get("train", {}), "train."))
    model = ModelConfig(
        vocab_size=top["vocab_size"], max_seq_len=top["seq_len"],
        n_layer=section.n_layer, n_head=section.n_head,
        n_kv_head=section.n_kv_head if section.n_kv_head is not None else section.n_head,
        d_model=section.d_model,
        ffn_hidden=section.ffn_hidden if section.ffn_hidden is not None else resolve_ffn_hidden(section.d_model),
        rope_theta=section.rope_theta)
    try:
        model.validate()
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if top["eos_token_id"] >= top["vocab_size"]:
        raise ConfigError(f"eosTokenId ({top['eos_token_id']}) must be < vocabSize ({top['vocab_size']})")
    return TrainerConfig(**top, model=model, train=train)


def load_config(path: str) -> TrainerConfig:
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read trainer config {path}: {e}") from None
    return parse_config(obj)
