// llmPipeline against a real local Temporal server with inline stage activities: config
// validation fails at once and non-retryably; the stages run in order and report through the
// status query; pause/resume reach the training run. The happy path's history is recorded for
// the replay test: KILN_RECORD_HISTORY=1 writes test/fixtures/histories/<package version>/pipeline-happy.json
// when that release has none yet (an older release's history is never re-recorded).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { recordHistory } from '../support/histories.js';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ErrorType } from '../../contracts/errors.js';
import type { StageResult } from '../../lib/manifest.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import { pauseSignal, rendezvousQuery, rendezvousSignal, resumeSignal, statusQuery, TASK_QUEUES, type PipelineStatus } from '../../contracts/workflows.js';
import type { PipelineResult } from '../../contracts/pipeline.js';
import { startTestServer, workflowBundle } from '../support/temporal.js';
import { waitFor } from '../support/waitFor.js';
import { runWithGpuWorkers } from '../support/gpuWorkers.js';

let env: TestWorkflowEnvironment;
before(async () => void (env = await startTestServer()));
after(async () => env?.teardown());

const stageResult = (stage: string, stats: Record<string, unknown> = {}): StageResult => ({
  stage,
  fingerprint: `${stage}`.padEnd(64, '0'),
  dir: `file:///a/stages/${stage}/x`,
  manifestUri: `file:///a/stages/${stage}/x/_MANIFEST.json`,
  outputs: [`file:///a/stages/${stage}/x/part-00000.parquet`],
  stats,
  reused: false,
});

function activities(calls: string[], hold?: { release: Promise<void> }) {
  const record = (name: string) => calls.push(name);
  const data = {
    async prepareRun({ config }: { config: unknown }) {
      record('prepareRun');
      return { config, runUri: 'file:///a/runs/x' };
    },
    // Ingest fans out (plan, two parts, commit), driven by workflows/fanOut.ts.
    async ingestPlan() { record('ingest'); return { plan: { dir: 'file:///a/stages/ingest/x', planUri: 'file:///a/plan.json' }, parts: 2 }; },
    async ingestPart(_plan: unknown, index: number) { record(`ingestPart:${index}`); return { index, rowsIn: 5, rowsOut: 5 }; },
    async ingestCommit() { record('ingestCommit'); return stageResult('ingest', { rows: 10 }); },
    // Clean's plan step finds the stage done (as on a re-run): one call.
    async cleanPlan() { record('clean'); return { done: stageResult('clean', { kept: 8 }) }; },
    // The dedup child workflow's plan step finds the stage done (as on a re-run): one call.
    async dedupPlan() { record('dedup'); return { done: stageResult('dedup', { kept: 7 }) }; },
    async dataReportStage() { record('dataReport'); return stageResult('data-report', { html: 'file:///a/stages/data-report/x/report.html' }); },
    async tokenizerStage() { record('tokenizer'); return stageResult('tokenizer', { vocabSize: 300, tokenizerUri: 'file:///a/tok.json' }); },
    // Shard's plan step finds the stage done (as on a re-run): one call.
    async shardPlan() { record('shard'); return { done: stageResult('shard', { train_samples: 5 }) }; },
    async planTraining() {
      record('planTraining');
      return { runKey: 'r'.repeat(64), trainer: { seed: 1, model: {}, train: { steps: 4 }, vocabSize: 300, seqLen: 8, eosTokenId: 0 }, checkpointsUri: 'file:///a/train/r/checkpoints' };
    },
    async evalStage() { record('evalStage'); return stageResult('eval', { passAtK: { 'pass@1': 0 }, problems: 3, samplesUri: 's', resultsUri: 'r' }); },
    // Eval fans out (workflows/eval.ts): plan, then per part generation (GPU) and execution, then the commit.
    async registerPipelineModel(input: { version?: string }) { record(`registry:${input.version}`); return { version: input.version ?? '', created: true }; },
    async evalPlan() { record('evalPlan'); return { plan: { dir: 'file:///a/stages/eval/x' }, parts: 2 }; },
    async executePart(_plan: unknown, index: number) { record(`executePart:${index}`); return { index }; },
    async evalCommit() {
      record('evalCommit');
      return stageResult('eval', { passAtK: { 'pass@1': 0 }, problems: 3, samplesUri: 's', resultsUri: 'r', languages: { python: { problems: 3, passAtK: { 'pass@1': 0 } } }, reportUri: 'file:///a/stages/eval/x/report.html', metricsUri: 'file:///a/stages/eval/x/metrics.json' });
    },
  };
  const gpu = {
    async trainNode(input: TrainNodeInput) {
      record(`trainNode:${input.rank}:${input.attempt}`);
      const handle = env.client.workflow.getHandle(input.trainingWorkflowId);
      if (input.rank === 0) {
        await handle.signal(rendezvousSignal, { attempt: input.attempt, addr: '127.0.0.1', port: 1, checkpoint: null });
      } else {
        while (!(await handle.query(rendezvousQuery, input.attempt))) await new Promise((r) => setTimeout(r, 100));
      }
      const ctx = Context.current();
      if (hold && input.attempt === 1) {
        await Promise.race([hold.release, new Promise((r) => ctx.cancellationSignal.addEventListener('abort', r))]);
        for (let i = 0; i < 3; i++) {
          ctx.heartbeat();
          await new Promise((r) => setTimeout(r, 50));
        }
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      }
      return { rank: input.rank, status: 'done' as const, step: 4, finalLoss: 2.5, checkpoint: 'file:///a/train/r/checkpoints/step_00000004' };
    },
    async latestCheckpoint() { return null; },
    async trainingReport() { return { reportUri: 'file:///a/train/r/report/training.html', attempts: [] }; },
    async exportModelStage() { record('export'); return stageResult('export'); },
    async generateSamplesStage() { record('generate'); return stageResult('generate', { samplesUri: 's' }); },
    async generatePart(_plan: unknown, index: number) { record(`generatePart:${index}`); return { index }; },
    async deployModel() {
      record('deploy');
      return { model: 'wf-test', modelVersion: 'v', modelUri: 'm', endpoint: 'http://127.0.0.1:1', recordUri: 'file:///a/deployments/x.json', sampleCompletion: '  return n', latencyMs: 3 };
    },
    async registerDeployment(input: { version: string; endpoint: string }) { record(`register:${input.version}@${input.endpoint}`); return { routes: [] }; },
  };
  return { data, gpu };
}

