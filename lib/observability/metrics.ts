/**
 * kiln's own Prometheus metrics. They are instruments of the Temporal SDK runtime's meter, so the
 * worker's one endpoint (workers/observability.ts) serves them beside the SDK's temporal_* series.
 * Until a worker installs the runtime's meter (useMetricMeter) every call is a no-op: the CLI and
 * tests that run activities in-process record nothing and start no runtime.
 *
 * Labels: `stage` is the activity type (ingestPart, dedupSignatures, trainNode, ...), `run` the
 * training workflow's id, `activity` the activity type and `retryable` "true" or "false".
 */
import { noopMetricMeter, type MetricMeter } from '@temporalio/common';

/** Stage durations run from seconds (a memoized part) to days (a training node). */
export const STAGE_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

function instruments(meter: MetricMeter) {
  return {
    stageDuration: meter.createHistogram('kiln_stage_duration_seconds', 'float', 's', 'Wall time of one stage activity on this worker, failed attempts included.'),
    stageRows: meter.createCounter('kiln_stage_rows_total', 'rows', 'Rows (documents, samples) a stage activity read.'),
    stageBytes: meter.createCounter('kiln_stage_bytes_total', 'bytes', 'Bytes a stage activity read.'),
    stageRowsPerS: meter.createGauge('kiln_stage_rows_per_second', 'float', 'rows/s', "The last finished activity's rows over its wall time."),
    stageBytesPerS: meter.createGauge('kiln_stage_bytes_per_second', 'float', 'bytes/s', "The last finished activity's bytes over its wall time."),
    failures: meter.createCounter('kiln_activity_failures_total', 'failures', 'Activity attempts that failed (cancellations not counted).'),
    step: meter.createGauge('kiln_training_step', 'int', 'steps', "The trainer's last optimizer step (rank 0's node)."),
    stepsPerS: meter.createGauge('kiln_training_steps_per_second', 'float', 'steps/s', 'Optimizer steps per second between the last two step events.'),
    loss: meter.createGauge('kiln_training_loss', 'float', '', 'Training loss of the last step.'),
    tokensPerS: meter.createGauge('kiln_training_tokens_per_second', 'float', 'tokens/s', "The trainer's tokens per second over the whole gang."),
  };
}

let current = instruments(noopMetricMeter);

/** Records into `meter` from now on (the worker passes Runtime.instance().metricMeter). */
export function useMetricMeter(meter: MetricMeter): void {
  current = instruments(meter);
}

/** Rows and bytes an activity went through; either may be unknown. */
export interface WorkDone {
  rows?: number;
  bytes?: number;
}

/** One finished stage activity: its duration, and its throughput when it did work. */
export function recordStage(stage: string, seconds: number, work: WorkDone = {}): void {
  const tags = { stage };
  current.stageDuration.record(seconds, tags);
  if (work.rows !== undefined) {
    current.stageRows.add(Math.round(work.rows), tags);
    if (seconds > 0) current.stageRowsPerS.set(work.rows / seconds, tags);
  }
  if (work.bytes !== undefined) {
    current.stageBytes.add(Math.round(work.bytes), tags);
    if (seconds > 0) current.stageBytesPerS.set(work.bytes / seconds, tags);
  }
}

export function recordActivityFailure(activity: string, retryable: boolean): void {
  current.failures.add(1, { activity, retryable: String(retryable) });
}

/** A trainer `step` event; the rate needs the previous one, kept per run by TrainingRate. */
export function recordTrainingStep(run: string, e: { step: number; loss?: number; tokensPerS?: number; stepsPerS?: number }): void {
  const tags = { run };
  current.step.set(e.step, tags);
  if (e.loss !== undefined && Number.isFinite(e.loss)) current.loss.set(e.loss, tags);
  if (e.tokensPerS !== undefined && Number.isFinite(e.tokensPerS)) current.tokensPerS.set(e.tokensPerS, tags);
  if (e.stepsPerS !== undefined) current.stepsPerS.set(e.stepsPerS, tags);
}

/** Steps per second between successive step events of one trainer. */
export class TrainingRate {
  private last: { step: number; at: number } | undefined;

  /** The rate since the previous event, or undefined for the first one (or a step that went back: a resume). */
  observe(step: number, at: number): number | undefined {
    const prev = this.last;
    this.last = { step, at };
    if (!prev || step <= prev.step || at <= prev.at) return undefined;
    return ((step - prev.step) * 1000) / (at - prev.at);
  }
}
