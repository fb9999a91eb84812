"""Inference engines behind kiln_native.serve (see base.py for the interface).

    ct2   CTranslate2 on a conversion of the exported folder, batched (CPU or GPU): the default
    hf    transformers on the exported folder, one request at a time: the reference
    vllm  vLLM's own OpenAI server on the exported folder (GPU workers that have vllm installed)
"""

ENGINES = ("ct2", "hf", "vllm")


def load_engine(kind: str, model_dir: str, **options):
    """An in-process engine (not started). vllm runs as its own server: see engines/vllm.py."""
    if kind == "hf":
        from .hf import HFEngine

        return HFEngine(model_dir, threads=options.get("threads", 0))
    if kind == "ct2":
        from .ct2 import CT2Engine

        return CT2Engine(model_dir, ct2_dir=options.get("ct2_dir"), compute_type=options.get("compute_type", "float32"),
                         max_batch=options.get("max_batch", 32), batch_wait_ms=options.get("batch_wait_ms", 5.0),
                         threads=options.get("threads", 0))
    raise ValueError(f"unknown in-process engine {kind!r} (one of ct2, hf)")
