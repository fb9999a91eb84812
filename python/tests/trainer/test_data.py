import glob
import importlib.util

import numpy as np
import pytest
import torch

from conftest import SEQ_LEN, VOCAB, encode_tokens, make_samples, write_mds
from kiln_trainer.data import VAL_BATCHES, DataError, MDSDataset, TrainLoader, decode_tokens, val_batches

ENCODINGS = [f"ndarray:int32:{SEQ_LEN}", "ndarray:int32", "ndarray:uint16", "ndarray", "bytes"]


def streaming_encoder():
    """streaming's own mds_encode, loaded from its file (the package's __init__ needs extras)."""
    paths = glob.glob(str(importlib.util.find_spec("numpy").origin).rsplit("/numpy/", 1)[0]
                      + "/streaming/base/format/mds/encodings.py")
    if not paths:
        return None
    spec = importlib.util.spec_from_file_location("_mds_encodings", paths[0])
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError:
        return None
    return module.mds_encode


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_matches_what_streaming_writes(encoding):
    tokens = np.arange(SEQ_LEN, dtype=np.int32) * 9
    data = encode_tokens(tokens, encoding)
    encode = streaming_encoder()
    if encode is not None and encoding != "bytes":
        dtype = (encoding.split(":") + ["int32"])[1]
        assert encode(encoding, tokens.astype(dtype)) == data
    assert decode_tokens(encoding, data).tolist() == tokens.tolist()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_dataset_reads_every_encoding_across_shards(tmp_path, encoding):
    samples = make_samples(10, seed=3)
    write_mds(tmp_path, samples, encoding=encoding, per_shard=4)
    ds = MDSDataset(str(tmp_path), SEQ_LEN, VOCAB)
    assert len(ds) == 10 and len(ds.shards) == 3
    for i in (0, 3, 4, 9):
        assert ds[i].tolist() == samples[i].tolist() and ds[i].dtype == np.int64


def test_zstd_shards_are_decompressed_once(tmp_path):
    pytest.importorskip("zstd")
    samples = make_samples(6, seed=4)
    write_mds(tmp_path, samples, per_shard=3, compression="zstd")
    assert not (tmp_path / "shard.00000.mds").exists()
    ds = MDSDataset(str(tmp_path), SEQ_LEN, VOCAB)
    assert ds[5].tolist() == samples[5].tolist()
    assert (tmp_path / "shard.00000.mds").exists()


def make_loader(ds, rank=0, world=1, mbs=4, seed=11):
    return TrainLoader(ds, seed=seed, micro_batch_size=mbs, rank=rank, world_size=world)


def test_sampler_is_deterministic_and_resumes_exactly(mds_data):
    ds = MDSDataset(str(mds_data / "train"), SEQ_LEN, VOCAB)
    a, b = make_loader(ds), make_loader(ds)
    for _ in range(5):
        xa, ya = a.next_batch()
        xb, yb = b.next_batch()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert torch.equal(xa[:, 1:], ya[:, :-1])  # targets are inputs shifted by one
    state = a.state_dict()
    expected = [a.next_batch()[0] for _ in range(30)]  # crosses an epoch boundary (96 / 4 = 24)
    c = make_loader(ds)
    c.load_state_dict(state)
    assert all(torch.equal(x, c.next_batch()[0]) for x in expected)
    assert c.state_dict() == a.state_dict() and a.epoch == 1
    assert not torch.equal(make_loader(ds, seed=12).next_batch()[0], make_loader(ds).next_batch()[0])


def test_ranks_split_the_same_global_batch(mds_data):
    ds = MDSDataset(str(mds_data / "train"), SEQ_LEN, VOCAB)
    single = make_loader(ds, mbs=4)
    r0, r1 = make_loader(ds, 0, 2, mbs=2), make_loader(ds, 1, 2, mbs=2)
    for _ in range(30):
        assert single.next_ids().tolist() == r0.next_ids().tolist() + r1.next_ids().tolist()
    assert single.state_dict() == r0.state_dict() == r1.state_dict()


def test_val_batches_cover_a_fixed_set_whatever_the_world_size(mds_data):
    ds = MDSDataset(str(mds_data / "val"), SEQ_LEN, VOCAB)
    one = torch.cat([x for x, _ in val_batches(ds, 2, 0, 1, torch.device("cpu"))])
    two = [torch.cat([x for x, _ in val_batches(ds, 2, r, 2, torch.device("cpu"))]) for r in (0, 1)]
    assert len(one) == min(len(ds), VAL_BATCHES * 2) == 16
    assert sorted(map(tuple, one.tolist())) == sorted(map(tuple, torch.cat(two).tolist()))


def test_corrupt_shard_is_a_data_error(tmp_path):
    write_mds(tmp_path, make_samples(4, seed=5))
    shard = tmp_path / "shard.00000.mds"
    shard.write_bytes(b"\xff" * 64)
    with pytest.raises(DataError, match="corrupt or unreadable MDS shard .*shard.00000.mds"):
        MDSDataset(str(tmp_path), SEQ_LEN, VOCAB)


def test_wrong_length_and_out_of_vocab_samples_are_data_errors(tmp_path):
    write_mds(tmp_path / "short", make_samples(4, seed=5, seq_len=16), encoding="ndarray:int32")
    with pytest.raises(DataError, match="has 16 tokens, expected seqLen 32"):
        MDSDataset(str(tmp_path / "short"), SEQ_LEN, VOCAB)[0]
    write_mds(tmp_path / "big", make_samples(4, seed=5, vocab=1000))
    with pytest.raises(DataError, match=r"token ids outside \[0, vocabSize 300\)"):
        [MDSDataset(str(tmp_path / "big"), SEQ_LEN, VOCAB)[i] for i in range(4)]


def test_missing_index_and_tiny_dataset_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="cannot read MDS index"):
        MDSDataset(str(tmp_path), SEQ_LEN, VOCAB)
    write_mds(tmp_path, make_samples(3, seed=6))
    with pytest.raises(DataError, match="fewer than one global micro-batch"):
        make_loader(MDSDataset(str(tmp_path), SEQ_LEN, VOCAB), world=2, mbs=2)


@pytest.mark.parametrize("world, mbs, accum", [(1, 3, 1), (2, 2, 3), (3, 1, 2)])
def test_sample_ids_for_step_are_what_the_sampler_draws(tmp_path, world, mbs, accum):
    from kiln_trainer.data import sample_ids_for_step

    write_mds(tmp_path / "train", make_samples(23, 0), f"ndarray:int32:{SEQ_LEN}", per_shard=5)
    dataset = MDSDataset(str(tmp_path / "train"), SEQ_LEN, VOCAB)
    loaders = [TrainLoader(dataset, 7, mbs, r, world) for r in range(world)]
    for step in range(1, 3 * len(dataset) // (world * mbs * accum) + 2):  # a few epochs
        for rank, loader in enumerate(loaders):
            drawn = []
            for _ in range(accum):
                drawn.extend(loader.next_ids().tolist())
                assert loader.last_ids.tolist() == drawn[-mbs:]
            assert sample_ids_for_step(len(dataset), 7, step, rank, world, mbs, accum).tolist() == drawn
            assert loader.ids_for_step(step, accum).tolist() == drawn
        last_micro_step = [i for loader in loaders for i in loader.last_ids.tolist()]
        assert all(loader.last_global_ids().tolist() == last_micro_step for loader in loaders)
    with pytest.raises(ValueError):
        sample_ids_for_step(len(dataset), 7, 0, 0, world, mbs, accum)
