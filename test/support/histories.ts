// Recorded workflow histories, one folder per release (test/fixtures/histories/<version>/), kept
// forever: CI replays every one of them against today's workflow code, so a change that would
// break a run started on an older release fails before it ships.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../lib/workdirs.js';

export const HISTORIES = join(repoRoot, 'test', 'fixtures', 'histories');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Writes this release's history of a workflow (named by its workflow id), unless the release has one already. */
export function recordHistory(workflowId: string, history: unknown): void {
  const dir = join(HISTORIES, packageVersion());
  const file = join(dir, `${workflowId}.json`);
  if (existsSync(file)) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(history, null, 1));
}

/** Every recorded history: release, workflow id (the file's name), path. */
export function recordedHistories(): { release: string; workflowId: string; path: string }[] {
  if (!existsSync(HISTORIES)) return [];
  return readdirSync(HISTORIES)
    .sort()
    .flatMap((release) =>
      readdirSync(join(HISTORIES, release))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => ({ release, workflowId: f.replace(/\.json$/, ''), path: join(HISTORIES, release, f) })),
    );
}
