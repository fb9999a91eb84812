"""Where a training sample comes from: global sample ids -> source documents and token spans.

The shard tool (kiln_native.shard) writes provenance.parquet beside each partition's shards
(DATA_DIR/<split>/<part>/provenance.parquet, one row per document piece of a sample; see
kiln_native/shard.py). It lives in the trainer because the trainer reads it (loss_spike events,
explain_step). A split's index.json lists the partitions' shards in order (`<part>/shard...`
basenames), so a global sample id is the partition's first id plus the sample's index in it:
exactly the ids MDSDataset, StreamingDataset and the train sampler use.

    batch_sources(data_dir, "train", [17, 4]) ->
      [{"sample": 17, "sources": [{"repo": .., "path": .., "lang": .., "token_start": 0,
                                  "token_end": 93, "doc_token_start": 210, "fim": "psm"|"spm"|None}, ...]},
       {"sample": 4, ...}]
"""

import bisect
import json
import os
from functools import lru_cache

import numpy as np

from .events import FatalError

PROVENANCE_FILE = "provenance.parquet"  # beside each partition's shards, written by kiln_native.shard


class Partitions:
    """The partitions of one split in index order, with the global id of each one's first sample."""

    def __init__(self, split_dir: str):
        index_path = os.path.join(split_dir, "index.json")
        try:
            with open(index_path) as f:
                shards = json.load(f)["shards"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise FatalError(f"cannot read MDS index {index_path}: {e}") from None
        self.split_dir, self.names, self.starts = split_dir, [], [0]
        for info in shards:
            data = info.get("raw_data") or info.get("zip_data") or {}
            part = os.path.dirname(data.get("basename", ""))
            if not self.names or self.names[-1] != part:
                self.names.append(part)
                self.starts.append(self.starts[-1])
            self.starts[-1] += int(info["samples"])

    @property
    def total(self) -> int:
        return self.starts[-1]

    def locate(self, sample: int) -> tuple:
        """(partition name, index of the sample within it)."""
        if not 0 <= sample < self.total:
            raise ValueError(f"sample id {sample} out of range: {self.split_dir} has {self.total} samples")
        p = bisect.bisect_right(self.starts, sample) - 1
        return self.names[p], sample - self.starts[p]


@lru_cache(maxsize=64)
def _read_partition(path: str):
    """(sorted sample column, row dicts) of one provenance.parquet, or None when it is absent."""
    if not os.path.isfile(path):
        return None
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise FatalError(f"{path}: not a readable provenance file ({e})") from None
    rows = table.to_pylist()
    return np.asarray(table.column("sample").to_numpy(), np.int64), rows


@lru_cache(maxsize=16)
def _partitions(split_dir: str, mtime: float) -> Partitions:
    return Partitions(split_dir)


def batch_sources(data_dir: str, split: str, sample_ids) -> list:
    """For each global sample id (in the order given): {"sample": id, "sources": [...]}.
    A partition written without provenance (older shards) yields "sources": [] and "missing"."""
    split_dir = os.path.join(data_dir, split)
    index = os.path.join(split_dir, "index.json")
    partitions = _partitions(split_dir, os.path.getmtime(index) if os.path.exists(index) else 0.0)
    out = []
    for sample in (int(s) for s in sample_ids):
        part, local = partitions.locate(sample)
        path = os.path.join(split_dir, part, PROVENANCE_FILE)
        loaded = _read_partition(path)
        if loaded is None:
            out.append({"sample": sample, "sources": [], "missing": path})
            continue
        samples, rows = loaded
        lo, hi = np.searchsorted(samples, local, "left"), np.searchsorted(samples, local, "right")
        sources = [{k: rows[i][k] for k in ("repo", "path", "lang", "token_start", "token_end",
                                            "doc_token_start", "fim")} for i in range(lo, hi)]
        out.append({"sample": sample, "sources": sources})
    return out
