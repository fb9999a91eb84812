// End to end on the production server: `temporal-server` on PostgreSQL (test/support/
// postgresTemporal.ts) with the Temporal UI server beside it, the workers as separate processes
// (cli/stack.ts pointed at that server), the tiny config to a served model. Then the same run
// with the Temporal server killed (SIGKILL) and restarted twice, mid-dedup and mid-training:
// it finishes, and its stages, checkpoint and exported model equal the undisturbed run's. The
// time to recover and the steps redone are printed for the closing note.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { Stack } from '../../cli/stack.js';
import { readManifest, type Manifest } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { readMetrics } from '../../activities/train/metrics.js';
import { COMPLETE_MARKER } from '../../activities/train/checkpoints.js';
import { startPostgresTemporal, type PostgresTemporal } from '../support/postgresTemporal.js';
import { CHROMIUM, checkTemporalUi } from './ui.js';
import { status, tinyConfig, waitFor } from './support.js';

const DATA_STAGES = ['ingest', 'clean', 'dedup', 'tokenizer', 'shards'] as const;
const STEPS = 100;
const CHECKPOINT_EVERY = 20;

let pg: PostgresTemporal;
let stack: Stack;
let client: Client;
let home: string;
let undisturbed: PipelineResult;

before(async () => {
  pg = await startPostgresTemporal({ ui: true });
  home = mkdtempSync(join(tmpdir(), 'kiln-e2e-pg-'));
  stack = new Stack({
    home,
    temporalAddress: pg.address,
    uiUrl: pg.uiUrl,
    gpuWorkers: 2,
    env: { KILN_DATA_CONCURRENCY: '2', KILN_ALLOWED_ROOTS: `file://${join(home, 'artifacts')}` },
  });
  await stack.start();
  client = new Client({ connection: await Connection.connect({ address: pg.address }) });
});
after(async () => {
  await client?.connection.close().catch(() => undefined);
  await stack?.stop();
  await pg?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

const rootOf = (name: string) => `file://${join(home, 'artifacts', name)}`;

function start(id: string): Promise<WorkflowHandle> {
  const base = tinyConfig();
  // Longer than tiny's 60 steps: room to kill the server after a checkpoint and before the end.
  const config = tinyConfig({ name: id, artifacts: rootOf(id), train: { ...(base.train as object), steps: STEPS, checkpointEvery: CHECKPOINT_EVERY } });
  return client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [config] });
}

/** A manifest with its artifact root replaced, so runs under different roots compare. */
async function manifestOf(dir: string, root: string): Promise<Manifest> {
  const m = await readManifest(store, dir);
  assert.ok(m, `a manifest in ${dir}`);
  return JSON.parse(JSON.stringify(m).split(root).join('<root>'), (key, value) => (key === 'seconds_by_step' ? undefined : value));
}

/**
 * SHA-256 of every file under a file:// folder, by relative path (the manifest, which names its
 * root, aside). A checkpoint's commit marker also names the gang that wrote it (fence epoch, attempt,
 * worker): only its file list is compared.
 */
function hashTree(uri: string): Record<string, string> {
  const top = fileURLToPath(uri);
  const out: Record<string, string> = {};
  const contentOf = (p: string, name: string) =>
    name === COMPLETE_MARKER ? JSON.stringify((JSON.parse(readFileSync(p, 'utf8')) as { files: unknown }).files) : readFileSync(p);
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name !== '_MANIFEST.json') out[p.slice(top.length + 1)] = createHash('sha256').update(contentOf(p, name)).digest('hex');
    }
  };
  walk(top);
  return out;
}

/** Kills the server, brings it back, and times how long until `progressed()` holds again. */
async function crashServer(what: string, progressed: () => Promise<boolean>): Promise<number> {
  const killedAt = Date.now();
  await pg.kill();
  await pg.startAgain();
  const serving = Date.now() - killedAt;
  await waitFor(`${what}: the run moving again after the server restart`, async () => progressed(), 300_000, 100);
  const recovered = Date.now() - killedAt;
  console.log(`[postgres temporal] ${what}: server back in ${(serving / 1000).toFixed(1)} s, run moving again ${(recovered / 1000).toFixed(1)} s after the SIGKILL`);
  return recovered;
}

