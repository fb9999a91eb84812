// dedupWorkflow (map-reduce over activities) against a real local Temporal server, with the real
// dedup activities on the data task queue and files in a temporary artifact store: it removes
// the same rows as the single-process path, survives a transient failure of a step, memoizes a
// re-run, and fails non-retryably, naming the file, on a corrupt partition.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDedupActivities, dedupStage, type DedupInput } from '../../activities/dedup/index.js';
import { ErrorType } from '../../contracts/errors.js';
import type { Manifest, StageResult } from '../../lib/manifest.js';
import { readParquetTable } from '../../lib/parquet.js';
import { tableToRows } from '../../lib/stackSchema.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import { writeDedupCorpus } from '../data/dedupCorpus.js';
import { tmpDir } from '../data/fixtures.js';
import { assertFailure } from '../support/failures.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { recordHistory } from '../support/histories.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const keptKeys = (r: StageResult) =>
  r.outputs.flatMap((uri) => tableToRows(readParquetTable(readFileSync(fileUriToPath(uri)), uri)).map((x) => `${x.max_stars_repo_name}:${x.max_stars_repo_path}`)).sort();
const manifestOf = (r: StageResult) => JSON.parse(readFileSync(fileUriToPath(r.manifestUri), 'utf8')) as Manifest;

async function withWorkers<T>(activities: Record<string, (...args: never[]) => Promise<unknown>>, body: () => Promise<T>): Promise<T> {
  const conn = env.nativeConnection;
  const wf = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
  const data = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.data, activities, maxConcurrentActivityTaskExecutions: 4 });
  return wf.runUntil(data.runUntil(body));
}

/** The real dedup activities, each call's name pushed to `calls` first; `before` may throw a fault for a call. */
function recordedActivities(calls: string[], before?: (name: string, args: unknown[]) => void) {
  return Object.fromEntries(
    Object.entries(createDedupActivities()).map(([name, f]) => [
      name,
      async (...args: unknown[]) => {
        calls.push(name);
        before?.(name, args);
        return (f as (...a: unknown[]) => Promise<unknown>)(...args);
      },
    ]),
  );
}

async function runWorkflow(id: string, input: DedupInput): Promise<StageResult> {
  const handle = await env.client.workflow.start('dedupWorkflow', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [input] });
  const result = (await handle.result()) as StageResult;
  // Kept per release for the replay test (the first run does every step).
  if (process.env.KILN_RECORD_HISTORY && id === 'dedup-wf-1') recordHistory(id, await handle.fetchHistory());
  return result;
}

describe('dedupWorkflow', () => {
  const corpus = writeDedupCorpus(tmpDir(), 12, 4);
  const seed = 99;

  it('removes the same rows as the single-process path, with parallel steps, and memoizes a re-run', async () => {
    const local = await dedupStage({ artifactsRoot: fileUri(tmpDir()), input: corpus.input, seed, reducers: 1 });
    const root = fileUri(tmpDir());
    const calls: string[] = [];
    let failedOnce = false;
    const activities = recordedActivities(calls, (name, args) => {
      // A transient fault in the middle of the map phase: Temporal retries the step.
      if (name === 'dedupBuckets' && args[1] === 1 && !failedOnce) {
        failedOnce = true;
        throw new Error('simulated lost worker');
      }
    });
    const [first, again] = await withWorkers(activities, async () => [
      await runWorkflow('dedup-wf-1', { artifactsRoot: root, input: corpus.input, seed, reducers: 3 }),
      await runWorkflow('dedup-wf-2', { artifactsRoot: root, input: corpus.input, seed, reducers: 3 }),
    ]);
    assert.equal(failedOnce, true);
    assert.equal(calls.filter((c) => c === 'dedupSignatures').length, 4, 'one signature step per partition');
    assert.equal(calls.filter((c) => c === 'dedupBuckets').length, 4, 'three reducers, one retried');
    assert.equal(calls.filter((c) => c === 'dedupFilter').length, 4);

    // Same kept rows, same files, same stats as one process with one reducer.
    assert.deepEqual(keptKeys(first), keptKeys(local));
    assert.equal(first.fingerprint, local.fingerprint);
    assert.deepEqual(first.stats, local.stats);
    assert.deepEqual(manifestOf(first).outputs.map((o) => o.sha256), manifestOf(local).outputs.map((o) => o.sha256));
    const s = first.stats as Record<string, number>;
    assert.ok(s.exact_duplicates! >= 12 + 2, `exact copies and the short files: ${JSON.stringify(s)}`);
    assert.ok(s.near_duplicates! >= 12, `one-line edits: ${JSON.stringify(s)}`);
    assert.equal(s.kept, s.rows_in! - s.exact_duplicates! - s.near_duplicates!);
    const details = JSON.parse(readFileSync(join(fileUriToPath(first.dir), '_DETAILS.json'), 'utf8'));
    assert.equal(details.exact_duplicates, s.exact_duplicates);
    assert.ok(details.largest_clusters.length > 0);

    // The re-run found the manifest: one plan step, nothing else.
    assert.equal(again.reused, true);
    assert.equal(again.fingerprint, first.fingerprint);
    assert.equal(calls.filter((c) => c === 'dedupPlan').length, 2);
    assert.equal(calls.filter((c) => c === 'dedupCommit').length, 1);
  });

  it('fails non-retryably, naming the file, when a partition is not Parquet', async () => {
    const bad = writeDedupCorpus(tmpDir(), 2, 2);
    writeFileSync(fileUriToPath(bad.input.outputs[1]!), 'not parquet at all');
    const calls: string[] = [];
    const err = await withWorkers(recordedActivities(calls), () =>
      runWorkflow('dedup-wf-bad', { artifactsRoot: fileUri(tmpDir()), input: bad.input, seed }).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = (err.cause as { cause?: unknown }).cause;
    assertFailure(cause, ErrorType.InvalidInput, 'part-00001.parquet');
    assert.equal(calls.filter((c) => c === 'dedupSignatures').length, 2, 'the bad partition was not retried');
  });
});
