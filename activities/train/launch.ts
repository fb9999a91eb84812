/**
 * What torchrun needs on this node's disk, and its command line: the shards (downloaded once per
 * worker), the checkpoint to resume from, the attempt's folder with the trainer's config.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { TrainNodeInput } from '../../contracts/training.js';
import type { Rendezvous } from '../../contracts/workflows.js';
import { readManifest } from '../../lib/manifest.js';
import { pythonExecutable } from '../../lib/python.js';
import { store } from '../../lib/storage/index.js';
import { downloadDirOnce } from '../../lib/syncDir.js';
import { cacheDir } from '../../lib/workdirs.js';
import { downloadCheckpoint } from './checkpoints.js';

/** Shards are immutable per stage folder: download once per worker, reuse across attempts. */
export async function localShards(shardsDir: string): Promise<string> {
  const manifest = await readManifest(store, shardsDir);
  if (!manifest) throw fatal(ErrorType.NotFound, `No committed shard stage at ${shardsDir} (its _MANIFEST.json is missing).`);
  return downloadDirOnce(shardsDir, cacheDir('shards', manifest.fingerprint.slice(0, 16)));
}

/** This rank's folder of the run, kept across attempts on this worker. */
export function localRunDir(input: TrainNodeInput): string {
  return cacheDir('train', input.runKey.slice(0, 16), `rank-${input.rank}`);
}

/** The checkpoint the gang resumes from, downloaded under runDir; undefined for a fresh start. */
export async function localResume(meeting: Rendezvous, runDir: string): Promise<string | undefined> {
  return meeting.checkpoint ? downloadCheckpoint(meeting.checkpoint, join(runDir, 'resume')) : undefined;
}

/** The trainer's config file and this attempt's empty output folder. */
export function prepareAttemptDir(runDir: string, input: TrainNodeInput): { configPath: string; outDir: string } {
  const configPath = join(runDir, 'trainer-config.json');
  writeFileSync(configPath, JSON.stringify(input.trainer, null, 2));
  // Earlier attempts' local checkpoints are in the artifact store already: free the disk.
  for (const old of readdirSync(runDir)) if (old.startsWith('attempt-')) rmSync(join(runDir, old), { recursive: true, force: true });
  const outDir = join(runDir, `attempt-${input.attempt}`);
  mkdirSync(outDir, { recursive: true });
  return { configPath, outDir };
}

export interface TrainerPaths {
  configPath: string;
  dataDir: string;
  outDir: string;
  resume?: string;
}

/** torchrun's command line for this node of the gang. */
export function torchrunCommand(input: TrainNodeInput, meeting: Rendezvous, paths: TrainerPaths): { file: string; args: string[] } {
  const torchrun = join(dirname(pythonExecutable()), 'torchrun');
  const args = [
    `--nnodes=${input.nodes}`,
    `--nproc-per-node=${input.procsPerNode}`,
    `--node-rank=${input.rank}`,
    `--master-addr=${meeting.addr}`,
    `--master-port=${meeting.port}`,
    '--max-restarts=0',
    '-m',
    'kiln_trainer.train',
    '--config',
    paths.configPath,
    '--data',
    paths.dataDir,
    '--out',
    paths.outDir,
    ...(paths.resume ? ['--resume', paths.resume] : []),
  ];
  return { file: torchrun, args };
}
