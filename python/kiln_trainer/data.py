"""Training data: a small reader of MosaicML Streaming (MDS) shards and a resumable sampler.

We read MDS ourselves instead of using streaming.StreamingDataset: its shared-memory
coordination assumes one process tree per host, and kiln runs two "nodes" on one host.
Layout (streaming 0.13, index version 2), DATA_DIR/{train,val}/:

    index.json   {"version": 2, "shards": [{"format": "mds", "samples": n,
                  "raw_data": {"basename": "shard.00000.mds", ...}, "zip_data": {...} | null,
                  "compression": "zstd" | null, "column_names": [...],
                  "column_encodings": [...], "column_sizes": [size | null, ...]}, ...]}
    shard file   uint32 n | uint32 offsets[n + 1] (absolute) | writer config JSON | samples
    sample       uint32 size of each variable-size column, in column order | column bytes

A merged index (streaming.base.util.merge_index; what the shard stage writes) lists the
partitions' shards with `<part>/shard.NNNNN.mds` basenames, relative to the split directory.
Global sample ids run over the shards in index order: provenance.py maps them back to files.

Column `tokens` holds one packed sequence of exactly seqLen token ids, encoded as
`ndarray[:dtype[:shape]]` (MDS NDArray, with a dtype/shape header for the parts the encoding
string leaves open) or `bytes` (raw little-endian int32). zstd shards need the `zstd` module and are decompressed
once into the split directory, as streaming does in its local cache.
"""

import bisect
import json
import os

import numpy as np
import torch

from .events import FatalError

VAL_BATCHES = 8  # validation = the first VAL_BATCHES * microBatchSize samples of val/

# MDS NDArray header codes (streaming/base/format/mds/encodings.py).
_VALUE_DTYPES = {8: "uint8", 9: "int8", 16: "uint16", 17: "int16", 32: "uint32", 33: "int32",
                 64: "uint64", 65: "int64"}
_SHAPE_DTYPES = {0: "uint8", 1: "uint16", 2: "uint32", 3: "uint64"}


class DataError(FatalError):
    pass


def check_encoding(encoding: str) -> None:
    name, _, rest = encoding.partition(":")
    dtype = rest.split(":")[0] if rest else None
    ok_bytes = name == "bytes" and not rest
    ok_ndarray = name == "ndarray" and dtype in (None, *_VALUE_DTYPES.values())
    if not (ok_bytes or ok_ndarray):
        raise DataError(f"unsupported MDS encoding {encoding!r} for column tokens "
                        "(expected ndarray[:<int dtype>[:<shape>]] or bytes)")


def decode_tokens(encoding: str, data) -> np.ndarray:
    """Decode one `tokens` column value to a 1-D integer array."""
    name, _, rest = encoding.partition(":")
    if name == "bytes":
        return np.frombuffer(data, "<i4")
    parts = rest.split(":") if rest else []
    dtype = parts[0] if parts else None
    shape = tuple(int(d) for d in parts[1].split(",")) if len(parts) > 1 else None
    i = 0
    if dtype is None:  # dynamic dtype: one code byte
        dtype, i = _VALUE_DTYPES[data[0]], 1
    if shape is None:  # dynamic shape: byte (ndim << 2 | shape dtype code), then the dims
        ndim, shape_dtype = data[i] >> 2, _SHAPE_DTYPES[data[i] & 3]
        shape = tuple(np.frombuffer(data, shape_dtype, ndim, i + 1))
        i += 1 + ndim * np.dtype(shape_dtype).itemsize
    values = np.frombuffer(data, np.dtype(dtype).newbyteorder("<"), offset=i)
    if values.size != int(np.prod(shape)):
        raise ValueError(f"{values.size} values for shape {shape}")
    return values


