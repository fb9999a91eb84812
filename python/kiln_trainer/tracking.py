"""Training curves to Weights & Biases and TensorBoard (train.tracking), from global rank 0.

Fed by the trainer's own events (Events.observe): `step` gives loss, lr, tokens/s, MFU and grad
norm, `eval` the validation loss, each at its optimizer step. Both packages are optional and
imported only when enabled; a missing one is a fatal config error that says what to install.

Files go to DIR: KILN_TRACKING_DIR (the launcher's folder for the run, kept across attempts),
else --out. W&B: one run per training run, its id KILN_RUN_ID (the run's key, set by the
launcher) with resume "allow", so gang restarts and pauses continue the same run; named
KILN_RUN_NAME (the training workflow); files under DIR/wandb/ (offline: DIR/wandb/offline-run-*/,
for `wandb sync`). No console capture (stdout is the event protocol), no prompts, nothing
printed: online mode without credentials is a fatal error naming WANDB_API_KEY; any other W&B
failure costs the curves, never the training run.
TensorBoard: event files under DIR/tensorboard/, flushed at every checkpoint and at the end.
"""

import os
from importlib import import_module

from .config import TrackingConfig, TrainerConfig
from .events import FatalError, log

STEP_SCALARS = {"loss": "train/loss", "lr": "train/lr", "tokens_per_s": "train/tokens_per_s",
                "mfu": "train/mfu", "grad_norm": "train/grad_norm"}
EVAL_SCALARS = {"val_loss": "eval/loss"}
FLUSH_ON = ("checkpoint", "done", "stopped")


def _require(module: str, package: str, key: str):
    try:
        return import_module(module)
    except ImportError:
        raise FatalError(f"{key} needs the `{package}` Python package on the GPU workers: "
                         f"pip install {package} (pinned in python/requirements.txt)") from None


def scalars_of(event: str, fields: dict) -> dict:
    """The tracked values of one trainer event, by their tracking names (None values left out)."""
    names = STEP_SCALARS if event == "step" else EVAL_SCALARS if event == "eval" else {}
    return {name: float(fields[key]) for key, name in names.items() if fields.get(key) is not None}


class TensorBoardSink:
    def __init__(self, out_dir: str):
        _require("tensorboard", "tensorboard", "train.tracking.tensorboard")
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package
        self.dir = os.path.join(out_dir, "tensorboard")
        self.writer = SummaryWriter(log_dir=self.dir)

    def log(self, step: int, values: dict) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    def __init__(self, cfg, out_dir: str, config: dict):
        wandb = _require("wandb", "wandb", "train.tracking.wandb")
        self.wandb = wandb
        mode = cfg.mode or os.environ.get("WANDB_MODE") or "online"
        run_id = os.environ.get("KILN_RUN_ID")
        settings = wandb.Settings(console="off", silent=True, x_disable_stats=True, x_disable_meta=True)
        try:
            self.run = wandb.init(project=cfg.project, entity=cfg.entity, mode=mode, dir=out_dir,
                                  id=run_id, resume="allow" if run_id else None, name=os.environ.get("KILN_RUN_NAME"),
                                  config=config, settings=settings)
        except wandb.errors.UsageError as e:
            raise FatalError(f"train.tracking.wandb: W&B refused to start a run in {mode} mode ({e}); set WANDB_API_KEY "
                             "in the GPU workers' environment, or set train.tracking.wandb.mode to offline") from None
        self.dir = out_dir

    def log(self, step: int, values: dict) -> None:
        self.run.log(values, step=step)

    def flush(self) -> None:
        pass  # W&B's service writes as it goes

    def close(self) -> None:
        self.run.finish()


class Tracking:
    """The enabled sinks; each failure after start-up is logged once and that sink dropped."""

    def __init__(self, sinks: list):
        self.sinks = sinks

    def observe(self, event: str, fields: dict) -> None:
        values = scalars_of(event, fields)
        for sink in list(self.sinks):
            try:
                if values and fields.get("step") is not None:
                    sink.log(int(fields["step"]), values)
                if event in FLUSH_ON:
                    sink.flush()
            except Exception as e:  # the curves are not worth the training run
                log(f"tracking: {type(sink).__name__} failed ({e}); training goes on without it")
                self.sinks.remove(sink)

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:
                log(f"tracking: closing {type(sink).__name__} failed: {e}")
        self.sinks = []


def open_tracking(cfg: TrainerConfig, out_dir: str) -> Tracking | None:
    """The sinks train.tracking asks for (rank 0 only), or None when it asks for none."""
    t: TrackingConfig = cfg.tracking
    out_dir = os.environ.get("KILN_TRACKING_DIR") or out_dir
    sinks = []
    if t.tensorboard:
        sinks.append(TensorBoardSink(out_dir))
    if t.wandb is not None and (t.wandb.mode or os.environ.get("WANDB_MODE")) != "disabled":
        try:
            sinks.append(WandbSink(t.wandb, out_dir, cfg.to_json()))
        except FatalError:
            raise
        except Exception as e:
            log(f"tracking: W&B did not start ({type(e).__name__}: {e}); training goes on without it")
    return Tracking(sinks) if sinks else None
