"""The engine interface behind kiln_native.serve: token ids in, token ids out, many requests at once.

An engine turns submitted jobs (prompt ids, sampling parameters, how many sequences) into a stream
of (sequence index, token id) events. The server does everything textual once for every engine:
tokenizing, the FIM layout, stop strings, echo, SSE. A scheduler thread per engine takes jobs off a
queue and hands compatible ones to `run_batch` together (up to `max_batch` sequences, gathering
for `batch_wait_s` after the first), so concurrent requests share forward passes where the engine
can batch; the reference engine takes one job at a time.
"""

import itertools
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiln_trainer.events import FatalError

from ..shard import EOS, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX

END = None  # the event that closes one sequence


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def batch_key(self, job_id: int):
        """Jobs with equal keys may share a batch: greedy ones always; sampled ones with the same
        parameters; a seeded sampled job runs alone, so its draws never depend on its neighbours."""
        if self.greedy:
            return ("greedy",)
        return ("sample", self.temperature, self.top_p, job_id if self.seed is not None else None)


@dataclass
class Job:
    """One request's generation: `runs` sequences of the same prompt (1 for greedy: the server
    copies it n times). Events arrive on `events`; `finish(i)` ends sequence i early."""
    prompt_ids: list
    max_new: int
    sampling: Sampling
    runs: int = 1
    events: queue.Queue = field(default_factory=queue.Queue)
    tag: int = 0  # events carry tag + i: several jobs (a request's prompts) may share one queue
    id: int = field(default_factory=itertools.count().__next__)
    counts: list = field(init=False)
    done: list = field(init=False)

    def __post_init__(self):
        self.counts = [0] * self.runs
        self.done = [False] * self.runs
        self.lock = threading.Lock()  # the engine and the server may both end a sequence

    def push(self, i: int, token: int, eos: int) -> bool:
        """Records token for sequence i; True once the sequence is over (EOS, max_new, cancelled)."""
        if self.done[i]:
            return True
        self.events.put((self.tag + i, token))
        self.counts[i] += 1
        if token == eos or self.counts[i] >= self.max_new:
            self.finish(i)
        return self.done[i]

    def finish(self, i: int) -> None:
        """Ends sequence i once (one END event); the engine stops feeding it. The server calls it
        too, for a stop string or a client gone."""
        with self.lock:
            if self.done[i]:
                return
            self.done[i] = True
        self.events.put((self.tag + i, END))

    def fail(self, error: BaseException) -> None:
        self.events.put((-1, error))


class Tokenizer:
    """The model's tokenizer.json, encoding as the shard stage does: text never turns into control
    tokens, and FIM prompts are laid out from the special tokens' ids (PSM, bigcode order)."""

    def __init__(self, model_dir: str):
        from tokenizers import Tokenizer as HFTokenizer

        path = Path(model_dir) / "tokenizer.json"
        if not path.is_file():
            raise FatalError(f"{model_dir}: no tokenizer.json (an exported model folder has one)")
        self.tok = HFTokenizer.from_file(str(path))
        self.tok.encode_special_tokens = True
        self.eos = self.tok.token_to_id(EOS)
        if self.eos is None:
            raise FatalError(f"{path}: no {EOS} token")
        self.fim = [self.tok.token_to_id(t) for t in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)]

    def encode(self, text: str) -> list:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=False)

    def fim_prompt(self, prefix: str, suffix: str) -> list:
        if None in self.fim:
            raise ValueError("this model's tokenizer has no <fim_prefix>/<fim_suffix>/<fim_middle> tokens")
        p, s, m = self.fim
        return [p, *self.encode(prefix), s, *self.encode(suffix), m]

    def tokens(self, ids) -> list:
        return [self.tok.id_to_token(i) for i in ids]


class Engine:
    """Base: a job queue and the scheduler thread; subclasses load a model and run batches."""

    kind = "base"
    max_batch = 1  # sequences per run_batch call
    batch_wait_s = 0.0
    max_prompt_skew = 64  # prompt lengths (tokens) in one batch differ by at most this

    def __init__(self, model_dir: str):
        self.model_dir = model_dir
        self.tokenizer = Tokenizer(model_dir)
        self.context = 2048
        self.device = "cpu"
        self.queue: queue.Queue = queue.Queue()
        self.pending: list = []
        self.stats = {"batches": 0, "jobs": 0, "max_jobs_per_batch": 0}
        self.thread = threading.Thread(target=self._schedule, name=f"{self.kind}-scheduler", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def submit(self, job: Job) -> Job:
        self.queue.put(job)
        return job

    def _take(self, block: bool, timeout=None):
        try:
            self.pending.append(self.queue.get(block, timeout))
            return True
        except queue.Empty:
            return False

    def close(self) -> None:
        """Stops the scheduler after the batch in progress; queued jobs fail."""
        self.queue.put(None)
        if self.thread.is_alive():
            self.thread.join(timeout=60)

    def _schedule(self):
        closing = False
        while True:
            if not self.pending:
                self._take(True)
            # Gather what arrives within batch_wait_s of the first job, then run one batch.
            deadline = time.monotonic() + self.batch_wait_s
            while self.max_batch > 1 and sum(j.runs for j in self.pending if j) < self.max_batch:
                left = deadline - time.monotonic()
                if not self._take(left > 0, max(left, 0)) or self.pending[-1] is None:
                    break
            closing = closing or None in self.pending
            self.pending = [j for j in self.pending if j is not None]
            if closing:
                for job in self.pending:
                    job.fail(RuntimeError("the engine is shutting down"))
                return
            batch = self._next_batch()
            self.stats["batches"] += 1
            self.stats["jobs"] += len(batch)
            self.stats["max_jobs_per_batch"] = max(self.stats["max_jobs_per_batch"], len(batch))
            try:
                self.run_batch(batch)
            except Exception as error:  # noqa: BLE001 - a failed batch fails its requests, not the engine
                for job in batch:
                    job.fail(error)
                continue
            for job in batch:
                for i in range(job.runs):
                    job.finish(i)

    def _next_batch(self) -> list:
        """The oldest job and the waiting jobs that may share its batch; the rest stay pending."""
        first = self.pending[0]
        key = first.sampling.batch_key(first.id)
        batch, rest, size = [], [], 0
        for job in self.pending:
            fits = not batch or (size + job.runs <= self.max_batch and job.sampling.batch_key(job.id) == key
                                 and abs(len(job.prompt_ids) - len(first.prompt_ids)) <= self.max_prompt_skew)
            if fits:
                batch.append(job)
                size += job.runs
            else:
                rest.append(job)
        self.pending = rest
        return batch

    def run_batch(self, jobs: list) -> None:
        """Generate for every job; call job.push(i, token, eos) per new token and stop feeding a
        sequence once it returns True."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {"engine": self.kind, "device": self.device}


def generate_ids(engine: Engine, prompt_ids: list, max_new: int, sampling: Sampling = Sampling()) -> list:
    """One sequence's generated ids (EOS included when it came), through the engine's scheduler."""
    job = engine.submit(Job(prompt_ids, max_new, sampling))
    ids = []
    while True:
        _, token = job.events.get()
        if isinstance(token, BaseException):
            raise token
        if token is END:
            return ids
        ids.append(token)

