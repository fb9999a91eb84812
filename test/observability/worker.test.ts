// A real data worker process (workers/dataWorker.ts) with KILN_METRICS_PORT and KILN_LOG_FORMAT=json,
// against a real local Temporal server, runs the dedup workflow on a small corpus (the cheapest
// real stage with parallel activities), then once more on a corrupt partition. Its one endpoint
// serves kiln's metrics, whose row and byte counts equal the stage's own stats, beside the SDK's
// temporal_* series; every line it writes on stderr is JSON, with workflowId, runId, stage, attempt.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DedupInput } from '../../activities/dedup/index.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import type { StageResult } from '../../lib/manifest.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { writeDedupCorpus } from '../data/dedupCorpus.js';
import { tmpDir } from '../data/fixtures.js';
import { freePort } from '../support/ports.js';
import { startTestServer } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

let env: TestWorkflowEnvironment;
let worker: ChildProcess;
let port: number;
let stderr = '';

before(async () => {
  env = await startTestServer();
  port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { ...process.env, TEMPORAL_ADDRESS: env.address, KILN_METRICS_PORT: String(port), KILN_LOG_FORMAT: 'json' };
  delete childEnv.KILN_CODEC_KEYS; // the test's client speaks plain payloads
  worker = spawn(process.execPath, ['--import', 'tsx', 'workers/dataWorker.ts'], { cwd: repoRoot, env: childEnv, stdio: ['ignore', 'inherit', 'pipe'] });
  worker.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (stderr += chunk));
  await waitFor('the data worker to poll', async () => worker.exitCode === null && stderr.includes('polling'), 120_000);
});

after(async () => {
  if (worker?.exitCode === null) worker.kill('SIGKILL'); // only when a test failed before stopping it
  await env?.teardown();
});

/** SIGTERM, then the exit code, or null when the worker is still running after `ms`. */
async function stopWorker(ms: number): Promise<number | null> {
  const exited = new Promise<number | null>((r) => worker.once('exit', (code) => r(code)));
  worker.kill('SIGTERM');
  return Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]); // unref: not a reason to keep the test process 60 s
}

async function dedup(id: string, input: DedupInput): Promise<StageResult | Error> {
  const handle = await env.client.workflow.start('dedupWorkflow', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [input] });
  return (handle.result() as Promise<StageResult>).catch((e: Error) => e);
}

/** The value of the series `name{labels}` in Prometheus text (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('a data worker with KILN_METRICS_PORT and KILN_LOG_FORMAT=json', () => {
  it('serves kiln_* and temporal_* metrics on one port and logs JSON lines with the run, stage and attempt', async () => {
    const corpus = writeDedupCorpus(tmpDir(), 4, 2);
    const good = await dedup('obs-dedup-1', { artifactsRoot: fileUri(tmpDir()), input: corpus.input, seed: 5, reducers: 2 });
    assert.ok(!(good instanceof Error), `dedup failed: ${String(good)}`);
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let text = await metrics();
    const signatures = { stage: 'dedupSignatures' };
    const stats = good.stats as Record<string, number>;
    assert.equal(sample(text, 'kiln_stage_rows_total', signatures), stats.rows_in, 'rows read, as the stage counted them');
    assert.equal(sample(text, 'kiln_stage_bytes_total', signatures), stats.bytes_read, 'bytes read, as the stage counted them');
    assert.ok(sample(text, 'kiln_stage_rows_per_second', signatures)! > 0);
    assert.ok(sample(text, 'kiln_stage_bytes_per_second', signatures)! > 0);
    assert.equal(sample(text, 'kiln_stage_duration_seconds_count', signatures), 2, 'one per partition');
    assert.equal(sample(text, 'kiln_stage_duration_seconds_bucket', { ...signatures, le: '+Inf' }), 2, 'the histogram has its buckets');
    assert.equal(sample(text, 'kiln_stage_duration_seconds_count', { stage: 'dedupCommit' }), 1);
    assert.equal(sample(text, 'kiln_stage_rows_total', { stage: 'dedupCommit' }), undefined, 'a commit reads nothing of its own');

    const bad = writeDedupCorpus(tmpDir(), 2, 2);
    writeFileSync(fileUriToPath(bad.input.outputs[1]!), 'not parquet at all');
    assert.ok((await dedup('obs-dedup-bad', { artifactsRoot: fileUri(tmpDir()), input: bad.input, seed: 5 })) instanceof Error);
    text = await metrics();
    assert.equal(sample(text, 'kiln_activity_failures_total', { activity: 'dedupSignatures', retryable: 'false' }), 1);
    // The SDK runtime's own series, from the same endpoint.
    assert.ok(sample(text, 'temporal_activity_execution_latency_count', { activity_type: 'dedupSignatures' })! >= 2, text.split('\n').filter((l) => l.startsWith('temporal_')).join('\n'));
    assert.ok(sample(text, 'temporal_workflow_completed', { workflow_type: 'dedupWorkflow' })! >= 1);

    // The worker writes its lines to a pipe this process reads asynchronously: the workflow's
    // failure can reach the test before the worker's line about it does.
    await waitFor('the WARN line of the failed attempt', async () => stderr.includes('obs-dedup-bad') && /"level":"WARN"[^\n]*obs-dedup-bad|obs-dedup-bad[^\n]*"level":"WARN"/.test(stderr), 30_000, 100).catch(() => undefined);
    const lines = stderr.split('\n').filter((l) => l.trim());
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        assert.fail(`a stderr line is not JSON: ${l}`);
      }
    });
    for (const l of parsed) assert.ok(typeof l.ts === 'string' && typeof l.level === 'string' && typeof l.msg === 'string', JSON.stringify(l));
    const finished = parsed.filter((l) => l.msg === 'activity finished' && l.workflowId === 'obs-dedup-1' && l.stage === 'dedupSignatures');
    assert.equal(finished.length, 2, 'one line per partition');
    for (const l of finished) {
      assert.equal(l.attempt, 1);
      assert.equal(typeof l.runId, 'string');
      assert.ok((l.rows as number) > 0 && (l.durationS as number) >= 0, JSON.stringify(l));
    }
    const failed = parsed.find((l) => l.level === 'WARN' && l.workflowId === 'obs-dedup-bad' && l.stage === 'dedupSignatures');
    assert.ok(failed, `no WARN line for the failed attempt in:\n${lines.filter((l) => l.includes('obs-dedup-bad')).join('\n')}`);
    assert.equal(failed.attempt, 1);
    assert.match(JSON.stringify(failed.error), /part-00001\.parquet/);
    assert.ok(!stderr.includes('taskToken'), 'task tokens stay out of the logs');
  });

  it('exits on SIGTERM (its runtime, forwarding the JSON logs, ends with its connection)', async () => {
    assert.equal(await stopWorker(60_000), 0);
  });
});
