// kiln's metrics without a worker: what the activities' results say they read (workDone), the
// gauges a trainer's step events set (through TrainerEvents, as a node folds them), the JSON log
// line's fields, and the checks of the worker's telemetry variables.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, noopMetricMeter, type MetricMeter, type MetricTags } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { TrainerEvents } from '../../activities/train/events.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import { ErrorType } from '../../contracts/errors.js';
import { isRetryable } from '../../contracts/errors.js';
import { formatJsonLog } from '../../lib/observability/jsonLog.js';
import { recordStage, TrainingRate, useMetricMeter } from '../../lib/observability/metrics.js';
import { workDone } from '../../lib/observability/workDone.js';
import { logFormat, metricsPort } from '../../workers/observability.js';

/** A meter that keeps the last value (gauges), the sum (counters) or every value (histograms) per name and tags. */
function recordingMeter() {
  const values = new Map<string, number[]>();
  const key = (name: string, tags: MetricTags) => `${name}${JSON.stringify(tags)}`;
  const push = (name: string, tags: MetricTags, v: number, mode: 'set' | 'add' | 'record') => {
    const k = key(name, tags);
    const cur = values.get(k) ?? [];
    values.set(k, mode === 'set' ? [v] : mode === 'add' ? [(cur[0] ?? 0) + v] : [...cur, v]);
  };
  const meter = {
    createCounter: (name: string) => ({ add: (v: number, tags: MetricTags = {}) => push(name, tags, v, 'add') }),
    createGauge: (name: string) => ({ set: (v: number, tags: MetricTags = {}) => push(name, tags, v, 'set') }),
    createHistogram: (name: string) => ({ record: (v: number, tags: MetricTags = {}) => push(name, tags, v, 'record') }),
  } as unknown as MetricMeter;
  return { meter, get: (name: string, tags: MetricTags) => values.get(key(name, tags)) };
}

describe('kiln metrics', () => {
  after(() => useMetricMeter(noopMetricMeter));

  it('reads rows and bytes from the results of the stages that did the reading, not from sums or reused results', () => {
    assert.deepEqual(workDone('ingestPart', { index: 0, rowsIn: 120, rowsOut: 100, bytesRead: 5000 }), { rows: 120, bytes: 5000 });
    assert.deepEqual(workDone('cleanPart', { index: 1, rowsIn: 7, kept: 5, bytesRead: 900 }), { rows: 7, bytes: 900 });
    assert.deepEqual(workDone('dedupSignatures', { rows: 40, signed: 38, bytesRead: 4096, contentBytes: 3000 }), { rows: 40, bytes: 4096 });
    assert.deepEqual(workDone('shardPart', { part: 'part-00000', stats: { docs: 11, val_docs: 1 } }), { rows: 11, bytes: undefined });
    const stage = { stage: 'clean', fingerprint: 'f', dir: 'd', manifestUri: 'm', outputs: [], stats: { rows_in: 50, bytes_read: 777 } };
    assert.deepEqual(workDone('cleanStage', { ...stage, reused: false }), { rows: 50, bytes: 777 });
    assert.deepEqual(workDone('cleanStage', { ...stage, reused: true }), {}, 'a memoized stage read nothing');
    assert.deepEqual(workDone('cleanCommit', { ...stage, reused: false }), {}, 'a commit adds up its parts');
    assert.deepEqual(workDone('ingestPlan', { plan: {}, parts: 3 }), {});
    assert.deepEqual(workDone('latestCheckpoint', null), {});
    assert.deepEqual(workDone('dedupSignatures', { rows: -1, bytesRead: Number.NaN }), { rows: undefined, bytes: undefined });
  });

  it('records a stage: duration, row and byte counters, and the rates of the last activity', () => {
    const m = recordingMeter();
    useMetricMeter(m.meter);
    recordStage('cleanPart', 2, { rows: 100, bytes: 1000 });
    recordStage('cleanPart', 0.5, { rows: 10 });
    recordStage('cleanPart', 1);
    const tags = { stage: 'cleanPart' };
    assert.deepEqual(m.get('kiln_stage_duration_seconds', tags), [2, 0.5, 1]);
    assert.deepEqual(m.get('kiln_stage_rows_total', tags), [110]);
    assert.deepEqual(m.get('kiln_stage_bytes_total', tags), [1000]);
    assert.deepEqual(m.get('kiln_stage_rows_per_second', tags), [20]);
    assert.deepEqual(m.get('kiln_stage_bytes_per_second', tags), [500]);
  });

  it('sets the training gauges from the step events a node folds, steps/s from successive events', () => {
    const m = recordingMeter();
    useMetricMeter(m.meter);
    const input = { rank: 1, attempt: 1, checkpointsUri: 'file:///unused/checkpoints', progressEverySeconds: 60, trainingWorkflowId: 'run-7/train' } as TrainNodeInput;
    const events = new TrainerEvents(input, { step: 0, totalSteps: 100 }, undefined, { heartbeat: () => undefined, signalProgress: async () => undefined });
    events.fold({ event: 'step', step: 10, loss: 3.5, tokens_per_s: 1200 }, 1_000);
    events.fold({ event: 'step', step: 14, loss: 3.25, tokens_per_s: 1300 }, 3_000);
    const run = { run: 'run-7/train' };
    assert.deepEqual(m.get('kiln_training_step', run), [14]);
    assert.deepEqual(m.get('kiln_training_loss', run), [3.25]);
    assert.deepEqual(m.get('kiln_training_tokens_per_second', run), [1300]);
    assert.deepEqual(m.get('kiln_training_steps_per_second', run), [2], '4 steps in 2 s');
  });

  it('gives no rate for a first event or a step that went back (a resume)', () => {
    const rate = new TrainingRate();
    assert.equal(rate.observe(5, 0), undefined);
    assert.equal(rate.observe(3, 1000), undefined);
    assert.equal(rate.observe(13, 2000), 10);
  });

  it('counts a failure as retryable by its type, as the retry policies decide', () => {
    assert.equal(isRetryable(new Error('socket hang up')), true);
    assert.equal(isRetryable(ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'lost peer' })), true);
    assert.equal(isRetryable(ApplicationFailure.create({ type: ErrorType.InvalidInput, message: 'bad parquet' })), false, 'by type');
    assert.equal(isRetryable(ApplicationFailure.create({ type: 'Other', message: 'x', nonRetryable: true })), false, 'by flag');
  });
});

