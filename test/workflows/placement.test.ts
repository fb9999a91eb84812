// Gangs that share a pool of GPU workers cannot deadlock: a placement still partial after
// placementTimeoutSeconds lets its workers go and tries again later. Run A (2 nodes) starts with
// one worker up and holds it; run B (1 node) needs that worker. Without the release, B waits as
// long as A does (for ever, on a pool that never grows); with it, B runs in A's back-off, and A
// trains once a second worker joins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { TrainingRunInput, TrainingRunResult, TrainNodeInput, TrainNodeResult } from '../../contracts/training.js';
import { statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import { workflowWorkerOptions } from '../../workers/workflowBundle.js';
import { runWithGpuWorkers } from '../support/gpuWorkers.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const activities = {
  async trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
    return input.rank === 0 ? { rank: 0, status: 'done', step: 5, finalLoss: 1, checkpoint: `file:///a/${input.runKey}/step_5` } : { rank: input.rank, status: 'done', step: 5 };
  },
  async latestCheckpoint() { return null; },
  async trainingReport() { return { reportUri: 'file:///a/report.html', attempts: [] }; },
};

function input(name: string, nodes: number): TrainingRunInput {
  return {
    runKey: name.padEnd(64, '0'),
    trainer: { seed: 1, model: {}, train: { steps: 5 }, vocabSize: 300, seqLen: 8, eosTokenId: 0 } as unknown as TrainingRunInput['trainer'],
    shardsDir: 'file:///a/shards',
    checkpointsUri: `file:///a/${name}/checkpoints`,
    nodes,
    procsPerNode: 1,
    maxGangRestarts: 1,
    progressEverySeconds: 1,
    heartbeatTimeoutSeconds: 10,
    placementTimeoutSeconds: 3,
  };
}

describe('gang placement on a shared pool', () => {
  it('a partial placement lets its workers go, so another gang runs meanwhile', { timeout: 240_000 }, async () => {
    const wf = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle(), ...workflowWorkerOptions });
    await wf.runUntil(async () => {
      const common = { address: env.address, client: env.client, activities };
      await runWithGpuWorkers({ ...common, ids: ['w0'] }, async () => {
        const a = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: 'gang-a', args: [input('gang-a', 2)] });
        // A holds the only worker, waiting for a second one.
        await waitFor('run A to claim w0', async () => (await a.describe()).raw.pendingActivities?.some((p) => p.activityType?.name === 'claimWorker' && p.state === 1 /* STARTED */) ?? false, 60_000, 200);
        const b = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: 'gang-b', args: [input('gang-b', 1)] });
        const rb = (await b.result()) as TrainingRunResult;
        assert.equal(rb.steps, 5, 'run B trained on the worker run A let go');
        const sa = (await a.query(statusQuery)) as TrainingStatus;
        assert.ok((sa.placementRetries ?? 0) >= 1, `run A gave up a partial placement (${sa.placementRetries})`);
        // A second worker joins: run A places both ranks and finishes.
        await runWithGpuWorkers({ ...common, ids: ['w1'] }, async () => {
          const ra = (await a.result()) as TrainingRunResult;
          assert.equal(ra.steps, 5);
          assert.equal(ra.gangRestarts, 0, 'giving up a placement is not a gang restart');
        });
      });
    });
  });
});