describe('end to end on the PostgreSQL-backed Temporal server', { concurrency: false }, () => {
  it('runs the tiny pipeline to a served model', async () => {
    const handle = await start('pg-undisturbed');
    undisturbed = (await handle.result()) as PipelineResult;
    const r = undisturbed;
    assert.equal(r.train.steps, STEPS);
    assert.ok(r.train.firstLoss! > r.train.finalLoss!, `loss falls: ${r.train.firstLoss} -> ${r.train.finalLoss}`);
    assert.ok(r.eval.problems > 0, 'the eval ran');
    assert.equal((await fetch(`${r.deployment.endpoint}/health`)).status, 200);
    // The history really lives in PostgreSQL: the server's visibility store lists the run.
    const listed = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = 'pg-undisturbed'` })) listed.push(w.status.name);
    assert.deepEqual(listed, ['COMPLETED']);
  });

  it('shows the run in the Temporal UI server beside it (its API, and the pages in headless Chromium)', async (t) => {
    assert.ok(pg.uiUrl);
    // The UI server's own API, which its pages call: it reads this server's store.
    const res = await fetch(`${pg.uiUrl}/api/v1/namespaces/default/workflows?query=${encodeURIComponent(`WorkflowId = 'pg-undisturbed'`)}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { executions?: { execution: { workflowId: string }; type: { name: string }; status: string }[] };
    assert.deepEqual(body.executions?.map((e) => [e.execution.workflowId, e.type.name, e.status]), [['pg-undisturbed', 'llmPipeline', 'WORKFLOW_EXECUTION_STATUS_COMPLETED']]);
    if (!existsSync(CHROMIUM)) return t.skip(`no ${CHROMIUM} (scripts/bootstrap.sh --test installs it)`);
    await checkTemporalUi(pg.uiUrl, 'pg-undisturbed', join(home, 'ui.png'));
  });

  it('survives the Temporal server killed (SIGKILL) and restarted mid-dedup and mid-training, with the same artifacts', async () => {
    assert.ok(undisturbed, 'the undisturbed run finished');
    const id = 'pg-chaos';
    const handle = await start(id);

    // 1. Mid-dedup: the pipeline reports the stage running (its child workflow and activities in flight).
    await waitFor('dedup running', async () => (await status(handle))?.stage === 'dedup', 300_000, 50);
    const dedupChild = client.workflow.getHandle(`${id}/dedup`);
    const dedupEventsBefore = (await dedupChild.fetchHistory()).events?.length ?? 0;
    const dedupRecovery = await crashServer('mid-dedup', async () => {
      const s = await status(handle);
      if (s && s.stage !== 'dedup') return true; // dedup finished after the restart
      return ((await dedupChild.fetchHistory()).events?.length ?? 0) > dedupEventsBefore;
    });

    // 2. Mid-training, past a checkpoint.
    const training = client.workflow.getHandle(`${id}/train`);
    const atKill = await waitFor('training past the first checkpoint', async () => {
      const s = (await training.query(statusQuery)) as TrainingStatus;
      return s.gang === 'running' && s.lastCheckpoint && s.step > CHECKPOINT_EVERY + 5 ? s : undefined;
    }, 600_000, 100);
    const trainRecovery = await crashServer('mid-training', async () => {
      const s = (await training.query(statusQuery)) as TrainingStatus;
      return s.gang === 'running' && (s.step > atKill.step || s.attempts > atKill.attempts);
    });

    const r = (await handle.result()) as PipelineResult;

    // Steps redone: a new gang attempt after the kill resumes from a checkpoint; none means the
    // trainer kept going through the outage.
    const checkpoints = r.train.checkpoint.replace(/\/step_\d+\/?$/, '');
    const events = await readMetrics(checkpoints);
    const lastStepOf = (attempt: number) => Math.max(0, ...events.filter((e) => e.attempt === attempt && e.event === 'step').map((e) => Number(e.step)));
    const restarts = events.filter((e) => e.event === 'start' && e.attempt > atKill.attempts);
    const redone = restarts.length === 0 ? 0 : lastStepOf(atKill.attempts) - Number(restarts[0]!.step);
    console.log(`[postgres temporal] recovery: mid-dedup ${(dedupRecovery / 1000).toFixed(1)} s, mid-training ${(trainRecovery / 1000).toFixed(1)} s (killed at step ${atKill.step}); training steps redone: ${redone} (gang attempts ${r.train.attempts}, gang restarts ${r.train.gangRestarts})`);

    // Same artifacts as the undisturbed run.
    for (const stage of DATA_STAGES) {
      assert.deepEqual(await manifestOf(r.artifacts[stage]!, rootOf(id)), await manifestOf(undisturbed.artifacts[stage]!, rootOf('pg-undisturbed')), `${stage} manifest`);
    }
    assert.equal(r.train.steps, STEPS);
    assert.deepEqual(hashTree(r.artifacts.checkpoint!), hashTree(undisturbed.artifacts.checkpoint!), 'the final checkpoint, file by file');
    assert.deepEqual(hashTree(r.artifacts.model!), hashTree(undisturbed.artifacts.model!), 'the exported model, file by file');
    assert.equal((await fetch(`${r.deployment.endpoint}/health`)).status, 200);
  });
});