describe('JSON log lines', () => {
  const entry = (meta: Record<string, unknown>): LogEntry => ({ level: 'WARN', message: 'Activity failed', meta, timestampNanos: 1_700_000_000_123_000_000n });

  it('carry ts, level, msg, workflowId, runId, stage and attempt, and never the task token', () => {
    const err = ApplicationFailure.create({ type: ErrorType.InvalidInput, message: 'part-1 is not Parquet', nonRetryable: true });
    const line = JSON.parse(
      formatJsonLog(entry({ workflowId: 'wf', workflowRunId: 'r1', activityType: 'dedupSignatures', stage: 'dedupSignatures', attempt: 2, taskToken: 'c2VjcmV0', error: err })),
    );
    assert.equal(line.ts, '2023-11-14T22:13:20.123Z');
    assert.equal(line.level, 'WARN');
    assert.equal(line.msg, 'Activity failed');
    assert.equal(line.workflowId, 'wf');
    assert.equal(line.runId, 'r1');
    assert.equal(line.stage, 'dedupSignatures');
    assert.equal(line.attempt, 2);
    assert.equal(line.taskToken, undefined);
    assert.equal(line.error.message, 'part-1 is not Parquet');
    assert.equal(line.error.type, ErrorType.InvalidInput);
    assert.equal(line.error.nonRetryable, true);
  });

  it("name a workflow's lines by its type, and survive a circular attribute", () => {
    assert.equal(JSON.parse(formatJsonLog(entry({ workflowId: 'wf', runId: 'r', workflowType: 'llmPipeline' }))).stage, 'llmPipeline');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    const line = JSON.parse(formatJsonLog(entry({ workflowId: 'wf', activityType: 'ingestPart', attempt: 1, loop })));
    assert.deepEqual([line.workflowId, line.stage, line.attempt, line.loop], ['wf', 'ingestPart', 1, undefined]);
  });
});

describe('worker telemetry settings', () => {
  it('reads KILN_METRICS_PORT and KILN_LOG_FORMAT, naming the variable and the value it refuses', () => {
    assert.equal(metricsPort({}), undefined);
    assert.equal(metricsPort({ KILN_METRICS_PORT: '9464' }), 9464);
    assert.throws(() => metricsPort({ KILN_METRICS_PORT: 'http' }), /Expected KILN_METRICS_PORT to be a port number \(1-65535\), got `http`/);
    assert.throws(() => metricsPort({ KILN_METRICS_PORT: '70000' }), /got `70000`/);
    assert.equal(logFormat({}), 'text');
    assert.equal(logFormat({ KILN_LOG_FORMAT: 'json' }), 'json');
    assert.throws(() => logFormat({ KILN_LOG_FORMAT: 'xml' }), /Expected KILN_LOG_FORMAT to be one of text, json, got `xml`/);
  });
});