async function withWorkers<T>(acts: ReturnType<typeof activities>, body: () => Promise<T>): Promise<T> {
  const conn = env.nativeConnection;
  const wf = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle() });
  const data = await Worker.create({ connection: conn, taskQueue: TASK_QUEUES.data, activities: acts.data });
  // Two GPU workers: a gang places one node on each, through the workers' own queues.
  return wf.runUntil(data.runUntil(runWithGpuWorkers({ address: env.address, client: env.client, activities: acts.gpu }, body)));
}

describe('llmPipeline', () => {
  it('fails at once, non-retryably, on an invalid config, naming the field', async () => {
    const calls: string[] = [];
    await withWorkers(activities(calls), async () => {
      const handle = await env.client.workflow.start('llmPipeline', {
        taskQueue: TASK_QUEUES.workflows,
        workflowId: 'pipeline-bad-config',
        args: [{ name: 'bad', train: { steps: 0 } }],
      });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof WorkflowFailedError, 'the workflow fails');
      const cause = err.cause as ApplicationFailure;
      assert.ok(cause instanceof ApplicationFailure);
      assert.equal(cause.type, ErrorType.InvalidConfig);
      assert.equal(cause.nonRetryable, true);
      assert.equal(cause.message, 'Invalid config: `train.steps` must be >= 1, got 0.');
      const history = await handle.fetchHistory();
      assert.ok(!history.events!.some((e) => e.activityTaskScheduledEventAttributes), 'no activity ran');
    });
    assert.deepEqual(calls, []);

    const unknown = await withWorkers(activities([]), async () => {
      const h = await env.client.workflow.start('llmPipeline', { taskQueue: TASK_QUEUES.workflows, workflowId: 'pipeline-typo', args: [{ name: 'x', tokenizer: { vocab: 5 } }] });
      return h.result().then(() => undefined, (e: WorkflowFailedError) => e.cause?.message);
    });
    assert.match(unknown!, /`tokenizer\.vocab` is not a known field/);
  });

  it('runs the stages in order and reports them through the status query', async () => {
    const calls: string[] = [];
    const result = await withWorkers(activities(calls), async () => {
      const handle = await env.client.workflow.start('llmPipeline', {
        taskQueue: TASK_QUEUES.workflows,
        workflowId: 'pipeline-happy',
        args: [{ name: 'wf-test', train: { nodes: 2, steps: 4, warmupSteps: 1 } }],
      });
      const r = (await handle.result()) as PipelineResult;
      const status = (await handle.query(statusQuery)) as PipelineStatus;
      assert.equal(status.stage, 'done');
      assert.ok(Object.values(status.stages).every((s) => s === 'done'), JSON.stringify(status.stages));
      assert.equal(status.train.step, 4);
      if (process.env.KILN_RECORD_HISTORY) recordHistory('pipeline-happy', await handle.fetchHistory());
      return r;
    });
    // Ingest's two parts run in parallel between its plan and its commit.
    assert.deepEqual(calls.filter((c) => c.startsWith('ingestPart')).sort(), ['ingestPart:0', 'ingestPart:1']);
    assert.ok(calls.indexOf('ingestCommit') > Math.max(calls.indexOf('ingestPart:0'), calls.indexOf('ingestPart:1')));
    // Each eval part generates, then executes; the commit waits for every part.
    for (const i of [0, 1]) assert.ok(calls.indexOf(`generatePart:${i}`) < calls.indexOf(`executePart:${i}`), calls.join(' '));
    assert.ok(calls.indexOf('evalCommit') > Math.max(calls.indexOf('executePart:0'), calls.indexOf('executePart:1')));
    assert.deepEqual(
      calls.filter((c) => !c.startsWith('trainNode') && !c.startsWith('ingestPart') && c !== 'ingestCommit' && !/^(generate|execute)Part:/.test(c)),
      ['prepareRun', 'ingest', 'clean', 'dedup', 'dataReport', 'tokenizer', 'shard', 'planTraining', 'export', 'evalPlan', 'evalCommit', 'deploy', 'register:v@http://127.0.0.1:1', 'registry:v'],
    );
    assert.deepEqual(calls.filter((c) => c.startsWith('trainNode')).sort(), ['trainNode:0:1', 'trainNode:1:1']);
    assert.equal(result.train.finalLoss, 2.5);
    assert.equal(result.deployment.endpoint, 'http://127.0.0.1:1');
    assert.deepEqual(result.eval.passAtK, { 'pass@1': 0 });
    assert.equal(result.eval.reportUri, 'file:///a/stages/eval/x/report.html');
    assert.equal(result.artifacts.evalReport, 'file:///a/stages/eval/x/report.html');
    assert.equal(result.reports.eval, 'file:///a/stages/eval/x/report.html');
    assert.deepEqual(result.eval.languages?.python?.passAtK, { 'pass@1': 0 });
  });

  it('stops before deploy, non-retryably, when eval.gate finds a language dropped too far', async () => {
    const calls: string[] = [];
    const acts = activities(calls);
    const gateInputs: unknown[] = [];
    Object.assign(acts.data, {
      async evalGate(input: unknown) {
        gateInputs.push(input);
        throw ApplicationFailure.create({ type: ErrorType.EvalGateFailed, nonRetryable: true, message: 'Eval gate: cpp pass@1 40.0% -> 20.0% (-20.0 points): more than the 5 points allowed' });
      },
    });
    const err = await withWorkers(acts, async () => {
      const handle = await env.client.workflow.start('llmPipeline', {
        taskQueue: TASK_QUEUES.workflows,
        workflowId: 'pipeline-gate',
        args: [{ name: 'wf-gate', train: { nodes: 2, steps: 4, warmupSteps: 1 }, eval: { gate: { baseline: 'file:///a/deployed/metrics.json', maxDropPoints: 5 } } }],
      });
      return handle.result().then(() => undefined, (e: unknown) => e);
    });
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause?.cause as ApplicationFailure;
    assert.equal(cause?.type, ErrorType.EvalGateFailed, String(err.cause));
    assert.match(cause.message, /cpp pass@1 40\.0% -> 20\.0%.*5 points/);
    assert.deepEqual(gateInputs, [{ metricsUri: 'file:///a/stages/eval/x/metrics.json', baseline: 'file:///a/deployed/metrics.json', maxDropPoints: 5 }]);
    assert.ok(!calls.includes('deploy'), 'the model was not deployed');
  });

  it('forwards pause and resume to the training run', async () => {
    const calls: string[] = [];
    let release!: () => void;
    const hold = { release: new Promise<void>((r) => (release = r)) };
    await withWorkers(activities(calls, hold), async () => {
      const handle = await env.client.workflow.start('llmPipeline', {
        taskQueue: TASK_QUEUES.workflows,
        workflowId: 'pipeline-pause',
        args: [{ name: 'wf-pause', train: { nodes: 2, steps: 4, warmupSteps: 1 } }],
      });
      await waitFor('the second node started', async () => calls.includes('trainNode:1:1'), 60_000, 200);
      await handle.signal(pauseSignal);
      const train = env.client.workflow.getHandle('pipeline-pause/train');
      await waitFor('the training run paused', async () => ((await train.query(statusQuery)) as PipelineStatus['train']).paused, 60_000, 200);
      assert.equal(((await handle.query(statusQuery)) as PipelineStatus).paused, true);
      await handle.signal(resumeSignal);
      release();
      await handle.result();
    });
    assert.ok(calls.includes('trainNode:0:2'), `a new gang started after resume: ${calls.join(' ')}`);
  });
});

