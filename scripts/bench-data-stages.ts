/**
 * Benchmark of the CPU stages: ingest -> clean -> dedup on a Stack-format corpus, timed per
 * stage. Prints rows, content MB and throughput. Usage:
 *   npx tsx scripts/bench-data-stages.ts [--source file:///path/to/stack-sample/data] [--languages Python,Go]
 * Default source: ../shared/data/stack-sample/data (all languages). Outputs go to a temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ingestStage } from '../activities/ingest/index.js';
import { cleanStage } from '../activities/clean/index.js';
import { dedupStage } from '../activities/dedup/index.js';
import { DEFAULT_SOURCE } from './bench/sample.js';

const { values } = parseArgs({
  options: {
    source: { type: 'string', default: DEFAULT_SOURCE },
    languages: { type: 'string', default: '' },
  },
});
const out = mkdtempSync(join(tmpdir(), 'kiln-bench-'));
const root = pathToFileURL(out).href;
const languages = values.languages ? values.languages.split(',') : [];

async function timed<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const stats = (result as { stats: Record<string, number> }).stats;
  const rows = stats.rows_in ?? stats.rows_out;
  const mb = (stats.content_bytes_in ?? stats.bytes_read ?? 0) / 1e6;
  console.log(`${name.padEnd(7)} ${seconds.toFixed(2).padStart(7)} s  ${String(rows).padStart(7)} rows in  ${(rows / seconds).toFixed(0).padStart(7)} rows/s  ${mb.toFixed(1).padStart(7)} MB read  ${(mb / seconds).toFixed(1).padStart(6)} MB/s`);
  return result;
}

try {
  console.log(`source ${values.source} languages ${languages.join(',') || 'all'}`);
  const ingest = await timed('ingest', () => ingestStage({ artifactsRoot: root, source: values.source!, languages, maxRowsPerLanguage: null }));
  const clean = await timed('clean', () => cleanStage({ artifactsRoot: root, input: ingest }));
  const dedup = await timed('dedup', () => dedupStage({ artifactsRoot: root, input: clean, seed: 1234 }));
  console.log(`kept ${dedup.stats.kept} of ${ingest.stats.rows_out} rows (clean dropped ${clean.stats.dropped}, exact ${dedup.stats.exact_duplicates}, near ${dedup.stats.near_duplicates})`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
