// A network partition in the middle of a training run, with no split brain. Both nodes of a
// 2-node gang run on GPU workers inside a network namespace that reaches the Temporal server only
// over a veth link (test/support/netns.ts). The link is cut for longer than the heartbeat
// timeout: the gang inside keeps training on its own loopback and still sees the file:// store,
// so only fencing keeps it from writing checkpoints beside the new gang, which the workflow starts
// on two spare workers outside. Then the link heals.
// Asserted: the cut-off trainers stop on their own (no word from the server can reach them);
// no checkpoint file or commit by the old gang lands after the new gang raised the fence; the run
// finishes with the undisturbed run's final weights, bit for bit. Printed: time to detect, time to
// recover, steps redone. On the PostgreSQL-backed Temporal server (its frontend listening where the
// namespace can reach it), as the other chaos suites; KILN_CHAOS_DEV_SERVER=1: the dev server.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readMetrics } from '../../activities/train/metrics.js';
import { COMPLETE_MARKER } from '../../activities/train/checkpoints.js';
import { readFence } from '../../activities/train/fence.js';
import { statusQuery, TASK_QUEUES, type TrainingStatus } from '../../contracts/workflows.js';
import type { TrainerConfig, TrainingRunResult } from '../../contracts/training.js';
import { fileUriToPath } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { createNetns, netnsUnavailable, type Netns } from '../support/netns.js';
import { startPostgresTemporal, type PostgresTemporal } from '../support/postgresTemporal.js';
import { alive, gangInput, startGang, tinyTrainer, trainerProcesses, type GangEnv } from '../support/trainingGang.js';
import { waitFor } from '../support/waitFor.js';

const HEARTBEAT_TIMEOUT_S = 5;
const STEPS = 100;
const CHECKPOINT_EVERY = 10;
// Same thread count on every worker: the weights are compared bit for bit with the reference.
process.env.KILN_CPU_THREADS = '1';

let env: GangEnv;
let ns: Netns;
let pg: PostgresTemporal | undefined;
let temporalPort: number;
const inside: ChildProcess[] = [];

before(async () => {
  const why = netnsUnavailable();
  if (why) throw new Error(`The partition test cannot run: ${why}. Run the tests as root on Linux with iproute2 (CI does).`);
  ns = createNetns();
  if (process.env.KILN_CHAOS_DEV_SERVER === '1') {
    env = await startGang({ gpuWorkers: 0, temporalListenIp: '0.0.0.0' });
    temporalPort = env.stack.temporalPort;
  } else {
    pg = await startPostgresTemporal({ frontendIp: '0.0.0.0' });
    env = await startGang({ gpuWorkers: 0, temporalAddress: pg.address });
    temporalPort = Number(pg.address.split(':').pop());
  }
  for (const index of [0, 1]) inside.push(startWorkerInside(index));
});

after(async () => {
  for (const child of inside) child.kill('SIGKILL');
  await env?.stop();
  await pg?.stop();
  ns?.remove();
});

/** A GPU worker inside the namespace, with a disk (KILN_HOME) of its own as a real node has. */
function startWorkerInside(index: number): ChildProcess {
  const name = `ns-worker-${index}`;
  mkdirSync(join(env.home, 'logs'), { recursive: true }); // the stack makes it with its first process
  const log = openSync(join(env.home, 'logs', `${name}.log`), 'a');
  const { file, args } = ns.wrap(process.execPath, ['--import', 'tsx', join(repoRoot, 'workers/gpuWorker.ts')]);
  return spawn(file, args, {
    cwd: repoRoot,
    stdio: ['ignore', log, log],
    env: { ...process.env, KILN_HOME: join(env.home, name), TEMPORAL_ADDRESS: `${ns.hostIp}:${temporalPort}`, KILN_WORKER_ID: `ns-${index}`, KILN_SHUTDOWN_GRACE_SECONDS: '30' },
  });
}

/**
 * Steps slow enough (a few per second) that the cut-off gang is still training when it fences
 * itself, about a heartbeat timeout after the cut; with the tiny model's tens of milliseconds it
 * would finish the whole run first and leave nothing to fence.
 */
