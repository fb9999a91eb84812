/**
 * Peak memory of ingest on one large source file (a benchmark, not a test: RSS depends on the
 * machine). Generates a Parquet file of about SIZE_MB (default 200) in The Stack's schema with
 * incompressible content, ingests it, samples RSS every 20 ms, and prints the source size and the
 * peak RSS growth over a warmed-up baseline.
 *
 *   node --import tsx scripts/bench-ingest-memory.ts [SIZE_MB]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestStage } from '../activities/ingest/index.js';
import { ParquetStreamWriter } from '../lib/parquet.js';
import { rowsToTable, type StackRow } from '../lib/stackSchema.js';
import { fileUri } from '../lib/storage/index.js';

const sizeMb = Number(process.argv[2] ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-ingest-'));
const MB = 1024 * 1024;

function row(i: number, content: string): StackRow {
  const path = `src/file_${i}.py`;
  return {
    hexsha: i.toString(16).padStart(40, '0'), size: content.length, ext: 'py', lang: i % 3 === 0 ? 'Go' : 'Python',
    max_stars_repo_path: path, max_stars_repo_name: `org/repo${i % 97}`, max_stars_repo_head_hexsha: 'f'.repeat(40),
    max_stars_repo_licenses: ['MIT'], max_stars_count: i, max_stars_repo_stars_event_min_datetime: null, max_stars_repo_stars_event_max_datetime: null,
    max_issues_repo_path: path, max_issues_repo_name: `org/repo${i % 97}`, max_issues_repo_head_hexsha: 'f'.repeat(40),
    max_issues_repo_licenses: ['MIT'], max_issues_count: null, max_issues_repo_issues_event_min_datetime: null, max_issues_repo_issues_event_max_datetime: null,
    max_forks_repo_path: path, max_forks_repo_name: `org/repo${i % 97}`, max_forks_repo_head_hexsha: 'f'.repeat(40),
    max_forks_repo_licenses: ['MIT'], max_forks_count: null, max_forks_repo_forks_event_min_datetime: null, max_forks_repo_forks_event_max_datetime: null,
    content, avg_line_length: null, max_line_length: null, alphanum_fraction: null,
  };
}

async function generate(path: string): Promise<number> {
  const writer = new ParquetStreamWriter(path);
  let i = 0;
  // Random base64 in 76-character lines: zstd cannot shrink it much, so file size ~ content size.
  while (writer.bytes < sizeMb * MB) {
    const rows: StackRow[] = [];
    for (let k = 0; k < 1000; k++, i++) rows.push(row(i, randomBytes(3000).toString('base64').replace(/(.{76})/g, '$1\n')));
    await writer.write(rowsToTable(rows));
  }
  await writer.finish();
  return i;
}

try {
  const source = join(dir, 'big.parquet');
  const rows = await generate(source);
  const fileMb = statSync(source).size / MB;
  // Warm up (wasm modules, decoder thread) on a small run, then measure.
  const small = join(dir, 'small');
  const w = new ParquetStreamWriter(join(dir, 'small.parquet'));
  await w.write(rowsToTable([row(0, 'print(1)\n')]));
  await w.finish();
  await ingestStage({ artifactsRoot: fileUri(small), source: fileUri(join(dir, 'small.parquet')), languages: [], maxRowsPerLanguage: null });
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  const r = await ingestStage({ artifactsRoot: fileUri(join(dir, 'out')), source: fileUri(source), languages: [], maxRowsPerLanguage: null });
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `ingest of one ${fileMb.toFixed(0)} MB Parquet file (${rows.toLocaleString('en-US')} rows, ${r.outputs.length} part files): ` +
      `peak RSS growth ${((peak - baseline) / MB).toFixed(0)} MB over a ${(baseline / MB).toFixed(0)} MB baseline, ` +
      `${seconds.toFixed(1)} s (${(fileMb / seconds).toFixed(1)} MB/s)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
