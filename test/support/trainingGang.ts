// A real training gang on one machine for tests and the orchestration benchmark: the Temporal dev
// server and GPU workers as separate processes (cli/stack.ts, as `kiln up` starts them), the
// workflows in this process, a tiny MDS dataset, and the CPU trainer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { TrainerConfig } from '../../contracts/training.js';
import { listLocalFiles } from '../../lib/syncDir.js';
import { describeBytes, writeManifest } from '../../lib/manifest.js';
import { pythonExecutable } from '../../lib/python.js';
import { fileUri, store } from '../../lib/storage/index.js';
import { repoRoot } from '../../lib/workdirs.js';
import { Stack } from '../../cli/stack.js';
import { TASK_QUEUES } from '../../contracts/workflows.js';
import type { TrainingRunInput } from '../../contracts/training.js';
import { freePort } from './ports.js';
import { workflowBundle } from './temporal.js';
import { workflowWorkerOptions } from '../../workers/workflowBundle.js';

export interface GangEnv {
  stack: Stack;
  client: Client;
  home: string;
  shardsDir: string;
  /** A fresh checkpoints folder per run. */
  checkpointsUri(name: string): string;
  stop(): Promise<void>;
}

// Learnable token streams (arithmetic progressions), written by the trainer tests' own MDS writer.
const WRITE_SHARDS = `
import sys
sys.path.insert(0, 'tests')
from conftest import make_samples, write_mds
out, n, seq, vocab = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
write_mds(out + '/train', make_samples(n, 1, seq, vocab), encoding=f'ndarray:int32:{seq}', per_shard=256)
write_mds(out + '/val', make_samples(32, 2, seq, vocab), encoding=f'ndarray:int32:{seq}')
`;

export const TINY = { seqLen: 64, vocab: 512 };

/** A committed shard stage folder (MDS + _MANIFEST.json) of `samples` sequences. */
export async function writeTinyShards(dir: string, samples = 2048): Promise<string> {
  execFileSync(pythonExecutable(), ['-c', WRITE_SHARDS, dir, String(samples), String(TINY.seqLen), String(TINY.vocab)], { cwd: join(repoRoot, 'python') });
  const uri = fileUri(dir);
  const outputs = listLocalFiles(dir).map((path) => describeBytes(fileUri(path), readFileSync(path)));
  await writeManifest(store, uri, { stage: 'shard', fingerprint: `tiny-${samples}-${TINY.seqLen}-${TINY.vocab}`.padEnd(64, '0'), codeVersion: 'test', params: {}, inputs: [], outputs, stats: { samples } });
  return uri;
}

/** A model small enough for 2 CPU "nodes" on 2 cores, big enough that a step takes tens of ms. */
export function tinyTrainer(steps: number, checkpointEvery: number): TrainerConfig {
  return {
    seed: 7,
    vocabSize: TINY.vocab,
    seqLen: TINY.seqLen,
    eosTokenId: 0,
    model: { nLayer: 2, nHead: 4, dModel: 128, ffnHidden: 256 },
    train: { nodes: 2, procsPerNode: 1, steps, microBatchSize: 8, lr: 0.002, warmupSteps: 5, checkpointEvery, evalEvery: 100_000, device: 'cpu', dtype: 'float32' },
  };
}

export function gangInput(env: GangEnv, name: string, trainer: TrainerConfig, extra: Partial<TrainingRunInput> = {}): TrainingRunInput {
  return {
    runKey: name.padEnd(64, '0'),
    trainer,
    shardsDir: env.shardsDir,
    checkpointsUri: env.checkpointsUri(name),
    nodes: 2,
    procsPerNode: 1,
    maxGangRestarts: 3,
    progressEverySeconds: 0.25,
    heartbeatTimeoutSeconds: 5,
    stallTimeoutSeconds: 5,
    ...extra,
  };
}

/** Starts the server, `gpuWorkers` GPU worker processes and an in-process workflow worker. */
/** `temporalAddress`: an existing server (the PostgreSQL-backed one) instead of a dev server of its own. */
export async function startGang(opts: { gpuWorkers?: number; workerEnv?: Record<string, string>; temporalListenIp?: string; temporalAddress?: string } = {}): Promise<GangEnv> {
  const home = mkdtempSync(join(tmpdir(), 'kiln-gang-'));
  const stack = new Stack({
    home,
    temporalPort: await freePort(),
    uiPort: await freePort(),
    gpuWorkers: opts.gpuWorkers ?? 2,
    temporalListenIp: opts.temporalListenIp,
    temporalAddress: opts.temporalAddress,
    env: { KILN_CPU_THREADS: '1', KILN_SHUTDOWN_GRACE_SECONDS: '30', ...opts.workerEnv },
  });
  try {
    if (!opts.temporalAddress) await stack.startTemporal();
    for (let i = 0; i < (opts.gpuWorkers ?? 2); i++) stack.startGpuWorker(i);
    const shardsDir = await writeTinyShards(join(home, 'shards'));
    const connection = await NativeConnection.connect({ address: stack.temporalAddress });
    const worker = await Worker.create({ connection, taskQueue: TASK_QUEUES.workflows, workflowBundle: await workflowBundle(), ...workflowWorkerOptions });
    const running = worker.run();
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }) });
    return {
      stack,
      client,
      home,
      shardsDir,
      checkpointsUri: (name) => fileUri(join(home, 'artifacts', 'train', name, 'checkpoints')),
      async stop() {
        await client.connection.close().catch(() => undefined);
        worker.shutdown();
        await running.catch(() => undefined);
        await connection.close().catch(() => undefined);
        await stack.stop();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

/** Process ids under `pid` (children, grandchildren...), from /proc. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The trainer process (not torchrun) a GPU worker runs, if any. */
export function trainerPid(workerPid: number): number | undefined {
  return descendants(workerPid).find((p) => {
    const cmd = commandLine(p);
    return cmd.includes('kiln_trainer.train') && !cmd.includes('torchrun');
  });
}

/** Trainer-related processes (torchrun and trainers) under a GPU worker. */
export function trainerProcesses(workerPid: number): number[] {
  return descendants(workerPid).filter((p) => commandLine(p).includes('kiln_trainer.train'));
}

/** Whether a process still exists (zombies count as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
