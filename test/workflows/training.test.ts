// trainingRun against a real local Temporal server with inline node activities: placement on
// distinct workers' own queues, rendezvous, gang restart after a lost node, pause and resume
// (also during a restart), the restart bound, continue-as-new with status and search attributes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { ErrorType } from '../../contracts/errors.js';
import {
  kilnStepAttribute,
  pauseSignal,
  progressSignal,
  rendezvousQuery,
  rendezvousSignal,
  resumeSignal,
  statusQuery,
  TASK_QUEUES,
  type TrainingStatus,
} from '../../contracts/workflows.js';
import type { TrainNodeInput, TrainNodeResult } from '../../contracts/training.js';
import type { TrainingRunInput } from '../../contracts/training.js';
import { recordHistory } from '../support/histories.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';
import { runWithGpuWorkers } from '../support/gpuWorkers.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const baseInput: TrainingRunInput = {
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
type Handle = ReturnType<typeof env.client.workflow.getHandle>;

/** Node activities that really rendezvous through the workflow, then follow `behaviour`. */
function nodeActivities(behaviour: NodeBehaviour, log: string[], checkpoints: { uri: string; step: number }[]) {
  return {
    async trainNode(input: TrainNodeInput): Promise<TrainNodeResult> {
      const ctx = Context.current();
      log.push(`attempt ${input.attempt} rank ${input.rank} on ${ctx.info.taskQueue}`);
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
    async trainingReport(input: { checkpointsUri: string }) {
      return { reportUri: `${input.checkpointsUri}/../report/training.html`, attempts: [] };
    },
  };
}

/** Blocks, heartbeating, until the workflow cancels the node; `onCancel` runs first. */
async function runUntilCancelled(ctx: Context, onCancel: () => void = () => {}): Promise<never> {
  for (;;) {
    ctx.heartbeat();
    await new Promise((r) => setTimeout(r, 100));
    if (ctx.cancellationSignal.aborted) {
      onCancel();
      throw ctx.cancellationSignal.reason;
    }
  }
}

async function runTraining(id: string, activities: object, body: (h: Handle) => Promise<void> = async () => {}, input: Partial<TrainingRunInput> = {}) {
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
  let out!: { value: Awaited<ReturnType<Handle['result']>> | undefined; error: unknown; status: TrainingStatus; handle: Handle };
  await worker.runUntil(
    runWithGpuWorkers({ address: env.address, client: env.client, activities }, async () => {
      const handle = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: id, args: [{ ...baseInput, ...input }] });
      await body(handle);
      const r = await handle.result().then(
        (value) => ({ value, error: undefined }),
        (error) => ({ value: undefined, error }),
      );
      out = { ...r, status: (await handle.query(statusQuery)) as TrainingStatus, handle };
      // Histories kept per release for the replay test: a gang restart, and a pause and resume.
      if (process.env.KILN_RECORD_HISTORY && ['train-restart', 'train-pause'].includes(id)) recordHistory(id, await handle.fetchHistory());
    }),
  );
  return out;
}

const status = async (h: Handle) => (await h.query(statusQuery)) as TrainingStatus;

