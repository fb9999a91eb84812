// Self-fencing (activities/train/selfFence.ts): a node that cannot reach the Temporal server for
// longer than its heartbeat timeout stops its trainer (SIGTERM, then SIGKILL of its process group)
// and may commit nothing more; so does a node the server says it timed out.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { ActivityCancellationDetails } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CommitGuard } from '../../activities/train/fence.js';
import { fenceNode, probeServer, watchServer, type ServerProbe } from '../../activities/train/selfFence.js';
import { FENCE_GRACE_MS, TrainerStop } from '../../activities/train/stop.js';
import { ErrorType } from '../../contracts/errors.js';
import { pythonExecutable } from '../../lib/python.js';
import { runPythonTool, type ToolEvent } from '../../lib/pythonTool.js';
import { alive } from '../support/trainingGang.js';

// A stand-in trainer: a step event every 50 ms, its pid first; it ignores SIGTERM, as a trainer
// stuck in a collective would, so only the SIGKILL that follows can end it.
const STUBBORN_TRAINER = `
import json, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(json.dumps({"event": "start", "pid": os.getpid()}), flush=True)
step = 0
while True:
    step += 1
    print(json.dumps({"event": "step", "step": step}), flush=True)
    time.sleep(0.05)
`;

/** A probe that answers until `cut()` is called, then fails as a partition would. */
function cuttableProbe(): { probe: ServerProbe; cut(): void; cutAt?: number } {
  const state: { probe: ServerProbe; cut(): void; cutAt?: number } = {
    probe: async () => {
      if (state.cutAt !== undefined) throw new Error('14 UNAVAILABLE: connection timed out');
    },
    cut: () => void (state.cutAt ??= Date.now()),
  };
  return state;
}

describe('watchServer', () => {
  it('stays quiet while the server answers, and fences once after the limit of silence', async () => {
    const server = cuttableProbe();
    const fenced: string[] = [];
    const stop = watchServer({ probe: server.probe, limitMs: 600, everyMs: 50, onFence: (why) => fenced.push(why) });
    await new Promise((r) => setTimeout(r, 900));
    assert.deepEqual(fenced, [], 'no fence while the server answers');
    server.cut();
    await new Promise((r) => setTimeout(r, 1500));
    stop();
    assert.equal(fenced.length, 1, fenced.join('\n'));
    assert.match(fenced[0]!, /^no answer from the Temporal server for \d+\.\d s \(heartbeat timeout 0\.6 s\): the server has taken this node for lost$/);
  });

  it('a probe that never settles counts as no answer', async () => {
    const fenced: string[] = [];
    const stop = watchServer({ probe: () => new Promise(() => undefined), limitMs: 300, everyMs: 50, onFence: (why) => fenced.push(why) });
    await new Promise((r) => setTimeout(r, 2000));
    stop();
    assert.equal(fenced.length, 1);
  });
});

describe('probeServer', () => {
  // A server that accepts connections and never answers: what a worker sees through a cut link.
  let blackHole: Server;
  const sockets: Socket[] = [];
  before(async () => {
    blackHole = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  });
  after(() => {
    for (const s of sockets) s.destroy();
    blackHole.close();
  });

  it('rejects within its deadline when the server does not answer', async () => {
    const { port } = blackHole.address() as { port: number };
    const connection = Connection.lazy({ address: `127.0.0.1:${port}` });
    try {
      const started = Date.now();
      await assert.rejects(probeServer(new Client({ connection }))(500));
      const tookMs = Date.now() - started;
      assert.ok(tookMs < 5_000, `the probe took ${tookMs} ms for a 500 ms deadline`);
    } finally {
      await connection.close().catch(() => undefined);
    }
  });
});

interface FencedRun {
  run: Awaited<ReturnType<typeof runPythonTool>>;
  stop: TrainerStop;
  guard: CommitGuard;
  pid: number;
  fencedAt?: number;
  endedAt: number;
}

describe('a node cut off from the server', () => {
  /** Runs the stand-in trainer the way node.ts runs torchrun, with the node's fencing wired. */
  async function runFencedNode(env: MockActivityEnvironment, probe: ServerProbe, during?: (pid: number) => void): Promise<FencedRun> {
    return env.run(async (): Promise<FencedRun> => {
      const ctx = Context.current();
      const guard = new CommitGuard('file:///nowhere/checkpoints', undefined);
      let pid = 0;
      const onEvent = (e: ToolEvent) => {
        if (e.event === 'start') {
          pid = Number(e.pid);
          during?.(pid);
        }
      };
      const command = { file: pythonExecutable(), args: ['-c', STUBBORN_TRAINER] };
      const stop = new TrainerStop({ command, onEvent, fatalType: ErrorType.TrainerFatal }, 60_000);
      let fencedAt: number | undefined;
      const unfence = fenceNode(ctx, probe, guard, { fence: (why) => ((fencedAt ??= Date.now()), stop.fence(why)) });
      try {
        const run = await runPythonTool('stand-in', [], stop.toolOpts);
        return { run, stop, guard, pid, fencedAt, endedAt: Date.now() };
      } finally {
        unfence();
      }
    }) as Promise<FencedRun>;
  }

  it('stops its trainer (SIGTERM, then SIGKILL) once the server has been out of reach for the heartbeat timeout, and commits nothing', async () => {
    const server = cuttableProbe();
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 1500 });
    const { run, stop, guard, pid, fencedAt, endedAt } = await runFencedNode(env, server.probe, () => setTimeout(() => server.cut(), 1000));
    assert.ok(server.cutAt && fencedAt, 'the server was cut off and the node fenced');
    assert.equal(run.exitCode, -1, 'killed by a signal: it ignored SIGTERM'); // execa reports no exit code for a signal
    assert.ok(!alive(pid), 'the trainer process is gone');
    assert.match(stop.fenced ?? '', /no answer from the Temporal server/);
    // Never while the server answered; the SIGKILL only after the SIGTERM's grace.
    assert.ok(fencedAt > server.cutAt, 'fenced after the cut, not before');
    assert.ok(endedAt - fencedAt >= FENCE_GRACE_MS - 100, `killed ${endedAt - fencedAt} ms after SIGTERM`);
    await assert.rejects(guard.check(), (err: Error & { type?: string }) => err.type === ErrorType.NodeFenced);
    console.log(`[self-fence] fenced ${((fencedAt - server.cutAt) / 1000).toFixed(1)} s after the cut (heartbeat timeout 1.5 s, a probe a second); trainer gone ${((endedAt - server.cutAt) / 1000).toFixed(1)} s after it (SIGTERM grace ${FENCE_GRACE_MS / 1000} s)`);
  });

  it('fences at once when the server says it timed the node out', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
    const answering: ServerProbe = async () => undefined;
    const { stop, pid } = await runFencedNode(env, answering, () => setTimeout(() => env.cancel('TIMED_OUT', new ActivityCancellationDetails({ timedOut: true })), 300));
    assert.ok(!alive(pid));
    assert.equal(stop.fenced, 'the server timed this node out (no heartbeat within its timeout)');
  });

  it('a plain cancellation (pause, lost peer) is not a fence', async () => {
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
    const answering: ServerProbe = async () => undefined;
    const guard = new CommitGuard('file:///nowhere/checkpoints', undefined);
    const unfence = (await env.run(async () => fenceNode(Context.current(), answering, guard, { fence: () => assert.fail('fenced') }))) as () => void;
    env.cancel('CANCELLED', new ActivityCancellationDetails({ cancelRequested: true }));
    unfence();
    assert.equal(guard.fenced, undefined);
  });
});
