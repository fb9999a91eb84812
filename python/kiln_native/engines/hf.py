"""The reference engine: `transformers` generate on the exported folder, one request at a time
(what kiln served before the optimized engines; the baseline of the load benchmark and of the
token-for-token check)."""

import uuid

from ..generate import context_length, load_model
from .base import Engine


class HFEngine(Engine):
    kind = "hf"
    max_batch = 1  # the reference: one generate() per request, in arrival order

    def __init__(self, model_dir: str, threads: int = 0):
        super().__init__(model_dir)
        self.model, _, self.device = load_model(model_dir)
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        self.context = context_length(self.model)

    def run_batch(self, jobs: list) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList
        from transformers.generation.streamers import BaseStreamer

        [job] = jobs
        eos = self.tokenizer.eos

        class Streamer(BaseStreamer):
            """Feeds each step's tokens (one per sequence) to the job; the first put is the prompt."""
            prompt_seen = False

            def put(self, value):
                if not self.prompt_seen:
                    self.prompt_seen = True
                    return
                for i, token in enumerate(value.reshape(-1).tolist()):
                    job.push(i, token, eos)

            def end(self):
                pass

        class Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return torch.tensor([job.done[i] for i in range(input_ids.shape[0])], device=input_ids.device)

        s = job.sampling
        kwargs = ({"do_sample": False} if s.greedy else
                  {"do_sample": True, "temperature": s.temperature, "top_p": s.top_p, "top_k": 0})
        torch.manual_seed(s.seed if s.seed is not None else int.from_bytes(uuid.uuid4().bytes[:4], "little"))
        ids = torch.tensor([job.prompt_ids], device=self.device)
        with torch.no_grad():
            self.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=job.max_new,
                                num_return_sequences=job.runs, eos_token_id=eos, pad_token_id=eos,
                                streamer=Streamer(), stopping_criteria=StoppingCriteriaList([Cancelled()]), **kwargs)