describe('trainingRun', () => {
  it('places the ranks on distinct workers through their own queues, and restarts the whole gang from the last checkpoint when a node is lost', async () => {
    const log: string[] = [];
    const checkpoints = [{ uri: 'file:///nowhere/ckpt/step_00000010', step: 10 }];
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1 && input.rank === 1) {
        throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'peer lost' });
      }
      if (input.attempt === 1) return runUntilCancelled(ctx); // rank 0 of the first gang waits to be stopped
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1.5, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-restart', nodeActivities(behaviour, log, checkpoints));
    assert.equal(r.error, undefined);
    assert.equal(r.value!.steps, 30);
    assert.equal(r.value!.attempts, 2);
    assert.equal(r.value!.gangRestarts, 1);
    assert.equal(r.value!.reportUri, 'file:///nowhere/ckpt/../report/training.html');
    assert.match(r.status.lastError ?? '', /peer lost/);
    assert.equal(r.status.stopMode, undefined);
    // Every gang: one node per worker, each on that worker's own queue.
    for (const attempt of [1, 2]) {
      const queues = log.filter((l) => l.startsWith(`attempt ${attempt} `)).map((l) => l.split(' on ')[1]).sort();
      assert.deepEqual(queues, ['llm-gpu/w0', 'llm-gpu/w1'], `attempt ${attempt}: ${log.join('; ')}`);
    }
    assert.deepEqual([...r.status.placement!].sort(), ['w0', 'w1']);
    assert.deepEqual(log.filter((l) => l.startsWith('rank1')), [
      'rank1 met rank0 at port 29501 from file:///nowhere/ckpt/step_00000010',
      'rank1 met rank0 at port 29502 from file:///nowhere/ckpt/step_00000010',
    ]);
  });

  it('names the root cause of a restart (a hung node) before a peer that failed first because of it', async () => {
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1 && input.rank === 1) throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'Node 1 failed: connection closed by peer' });
      if (input.attempt === 1) {
        // rank 0's watchdog reports after its trainer is killed: later than the peer's exit
        await runUntilCancelled(ctx).catch(() => undefined);
        throw ApplicationFailure.create({ type: ErrorType.NodeHung, message: 'Node 0 is hung: the trainer emitted no event for 9 s' });
      }
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-root-cause', nodeActivities(behaviour, [], []));
    assert.equal(r.error, undefined);
    assert.equal(r.value!.gangRestarts, 1);
    assert.equal(r.status.lastError, 'Node 0 is hung: the trainer emitted no event for 9 s\n(then: Node 1 failed: connection closed by peer)');
  });

  it('a worker shut down on purpose restarts the gang without using up the crash budget (maxGangRestarts)', async () => {
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1 && input.rank === 1) throw ApplicationFailure.create({ type: ErrorType.NodeShutdown, message: 'Node 1: its worker is shutting down' });
      if (input.attempt === 1) return runUntilCancelled(ctx);
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-drain', nodeActivities(behaviour, [], []), undefined, { maxGangRestarts: 0 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.value!.gangRestarts, 1);
    assert.equal(r.status.drains, 1);
    assert.match(r.status.lastError ?? '', /^Node 1: its worker is shutting down/);
  });

  it('stops a rank still running once rank 0 is done, after the finish grace time, and succeeds', { timeout: 60_000 }, async () => {
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.rank === 0) return { rank: 0, status: 'done', step: 30, finalLoss: 1, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
      return runUntilCancelled(ctx); // stuck at exit
    };
    const r = await runTraining('train-straggler', nodeActivities(behaviour, [], []), undefined, { finishGraceSeconds: 1 });
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.value!.steps, 30);
    assert.equal(r.value!.attempts, 1);
    assert.equal(r.value!.gangRestarts, 0);
    assert.equal(r.status.gang, 'done');
  });

  it('tells the survivors of a lost node to die (stopMode kill), and a pause to checkpoint', async () => {
    const modes: string[] = [];
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1 && input.rank === 1) throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'peer lost' });
      if (input.attempt === 1) {
        return runUntilCancelled(ctx, () => undefined).catch(async (err) => {
          const s = (await env.client.workflow.getHandle(input.trainingWorkflowId).query(statusQuery)) as TrainingStatus;
          modes.push(String(s.stopMode));
          throw err;
        });
      }
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-stopmode', nodeActivities(behaviour, [], []));
    assert.equal(r.error, undefined);
    assert.deepEqual(modes, ['kill']);
  });

  it('fails non-retryably once the gang restart budget is spent, naming the last error', async () => {
    const behaviour: NodeBehaviour = async (input) => {
      throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: `node ${input.rank} crashed` });
    };
    const r = await runTraining('train-exhausted', nodeActivities(behaviour, [], []), undefined, { maxGangRestarts: 1 });
    assert.ok(r.error instanceof WorkflowFailedError);
    const cause = r.error.cause as ApplicationFailure;
    assert.equal(cause.type, ErrorType.GangRestartsExhausted);
    assert.equal(cause.nonRetryable, true);
    assert.match(cause.message, /failed 2 times \(train.maxGangRestarts = 1\).*node \d crashed/);
    assert.equal(r.status.attempts, 2);
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
        // what a real node does on SIGTERM: checkpoint at the step boundary, then stop
        return runUntilCancelled(ctx, () => void (input.rank === 0 && checkpoints.push({ uri: 'file:///nowhere/ckpt/step_00000017', step: 17 })));
      }
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1.0, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-pause', nodeActivities(behaviour, log, checkpoints), async (handle) => {
      await waitFor('the first gang running', async () => (await status(handle)).gang === 'running', 30_000, 200);
      await handle.signal(pauseSignal);
      await waitFor('paused at the step-17 checkpoint', async () => {
        const s = await status(handle);
        return s.paused && s.gang === 'paused' && s.lastCheckpoint === 'file:///nowhere/ckpt/step_00000017' && s.lastCheckpointStep === 17;
      }, 30_000, 200);
      // paused: no new gang starts until resume, and no node runs
      await new Promise((res) => setTimeout(res, 1500));
      assert.equal((await status(handle)).attempts, 1);
      assert.deepEqual(await runningActivities(handle), []);
      await handle.signal(resumeSignal);
    });
    assert.equal(r.error, undefined);
    assert.equal(r.value!.attempts, 2);
    assert.equal(r.value!.gangRestarts, 0, 'a pause is not a restart');
    assert.deepEqual(log.at(-1), 'rank1 met rank0 at port 29502 from file:///nowhere/ckpt/step_00000017');
  });

  it('a pause that arrives during a restart (between the lost node and the new gang) holds the new gang until resume', async () => {
    const checkpoints = [{ uri: 'file:///nowhere/ckpt/step_00000020', step: 20 }];
    const log: string[] = [];
    const behaviour: NodeBehaviour = async (input, ctx) => {
      if (input.attempt === 1 && input.rank === 1) throw ApplicationFailure.create({ type: ErrorType.NodeFailed, message: 'peer lost' });
      if (input.attempt === 1) return runUntilCancelled(ctx);
      return { rank: input.rank, status: 'done', step: 30, finalLoss: 1.0, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
    };
    const r = await runTraining('train-pause-restart', nodeActivities(behaviour, log, checkpoints), async (handle) => {
      // The restart waits out its 2 s backoff: pause inside it.
      await waitFor('the gang restarting', async () => (await status(handle)).gang === 'restarting', 30_000, 50);
      await handle.signal(pauseSignal);
      await waitFor('paused', async () => (await status(handle)).gang === 'paused', 30_000, 100);
      await new Promise((res) => setTimeout(res, 3000)); // longer than the backoff
      const s = await status(handle);
      assert.equal(s.attempts, 1, 'no new gang while paused');
      assert.deepEqual(await runningActivities(handle), []);
      await handle.signal(resumeSignal);
    });
    assert.equal(r.error, undefined);
    assert.equal(r.value!.attempts, 2);
    assert.equal(r.value!.gangRestarts, 1);
    assert.equal(log.at(-1), 'rank1 met rank0 at port 29502 from file:///nowhere/ckpt/step_00000020');
  });

  it('continues as new before the history grows large, keeping status, attempts and the step search attribute', async () => {
    const checkpoints: { uri: string; step: number }[] = [];
    let step = 0;
    const behaviour: NodeBehaviour = async (input, ctx) => {
      const handle = env.client.workflow.getHandle(input.trainingWorkflowId);
      if (input.rank === 1) {
        // as torchrun on a real node: done when the training is, stopped when the gang is
        for (;;) {
          if (step >= 30) return { rank: 1, status: 'done', step };
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
          ctx.heartbeat();
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      // rank 0 reports progress (each report grows the history) until stopped or done
      for (;;) {
        if (ctx.cancellationSignal.aborted) {
          checkpoints.push({ uri: `file:///nowhere/ckpt/step_${String(step).padStart(8, '0')}`, step });
          throw ctx.cancellationSignal.reason;
        }
        if (step >= 30) return { rank: 0, status: 'done', step, finalLoss: 0.5, checkpoint: 'file:///nowhere/ckpt/step_00000030' };
        step += 1;
        await handle.signal(progressSignal, { step, totalSteps: 30, loss: 3 - step / 15, attempt: input.attempt }).catch(() => undefined);
        ctx.heartbeat();
        await new Promise((r) => setTimeout(r, 60));
      }
    };
    const seen: TrainingStatus[] = [];
    const r = await runTraining(
      'train-continue-as-new',
      nodeActivities(behaviour, [], checkpoints),
      async (handle) => {
        await waitFor('a second run', async () => {
          const s = await status(handle);
          seen.push(s);
          return (s.runs ?? 1) >= 2 && s.gang === 'running';
        }, 60_000, 100);
      },
      { maxHistoryEvents: 60, trainer: { ...baseInput.trainer, train: { steps: 30 } } },
    );
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.value!.steps, 30);
    assert.ok(r.value!.runs >= 2, `runs: ${r.value!.runs}`);
    assert.equal(r.value!.gangRestarts, 0, 'continuing as new is not a restart');
    assert.equal(r.value!.attempts, r.value!.runs, 'attempt numbering runs on across runs: one gang per run here');
    // The status seen across the switch never went backwards.
    const steps = seen.map((s) => s.step);
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b));
    assert.ok(r.status.firstLoss !== undefined && r.status.firstLossStep === 1, 'first loss carried over');
    const d = await r.handle.describe();
    assert.equal(d.typedSearchAttributes.get(kilnStepAttribute), 30);
    assert.notEqual(d.runId, (await env.client.workflow.getHandle('train-continue-as-new').describe()).raw.workflowExecutionInfo?.firstRunId);
  });
});

/** Activity types with a started, not yet finished attempt. */
async function runningActivities(handle: Handle): Promise<string[]> {
  const d = await handle.describe();
  return (d.raw.pendingActivities ?? [])
    .filter((a) => String(a.state) === 'PENDING_ACTIVITY_STATE_STARTED' || a.state === 2)
    .map((a) => a.activityType?.name ?? '');
}