class Shard:
    """One memory-mapped shard file; its header is checked on open."""

    def __init__(self, split_dir: str, info: dict):
        raw, zipped = info.get("raw_data") or {}, info.get("zip_data") or {}
        self.path = os.path.join(split_dir, raw.get("basename", "shard"))
        self.samples = int(info["samples"])
        try:
            if not os.path.isfile(self.path) and zipped:
                decompress_shard(os.path.join(split_dir, zipped["basename"]), self.path, info.get("compression"))
            buf = np.memmap(self.path, np.uint8, mode="r") if os.path.getsize(self.path) else np.zeros(0, np.uint8)
            n = int(buf[:4].view("<u4")[0]) if buf.size >= 4 else -1
            if n != self.samples or buf.size < 4 * (n + 2):
                raise ValueError(f"header says {n} samples, index.json says {self.samples}")
            offsets = buf[4:4 * (n + 2)].view("<u4").astype(np.int64)
            if np.any(np.diff(offsets) < 0) or offsets[0] < 4 * (n + 2) or offsets[-1] > buf.size:
                raise ValueError("sample offsets out of order or past the end of the file")
        except (OSError, ValueError) as e:
            raise DataError(f"corrupt or unreadable MDS shard {self.path}: {e}") from None
        self.buf, self.offsets = buf, offsets

    def sample(self, i: int):
        return self.buf[self.offsets[i]:self.offsets[i + 1]]


def decompress_shard(src: str, dst: str, compression: str | None) -> None:
    """Write the raw shard next to the compressed one, as streaming does in its local cache.
    Atomic (temp file + rename), so two local ranks may race harmlessly."""
    if not (compression or "").startswith("zstd"):
        raise DataError(f"{src}: unsupported MDS compression {compression!r} (zstd only)")
    try:
        import zstd  # optional: only compressed datasets need it
    except ImportError:
        raise DataError(f"{src} is zstd-compressed but the zstd module is not installed") from None
    with open(src, "rb") as f:
        try:
            data = zstd.decompress(f.read())
        except Exception as e:  # zstd.Error is not an OSError
            raise ValueError(f"zstd: {e}") from None
    tmp = f"{dst}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, dst)


class MDSDataset:
    """Random access to the `tokens` column of one split (train/ or val/)."""

    def __init__(self, split_dir: str, seq_len: int, vocab_size: int):
        self.split_dir, self.seq_len, self.vocab_size = split_dir, seq_len, vocab_size
        index_path = os.path.join(split_dir, "index.json")
        try:
            with open(index_path) as f:
                index = json.load(f)
            infos = index["shards"]
            if index.get("version") != 2 or any(s.get("format") != "mds" for s in infos):
                raise ValueError("expected MDS index version 2 with format mds")
            columns = infos[0] if infos else {"column_names": ["tokens"], "column_encodings": ["bytes"],
                                              "column_sizes": [None]}  # no shards: an empty split
            encodings, sizes = columns["column_encodings"], columns["column_sizes"]
            self.column = columns["column_names"].index("tokens")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DataError(f"cannot read MDS index {index_path}: {e}") from None
        self.encoding, self.sizes = encodings[self.column], sizes
        check_encoding(self.encoding)
        self.shards = [Shard(split_dir, info) for info in infos]
        self.starts = np.cumsum([0] + [s.samples for s in self.shards]).tolist()

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, idx: int) -> np.ndarray:
        s = bisect.bisect_right(self.starts, idx) - 1
        shard = self.shards[s]
        try:
            data = shard.sample(idx - self.starts[s])
            # Variable-size columns announce their sizes up front; fixed ones are in the index.
            sizes, pos = [], 0
            for size in self.sizes:
                if size is None:
                    size, pos = int(data[pos:pos + 4].view("<u4")[0]), pos + 4
                sizes.append(size)
            start = pos + sum(sizes[:self.column])
            tokens = decode_tokens(self.encoding, data[start:start + sizes[self.column]])
        except (ValueError, IndexError, KeyError) as e:
            raise DataError(f"corrupt sample {idx - self.starts[s]} in {shard.path}: {e}") from None
        if tokens.size != self.seq_len:
            raise DataError(f"sample {idx - self.starts[s]} in {shard.path} has {tokens.size} tokens, "
                            f"expected seqLen {self.seq_len}")
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise DataError(f"sample {idx - self.starts[s]} in {shard.path} has token ids outside "
                            f"[0, vocabSize {self.vocab_size})")
        return tokens.astype(np.int64)


def open_split(data_dir: str, split: str, seq_len: int, vocab_size: int, required: bool):
    split_dir = os.path.join(data_dir, split)
    if not os.path.exists(os.path.join(split_dir, "index.json")) and not required:
        return None
    return MDSDataset(split_dir, seq_len, vocab_size)


def to_batch(samples: list, device) -> tuple:
    """Stack sequences; the model reads tokens[:-1] and predicts tokens[1:]."""
    batch = torch.from_numpy(np.stack(samples))
    x, y = batch[:, :-1], batch[:, 1:]
    if device.type == "cuda":
        return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
    return x.contiguous(), y.contiguous()


