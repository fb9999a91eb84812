// A real 2-node gang (Temporal dev server, 2 GPU workers as processes, the CPU trainer) under
// fire: kill -9 of a worker, kill -9 of a trainer, a hung (SIGSTOPped) trainer, and a pause.
// Each loss must restart the gang from the last complete checkpoint, losing at most one
// checkpoint interval; the recovery time (kill -> first step of the new gang) and the lost steps
// are printed. A pause must stop with no trainer running and resume at exactly its step.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pauseSignal, resumeSignal, statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import type { TrainingRunInput, TrainingRunResult } from '../../contracts/training.js';
import { readMetrics, type MetricsEvent } from '../../activities/train/metrics.js';
import { alive, gangInput, startGang, tinyTrainer, trainerPid, trainerProcesses, type GangEnv } from '../support/trainingGang.js';
import { waitFor } from '../support/waitFor.js';

const CHECKPOINT_EVERY = 10;
let env: GangEnv;
before(async () => void (env = await startGang()));
after(async () => env?.stop());

type Handle = ReturnType<GangEnv['client']['workflow']['getHandle']>;
const status = async (h: Handle) => (await h.query(statusQuery)) as TrainingStatus;

async function start(name: string, steps: number, extra: Partial<TrainingRunInput> = {}): Promise<{ handle: Handle; input: TrainingRunInput }> {
  const input = gangInput(env, name, tinyTrainer(steps, CHECKPOINT_EVERY), extra);
  const handle = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: `chaos-${name}`, args: [input] });
  return { handle, input };
}

/** Waits until the gang has trained past `step` and is running. */
async function trainedPast(handle: Handle, step: number): Promise<TrainingStatus> {
  return waitFor(`the gang past step ${step}`, async () => {
    const s = await status(handle);
    return s.gang === 'running' && s.step > step ? s : undefined;
  }, 120_000, 100);
}

/** The worker process running `rank` of the current gang. */
function workerOf(s: TrainingStatus, rank: number): { name: string; pid: number; index: number } {
  const workerId = s.placement![rank]!; // gpu-<index>
  const index = Number(workerId.split('-')[1]);
  const name = `gpu-worker-${index}`;
  return { name, pid: env.stack.children.get(name)!.pid!, index };
}

interface Recovery {
  detectMs?: number;
  stepAtKill: number;
  resumedAt: number;
  lostSteps: number;
  recoveryMs: number;
}

/** Kill -> the workflow stops the gang (the loss is noticed). */
async function noticed(handle: Handle, attempt: number, since: number): Promise<number> {
  await waitFor('the loss noticed', async () => {
    const s = await status(handle);
    return s.attempts > attempt || s.gang !== 'running';
  }, 120_000, 100);
  return Date.now() - since;
}

/** From rank 0's metrics: where the next attempt resumed and when it made its first step. */
async function recoveryAfter(input: TrainingRunInput, killedAttempt: number, killedAt: number, stepSeen: number): Promise<Recovery> {
  const events = await readMetrics(input.checkpointsUri);
  const killed = events.filter((e) => e.attempt === killedAttempt && e.event === 'step').map((e) => Number(e.step));
  const next = events.filter((e) => e.attempt > killedAttempt);
  const start = next.find((e) => e.event === 'start') as MetricsEvent;
  const firstStep = next.find((e) => e.event === 'step') as MetricsEvent;
  assert.ok(start && firstStep, 'the restarted gang trained');
  const stepAtKill = Math.max(stepSeen, ...killed);
  const resumedAt = Number(start.step);
  return { stepAtKill, resumedAt, lostSteps: stepAtKill - resumedAt, recoveryMs: firstStep.t - killedAt };
}

function report(what: string, r: Recovery, result: TrainingRunResult): void {
  const detect = r.detectMs === undefined ? '' : `, noticed after ${(r.detectMs / 1000).toFixed(1)} s`;
  console.log(`[gang] ${what}: recovery ${(r.recoveryMs / 1000).toFixed(1)} s (kill -> first step after restart${detect}), lost ${r.lostSteps} steps (killed at ~${r.stepAtKill}, resumed at ${r.resumedAt}; checkpoint interval ${CHECKPOINT_EVERY}), attempts ${result.attempts}`);
  assert.ok(r.lostSteps >= 0 && r.lostSteps <= CHECKPOINT_EVERY, `lost ${r.lostSteps} steps, more than one checkpoint interval (${CHECKPOINT_EVERY})`);
  assert.equal(r.resumedAt % CHECKPOINT_EVERY, 0, 'resumed from a checkpoint');
}

