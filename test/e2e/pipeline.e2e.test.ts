// End to end on the real parts: the Temporal dev server, one data worker and two GPU workers as
// separate processes, MinIO as the artifact store, the PyTorch trainer on CPU (gloo), the tiny
// config to a served model. Then the same run under fire: kill -9 of the data worker mid-stage,
// kill -9 of a GPU worker mid-training, pause and resume; its artifacts must match the
// undisturbed run's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { readManifest, type Manifest } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { pauseSignal, rendezvousQuery, resumeSignal, statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { checkTemporalUi } from './ui.js';
import { allHistories, findInHistories } from '../security/historyScan.js';
import { runningActivities, startE2EStack, status, tinyConfig, waitFor, type E2EStack } from './support.js';

const DATA_STAGES = ['ingest', 'clean', 'dedup', 'tokenizer', 'shard'] as const;

let e2e: E2EStack;
let undisturbed: PipelineResult;

before(async () => {
  // The workers may use only their configured artifact roots (lib/security/roots.ts): the test's bucket.
  process.env.KILN_ALLOWED_ROOTS ??= 's3://kiln-e2e';
  e2e = await startE2EStack();
  // The corpus itself comes from S3 too.
  await store.upload(join(repoRoot, 'data/tiny-corpus/python/train-00000-of-00001.parquet'), 's3://kiln-e2e/corpus/python/train-00000-of-00001.parquet');
});
after(async () => e2e?.stop());

async function start(id: string, root: string): Promise<WorkflowHandle> {
  // Longer than tiny's 60 steps: room for a kill, a restart and a pause before the end.
  const base = tinyConfig();
  const config = tinyConfig({
    name: id,
    artifacts: root,
    ingest: { source: 's3://kiln-e2e/corpus', languages: ['Python'] },
    train: { ...(base.train as object), steps: 100 },
  });
  return e2e.client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [config] });
}

/** A manifest with its artifact root replaced, so runs under different roots compare. */
async function manifestOf(dir: string, root: string): Promise<Manifest> {
  const m = await readManifest(store, dir);
  assert.ok(m, `a manifest in ${dir}`);
  // Wall-clock timings (clean's seconds_by_step) are the one field that differs between runs.
  return JSON.parse(JSON.stringify(m).split(root).join('<root>'), (key, value) => (key === 'seconds_by_step' ? undefined : value));
}

