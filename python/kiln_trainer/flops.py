"""Model FLOPs utilization: the model's training FLOPs per token against the device's peak.

FLOPs per token follow PaLM (appendix B) and nanoGPT: 6N for the matmuls of forward and
backward (N without the embedding lookup) plus 12 * layers * d_model * seq_len for the
attention scores. Peaks are datasheet dense bf16 tensor-core figures (no sparsity), looked up
by the CUDA device name, most specific first (the table nanochat and torchtitan use).
An unknown device gives no MFU rather than a guess; KILN_PEAK_FLOPS sets the peak by hand.
"""

import os

# (substrings that must all occur in the lower-cased device name, peak bf16 FLOP/s)
PEAK_BF16_FLOPS = (
    (("gb200",), 2.5e15), (("b200",), 2.25e15), (("b100",), 1.8e15),
    (("h200", "nvl"), 836e12), (("h200", "pcie"), 836e12), (("h200",), 989e12),
    (("h100", "nvl"), 835e12), (("h100", "pcie"), 756e12), (("h100",), 989e12),
    (("h800", "nvl"), 989e12), (("h800",), 756e12),
    (("a100",), 312e12), (("a800",), 312e12), (("a40",), 149.7e12), (("a30",), 165e12),
    (("a10g",), 70e12), (("a10",), 125e12),
    (("l40s",), 362e12), (("l40-s",), 362e12), (("l40 s",), 362e12), (("l40",), 181e12), (("l4",), 121e12),
    (("mi355",), 2.5e15), (("mi325",), 1.3074e15), (("mi300x",), 1.3074e15), (("mi300a",), 980.6e12),
    (("mi250x",), 383e12), (("mi250",), 362.1e12),
    (("5090",), 209.5e12), (("4090",), 165.2e12), (("3090",), 71e12),
)


def peak_flops(device_name: str | None) -> float | None:
    """Peak dense bf16 FLOP/s of one device, or None when unknown (CPU, an unlisted GPU)."""
    if os.environ.get("KILN_PEAK_FLOPS"):
        return float(os.environ["KILN_PEAK_FLOPS"])
    name = (device_name or "").lower()
    for parts, flops in PEAK_BF16_FLOPS:
        if all(p in name for p in parts):
            return flops
    return None


def device_name(device) -> str:
    import torch
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


def flops_per_token(non_embedding_params: int, n_layer: int, d_model: int, seq_len: int) -> float:
    return 6 * non_embedding_params + 12 * n_layer * d_model * seq_len


def mfu(tokens_per_s_per_device: float, flops_per_tok: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_s_per_device * flops_per_tok / peak
