"""The trainer's stdout protocol: one JSON object per line, flushed, from global rank 0 only.

    {"event":"start","step":S,"world_size":W,"device":"cpu","dtype":"float32","params":N,"resumed_from":path|null,
     "parallelism":"ddp"|"fsdp"|"none","compile":bool,"device_name":s,"peak_flops":f|null}
    {"event":"step","step":s,"loss":f,"lr":f,"grad_norm":f,"tokens_per_s":f,"mfu":f|null,"tokens_seen":n,
     "max_memory_bytes":n}         grad_norm before clipping; memory: CUDA max allocated, or peak RSS on CPU
    {"event":"eval","step":s,"val_loss":f}
    {"event":"checkpoint","step":s,"path":"ABS_DIR","seconds":f}  after the directory is complete
    {"event":"loss_spike","step":s,"loss":f,"running_mean":f,"factor":f,"window":n,"outlier_steps":[s...],
     "batches":[{"step":s,"samples":[global sample id...]}],"provenance":[...]|null,"stopping":bool}
                                   provenance: kiln_trainer.provenance.batch_sources of those samples
    {"event":"stopped","step":s,"reason":"sigterm"|"max-steps","checkpoint":"ABS_DIR"}  exit 75
    {"event":"done","step":s,"final_loss":f,"checkpoint":"ABS_DIR"}                      exit 0
    {"event":"error","message":"..."}                                                    exit 2

The command-line tools (explain_step here, kiln_native's shard, tokenizer_train, generate, serve,
export) speak the same protocol through run_tool: their own events, then `error` and exit 2.

New fields are only ever added; readers ignore what they do not know.
Logs and anything else go to stderr. Note that torchrun itself exits 1 whenever a worker exits
non-zero, so a launcher behind torchrun should read the last event, not only the exit code.
"""

import json
import math
import sys

EXIT_OK = 0
EXIT_FATAL = 2  # bad config or data: retrying cannot help
EXIT_STOPPED = 75  # stopped on request (SIGTERM/SIGINT, --max-steps-this-run) after a checkpoint


class FatalError(Exception):
    """An error a person must fix (config, data, diverged loss): reported as an error event."""


def _finite(value):
    # JSON has no NaN/Infinity; a non-finite float becomes null rather than invalid JSON.
    return None if isinstance(value, float) and not math.isfinite(value) else value


class Events:
    def __init__(self, stream=None):
        self.stream = stream  # None on ranks other than 0: they print nothing
        self.observers = []  # observe(event, record) after each line: tracking.py's curves

    def emit(self, event: str, **fields) -> None:
        if self.stream is None:
            return
        record = {"event": event, **{k: _finite(v) for k, v in fields.items()}}
        self.stream.write(json.dumps(record, allow_nan=False) + "\n")
        self.stream.flush()
        for observe in self.observers:
            observe(event, record)


def log(message: str) -> None:
    print(f"[kiln-trainer] {message}", file=sys.stderr, flush=True)


def run_tool(name: str, main) -> int:
    """Run main(events); a FatalError becomes an `error` event + a stderr line + exit 2."""
    events = Events(sys.stdout)
    try:
        return main(events) or 0
    except FatalError as error:
        events.emit("error", message=str(error))
        print(f"{name}: {error}", file=sys.stderr, flush=True)
        return EXIT_FATAL
