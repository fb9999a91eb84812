"""Which source files were in the training batch at a step, per rank.

    python -m kiln_trainer.explain_step --data SHARDS_DIR --config trainer.json --step N \
        [--world-size W] [--split train]

The sample ids come from data.sample_ids_for_step (the training sampler's own arithmetic:
seed, world size = train.nodes x train.procsPerNode unless --world-size, microBatchSize,
gradAccum), the files from provenance.batch_sources.

stdout: {"event":"explain","step":N,"world_size":W,"micro_batch_size":..,"grad_accum":..,
         "samples_in_split":..,"ranks":[{"rank":r,"samples":[{"sample":id,"sources":[...]}]}]}
"""

import argparse
import os

from .config import load_config
from .data import sample_ids_for_step
from .events import FatalError, run_tool
from .provenance import Partitions, batch_sources


def explain(data_dir: str, config_path: str, step: int, world_size: int | None = None, split: str = "train") -> dict:
    cfg = load_config(config_path)
    t = cfg.train
    world = world_size or t.nodes * t.procs_per_node
    total = Partitions(os.path.join(data_dir, split)).total
    try:
        ranks = [{"rank": r, "samples": batch_sources(data_dir, split, sample_ids_for_step(
            total, cfg.seed, step, r, world, t.micro_batch_size, t.grad_accum))} for r in range(world)]
    except ValueError as e:
        raise FatalError(str(e)) from None
    return {"step": step, "world_size": world, "micro_batch_size": t.micro_batch_size,
            "grad_accum": t.grad_accum, "samples_in_split": total, "ranks": ranks}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Source files of the training batch at a step.")
    parser.add_argument("--data", required=True, help="the shard stage's folder (train/, val/)")
    parser.add_argument("--config", required=True, help="the trainer config JSON of the run")
    parser.add_argument("--step", type=int, required=True, help="1-based optimizer step")
    parser.add_argument("--world-size", type=int, default=None)
    parser.add_argument("--split", default="train")
    args = parser.parse_args(argv)

    def run(events):
        if args.step < 1:
            raise FatalError(f"--step must be at least 1, got {args.step}")
        events.emit("explain", **explain(args.data, args.config, args.step, args.world_size, args.split))

    return run_tool("explain_step", run)


if __name__ == "__main__":
    raise SystemExit(main())
