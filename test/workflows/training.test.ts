// trainingRun against a real local Temporal server with inline node activities: rendezvous,
// gang restart after a lost node, pause and resume, and the restart bound.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { ErrorType } from '../../lib/errors.js';
import { pauseSignal, rendezvousQuery, rendezvousSignal, resumeSignal, statusQuery, TASK_QUEUES, type TrainingStatus } from '../../workflows/definitions.js';
import type { TrainNodeInput, TrainNodeResult } from '../../activities/train/types.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const baseInput = {
  runKey: 'k'.repeat(64),
  trainer: { seed: 1, model: {}, train: { steps: 30 }, vocabSize: 300, seqLen: 8, eosTokenId: 0 },
  shardsDir: 'file:///nowhere/shards',
  checkpointsUri: 'file:///nowhere/ckpt',
  nodes: 2,
  procsPerNode: 1,
  maxGangRestarts: 2,
  progressEverySeconds: 1,
};

type NodeBehaviour = (input: TrainNodeInput, ctx: Context) => Promise<TrainNodeResult>;

/** Node activities that really rendezvous through the workflow, then follow `behaviour`. */
function nodeActivities(behaviour: NodeBehaviour, log: string[], checkpoints: { uri: string; step: number }[]) {
  return {
    async trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
      const ctx = Context.current();
      const handle = env.client.workflow.getHandle(input.trainingWorkflowId);
      if (input.rank === 0) {
        const latest = checkpoints.at(-1);
        await handle.signal(rendezvousSignal, { attempt: input.attempt, addr: '127.0.0.1', port: 29500 + input.attempt, checkpoint: latest?.uri ?? null });
      } else {
        for (;;) {
          const r = await handle.query(rendezvousQuery, input.attempt);
          if (r) {
            log.push(`rank1 met rank0 at port ${r.port} from ${r.checkpoint ?? 'scratch'}`);
            break;
          }
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      return behaviour(input, ctx);
    },
    async latestCheckpoint() {
      return checkpoints.at(-1) ?? null;
    },
  };
}

async function runTraining(id: string, activities: object, body: (h: ReturnType<typeof env.client.workflow.getHandle>) => Promise<void> = async () => {}) {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue: TASK_QUEUES.workflows,
    workflowBundle: await workflowBundle(),
  });
  const gpu = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.gpu, activities, maxConcurrentActivityTaskExecutions: 4 });
  return worker.runUntil(
    gpu.runUntil(async () => {
      const handle = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [baseInput] });
      await body(handle);
      return handle.result().then(
        (value) => ({ value, error: undefined }),
        (error) => ({ value: undefined, error }),
      ).then(async (r) => ({ ...r, status: (await handle.query(statusQuery)) as TrainingStatus }));
    }),
  );
}