function trainer(): TrainerConfig {
  const t = tinyTrainer(STEPS, CHECKPOINT_EVERY);
  return { ...t, model: { nLayer: 4, nHead: 4, dModel: 256, ffnHidden: 512 } };
}

type Handle = ReturnType<GangEnv['client']['workflow']['getHandle']>;
const status = async (h: Handle) => (await h.query(statusQuery)) as TrainingStatus;

async function run(name: string): Promise<{ handle: Handle; checkpointsUri: string }> {
  const input = gangInput(env, name, trainer(), { heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S, stallTimeoutSeconds: 120 });
  const handle = await env.client.workflow.start('trainingRun', { taskQueue: TASK_QUEUES.workflows, workflowId: `partition-${name}`, args: [input] });
  return { handle, checkpointsUri: input.checkpointsUri };
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file of the run's checkpoints (file://), with its step folder's marker and its mtime. */
function checkpointFiles(checkpointsUri: string): { path: string; marker?: { epoch?: number }; mtimeMs: number }[] {
  const root = fileUriToPath(checkpointsUri);
  return readdirSync(root)
    .filter((d) => d.startsWith('step_'))
    .flatMap((d) => {
      const markerPath = join(root, d, COMPLETE_MARKER);
      const marker = existsSync(markerPath) ? (JSON.parse(readFileSync(markerPath, 'utf8')) as { epoch?: number }) : undefined;
      return readdirSync(join(root, d)).map((f) => ({ path: join(d, f), marker, mtimeMs: statSync(join(root, d, f)).mtimeMs }));
    });
}

function workerLog(name: string): string {
  const path = join(env.home, 'logs', `${name}.log`);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

describe('a network partition mid-training', () => {
  it('fences the cut-off gang, restarts it outside, and finishes with the undisturbed weights', async () => {
    // The reference: the same run, undisturbed, on the same two workers.
    const reference = await run('reference');
    const expected = (await reference.handle.result()) as TrainingRunResult;
    assert.equal(expected.gangRestarts, 0, `the undisturbed run restarted its gang: ${(await status(reference.handle)).lastError}\n${workerLog('ns-worker-0').slice(-3000)}\n${workerLog('ns-worker-1').slice(-3000)}`);

    const { handle, checkpointsUri } = await run('cut');
    const placed = await waitFor('the gang placed inside the namespace', async () => {
      const s = await status(handle);
      return s.gang === 'running' && s.placement ? s : undefined;
    }, 120_000, 100);
    assert.deepEqual([...placed.placement!].sort(), ['ns-0', 'ns-1']);
    // Spares outside, polling before the cut.
    for (const index of [0, 1]) env.stack.startGpuWorker(index);
    await waitFor('the spare workers polling', async () => [0, 1].every((i) => workerLog(`gpu-worker-${i}`).includes('polling')), 120_000, 200);
    const atCut = await waitFor('the gang past its first checkpoint', async () => {
      const s = await status(handle);
      return s.step > CHECKPOINT_EVERY + 2 ? s : undefined;
    }, 120_000, 100);
    const trainers = inside.flatMap((w) => trainerProcesses(w.pid!));
    assert.ok(trainers.length >= 4, `torchrun and a trainer under each worker inside (found ${trainers.length})`);

    const cutAt = Date.now();
    ns.cut();
    let healed = false;
    try {
      const noticedMs = waitFor('the loss noticed', async () => {
        const s = await status(handle);
        return s.attempts > atCut.attempts || s.gang !== 'running' ? Date.now() - cutAt : undefined;
      }, 120_000, 100);
      noticedMs.catch(() => undefined); // awaited below; no unhandled rejection if the next wait fails first
      // Self-fencing: nothing from the server can reach the trainers; they must stop on their own.
      await waitFor('the cut-off trainers to stop', async () => trainers.every((p) => !alive(p)), (3 * HEARTBEAT_TIMEOUT_S + 30) * 1000, 100);
      const stoppedMs = Date.now() - cutAt;
      const noticed = await noticedMs;
      const restarted = await waitFor('the new gang running on the spares', async () => {
        const s = await status(handle);
        return s.attempts > atCut.attempts && s.placement && (s.gang === 'running' || s.gang === 'done') ? s : undefined;
      }, 180_000, 100);
      assert.deepEqual([...restarted.placement!].sort(), ['gpu-0', 'gpu-1'], 'the new gang runs outside the namespace');
      ns.heal();
      healed = true;

      const result = (await handle.result()) as TrainingRunResult;
      assert.equal(result.steps, STEPS);
      assert.equal(result.gangRestarts, 1, `gang restarts; last error: ${(await status(handle)).lastError}`);
      assert.match((await status(handle)).lastError ?? '', /^Node \d \(worker ns-\d\) was lost: its worker stopped sending heartbeats/);

      // No split brain: the new gang raised the fence (epoch 2); nothing of epoch 1 was written after.
      const fence = (await readFence(checkpointsUri))!;
      assert.equal(fence.epoch, 2);
      assert.equal(fence.attempt, restarted.attempts);
      const newGangAt = Date.parse(fence.at);
      const files = checkpointFiles(checkpointsUri);
      const late = files.filter((f) => f.mtimeMs > newGangAt && f.marker?.epoch !== 2);
      assert.deepEqual(late.map((f) => f.path), [], 'files written after the new gang started that it did not commit');
      assert.ok(files.some((f) => f.marker?.epoch === 1) && files.some((f) => f.marker?.epoch === 2), 'both gangs committed, each its own');
      for (const pid of inside.flatMap((w) => trainerProcesses(w.pid!))) assert.fail(`a trainer (pid ${pid}) runs inside the namespace after the heal`);

      // The same weights as the undisturbed run, bit for bit.
      assert.equal(result.finalLoss, expected.finalLoss);
      assert.equal(sha256(join(fileUriToPath(result.checkpoint), 'model.safetensors')), sha256(join(fileUriToPath(expected.checkpoint), 'model.safetensors')));

      // Figures, from rank 0's metrics (the old gang's last flush went with its last commit).
      const events = await readMetrics(checkpointsUri);
      const oldSteps = events.filter((e) => e.attempt === atCut.attempts && e.event === 'step').map((e) => Number(e.step));
      const next = events.filter((e) => e.attempt > atCut.attempts);
      const resumedAt = Number(next.find((e) => e.event === 'start')?.step);
      const firstStep = next.find((e) => e.event === 'step');
      const oldLast = Math.max(atCut.step, ...oldSteps);
      console.log(
        `[partition] cut at step ${atCut.step}; cut-off trainers stopped by themselves ${(stoppedMs / 1000).toFixed(1)} s after the cut (heartbeat timeout ${HEARTBEAT_TIMEOUT_S} s); ` +
          `loss noticed by the workflow after ${(noticed / 1000).toFixed(1)} s; new gang's fence ${((newGangAt - cutAt) / 1000).toFixed(1)} s and first step ${firstStep ? ((firstStep.t - cutAt) / 1000).toFixed(1) : '(none: nothing left to train)'} s after the cut (time to recover); ` +
          `resumed at step ${resumedAt}, old gang recorded step ${oldLast}: ${Math.max(0, oldLast - resumedAt)} steps redone (checkpoint interval ${CHECKPOINT_EVERY}); ` +
          `old gang committed up to step ${Math.max(...files.filter((f) => f.marker?.epoch === 1).map((f) => Number(f.path.slice(5, 13))))} (${files.filter((f) => f.marker?.epoch === 1 && f.path.endsWith(COMPLETE_MARKER)).length} commits)`,
      );
      assert.ok(resumedAt % CHECKPOINT_EVERY === 0 && oldLast - resumedAt <= CHECKPOINT_EVERY, `resumed at ${resumedAt} after the old gang reached ${oldLast}`);
    } finally {
      if (!healed) ns.heal();
    }
  });
});
