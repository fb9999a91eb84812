// Chaos: MinIO, the artifact store, stopped for 60 s (the process ended, then started again on the
// same data folder and port) twice in one run of the tiny pipeline: in the middle of the dedup
// stage, and in the middle of a checkpoint upload during training. On the production shape of the
// stack: the PostgreSQL-backed Temporal server, workers as separate processes (cli/stack.ts), the
// PyTorch trainer. The run must finish, and its stages, final checkpoint and exported model must
// equal an undisturbed run's. What bridges the outage: stage activities' retry policies (8
// attempts, backoff to 1 minute: about 3 minutes in all), and a training node retrying its
// checkpoint upload while the trainer trains on (activities/train/checkpoints.ts), so the gang
// need not restart. Prints, per fault, the time from MinIO back to the stage moving again and the
// rows or steps redone.
//
// KILN_CHAOS_S3_OUTAGE_S: length of each outage (default 60 s, the figure).
// KILN_CHAOS_DEV_SERVER=1: the Temporal dev server instead (no PostgreSQL needed; a quicker check).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Stack } from '../../cli/stack.js';
import { ErrorType } from '../../contracts/errors.js';
import { statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { readMetrics } from '../../activities/train/metrics.js';
import { hashObjects, maskedManifest } from '../support/artifactHashes.js';
import { startMinio, type MinioServer } from '../support/minio.js';
import { freePort } from '../support/ports.js';
import { startPostgresTemporal, type PostgresTemporal } from '../support/postgresTemporal.js';
import { describeRedone, redoneActivities } from '../support/redoneWork.js';
import { status, tinyConfig, waitFor } from './support.js';

const BUCKET = 'kiln-chaos';
const DATA_STAGES = ['ingest', 'clean', 'dedup', 'tokenizer', 'shards'] as const;
const STEPS = 100;
const CHECKPOINT_EVERY = 20;
const OUTAGE_MS = Number(process.env.KILN_CHAOS_S3_OUTAGE_S ?? 60) * 1000;

let pg: PostgresTemporal | undefined;
let minio: MinioServer;
let stack: Stack;
let client: Client;
let home: string;

before(async () => {
  pg = process.env.KILN_CHAOS_DEV_SERVER === '1' ? undefined : await startPostgresTemporal();
  minio = await startMinio({ bucket: BUCKET });
  home = mkdtempSync(join(tmpdir(), 'kiln-s3-chaos-'));
  stack = new Stack({
    home,
    ...(pg ? { temporalAddress: pg.address } : { temporalPort: await freePort(), uiPort: await freePort() }),
    gpuWorkers: 2,
    // The workers' only way to S3: credentials in their environment, never in payloads.
    env: { ...minio.env, KILN_DATA_CONCURRENCY: '2', KILN_ALLOWED_ROOTS: `s3://${BUCKET}` },
  });
  await stack.start();
  client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
});
after(async () => {
  await client?.connection.close().catch(() => undefined);
  await stack?.stop();
  await minio?.stop();
  await pg?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const rootOf = (id: string) => `s3://${BUCKET}/${id}`;

function start(id: string): Promise<WorkflowHandle> {
  const base = tinyConfig();
  const config = tinyConfig({ name: id, artifacts: rootOf(id), train: { ...(base.train as object), steps: STEPS, checkpointEvery: CHECKPOINT_EVERY } });
  return client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [config] });
}

/** Pending activities of a workflow: type, state, and the last failure's type. */
async function pending(handle: WorkflowHandle): Promise<{ type: string; started: boolean; failureType?: string }[]> {
  const d = await handle.describe().catch(() => undefined);
  return (d?.raw.pendingActivities ?? []).map((a) => ({
    type: a.activityType?.name ?? '?',
    started: String(a.state) === 'PENDING_ACTIVITY_STATE_STARTED' || a.state === 2,
    failureType: a.lastFailure?.applicationFailureInfo?.type ?? undefined,
  }));
}

/** Kills MinIO (SIGKILL: no graceful end for requests in flight), waits out the outage while `during` watches, starts it again on the same data folder and port; returns when it was back. */
async function outage(during: () => Promise<void>): Promise<number> {
  const stoppedAt = Date.now();
  await minio.stopServer('SIGKILL');
  await during();
  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
  await minio.startAgain();
  return Date.now();
}

/** Every folder and file under `dir`, as paths (MinIO keeps an object `a/b` as a folder `a/b/`). */
function pathsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...pathsUnder(p)] : [p];
  });
}

/** A local folder of the trainer's named `name` (rank 0's checkpoints live in <home>/cache/train/<run>/rank-0/attempt-N/checkpoints). */
function localCheckpointWritten(name: string, otherRuns: Set<string>): boolean {
  const train = join(home, 'cache', 'train');
  if (!existsSync(train)) return false;
  for (const run of readdirSync(train)) {
    if (otherRuns.has(run)) continue;
    const rank0 = join(train, run, 'rank-0');
    if (!existsSync(rank0)) continue;
    for (const attempt of readdirSync(rank0)) if (existsSync(join(rank0, attempt, 'checkpoints', name))) return true;
  }
  return false;
}

