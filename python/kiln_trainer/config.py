"""The trainer's config: ONE JSON file with the resolved pipeline sections it needs.

    {"seed": 1234, "vocabSize": 1024, "seqLen": 128, "eosTokenId": 0,
     "model": {...configs/schema.json "model"...}, "train": {...schema "train"...}}

Keys are camelCase as in configs/schema.json, and the model and train defaults and bounds are
READ from that file (the repository's, found above this package), so the pipeline and the trainer
cannot disagree. Unknown keys and wrong types are refused with the key's name.
`TrainerConfig.to_json()` gives the resolved form (defaults filled in, nKvHead and ffnHidden
resolved) that every checkpoint stores.
"""

import dataclasses
import json
import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .events import FatalError
from .model import ModelConfig


class ConfigError(FatalError, ValueError):
    pass


def _find_schema() -> Path:
    """configs/schema.json of the repository this package lives in (<repo>/python/kiln_trainer/)."""
    here = Path(__file__).resolve().parent
    for parent in here.parents:
        candidate = parent / "configs" / "schema.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"configs/schema.json not found above {here}: the trainer reads its defaults there")


SCHEMA_PATH = _find_schema()
_SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _schema_field(section: str, key: str):
    """A field whose default and bounds are configs/schema.json's <section>.<key>."""
    spec = _SCHEMA["properties"][section]["properties"][key]
    types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    default = spec["default"]
    if "number" in types and default is not None:
        default = float(default)  # JSON's 10000 for a number field is Python's 10000.0
    return field(default=default, metadata={
        "key": key, "min": spec.get("minimum"), "gt": spec.get("exclusiveMinimum"),
        "choices": tuple(spec["enum"]) if "enum" in spec else None})


def _f(default=dataclasses.MISSING, *, min=None, gt=None, choices=None):
    """A field the schema does not describe (the trainer's top level): default and bounds here."""
    return field(default=default, metadata={"min": min, "gt": gt, "choices": choices})


_model = partial(_schema_field, "model")
_train = partial(_schema_field, "train")


@dataclass
class ModelSection:
    """configs/schema.json "model"; vocab size and context length come from the top level."""
    n_layer: int = _model("nLayer")
    n_head: int = _model("nHead")
    n_kv_head: int | None = _model("nKvHead")  # null: n_head (plain multi-head attention)
    d_model: int = _model("dModel")
    ffn_hidden: int | None = _model("ffnHidden")  # null: 8/3 * d_model rounded up to 64
    rope_theta: float = _model("ropeTheta")


@dataclass
class TrainConfig:
    """configs/schema.json "train", without the orchestrator's heartbeat and stall timeouts."""
    nodes: int = _train("nodes")  # gang size; the launcher's business, kept for the record
    procs_per_node: int = _train("procsPerNode")
    steps: int = _train("steps")  # optimizer steps
    micro_batch_size: int = _train("microBatchSize")  # sequences per rank per micro-step
    grad_accum: int = _train("gradAccum")
    lr: float = _train("lr")  # peak; linear warmup, then cosine to lr/10
    warmup_steps: int = _train("warmupSteps")
    weight_decay: float = _train("weightDecay")  # 2-D parameters only
    grad_clip: float = _train("gradClip")  # 0 disables clipping
    checkpoint_every: int = _train("checkpointEvery")
    eval_every: int = _train("evalEvery")
    device: str = _train("device")
    dtype: str = _train("dtype")
    max_gang_restarts: int = _train("maxGangRestarts")  # orchestrator's knob, unused here
    progress_every_seconds: float = _train("progressEverySeconds")  # orchestrator's knob, unused here
    parallelism: str = _train("parallelism")  # fsdp: FSDP2 shards params, grads, optimizer
    compile: bool = _train("compile")  # torch.compile each transformer block
    activation_checkpointing: bool = _train("activationCheckpointing")  # recompute blocks in backward
    keep_checkpoints: int = _train("keepCheckpoints")  # newest N complete checkpoints kept on disk
    # Loss-spike detector (llm-foundry KillLossSpike): once lossSpikeWindow losses are in,
    # a loss >= lossSpikeFactor x their mean is an outlier; more than lossSpikePatience
    # outliers in a row is a spike: an event, and with lossSpikeStop a fatal stop.
    loss_spike_window: int = _train("lossSpikeWindow")
    loss_spike_factor: float = _train("lossSpikeFactor")
    loss_spike_patience: int = _train("lossSpikePatience")
    loss_spike_stop: bool = _train("lossSpikeStop")


