"""train.tracking: a short CPU run writes a W&B offline run and TensorBoard event files holding the
same losses as its step events, downloads nothing and prints no API key; bad settings and missing
packages are fatal errors that name the key or the package."""

import glob
import json
import os
import struct
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from wandb.proto import wandb_internal_pb2

from conftest import parse_events, tiny_config, trainer_env
from kiln_trainer import tracking
from kiln_trainer.config import ConfigError, parse_config
from kiln_trainer.events import EXIT_OK, FatalError

API_KEY = "kiln-test-secret-0123456789abcdef0123456789abcdef"  # W&B keys are 40 characters
DEAD = "http://127.0.0.1:9"  # nothing listens there: any attempt to reach a server fails


def wandb_records(path: str):
    """The protobuf Records of a .wandb file: a LevelDB-style log (':W&B' header, 32 KiB blocks of
    crc32, length, type, payload records) as wandb's own sync reads it."""
    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (kind == 0 and length == 0):  # block trailer or padding
            pos += left
            continue
        payload, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):  # a whole record, or the last fragment of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


@pytest.fixture(scope="module")
def tracked_run(mds_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("tracked")
    cfg = tiny_config(steps=4, checkpointEvery=2, evalEvery=2,
                      tracking={"tensorboard": True, "wandb": {"project": "kiln-test"}})
    (root / "config.json").write_text(json.dumps(cfg))
    env = trainer_env(WANDB_MODE="offline", WANDB_API_KEY=API_KEY, WANDB_BASE_URL=DEAD, HTTPS_PROXY=DEAD,
                      HTTP_PROXY=DEAD, HOME=str(root), KILN_RUN_ID="0123abcd4567ef89", KILN_RUN_NAME="wf-1/train",
                      KILN_TRACKING_DIR=str(root / "tracking"))
    proc = subprocess.run([sys.executable, "-m", "kiln_trainer.train", "--config", root / "config.json",
                           "--data", mds_data, "--out", root / "out"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == EXIT_OK, proc.stderr
    assert sorted(p.name for p in (root / "out").iterdir()) == ["checkpoints"], "curves go to KILN_TRACKING_DIR"
    return root / "tracking", parse_events(proc.stdout), proc.stdout + proc.stderr


def step_losses(events):
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


def test_wandb_offline_run_holds_the_step_losses_under_the_runs_id(tracked_run):
    out, events, _ = tracked_run
    [run_dir] = glob.glob(str(out / "wandb" / "offline-run-*-0123abcd4567ef89"))
    [wandb_file] = glob.glob(os.path.join(run_dir, "run-0123abcd4567ef89.wandb"))
    records = list(wandb_records(wandb_file))
    [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run.run_id, run.project, run.display_name) == ("0123abcd4567ef89", "kiln-test", "wf-1/train")
    rows = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item} for r in records
            if r.WhichOneof("record_type") == "history"]
    assert {row["_step"]: row["train/loss"] for row in rows} == step_losses(events)
    assert all({"train/lr", "train/tokens_per_s", "train/grad_norm"} <= row.keys() for row in rows)
    assert "train/mfu" not in rows[0], "MFU is null on CPU: left out, not logged as 0"
    evals = {e["step"]: e["val_loss"] for e in events if e["event"] == "eval"}
    assert {row["_step"]: row["eval/loss"] for row in rows if "eval/loss" in row} == evals


def test_tensorboard_event_files_hold_the_losses(tracked_run):
    out, events, _ = tracked_run
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    assert {"train/loss", "train/lr", "train/tokens_per_s", "train/grad_norm", "eval/loss"} <= set(acc.Tags()["scalars"])
    logged = {s.step: s.value for s in acc.Scalars("train/loss")}
    assert logged == pytest.approx(step_losses(events), rel=1e-6)  # float32 in the event file


def test_no_api_key_in_output_or_files_and_the_protocol_is_intact(tracked_run):
    out, events, printed = tracked_run
    assert [e["event"] for e in events][0] == "start" and events[-1]["event"] == "done"  # stdout parsed whole
    assert API_KEY not in printed
    for path in glob.glob(str(out.parent / "**" / "*"), recursive=True):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assert API_KEY.encode() not in f.read(), path


def test_tracking_is_off_unless_asked(tmp_path):
    assert tracking.open_tracking(parse_config(tiny_config()), str(tmp_path)) is None
    assert tracking.open_tracking(parse_config(config_with({"wandb": {"project": "p", "mode": "disabled"}})), str(tmp_path)) is None
    assert list(tmp_path.iterdir()) == []


def config_with(track):
    return tiny_config(tracking=track)


@pytest.mark.parametrize("track, message", [
    ({"wandb": {}}, "missing required key train.tracking.wandb.project"),
    ({"wandb": {"project": ""}}, "train.tracking.wandb.project must not be empty"),
    ({"wandb": {"project": "p", "mode": "cloud"}}, "train.tracking.wandb.mode must be one of online, offline, disabled"),
    ({"tensorboard": "yes"}, "train.tracking.tensorboard must be true or false"),
    ({"mlflow": {}}, "unknown key train.tracking.mlflow"),
])
def test_bad_tracking_settings_name_the_key(track, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config(config_with(track))


def test_tracking_stays_out_of_the_checkpointed_config():
    cfg = parse_config(config_with({"tensorboard": True}))
    assert cfg.tracking.tensorboard is True
    assert "tracking" not in json.dumps(cfg.to_json())


def test_a_missing_package_is_fatal_and_names_it(monkeypatch, tmp_path):
    def no_module(name):
        raise ImportError(name)
    monkeypatch.setattr(tracking, "import_module", no_module)
    with pytest.raises(FatalError, match=r"train.tracking.tensorboard needs the `tensorboard` Python package"):
        tracking.open_tracking(parse_config(config_with({"tensorboard": True})), str(tmp_path))
    with pytest.raises(FatalError, match=r"train.tracking.wandb needs the `wandb` Python package"):
        tracking.open_tracking(parse_config(config_with({"wandb": {"project": "p", "mode": "offline"}})), str(tmp_path))


def test_online_without_an_api_key_is_fatal_and_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", DEAD)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc login either
    with pytest.raises(FatalError, match=r"set WANDB_API_KEY .* or set train.tracking.wandb.mode to offline"):
        tracking.open_tracking(parse_config(config_with({"wandb": {"project": "p", "mode": "online"}})), str(tmp_path))


def test_a_sink_that_fails_mid_run_is_dropped_and_training_goes_on(capsys):
    class Broken:
        def log(self, step, values):
            raise OSError("disk full")

    class Kept:
        logged = []

        def log(self, step, values):
            self.logged.append((step, values))

        def flush(self):
            pass

    t = tracking.Tracking([Broken(), Kept()])
    t.observe("step", {"step": 1, "loss": 2.5, "lr": 0.1, "mfu": None})
    t.observe("step", {"step": 2, "loss": 2.0})
    assert Kept.logged == [(1, {"train/loss": 2.5, "train/lr": 0.1}), (2, {"train/loss": 2.0})]
    assert len(t.sinks) == 1
    assert "Broken failed (disk full); training goes on without it" in capsys.readouterr().err
