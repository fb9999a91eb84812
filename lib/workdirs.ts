// Local scratch space of a worker process. KILN_HOME defaults to <repo>/.kiln.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot as findRepoRoot } from './python.js';

export const repoRoot = findRepoRoot();

export function kilnHome(): string {
  return resolve(process.env.KILN_HOME ?? join(repoRoot, '.kiln'));
}

/** A persistent cache folder (survives activity retries on the same worker). */
export function cacheDir(...parts: string[]): string {
  const dir = join(kilnHome(), 'cache', ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs `work` in a fresh temporary folder that is removed afterwards. */
export async function withTempDir<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const base = join(kilnHome(), 'tmp');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${prefix}-`));
  try {
    return await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