@dataclass
class WandbConfig:
    """configs/schema.json train.tracking.wandb."""
    project: str = _f()
    entity: str | None = _f(None)  # None: the API key's default entity
    mode: str | None = _f(None, choices=("online", "offline", "disabled"))  # None: WANDB_MODE, else online


@dataclass
class TrackingConfig:
    """configs/schema.json train.tracking: training curves to W&B and TensorBoard (tracking.py).
    Changes no result: it stays out of the checkpoint's config and the run's identity."""
    wandb: WandbConfig | None = None
    tensorboard: bool = _f(False)


@dataclass
class TrainerConfig:
    # Python-side only: the pipeline always passes these three (planTraining: the tokenizer's
    # vocabulary, shard.seqLen, the EOS id), so they have no default here; bounds are the trainer's.
    vocab_size: int = _f(min=1)
    seq_len: int = _f(min=8)  # tokens per MDS sample; the model sees seq_len - 1 at a time
    eos_token_id: int = _f(min=0)
    seed: int = _f(_SCHEMA["properties"]["seed"]["default"], min=_SCHEMA["properties"]["seed"]["minimum"])
    model: ModelConfig = None
    train: TrainConfig = None
    # Read from train.tracking (parse_tracking), not from a top-level key.
    tracking: TrackingConfig = field(default_factory=TrackingConfig, metadata={"from": "train.tracking"})

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
    if value is None and typ in (int | None, str | None):
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
    elif typ in (str, str | None) and not isinstance(value, str):
        raise ConfigError(f"{path} must be a string, got {json.dumps(value)}")
    elif typ in (str, str | None) and not value:
        raise ConfigError(f"{path} must not be empty")
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
    fields = {_camel(f.name): f for f in dataclasses.fields(cls) if f.name not in nested and "from" not in f.metadata}
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


_SCHEMA_TYPES = {int: ["integer"], int | None: ["integer", "null"], float: ["number"], bool: ["boolean"], str: ["string"]}


def _check_against_schema(cls, section: str) -> None:
    """Each field names its schema key (camelCase of the field) and has the schema's type."""
    for f in dataclasses.fields(cls):
        key = f.metadata["key"]
        spec = _SCHEMA["properties"][section]["properties"][key]
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        if _camel(f.name) != key or _SCHEMA_TYPES.get(f.type) != types:
            raise TypeError(f"{cls.__name__}.{f.name} ({f.type}) does not match {SCHEMA_PATH} {section}.{key} ({types})")


_check_against_schema(ModelSection, "model")
_check_against_schema(TrainConfig, "train")


def resolve_ffn_hidden(d_model: int) -> int:
    return -(-8 * d_model // (3 * 64)) * 64  # ceil(8/3 * d_model / 64) * 64 in integers


def parse_tracking(obj) -> TrackingConfig:
    if obj is None:
        return TrackingConfig()
    kwargs = parse_section(TrackingConfig, obj, "train.tracking.", nested=("wandb",))
    wandb = obj.get("wandb")
    if wandb is not None:
        kwargs["wandb"] = WandbConfig(**parse_section(WandbConfig, wandb, "train.tracking.wandb."))
    return TrackingConfig(**kwargs)


def parse_config(obj) -> TrainerConfig:
    top = parse_section(TrainerConfig, obj, nested=("model", "train"))
    section = ModelSection(**parse_section(ModelSection, obj.get("model", {}), "model."))
    train_obj = obj.get("train", {})
    train = TrainConfig(**parse_section(TrainConfig, train_obj, "train.", nested=("tracking",)))
    tracking = parse_tracking(train_obj.get("tracking") if isinstance(train_obj, dict) else None)
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
    return TrainerConfig(**top, model=model, train=train, tracking=tracking)


def load_config(path: str) -> TrainerConfig:
    try:
        with open(path) as f:
            obj = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read trainer config {path}: {e}") from None
    return parse_config(obj)
