"""The optimized engine: CTranslate2 on a conversion of the exported folder.

Concurrent requests share forward passes: the scheduler (engines/base.py) hands every compatible
job that is waiting to one `generate_batch`; each sequence streams through the per-token callback
and stops on its own (EOS, its max_tokens, its stop strings, a client gone) by returning True.
float32 reproduces transformers' greedy tokens exactly on CPU (the deploy checks it); int8 is
faster and close, not identical (README, serving).
"""

import json
import os
import shutil
from pathlib import Path

from kiln_trainer.events import FatalError

from ..shard import EOS
from .base import Engine

CONVERTED_FILES = ("config.json", "model.bin", "vocabulary.json")


def convert(model_dir: str, out_dir: str, force: bool = False) -> Path:
    """The CTranslate2 model of an exported Hugging Face folder, in out_dir (kept as float32, so the
    compute type is chosen when it is loaded). Written to a side folder of this process and renamed
    into place: a folder with the files is a whole conversion."""
    out = Path(out_dir)
    if not force and all((out / f).is_file() for f in CONVERTED_FILES):
        return out
    from ctranslate2.converters import TransformersConverter

    partial = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        TransformersConverter(str(model_dir), low_cpu_mem_usage=True).convert(str(partial), quantization="float32",
                                                                              force=True)
    except (OSError, ValueError, NotImplementedError) as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise FatalError(f"{model_dir}: CTranslate2 cannot convert this model ({error})") from None
    if force or not all((out / f).is_file() for f in CONVERTED_FILES):  # else another process finished first
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.rename(out)
    shutil.rmtree(partial, ignore_errors=True)
    return out


class CT2Engine(Engine):
    kind = "ct2"

    def __init__(self, model_dir: str, ct2_dir: str | None = None, compute_type: str = "float32",
                 device: str = "auto", max_batch: int = 32, batch_wait_ms: float = 5.0, threads: int = 0):
        super().__init__(model_dir)
        import ctranslate2

        self.ct2 = ctranslate2
        path = Path(ct2_dir) if ct2_dir else Path(model_dir) / "ct2"
        convert(model_dir, str(path))  # a no-op when the deploy stage converted it already
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        try:
            self.generator = ctranslate2.Generator(str(path), device=device, compute_type=compute_type,
                                                   inter_threads=1, intra_threads=threads)
        except (RuntimeError, ValueError) as error:
            raise FatalError(f"{path}: cannot load the CTranslate2 model ({error})") from None
        self.device, self.compute_type = device, compute_type
        self.max_batch, self.batch_wait_s = max_batch, batch_wait_ms / 1000
        config = json.loads((Path(model_dir) / "config.json").read_text())
        self.context = int(config.get("max_position_embeddings") or 2048)

    def run_batch(self, jobs: list) -> None:
        eos = self.tokenizer.eos
        # CTranslate2 forwards the prompts at once up to the shortest one's length; a longer prompt's
        # remaining tokens are forced one step at a time and reported through the callback: skipped.
        shortest = min(len(j.prompt_ids) for j in jobs)
        prompts, owners = [], []
        for job in jobs:
            tokens = self.tokenizer.tokens(job.prompt_ids)
            for i in range(job.runs):
                prompts.append(tokens)
                owners.append((job, i, len(job.prompt_ids) - shortest))

        def on_token(step) -> bool:
            job, i, forced = owners[step.batch_id]
            return False if step.step < forced else job.push(i, step.token_id, eos)

        s = jobs[0].sampling
        if s.greedy:
            options = {"sampling_topk": 1}
        else:
            options = {"sampling_topk": 0, "sampling_temperature": s.temperature, "sampling_topp": s.top_p}
            if s.seed is not None:
                self.ct2.set_random_seed(s.seed)  # a seeded job runs alone (Sampling.batch_key)
        self.generator.generate_batch(prompts, max_length=max(j.max_new + f for j, _, f in owners), include_prompt_in_result=False,
                                      end_token=EOS, return_end_token=True, callback=on_token, **options)

    def describe(self) -> dict:
        return {**super().describe(), "computeType": self.compute_type, "maxBatch": self.max_batch}