describe('chaos: MinIO stopped for a minute mid-stage and mid-checkpoint-upload (PostgreSQL-backed Temporal)', { concurrency: false }, () => {
  it('finishes with the artifacts of an undisturbed run', async () => {
    const undisturbed = (await (await start('s3-undisturbed')).result()) as PipelineResult;
    assert.equal(undisturbed.train.steps, STEPS);

    const id = 's3-chaos';
    const trainCache = join(home, 'cache', 'train');
    const undisturbedRuns = new Set(existsSync(trainCache) ? readdirSync(trainCache) : []);
    const handle = await start(id);
    const dedupChild = client.workflow.getHandle(`${id}/dedup`);

    // 1. Mid-dedup: one of the stage's activities has started.
    await waitFor('a dedup activity running', async () => (await status(handle))?.stage === 'dedup' && (await pending(dedupChild)).some((a) => a.started), 600_000, 50);
    let hit: string | undefined;
    const dedupBack = await outage(async () => {
      // The outage reaches the stage: an activity fails as the store unavailable (and is retried).
      hit = await waitFor('a dedup activity failing on the store', async () => (await pending(dedupChild)).find((a) => a.failureType === ErrorType.StoreUnavailable)?.type, 30_000, 100);
    });
    const completedBefore = (await dedupChild.fetchHistory()).events!.filter((e) => e.activityTaskCompletedEventAttributes).length;
    await waitFor('dedup moving again', async () => {
      const s = await status(handle);
      if (s && s.stage !== 'dedup') return true;
      return (await dedupChild.fetchHistory()).events!.filter((e) => e.activityTaskCompletedEventAttributes).length > completedBefore;
    }, 600_000, 100);
    const dedupRecoveryMs = Date.now() - dedupBack;

    // 2. Mid-checkpoint-upload: rank 0's trainer has just written step 40 (step 20 is in the store);
    //    MinIO goes before the node has committed it.
    const training = client.workflow.getHandle(`${id}/train`);
    const ckptName = `step_${String(2 * CHECKPOINT_EVERY).padStart(8, '0')}`;
    // Its upload starts once the trainer has renamed the folder into place; MinIO keeps an object
    // `a/b` as a folder `<data>/<bucket>/a/b/`, so its files show there as they land.
    const inMinio = () => pathsUnder(join(minio.dataDir, BUCKET, id)).filter((p) => p.includes(`/${ckptName}/`));
    await waitFor(`the trainer writing ${ckptName}`, async () => localCheckpointWritten(ckptName, undisturbedRuns) || inMinio().length > 0, 900_000, 5);
    let uploadedAtKill: string[] = [];
    let statusAtKill: TrainingStatus | undefined;
    const trainBack = await outage(async () => {
      // The upload was cut: MinIO holds no commit marker of that checkpoint.
      uploadedAtKill = inMinio().filter((p) => /\/[^/]+\/xl\.meta$/.test(p)).map((p) => p.split('/').at(-2)!);
      assert.ok(!uploadedAtKill.includes('_COMPLETE'), `${ckptName} was committed before MinIO stopped: the kill came too late`);
      statusAtKill = (await training.query(statusQuery)) as TrainingStatus;
    });
    const atKill = statusAtKill!;
    await waitFor('a checkpoint committed after the outage', async () => {
      const s = (await training.query(statusQuery).catch(() => undefined)) as TrainingStatus | undefined;
      const p = await status(handle);
      return (p && p.stage !== 'train') || (s !== undefined && (s.lastCheckpointStep ?? 0) > (atKill.lastCheckpointStep ?? 0));
    }, 600_000, 100);
    const trainRecoveryMs = Date.now() - trainBack;

    const r = (await handle.result()) as PipelineResult;

    // Work redone: dedup activities that completed only on a later attempt; training steps after a gang restart.
    const dedupRedone = await redoneActivities(await dedupChild.fetchHistory());
    const events = await readMetrics(r.train.checkpoint.replace(/\/step_\d+\/?$/, ''));
    const lastStepOf = (attempt: number) => Math.max(0, ...events.filter((e) => e.attempt === attempt && e.event === 'step').map((e) => Number(e.step)));
    const restarts = events.filter((e) => e.event === 'start' && e.attempt > atKill.attempts);
    const stepsRedone = restarts.length === 0 ? 0 : lastStepOf(atKill.attempts) - Number(restarts[0]!.step);
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`[s3 chaos] mid-dedup (${hit} failed, outage ${s(OUTAGE_MS)}): dedup moving again ${s(dedupRecoveryMs)} after MinIO was back; ${describeRedone(dedupRedone)}`);
    console.log(
      `[s3 chaos] mid-checkpoint-upload (${ckptName}: ${uploadedAtKill.length} of its files in MinIO at the kill; outage ${s(OUTAGE_MS)}, last step reported ${atKill.step}): ` +
        `a checkpoint committed ${s(trainRecoveryMs)} after MinIO was back; ` +
        `training steps redone: ${stepsRedone} (gang attempts ${r.train.attempts}, restarts ${r.train.gangRestarts})`,
    );

    assert.ok(dedupRedone.length >= 1, 'a dedup activity was retried after the outage');
    // The node rode out the outage: no gang restart, nothing trained twice.
    assert.equal(r.train.attempts, undisturbed.train.attempts, 'gang attempts');
    assert.equal(stepsRedone, 0);
    // Same artifacts as the undisturbed run.
    for (const stage of DATA_STAGES) {
      assert.deepEqual(await maskedManifest(r.artifacts[stage]!, rootOf(id)), await maskedManifest(undisturbed.artifacts[stage]!, rootOf('s3-undisturbed')), `${stage} manifest`);
    }
    assert.equal(r.train.steps, STEPS);
    assert.deepEqual(await hashObjects(r.artifacts.checkpoint!), await hashObjects(undisturbed.artifacts.checkpoint!), 'the final checkpoint, file by file');
    assert.deepEqual(await hashObjects(r.artifacts.model!), await hashObjects(undisturbed.artifacts.model!), 'the exported model, file by file');
    assert.equal((await fetch(`${r.deployment.endpoint}/health`)).status, 200);
  });
});
