"""Loss-spike detection (llm-foundry KillLossSpike semantics) and its event in a real run."""

import json
import shutil

import numpy as np
import pytest

from conftest import run_trainer, tiny_config
from kiln_trainer.events import EXIT_FATAL, EXIT_OK
from kiln_trainer.spike import LossSpikeDetector


def feed(detector, losses, first_step=1):
    return [s for s in (detector.update(first_step + i, x) for i, x in enumerate(losses)) if s is not None]


def test_nothing_is_reported_before_the_window_is_full():
    assert feed(LossSpikeDetector(window=5, factor=2, patience=0), [1.0, 50.0, 50.0, 50.0, 50.0]) == []


def test_more_than_patience_consecutive_outliers_is_a_spike():
    d = LossSpikeDetector(window=20, factor=2, patience=4)
    spikes = feed(d, [1.0] * 20 + [3.0] * 5)
    assert len(spikes) == 1
    s = spikes[0]
    assert s.step == 25 and s.outlier_steps == [21, 22, 23, 24, 25] and s.loss == 3.0
    # The 5th outlier is compared with a window that already holds four of them (as llm-foundry).
    assert s.running_mean == pytest.approx((16 * 1.0 + 4 * 3.0) / 20)


def test_patience_outliers_then_a_normal_step_reset_the_count():
    d = LossSpikeDetector(window=100, factor=2, patience=4)
    base = [1.0] * 100
    assert feed(d, base + [3.0] * 4 + [1.0] + [3.0] * 4) == []
    assert d.outliers == [106, 107, 108, 109]


def test_a_loss_equal_to_factor_times_the_mean_is_an_outlier_and_just_below_is_not():
    d = LossSpikeDetector(window=2, factor=2, patience=0)
    assert feed(d, [1.0, 1.0, 1.99]) == []
    d = LossSpikeDetector(window=2, factor=2, patience=0)
    assert [s.step for s in feed(d, [1.0, 1.0, 2.0])] == [3]


def test_one_report_per_spike_and_again_after_recovery():
    d = LossSpikeDetector(window=3, factor=2, patience=1)
    steps = [s.step for s in feed(d, [1.0, 1.0, 1.0, 5.0, 9.0, 20.0, 40.0, 1.0, 1.0, 1.0, 80.0, 200.0])]
    assert steps == [5, 12]


@pytest.mark.parametrize("kwargs", [dict(window=0), dict(factor=0), dict(patience=-1)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        LossSpikeDetector(**kwargs)


def spiky_config(**train):
    """lr 1.0 without clipping makes the tiny model's loss jump from ~5.7 to ~13 then ~18 at
    step 3 (seed 7), far above 1.2 x the mean of the two before it: a spike at step 3."""
    return tiny_config(steps=4, lr=1.0, warmupSteps=0, gradClip=0.0, checkpointEvery=100,
                       lossSpikeWindow=2, lossSpikeFactor=1.2, lossSpikePatience=0, **train)


def with_provenance(mds_data, root):
    """A copy of the dataset with a provenance.parquet as the shard tool writes it (one
    partition: index.json's shard names have no folder): sample i comes from f<i>.py."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    data = root / "data"
    shutil.copytree(mds_data, data)
    n = 96
    pq.write_table(pa.table({"sample": list(range(n)), "repo": [f"org/repo{i % 3}" for i in range(n)],
                             "path": [f"f{i}.py" for i in range(n)], "lang": ["Python"] * n,
                             "token_start": [0] * n, "token_end": [32] * n, "doc_token_start": [0] * n,
                             "fim": pa.array([None] * n, pa.string())}), data / "train" / "provenance.parquet")
    return data


def test_a_spike_event_names_the_global_sample_ids_of_its_batches(mds_data, write_config, tmp_path):
    data = with_provenance(mds_data, tmp_path)
    code, events, err = run_trainer("--config", write_config(spiky_config()), "--data", data,
                                    "--out", tmp_path / "out")
    assert code == EXIT_OK, err
    spikes = [e for e in events if e["event"] == "loss_spike"]
    assert len(spikes) >= 1, [round(e["loss"], 2) for e in events if e["event"] == "step"]
    spike = spikes[0]
    losses = {e["step"]: e["loss"] for e in events if e["event"] == "step"}
    s = spike["step"]
    assert spike["loss"] == losses[s] and spike["outlier_steps"] == [s] and spike["stopping"] is False
    assert spike["running_mean"] == pytest.approx((losses[s - 1] + losses[s - 2]) / 2)
    assert losses[s] >= 1.2 * spike["running_mean"]
    # Step s read micro-batches 2(s-1) and 2(s-1)+1 (gradAccum 2) of 4 samples each from the
    # epoch-0 permutation of the 96 train samples (TrainLoader's documented order).
    order = np.random.default_rng([7, 0]).permutation(96)
    assert spike["batches"] == [{"step": s, "samples": order[8 * (s - 1):8 * s].tolist()}]
    ids = spike["batches"][0]["samples"]
    assert [p["sample"] for p in spike["provenance"]] == ids
    assert [[src["path"] for src in p["sources"]] for p in spike["provenance"]] == [[f"f{i}.py"] for i in ids]


def test_loss_spike_stop_ends_the_run_with_a_fatal_error(mds_data, write_config, tmp_path):
    code, events, _ = run_trainer("--config", write_config(spiky_config(lossSpikeStop=True)), "--data", mds_data,
                                  "--out", tmp_path / "out")
    assert code == EXIT_FATAL
    assert [e["event"] for e in events][-2:] == ["loss_spike", "error"]
    assert events[-2]["stopping"] is True
    assert "loss spike at step" in events[-1]["message"] and "train.lossSpikeStop" in events[-1]["message"]