describe('end to end', { concurrency: false }, () => {
  it('runs the tiny pipeline on MinIO to a served model', async () => {
    const handle = await start('e2e-undisturbed', 's3://kiln-e2e/undisturbed');
    undisturbed = (await handle.result()) as PipelineResult;
    const r = undisturbed;

    for (const [name, uri] of Object.entries(r.artifacts)) assert.match(uri, /^s3:\/\/kiln-e2e\/undisturbed\//, name);
    assert.ok((await readManifest(store, r.artifacts.shards!))!.outputs.some((o) => o.uri.endsWith('index.json')), 'MDS index in the shard stage');
    assert.ok(r.train.steps === 100 && r.train.firstLoss! > r.train.finalLoss!, `loss falls: ${r.train.firstLoss} -> ${r.train.finalLoss}`);
    // Python, JavaScript and C++ (10 problems each) and 10 infilling lines, end to end.
    assert.deepEqual(Object.fromEntries(Object.entries(r.eval.languages ?? {}).map(([l, m]) => [l, m.problems])), { cpp: 10, javascript: 10, python: 10 });
    assert.equal(r.eval.infilling?.examples, 10);
    assert.ok(r.eval.passAtK['pass@1']! >= 0 && r.eval.passAtK['pass@1']! <= 1);
    assert.match(String(r.artifacts.evalReport), /report\.html$/);

    // The deployment is live and speaks OpenAI's completions API.
    const health = await fetch(`${r.deployment.endpoint}/health`);
    assert.equal(health.status, 200);
    const res = await fetch(`${r.deployment.endpoint}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: r.deployment.model, prompt: 'def add(a, b):\n', max_tokens: 8, temperature: 0 }),
    });
    const body = (await res.json()) as { object: string; choices: { text: string; finish_reason: string }[]; usage: { completion_tokens: number } };
    assert.equal(body.object, 'text_completion');
    assert.equal(typeof body.choices[0]!.text, 'string');
    assert.ok(body.usage.completion_tokens <= 8);
    const record = JSON.parse(new TextDecoder().decode(await store.readBytes(r.deployment.recordUri)));
    assert.equal(record.endpoint, r.deployment.endpoint);
    assert.equal(record.modelVersion, r.deployment.modelVersion);

    // Credentials stay out of the history and the logs.
    const secret = e2e.minio.env.AWS_SECRET_ACCESS_KEY!;
    assert.ok(secret.length >= 16);
    const history = JSON.stringify(await handle.fetchHistory());
    assert.ok(!history.includes(secret), 'the secret key is not in the workflow history');
    const train = JSON.stringify(await e2e.client.workflow.getHandle('e2e-undisturbed/train').fetchHistory());
    assert.ok(!train.includes(secret), 'nor in the training run history');
    for (const log of readdirSync(join(e2e.home, 'logs'))) {
      assert.ok(!readFileSync(join(e2e.home, 'logs', log), 'utf8').includes(secret), `nor in ${log}`);
    }
  });

  it('shows the finished run and its stages in the Temporal UI (headless Chromium)', async () => {
    await checkTemporalUi(e2e.stack.uiUrl, 'e2e-undisturbed', join(e2e.home, 'ui.png'));
  });

  it('survives kill -9 of the data worker and of a GPU worker, and a pause, with the same artifacts', async () => {
    assert.ok(undisturbed, 'the undisturbed run finished');
    const root = 's3://kiln-e2e/chaos';
    const handle = await start('e2e-chaos', root);
    const stack = e2e.stack;

    // 1. kill -9 the data worker while one of its stages runs; a replacement takes over.
    const killedStage = await waitFor('a data stage running', async () => {
      const running = await runningActivities(handle);
      return running.find((a) => /^(ingest|clean|dedup|tokenizer|shard)Stage$/.test(a));
    }, 300_000, 100);
    stack.children.get('data-worker')!.kill('SIGKILL');
    stack.startDataWorker('data-worker-2');

    // 2. kill -9 a GPU worker after the first checkpoint; a replacement node joins the new gang.
    const training = e2e.client.workflow.getHandle('e2e-chaos/train');
    await waitFor('a checkpoint and some steps', async () => {
      const s = (await training.query(statusQuery)) as TrainingStatus;
      return s.lastCheckpoint && s.step >= 24;
    }, 600_000, 200);
    stack.children.get('gpu-worker-1')!.kill('SIGKILL');
    stack.startGpuWorker(2);

    // 3. once the new gang trains, pause: it checkpoints and stops; resume goes on from there.
    await waitFor('the gang restarted and training again', async () => {
      const s = (await training.query(statusQuery)) as TrainingStatus;
      // progress of the new gang itself (not the last report of the killed one)
      return s.gangRestarts >= 1 && s.attempts >= 2 && s.attempt === s.attempts && s.step >= 23 ? s : undefined;
    }, 600_000, 200);
    await handle.signal(pauseSignal);
    const paused = await waitFor('paused with a checkpoint', async () => {
      const s = (await training.query(statusQuery)) as TrainingStatus;
      // the gang has stopped and its pause checkpoint is committed
      return s.gang === 'paused' && s.lastCheckpoint && Number(/step_(\d+)/.exec(s.lastCheckpoint)![1]) > 20 ? s : undefined;
    }, 300_000, 200);
    const pausedAt = paused.lastCheckpoint!;
    assert.ok(Number(/step_(\d+)/.exec(pausedAt)![1]) < 100, `the pause stopped training before its end (${pausedAt})`);
    assert.equal((await status(handle))!.paused, true);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(((await training.query(statusQuery)) as TrainingStatus).attempts, paused.attempts, 'no gang runs while paused');
    await handle.signal(resumeSignal);

    const r = (await handle.result()) as PipelineResult;

    // The data stage on the killed worker was retried (attempt 2) and committed the same manifest.
    const history = await handle.fetchHistory();
    const retried = history.events!.some(
      (e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1,
    );
    assert.ok(retried, `an activity attempt > 1 after killing the data worker during ${killedStage}`);
    for (const stage of DATA_STAGES) {
      const key = stage === 'shard' ? 'shards' : stage;
      assert.deepEqual(await manifestOf(r.artifacts[key]!, root), await manifestOf(undisturbed.artifacts[key]!, 's3://kiln-e2e/undisturbed'), `${stage} manifest`);
    }

    // The gang restarted from a checkpoint, resumed from the one written at pause, and the
    // training result is the undisturbed one: resume is exact.
    assert.ok(r.train.gangRestarts >= 1, 'the gang was restarted');
    assert.ok(r.train.attempts >= 3, `restart + resume gave >= 3 attempts, got ${r.train.attempts}`);
    const resumedFrom = await training.query(rendezvousQuery, paused.attempts + 1);
    assert.ok(resumedFrom, `the gang after resume (attempt ${paused.attempts + 1}) met through the workflow`);
    assert.equal(resumedFrom.checkpoint, pausedAt, 'the gang after resume started from the pause checkpoint');
    assert.equal(r.train.steps, undisturbed.train.steps);
    assert.ok(Math.abs(r.train.finalLoss! - undisturbed.train.finalLoss!) < 1e-5, `final loss ${r.train.finalLoss} vs undisturbed ${undisturbed.train.finalLoss}`);
    assert.ok(r.deployment.endpoint.startsWith('http://'));
  });
});

// Every history the e2e runs left (pipelines, training runs, dedup children), as stored bytes:
// no credential from the test's or the workers' environment may appear in any of them.
describe('end to end: secrets', () => {
  it('no workflow history holds a secret from the environment', async () => {
    const env: Record<string, string | undefined> = { ...process.env, ...e2e.minio.env };
    const secrets = Object.fromEntries(
      Object.entries(env).filter(([k, v]) => /SECRET|TOKEN|PASSWORD|API_KEY|ACCESS_KEY|CODEC_KEYS/i.test(k) && v && v.length >= 8) as [string, string][],
    );
    assert.ok(secrets.AWS_SECRET_ACCESS_KEY, 'the MinIO secret key is among the values scanned');
    const histories = await allHistories(e2e.client);
    assert.ok(histories.size >= 4, `the e2e runs' histories are listed (${histories.size})`);
    assert.deepEqual(findInHistories(histories, secrets), []);
  });
});
