"""kiln_native.mds writes the bytes of streaming's MDSWriter and merge_index, and streaming reads them."""

import json
import os

import numpy as np
import pytest

from kiln_native.mds import TokenShardWriter, merge_index


def files_of(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def samples(count: int, length: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(-5, 70000, length).astype(np.int32) for _ in range(count)]


@pytest.mark.parametrize("length,count,size_limit,compression", [
    (32, 50, 1024, None),          # several shards
    (300, 20, 4096, "zstd"),       # a uint16 shape, compressed
    (2048, 3, 1024, None),         # no sample fits: MDSWriter writes empty shards, so do we
    (70000, 2, 1 << 26, "zstd:5"),  # a uint32 shape, another level
    (16, 0, 1 << 26, None),        # nothing written: an index with no shards
    (16, 5, None, None),           # no size limit
])
def test_writer_bytes_match_streaming_mdswriter(tmp_path, length, count, size_limit, compression):
    from streaming import MDSWriter

    data = samples(count, length)
    theirs = MDSWriter(out=str(tmp_path / "theirs"), columns={"tokens": "ndarray:int32"}, size_limit=size_limit,
                       compression=compression)
    ours = TokenShardWriter(tmp_path / "ours", size_limit, compression)
    for tokens in data:
        theirs.write({"tokens": tokens})
        ours.write(tokens)
    theirs.finish()
    ours.finish()
    assert files_of(tmp_path / "ours") == files_of(tmp_path / "theirs")


def test_merged_index_matches_streaming_and_streaming_reads_it(tmp_path):
    from streaming import StreamingDataset
    from streaming.base.util import merge_index as streaming_merge_index

    data = {"part-00000": samples(30, 64, 1), "part-00001": samples(7, 64, 2)}
    for part, tokens in data.items():
        writer = TokenShardWriter(tmp_path / "split" / part, 2048, "zstd")
        for t in tokens:
            writer.write(t)
        writer.finish()
    indexes = sorted((tmp_path / "split").glob("*/index.json"))
    streaming_merge_index([str(p) for p in indexes], str(tmp_path / "split"), keep_local=True)
    expected = (tmp_path / "split" / "index.json").read_bytes()
    os.remove(tmp_path / "split" / "index.json")
    merge_index(indexes, tmp_path / "split")
    assert (tmp_path / "split" / "index.json").read_bytes() == expected
    assert [s["zip_data"]["basename"] for s in json.loads(expected)["shards"]][0] == "part-00000/shard.00000.mds.zstd"

    dataset = StreamingDataset(local=str(tmp_path / "split"), shuffle=False, batch_size=1)
    read = [np.asarray(dataset[i]["tokens"]) for i in range(len(dataset))]
    assert len(read) == 37 and all(np.array_equal(a, b) for a, b in zip(read, data["part-00000"] + data["part-00001"]))


def test_writer_refuses_what_mdswriter_would_not_encode_as_ndarray_int32(tmp_path):
    writer = TokenShardWriter(tmp_path, 1024)
    with pytest.raises(ValueError, match="expected a 1-D int32 array, got int64 of shape"):
        writer.write(np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="0 elements"):
        writer.write(np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="compression must be zstd or zstd:1..22, got 'gz'"):
        TokenShardWriter(tmp_path, 1024, "gz")
