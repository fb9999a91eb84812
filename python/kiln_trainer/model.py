"""Llama-style decoder, nanoGPT-sized.

Parameter names and the RoPE convention equal Hugging Face's LlamaForCausalLM, so
export copies the state dict without renaming and transformers reproduces our logits.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from . import flops

RMS_NORM_EPS = 1e-5


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    n_layer: int
    n_head: int
    n_kv_head: int  # grouped-query attention: each K/V head serves n_head // n_kv_head query heads
    d_model: int
    ffn_hidden: int  # SwiGLU hidden size
    rope_theta: float
    max_seq_len: int  # tokens per packed sample (the model sees max_seq_len - 1 at a time)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def validate(self) -> None:
        """Raise ValueError naming the field (in the pipeline config's camelCase)."""
        minimums = {"vocabSize": (self.vocab_size, 1), "model.nLayer": (self.n_layer, 1),
                    "model.nHead": (self.n_head, 1), "model.nKvHead": (self.n_kv_head, 1),
                    "model.dModel": (self.d_model, 8), "model.ffnHidden": (self.ffn_hidden, 8),
                    "seqLen": (self.max_seq_len, 2)}
        for name, (value, low) in minimums.items():
            if value < low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if not self.rope_theta > 0:
            raise ValueError(f"model.ropeTheta must be > 0, got {self.rope_theta}")
        if self.d_model % self.n_head:
            raise ValueError(f"model.dModel ({self.d_model}) must be divisible by model.nHead ({self.n_head})")
        if self.n_head % self.n_kv_head:
            raise ValueError(f"model.nHead ({self.n_head}) must be divisible by model.nKvHead ({self.n_kv_head})")
        if self.head_dim % 2:
            raise ValueError(f"model.dModel / model.nHead ({self.head_dim}) must be even for rotary embeddings")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = RMS_NORM_EPS):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Normalize in fp32 and cast back before the gain, exactly as HF LlamaRMSNorm does.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rope_cache(cfg: ModelConfig):
    """cos/sin tables of shape (max_seq_len, head_dim), HF's layout: frequencies repeated twice."""
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = torch.outer(torch.arange(cfg.max_seq_len).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):  # x: (B, H, T, hd); cos/sin: (T, hd)
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)
    return x * cos + rotate_half(x) * sin


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.n_kv_head, cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_head * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_head * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.n_head * cfg.head_dim, cfg.d_model, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        # enable_gqa repeats each K/V head over consecutive query heads, like HF's repeat_kv.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           enable_gqa=self.n_kv_head != self.n_head)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.d_model, cfg.ffn_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.ffn_hidden, cfg.d_model, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.d_model)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Decoder(nn.Module):
    """The `model.` prefix of HF names: embeddings, blocks, final norm."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.d_model)


class Llama(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.activation_checkpointing = False  # train.activationCheckpointing; no weights, not in the state dict
        self.model = Decoder(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # Non-persistent: the state dict holds exactly HF's parameter names, nothing else.
        cos, sin = rope_cache(cfg)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2 style: shrink the residual projections so the residual stream's
        # variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @torch.no_grad()
    def reset_rope(self) -> None:
        """Recompute the RoPE tables in place: a model built on the meta device and then
        materialized with to_empty() has garbage in its (non-persistent) buffers."""
        cos, sin = rope_cache(self.cfg)
        self.rope_cos.copy_(cos)
        self.rope_sin.copy_(sin)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n - self.model.embed_tokens.weight.numel() if non_embedding else n

    def forward(self, idx, targets=None):
        """idx, targets: (B, T) int64. Returns logits (B, T, V) and the mean loss (or None)."""
        T = idx.size(1)
        if T > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {T} tokens exceeds max_seq_len {self.cfg.max_seq_len}")
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        x = self.model.embed_tokens(idx)
        recompute = self.activation_checkpointing and torch.is_grad_enabled()
        for block in self.model.layers:
            # Non-reentrant checkpointing composes with torch.compile'd blocks and FSDP2's hooks.
            x = checkpoint(block, x, cos, sin, use_reentrant=False) if recompute else block(x, cos, sin)
        logits = self.lm_head(self.model.norm(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token: 6N for the matmuls (forward + backward) plus attention scores
        (PaLM appendix B / nanoGPT). Embedding lookups are not matmuls, so N excludes them."""
        c = self.cfg
        return flops.flops_per_token(self.num_params(non_embedding=True), c.n_layer, c.d_model, seq_len)

    def estimate_mfu(self, tokens_per_s: float, peak: float | None, seq_len: int | None = None):
        """Model FLOPs utilization of ONE device processing tokens_per_s, against its peak
        FLOP/s (flops.peak_flops); None when the peak is unknown (CPU, an unlisted GPU), where
        an MFU against a made-up peak would be noise."""
        return flops.mfu(tokens_per_s, self.flops_per_token(seq_len or self.cfg.max_seq_len - 1), peak)
