"""MDS shards of one `tokens` column (`ndarray:int32`), byte for byte as streaming 0.13 writes them.

Why not streaming's MDSWriter and merge_index: `import streaming` imports torch, about 4 CPU-s in
every shard worker and again in the process that merges, a tenth of tokenizing the stack sample
(scripts/bench-tokenize.py). The layout written here is MDSWriter's (index version 2, joint
shards, streaming/base/format/mds/writer.py and base/writer.py) and merge_index's for local
folders (streaming/base/util.py); python/tests/native/test_mds.py holds both writers' bytes side
by side and has StreamingDataset read the result.

Shard file: uint32 sample count, uint32 offsets (count + 1, from the file's start), the JSON
config, then the samples; a sample is a uint32 column size and NDArray's encoding with a static
dtype and a dynamic shape: (ndim << 2 | shape dtype code), the shape, the values.
"""

import json
import os
from pathlib import Path

import numpy as np

COLUMN, ENCODING = "tokens", "ndarray:int32"
INDEX = "index.json"
EXTRA_BYTES_PER_SAMPLE = 4  # MDSWriter.extra_bytes_per_sample: the sample's offset
SHAPE_DTYPES = ((1 << 8, "uint8", 0), (1 << 16, "uint16", 1), (1 << 32, "uint32", 2), (1 << 64, "uint64", 3))


def zstd_level(compression):
    """None, or the zstd level of 'zstd' / 'zstd:N' (streaming's default level is 3)."""
    if not compression:
        return None
    name, _, level = compression.partition(":")
    if name != "zstd" or not (level or "3").isdigit() or not 1 <= int(level or 3) <= 22:
        raise ValueError(f"compression must be zstd or zstd:1..22, got {compression!r}")
    return int(level or 3)


class TokenShardWriter:
    """streaming.MDSWriter(out=dir, columns={'tokens': 'ndarray:int32'}, size_limit, compression)
    for local output; write() takes one 1-D int32 array."""

    def __init__(self, out, size_limit=1 << 26, compression=None):
        self.out, self.compression, self.level = Path(out), compression or None, zstd_level(compression)
        self.size_limit = size_limit or None
        self.config = {"version": 2, "format": "mds", "compression": self.compression, "hashes": [],
                       "size_limit": self.size_limit, "column_names": [COLUMN],
                       "column_encodings": [ENCODING], "column_sizes": [None]}
        self.config_data = json.dumps(self.config, sort_keys=True).encode("utf-8")
        self.shards, self.heads = [], {}
        self.out.mkdir(parents=True, exist_ok=True)
        self._reset()

    def _reset(self) -> None:
        self.samples, self.shard_size = [], 4 + 4 + len(self.config_data)

    def _head(self, n: int) -> bytes:
        """Column size and NDArray header of an n-token sample."""
        if n not in self.heads:
            if n <= 0:
                raise ValueError("Attempting to encode a numpy array with 0 elements.")
            _, dtype, code = next(s for s in SHAPE_DTYPES if n < s[0])
            header = bytes([(1 << 2) | code]) + np.array([n], dtype).tobytes()
            self.heads[n] = np.uint32(len(header) + 4 * n).tobytes() + header
        return self.heads[n]

    def write(self, tokens: np.ndarray) -> None:
        if tokens.dtype != np.int32 or tokens.ndim != 1:
            raise ValueError(f"expected a 1-D int32 array, got {tokens.dtype.name} of shape {tokens.shape}")
        sample = self._head(len(tokens)) + tokens.tobytes()
        size = len(sample) + EXTRA_BYTES_PER_SAMPLE
        if self.size_limit and self.size_limit < self.shard_size + size:
            self._flush()  # as MDSWriter, even when no sample fits (an empty shard)
        self.samples.append(sample)
        self.shard_size += size

    def _flush(self) -> None:
        n = len(self.samples)
        offsets = np.array([0] + [len(s) for s in self.samples]).cumsum().astype(np.uint32)
        offsets += 4 + 4 * (n + 1) + len(self.config_data)
        raw = np.uint32(n).tobytes() + offsets.tobytes() + self.config_data + b"".join(self.samples)
        raw_name = f"shard.{len(self.shards):05}.mds"
        raw_info, zip_info = {"basename": raw_name, "bytes": len(raw), "hashes": {}}, None
        data, name = raw, raw_name
        if self.level is not None:
            import zstd

            data, name = zstd.compress(raw, self.level), raw_name + ".zstd"
            zip_info = {"basename": name, "bytes": len(data), "hashes": {}}
        (self.out / name).write_bytes(data)
        self.shards.append({"samples": n, "raw_data": raw_info, "zip_data": zip_info, **self.config})
        self._reset()

    def finish(self) -> None:
        if self.samples:
            self._flush()
        with open(self.out / INDEX, "w") as f:
            json.dump({"version": 2, "shards": self.shards}, f, sort_keys=True)


def merge_index(indexes: list, out) -> None:
    """streaming.base.util.merge_index(indexes, out) for local part folders: out/index.json lists
    every part's shards, basenames prefixed with the part's folder name."""
    shards = []
    for path in dict.fromkeys(str(p).rstrip("/").strip() for p in indexes):
        with open(path) as f:
            obj = json.load(f)
        for info in obj["shards"]:
            for key in ("raw_data", "zip_data", "raw_meta", "zip_meta"):
                if info.get(key):
                    info[key]["basename"] = os.path.join(os.path.basename(Path(path).parent), info[key]["basename"])
        shards += obj["shards"]
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / INDEX, "w") as f:
        json.dump({"version": 2, "shards": shards}, f)
