// Shared helpers of the data-stage tests: temporary artifact roots and crafted Stack rows.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeParquetTable } from '../../lib/parquet.js';
import { rowsToTable, type StackRow } from '../../lib/stackSchema.js';
import { fileUri } from '../../lib/storage/index.js';

/** The shared Stack sample, at ../shared beside the repository (as developers and CI have it). */
export const STACK_SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'stack-sample');
export const STACK_SAMPLE_URI = fileUri(STACK_SAMPLE);

/** A fresh temporary folder, removed after the suite; call it in a describe body, not in a hook. */
export function tmpDir(prefix = 'kiln-data-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function stackRow(content: string, fields: Partial<StackRow> = {}): StackRow {
  const repo = fields.max_stars_repo_name ?? 'octo/repo';
  const path = fields.max_stars_repo_path ?? 'src/main.py';
  return {
    hexsha: '0'.repeat(40), size: Buffer.byteLength(content), ext: 'py', lang: 'Python',
    max_stars_repo_path: path, max_stars_repo_name: repo, max_stars_repo_head_hexsha: 'f'.repeat(40),
    max_stars_repo_licenses: ['MIT'], max_stars_count: null,
    max_stars_repo_stars_event_min_datetime: null, max_stars_repo_stars_event_max_datetime: null,
    max_issues_repo_path: path, max_issues_repo_name: repo, max_issues_repo_head_hexsha: 'f'.repeat(40),
    max_issues_repo_licenses: ['MIT'], max_issues_count: null,
    max_issues_repo_issues_event_min_datetime: null, max_issues_repo_issues_event_max_datetime: null,
    max_forks_repo_path: path, max_forks_repo_name: repo, max_forks_repo_head_hexsha: 'f'.repeat(40),
    max_forks_repo_licenses: ['MIT'], max_forks_count: null,
    max_forks_repo_forks_event_min_datetime: null, max_forks_repo_forks_event_max_datetime: null,
    content, avg_line_length: null, max_line_length: null, alphanum_fraction: null,
    ...fields,
  };
}

/** Writes rows as a Stack-schema Parquet file at `path`. */
export function writeRows(path: string, rows: StackRow[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, writeParquetTable(rowsToTable(rows)));
}