describe('trainingRun', () => {
  it('meets through the workflow and restarts the whole gang from the last checkpoint when a node is lost', async () => {
    const log: string[] = [];
    const checkpoints = [{ uri: 'file:///nowhere/ckpt/step_00000010', step: 10 }];
    const behaviour: NodeBehaviour = async (input) => {
      if (input.attempt === 1 && input.rank === 1) {
        throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'peer lost' });
      }
      if (input.attempt === 1) {
        // rank 0 of the first gang blocks until the workflow cancels it
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          await new Promise((r) => setTimeout(r, 100));
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
        }
      }
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1.5, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-restart', nodeActivities(behaviour, log, checkpoints));
    assert.equal(r.error, undefined);
    assert.equal(r.value!.steps, 30);
    assert.equal(r.value!.attempts, 2);
    assert.equal(r.value!.gangRestarts, 1);
    assert.match(r.status.lastError ?? '', /peer lost/);
    assert.deepEqual(log, [
      'rank1 met rank0 at port 29501 from file:///nowhere/ckpt/step_00000010',
      'rank1 met rank0 at port 29502 from file:///nowhere/ckpt/step_00000010',
    ]);
  });

  it('fails non-retryably once the gang restart budget is spent, naming the last error', async () => {
    const behaviour: NodeBehaviour = async (input) => {
      throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: `node ${input.rank} crashed` });
    };
    const r = await runTraining('train-exhausted', nodeActivities(behaviour, [], []));
    assert.ok(r.error instanceof WorkflowFailedError);
    const cause = r.error.cause as ApplicationFailure;
    assert.equal(cause.type, ErrorType.GangRestartsExhausted);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /failed 3 times \(train.maxGangRestarts = 2\).*node \d crashed/);
    assert.equal(r.status.attempts, 3);
  });

  it('does not restart a gang whose node failed with a fatal (non-retryable) error', async () => {
    const behaviour: NodeBehaviour = async () => {
      throw ApplicationFailure.create({ type: ErrorType.TrainerFatal, message: 'loss is NaN', nonRetryable: true });
    };
    const r = await runTraining('train-fatal', nodeActivities(behaviour, [], []));
    assert.ok(r.error instanceof WorkflowFailedError);
    assert.equal(r.status.attempts, 1);
    assert.match(String(((r.error.cause as Error).cause as Error | undefined)?.message ?? r.error.cause?.message), /loss is NaN/);
  });

  it('fails on a fatal node error even when another node failed first (no restart)', async () => {
    const behaviour: NodeBehaviour = async (input) => {
      if (input.rank === 1) throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'peer lost' });
      await new Promise((r) => setTimeout(r, 500));
      throw ApplicationFailure.create({ type: ErrorType.TrainerFatal, message: 'shard.00000.mds is corrupt', nonRetryable: true });
    };
    const r = await runTraining('train-fatal-second', nodeActivities(behaviour, [], []));
    assert.ok(r.error instanceof WorkflowFailedError);
    const cause = (r.error.cause as Error & { cause?: ApplicationFailure }).cause!;
    assert.equal(cause.type, ErrorType.TrainerFatal);
    assert.equal(r.status.attempts, 1);
    assert.equal(r.status.gangRestarts, 0);
  });

  it('pause stops the gang after its checkpoint; resume starts a new gang from that checkpoint', async () => {
    const checkpoints: { uri: string; step: number }[] = [];
    const log: string[] = [];
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1) {
        for (;;) {
          ctx.heartbeat();
          await new Promise((r) => setTimeout(r, 100));
          if (ctx.cancellationSignal.aborted) {
            // what a real node does on SIGTERM: checkpoint at the step boundary, then stop
            if (input.rank === 0) checkpoints.push({ uri: 'file:///nowhere/ckpt/step_00000017', step: 17 });
            throw ctx.cancellationSignal.reason;
          }
        }
      }
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1.0, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-pause', nodeActivities(behaviour, log, checkpoints), async (handle) => {
      await waitFor('the first gang', async () => ((await handle.query(statusQuery)) as TrainingStatus).attempts === 1, 30_000, 200);
      await new Promise((res) => setTimeout(res, 1000));
      await handle.signal(pauseSignal);
      await waitFor('paused at the step-17 checkpoint', async () => {
        const s = (await handle.query(statusQuery)) as TrainingStatus;
        return s.paused && s.gang === 'paused' && s.lastCheckpoint === 'file:///nowhere/ckpt/step_00000017';
      }, 30_000, 200);
      // paused: no new gang starts until resume
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal(((await handle.query(statusQuery)) as TrainingStatus).attempts, 1);
      await handle.signal(resumeSignal);
    });
    assert.equal(r.error, undefined);
    assert.equal(r.value!.attempts, 2);
    assert.equal(r.value!.gangRestarts, 0, 'a pause is not a restart');
    assert.deepEqual(log.at(-1), 'rank1 met rank0 at port 29502 from file:///nowhere/ckpt/step_00000017');
  });
});