describe('trainingRun with a real gang', () => {
  it('restarts from the last checkpoint after kill -9 of the worker running rank 0; its trainer dies with it', async () => {
    const { handle, input } = await start('worker-kill', 60);
    const s = await trainedPast(handle, 15);
    const victim = workerOf(s, 0);
    const trainers = trainerProcesses(victim.pid);
    assert.ok(trainers.length >= 2, 'torchrun and its trainer run under the worker');
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    const detectMs = noticed(handle, s.attempts, Date.now());
    await waitFor('the killed worker\'s trainers to die with it', async () => trainers.every((p) => !alive(p)), 10_000, 100);
    env.stack.startGpuWorker(victim.index); // the node comes back (same worker id, same queue)
    const result = await handle.result();
    assert.equal(result.steps, 60);
    const lastError = (await status(handle)).lastError ?? '';
    assert.equal(result.gangRestarts, 1, `gang restarts; last error: ${lastError}`);
    // The lost node is named as the cause, not its peer whose trainer failed first because of it.
    assert.match(lastError, new RegExp(`^Node 0 \\(worker gpu-${victim.index}\\) was lost: its worker stopped sending heartbeats`));
    report('worker kill -9', { ...(await recoveryAfter(input, s.attempts, killedAt, s.step)), detectMs: await detectMs }, result);
  });

  it('restarts from the last checkpoint after kill -9 of a trainer process', async () => {
    const { handle, input } = await start('trainer-kill', 60);
    const s = await trainedPast(handle, 15);
    const pid = trainerPid(workerOf(s, 1).pid)!;
    assert.ok(pid, 'rank 1 has a trainer process');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const detectMs = noticed(handle, s.attempts, Date.now());
    const result = await handle.result();
    assert.equal(result.steps, 60);
    assert.equal(result.gangRestarts, 1);
    assert.match((await status(handle)).lastError ?? '', /torchrun exited with code/);
    report('trainer kill -9', { ...(await recoveryAfter(input, s.attempts, killedAt, s.step)), detectMs: await detectMs }, result);
  });

  it('restarts from the last checkpoint when a trainer hangs (SIGSTOP): rank 0 notices the silence', async () => {
    const { handle, input } = await start('trainer-hang', 60);
    const s = await trainedPast(handle, 15);
    const pid = trainerPid(workerOf(s, 1).pid)!;
    const stoppedAt = Date.now();
    process.kill(pid, 'SIGSTOP');
    const detectMs = noticed(handle, s.attempts, Date.now());
    const result = await handle.result();
    assert.ok(!alive(pid), 'the hung trainer was killed, not left behind');
    assert.equal(result.steps, 60);
    assert.equal(result.gangRestarts, 1);
    assert.match((await status(handle)).lastError ?? '', /is hung: the trainer emitted no event for \d+ s/);
    report('trainer hung (SIGSTOP)', { ...(await recoveryAfter(input, s.attempts, stoppedAt, s.step)), detectMs: await detectMs }, result);
  });

  it('a worker shut down with SIGTERM lets its trainer checkpoint first: the restart loses no step', async () => {
    const { handle, input } = await start('worker-sigterm', 60);
    const s = await trainedPast(handle, 15);
    const victim = workerOf(s, 1);
    const trainers = trainerProcesses(victim.pid);
    const child = env.stack.children.get(victim.name)!;
    const exited = new Promise((r) => child.once('exit', r));
    const stoppedAt = Date.now();
    process.kill(victim.pid, 'SIGTERM');
    await exited;
    assert.ok(trainers.every((p) => !alive(p)), 'no trainer outlives its worker');
    env.stack.startGpuWorker(victim.index);
    const result = await handle.result();
    assert.equal(result.steps, 60);
    assert.equal(result.gangRestarts, 1);
    const after = await status(handle);
    assert.match(after.lastError ?? '', /worker is shutting down/);
    assert.equal(after.drains, 1, 'a shutdown is not counted against maxGangRestarts');
    const r = await recoveryAfter(input, s.attempts, stoppedAt, s.step);
    const stopped = (await readMetrics(input.checkpointsUri)).find((e) => e.attempt === s.attempts && e.event === 'stopped');
    assert.ok(stopped, 'the trainer stopped on request (exit 75) after a checkpoint');
    assert.equal(r.resumedAt, Number(stopped.step), 'the new gang resumed at the step where the old one stopped');
    console.log(`[gang] worker SIGTERM: stopped at step ${stopped.step}, resumed at ${r.resumedAt} (0 steps lost); recovery ${(r.recoveryMs / 1000).toFixed(1)} s including the worker's restart`);
  });

  it('pause checkpoints and stops the gang with no trainer left; resume continues at exactly that step', async () => {
    // Long enough that the pause (delivered at the next heartbeat, ~1-2 s of tiny steps) lands before the end.
    const { handle, input } = await start('pause', 300);
    const before = await trainedPast(handle, 12);
    await handle.signal(pauseSignal);
    const paused = await waitFor('paused', async () => {
      const s = await status(handle);
      return s.gang === 'paused' ? s : undefined;
    }, 60_000, 100);
    assert.ok(paused.lastCheckpointStep! >= before.step, `paused at step ${paused.lastCheckpointStep}, after ${before.step}`);
    assert.ok(paused.lastCheckpointStep! < 300, `the pause stopped training before its end (step ${paused.lastCheckpointStep})`);
    for (const name of ['gpu-worker-0', 'gpu-worker-1']) assert.deepEqual(trainerProcesses(env.stack.children.get(name)!.pid!), [], `${name} runs no trainer while paused`);
    await handle.signal(resumeSignal);
    const result = await handle.result();
    assert.equal(result.steps, 300);
    assert.equal(result.gangRestarts, 0);
    const events = await readMetrics(input.checkpointsUri);
    const first = events.filter((e) => e.attempt === 1 && e.event === 'stopped');
    const resumed = events.find((e) => e.attempt === 2 && e.event === 'start')!;
    const firstStep = events.find((e) => e.attempt === 2 && e.event === 'step')!;
    assert.equal(Number(first.at(-1)?.step), paused.lastCheckpointStep, 'the trainer stopped at the paused checkpoint');
    assert.equal(Number(resumed.step), paused.lastCheckpointStep);
    assert.equal(Number(firstStep.step), paused.lastCheckpointStep! + 1);
    console.log(`[gang] pause at step ${paused.lastCheckpointStep} (asked at step ${before.step}); resumed with step ${firstStep.step}`);
    assert.ok(result.reportUri?.endsWith('/report/training.html'));
  });
});
