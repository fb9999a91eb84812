import math

import pytest
import torch

from conftest import tiny_config
from kiln_trainer import flops
from kiln_trainer.config import ConfigError, parse_config, resolve_ffn_hidden
from kiln_trainer.model import Llama, ModelConfig
from kiln_trainer.train import lr_factor

CFG = ModelConfig(vocab_size=300, n_layer=2, n_head=4, n_kv_head=2, d_model=32, ffn_hidden=64,
                  rope_theta=10000.0, max_seq_len=32)


def test_shapes_and_grouped_query_attention():
    torch.manual_seed(0)
    model = Llama(CFG)
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.weight.shape == (32, 32)
    assert attn.k_proj.weight.shape == (16, 32)  # 2 KV heads x head_dim 8
    assert attn.v_proj.weight.shape == (16, 32)
    idx = torch.randint(0, 300, (3, 31))
    logits, loss = model(idx, idx)
    assert logits.shape == (3, 31, 300)
    assert abs(loss.item() - math.log(300)) < 0.5  # near uniform at init


def test_activation_checkpointing_gives_the_same_loss_and_gradients():
    torch.manual_seed(0)
    model = Llama(CFG)
    idx = torch.randint(0, 300, (2, 31))
    grads = []
    for ac in (False, True):
        model.zero_grad(set_to_none=True)
        model.activation_checkpointing = ac
        _, loss = model(idx, idx)
        loss.backward()
        grads.append((loss.item(), [p.grad.clone() for p in model.parameters()]))
    (loss_a, g_a), (loss_b, g_b) = grads
    assert loss_a == loss_b
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g_a, g_b))
    assert "activation_checkpointing" not in " ".join(model.state_dict())


def test_parameter_names_equal_hugging_face_llama():
    names = set(Llama(CFG).state_dict())
    expected = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
    for i in range(2):
        p = f"model.layers.{i}."
        expected |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        expected |= {f"{p}self_attn.{x}_proj.weight" for x in "qkvo"}
        expected |= {f"{p}mlp.{x}_proj.weight" for x in ("gate", "up", "down")}
    assert names == expected


def test_attention_is_causal():
    torch.manual_seed(0)
    model = Llama(CFG)
    a = torch.randint(0, 300, (1, 16))
    b = a.clone()
    b[0, 10:] = (b[0, 10:] + 1) % 300
    with torch.no_grad():
        la, lb = model(a)[0], model(b)[0]
    assert torch.equal(la[0, :10], lb[0, :10])
    assert not torch.allclose(la[0, 10:], lb[0, 10:])


def test_mfu_is_none_without_a_peak_and_a_fraction_with_one():
    model = Llama(CFG)
    assert model.estimate_mfu(1e5, None) is None
    mfu = model.estimate_mfu(1e5, 989e12)
    assert mfu == pytest.approx(1e5 * model.flops_per_token(31) / 989e12)


def test_flops_per_token_is_6n_plus_the_attention_term():
    model = Llama(CFG)
    n = model.num_params(non_embedding=True)
    assert n == model.num_params() - 300 * 32
    assert model.flops_per_token(31) == 6 * n + 12 * 2 * 32 * 31


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12), ("NVIDIA H100 NVL", 835e12),
    ("NVIDIA H200", 989e12), ("NVIDIA A100-SXM4-40GB", 312e12), ("NVIDIA L4", 121e12),
    ("NVIDIA L40S", 362e12), ("NVIDIA A10G", 70e12), ("NVIDIA B200", 2.25e15),
    ("cpu", None), ("Some Future GPU", None),
])
def test_peak_flops_by_device_name(name, peak, monkeypatch):
    monkeypatch.delenv("KILN_PEAK_FLOPS", raising=False)
    assert flops.peak_flops(name) == peak
    monkeypatch.setenv("KILN_PEAK_FLOPS", "1e14")
    assert flops.peak_flops(name) == 1e14


def test_model_config_validation_names_fields():
    with pytest.raises(ValueError, match=r"model.dModel \(64\) must be divisible by model.nHead \(3\)"):
        Llama(ModelConfig(300, 2, 3, 3, 64, 64, 1e4, 32))
    with pytest.raises(ValueError, match=r"model.nHead \(4\) must be divisible by model.nKvHead \(3\)"):
        Llama(ModelConfig(300, 2, 4, 3, 32, 64, 1e4, 32))


def test_config_defaults_resolve_like_the_schema():
    cfg = parse_config({"vocabSize": 1024, "seqLen": 128, "eosTokenId": 0})
    assert (cfg.seed, cfg.model.n_layer, cfg.model.d_model, cfg.model.n_kv_head) == (1234, 12, 768, 12)
    assert cfg.model.ffn_hidden == 2048 == resolve_ffn_hidden(768)
    assert resolve_ffn_hidden(64) == 192  # 170.7 rounded up to 64
    assert cfg.train.steps == 1000 and cfg.train.device == "auto"
    assert parse_config(cfg.to_json()) == cfg  # the checkpoint's copy reads back the same


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(extra=1), "unknown key extra in trainer config"),
    (lambda c: c["model"].update(nLayers=2), "unknown key model.nLayers in trainer config"),
    (lambda c: c["train"].update(step=5), "unknown key train.step"),
    (lambda c: c["train"].update(steps="5"), 'train.steps must be an integer, got "5"'),
    (lambda c: c["train"].update(steps=True), "train.steps must be an integer, got true"),
    (lambda c: c["train"].update(lr=0), "train.lr must be > 0, got 0.0"),
    (lambda c: c["train"].update(device="tpu"), "train.device must be one of auto, cpu, cuda"),
    (lambda c: c["train"].update(parallelism="zero3"), "train.parallelism must be one of ddp, fsdp"),
    (lambda c: c["train"].update(compile="yes"), 'train.compile must be true or false, got "yes"'),
    (lambda c: c["train"].update(keepCheckpoints=0), "train.keepCheckpoints must be >= 1, got 0"),
    (lambda c: c["train"].update(lossSpikeFactor=1), "train.lossSpikeFactor must be > 1, got 1.0"),
    (lambda c: c["model"].update(dModel=30), r"model.dModel \(30\) must be divisible by model.nHead \(4\)"),
    (lambda c: c.pop("seqLen"), "missing required key seqLen"),
    (lambda c: c.update(eosTokenId=300), r"eosTokenId \(300\) must be < vocabSize \(300\)"),
])
def test_config_refuses_bad_input_naming_the_field(mutate, message):
    cfg = tiny_config()
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        parse_config(cfg)


def test_lr_schedule_warms_up_then_decays_to_a_tenth():
    assert lr_factor(0, 10, 100) == pytest.approx(0.1)
    assert lr_factor(9, 10, 100) == pytest.approx(1.0)
    assert lr_factor(10, 10, 100) == pytest.approx(1.0)
    assert lr_factor(55, 10, 100) == pytest.approx(0.55)
    assert lr_factor(100, 10, 100) == pytest.approx(0.1)
    assert lr_factor(0, 0, 5) == pytest.approx(1.0)
