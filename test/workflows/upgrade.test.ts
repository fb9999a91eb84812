// An upgrade in the middle of a run: llmPipeline starts on release N's workflow worker, which is
// stopped while the gang trains; release N+1's worker (today's workflows plus a change shipped
// behind patched(), test/support/nextRelease) takes over, replays the run's history and finishes
// it. A run started after the upgrade takes the new branch.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { PipelineResult } from '../../contracts/pipeline.js';
import type { TrainNodeInput, TrainNodeResult } from '../../contracts/training.js';
import { progressSignal, rendezvousQuery, rendezvousSignal, statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import { withHeartbeat } from '../../activities/support/heartbeat.js';
import { workflowsPath } from '../../workers/workflowBundle.js';
import { runWithGpuWorkers } from '../support/gpuWorkers.js';
import { committedDataStages, stageResult } from '../support/mockStages.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';

const STEPS = 60;
let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const dataActivities = committedDataStages('u', STEPS);

/** A gang that trains a step every 100 ms and reports each one. */
const gpuActivities = {
  async trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    const handle = env.client.workflow.getHandle(input.trainingWorkflowId);
    const ctx = Context.current();
    // As the real node does (withHeartbeat), heartbeats come every second whatever the node is
    // waiting on: a query asked while no workflow worker runs (mid-upgrade) takes the server's
    // 30 s query timeout, longer than the node's heartbeat timeout.
    let step = 0;
    await withHeartbeat(async () => {
      if (input.rank === 0) await handle.signal(rendezvousSignal, { attempt: input.attempt, addr: '127.0.0.1', port: 1, checkpoint: null });
      // A query that no worker answers is simply asked again.
      else while (!(await handle.query(rendezvousQuery, input.attempt).catch(() => null))) await new Promise((r) => setTimeout(r, 100));
      for (step = 1; step <= STEPS; step++) {
        await new Promise((r) => setTimeout(r, 100));
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        if (input.rank === 0) await handle.signal(progressSignal, { step, totalSteps: STEPS, loss: 5 - step / STEPS, attempt: input.attempt }).catch(() => undefined);
      }
    }, () => step, 1000);
    return { rank: input.rank, status: 'done', step: STEPS, finalLoss: 4, checkpoint: `file:///a/train/u/checkpoints/step_${STEPS}` };
  },
  async latestCheckpoint() { return null; },
  async trainingReport() { return { reportUri: 'file:///a/train/u/report/training.html', attempts: [] }; },
  async exportModelStage() { return stageResult('export'); },
  async generateSamplesStage() { return { ...stageResult('generate'), stats: { samplesUri: 's' } }; },
  async deployModel() {
    return { model: 'u', modelVersion: 'v', modelUri: 'm', endpoint: 'http://127.0.0.1:1', recordUri: 'file:///a/deployments/x.json', sampleCompletion: '', latencyMs: 1 };
  },
  async registerDeployment() { return { routes: [] }; },
};

async function nextReleaseBundle() {
  return bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [fileURLToPath(new URL('../support/nextRelease/interceptors.ts', import.meta.url))],
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } as never,
  });
}

describe('an upgrade while a run trains', () => {
  it('finishes the run on the new release, and a new run takes the new branch', { timeout: 300_000 }, async () => {
    const [current, next] = await Promise.all([workflowBundle(), nextReleaseBundle()]);
    const data = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.data, activities: dataActivities });
    const config = { name: 'upgrade', train: { nodes: 2, steps: STEPS, warmupSteps: 1 } };
    let before!: PipelineResult;
    let after!: PipelineResult;
    await data.runUntil(
      runWithGpuWorkers({ address: env.address, client: env.client, activities: gpuActivities }, async () => {
        // Release N: starts the run and is stopped mid-training (its own connection, as its own process).
        const connN = await NativeConnection.connect({ address: env.address });
        const releaseN = await Worker.create({ connection: connN, taskQueue: TASK_QUEUES.workflows, workflowBundle: current });
        let stepAtUpgrade = 0;
        const handle = await releaseN.runUntil(async () => {
          const h = await env.client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'upgrade-old', args: [config] });
          await waitFor('training under way on release N', async () => {
            const t = (await env.client.workflow.getHandle('upgrade-old/train').query(statusQuery).catch(() => undefined)) as TrainingStatus | undefined;
            stepAtUpgrade = t?.step ?? 0;
            return stepAtUpgrade >= 10;
          }, 60_000, 100);
          return h;
        });
        await connN.close();
        // (No query now: with no workflow worker it would only wait out the server's query timeout.)
        assert.ok(stepAtUpgrade < STEPS, `stopped mid-training (step ${stepAtUpgrade})`);
        // Release N+1 takes over: it replays the run's history, then carries it on.
        const connNext = await NativeConnection.connect({ address: env.address });
        const releaseNext = await Worker.create({ connection: connNext, taskQueue: TASK_QUEUES.workflows, workflowBundle: next });
        await releaseNext.runUntil(async () => {
          before = (await handle.result()) as PipelineResult;
          after = (await env.client.workflow.execute('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'upgrade-new', args: [config] })) as PipelineResult;
        });
        await connNext.close();
      }),
    );
    assert.equal(before.train.steps, STEPS);
    assert.equal(before.train.gangRestarts, 0, 'the gang trained through the upgrade');
    assert.equal(after.train.steps, STEPS);
    const memoOf = async (id: string) => (await env.client.workflow.getHandle(id).describe()).memo ?? {};
    assert.deepEqual(await memoOf('upgrade-old'), {}, 'the old run kept its old branch');
    assert.deepEqual(await memoOf('upgrade-new'), { startedOnRelease: 'next' }, 'a new run takes the new branch');
    assert.deepEqual(await memoOf('upgrade-new/train'), { startedOnRelease: 'next' });
  });
});