def sample_ids_for_step(num_samples: int, seed: int, step: int, rank: int, world_size: int,
                        micro_batch_size: int, grad_accum: int = 1) -> np.ndarray:
    """Global train sample ids that `rank` reads for optimizer step `step` (1-based, as in the
    `step` events and checkpoint names), in the order TrainLoader draws them: grad_accum
    micro-batches of micro_batch_size. Pure arithmetic on the same permutation, assuming the
    world size did not change since step 1 (a resume with another world size shifts the
    positions; the checkpoint's data state is then the reference)."""
    span = world_size * micro_batch_size
    per_epoch = num_samples // span
    if step < 1 or not 0 <= rank < world_size or per_epoch < 1:
        raise ValueError(f"no batch for step {step}, rank {rank} of {world_size} over {num_samples} samples")
    ids = []
    for micro in range((step - 1) * grad_accum, step * grad_accum):
        epoch, index = divmod(micro, per_epoch)
        start = index * span + rank * micro_batch_size
        ids.append(epoch_order(num_samples, seed, epoch)[start:start + micro_batch_size])
    return np.concatenate(ids)


def epoch_order(num_samples: int, seed: int, epoch: int) -> np.ndarray:
    """The train split's permutation for one epoch: the sampler's only source of order."""
    return np.random.default_rng([seed, epoch]).permutation(num_samples)


class TrainLoader:
    """Deterministic, resumable sampler over the train split.

    Epoch e visits a permutation of all samples seeded by (seed, e). Each micro-step consumes
    the next world * micro_batch_size positions of it; rank r takes the r-th slice. A tail too
    short for a whole micro-step is skipped. The state is only (epoch, index), the same on
    every rank, so a resume continues exactly where the run stopped, with any world size.
    """

    def __init__(self, dataset: MDSDataset, seed: int, micro_batch_size: int, rank: int,
                 world_size: int, device=torch.device("cpu")):
        self.dataset, self.seed, self.mbs = dataset, seed, micro_batch_size
        self.rank, self.world, self.device = rank, world_size, device
        self.epoch, self.index = 0, 0
        self.last_ids = np.zeros(0, np.int64)  # global sample ids of the last micro-batch drawn
        self._order_cache = (None, None)
        if len(dataset) < world_size * micro_batch_size:
            raise DataError(f"{dataset.split_dir} has {len(dataset)} samples, fewer than one global "
                            f"micro-batch (world size {world_size} x microBatchSize {micro_batch_size})")

    def _order(self, epoch: int) -> np.ndarray:
        if self._order_cache[0] != epoch:
            self._order_cache = (epoch, epoch_order(len(self.dataset), self.seed, epoch))
        return self._order_cache[1]

    def next_ids(self) -> np.ndarray:
        span = self.world * self.mbs
        if self.index + span > len(self.dataset):
            self.epoch, self.index = self.epoch + 1, 0
        start = self.index + self.rank * self.mbs
        self.index += span
        self.last_ids = self._order(self.epoch)[start:start + self.mbs]
        return self.last_ids

    def last_global_ids(self) -> np.ndarray:
        """Global sample ids of the micro-step just drawn, all ranks' slices in rank order: the
        window of the epoch's permutation that next_ids just consumed."""
        return self._order(self.epoch)[self.index - self.world * self.mbs:self.index]

    def ids_for_step(self, step: int, grad_accum: int = 1, rank: int | None = None) -> np.ndarray:
        """Global sample ids of `rank`'s (default: this rank's) batch at 1-based optimizer step
        `step`, all grad_accum micro-batches; see sample_ids_for_step."""
        return sample_ids_for_step(len(self.dataset), self.seed, step, self.rank if rank is None else rank,
                                   self.world, self.mbs, grad_accum)

    def next_batch(self) -> tuple:
        return to_batch([self.dataset[int(i)] for i in self.next_ids()], self.device)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])


def val_batches(dataset: MDSDataset, micro_batch_size: int, rank: int, world_size: int, device):
    """The validation set is the first VAL_BATCHES * micro_batch_size samples of val/, the same
    whatever the world size; rank r evaluates samples r, r + world, ... (sum losses across ranks)."""
    ids = list(range(min(len(dataset), VAL_BATCHES * micro_batch_size)))[rank::world_size]
    for i in range(0, len(ids), micro_batch_size):
        yield to_batch([dataset[j] for j in ids[i:i + micro_batch_size]], device)
