/**
 * Builds data/tiny-corpus, the small corpus shipped with kiln so the main job runs on a fresh
 * machine without ../shared: the Python rows of pallets/flask, pallets/click and psf/requests
 * (BSD-3-Clause, BSD-3-Clause, Apache-2.0) from the stack-sample, in The Stack's schema.
 *
 *   node --import tsx scripts/build-tiny-corpus.ts [--sample ../shared/data/stack-sample] [--max-bytes 1500000]
 *
 * Deterministic: rows sorted by repository then path; when the file would exceed --max-bytes,
 * the largest files are left out first (ties by repository and path) until it fits.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readParquetTable, writeParquetTable } from '../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows, type StackRow } from '../lib/stackSchema.js';

const REPOS = [
  { name: 'pallets/click', license: 'BSD-3-Clause' },
  { name: 'pallets/flask', license: 'BSD-3-Clause' },
  { name: 'psf/requests', license: 'Apache-2.0' },
];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'data/tiny-corpus');
const PARQUET = 'python/train-00000-of-00001.parquet';

const { values } = parseArgs({
  options: { sample: { type: 'string', default: join(ROOT, '..', 'shared', 'data', 'stack-sample') }, 'max-bytes': { type: 'string', default: '1500000' } },
});
const sample = values.sample!;
const maxBytes = Number(values['max-bytes']);

function readPythonRows(): StackRow[] {
  const dir = join(sample, 'data/python');
  const rows: StackRow[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.parquet')).sort()) {
    const path = join(dir, name);
    const table = readParquetTable(readFileSync(path), path);
    assertStackSchema(table, path);
    rows.push(...tableToRows(table));
  }
  return rows;
}

const byRepoPath = (a: StackRow, b: StackRow) =>
  a.max_stars_repo_name! < b.max_stars_repo_name! ? -1 : a.max_stars_repo_name! > b.max_stars_repo_name! ? 1 :
  a.max_stars_repo_path! < b.max_stars_repo_path! ? -1 : a.max_stars_repo_path! > b.max_stars_repo_path! ? 1 : 0;

let rows = readPythonRows()
  .filter((r) => REPOS.some((repo) => repo.name === r.max_stars_repo_name))
  .sort(byRepoPath);
const available = rows.length;

let bytes = writeParquetTable(rowsToTable(rows));
while (bytes.byteLength > maxBytes && rows.length > 1) {
  // Leave out the largest remaining file (deterministic tie-break: the last by repo and path).
  let largest = 0;
  for (let i = 1; i < rows.length; i++) if ((rows[i]!.size ?? 0) >= (rows[largest]!.size ?? 0)) largest = i;
  rows = rows.filter((_, i) => i !== largest);
  bytes = writeParquetTable(rowsToTable(rows));
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'python'), { recursive: true });
mkdirSync(join(OUT, 'licenses'), { recursive: true });
writeFileSync(join(OUT, PARQUET), bytes);
for (const repo of REPOS) {
  const file = `${repo.name.replace('/', '__')}.txt`;
  copyFileSync(join(sample, 'licenses', file), join(OUT, 'licenses', file));
  chmodSync(join(OUT, 'licenses', file), 0o644); // the sample's copies are read-only
}

// Commits, from the stack-sample README's table of source repositories.
const readme = readFileSync(join(sample, 'README.md'), 'utf8');
const commitOf = (name: string) => new RegExp(`\\[${name.replace('/', '\\/')}\\]\\([^)]*\\) \\| \`([0-9a-f]{40})\``).exec(readme)?.[1] ?? 'unknown';
const count = (name: string) => rows.filter((r) => r.max_stars_repo_name === name).length;
const contentBytes = rows.reduce((n, r) => n + (r.size ?? 0), 0);

const table = REPOS.map((r) => `| [${r.name}](https://github.com/${r.name}) | \`${commitOf(r.name)}\` | ${r.license} | ${count(r.name)} | \`licenses/${r.name.replace('/', '__')}.txt\` |`).join('\n');
writeFileSync(
  join(OUT, 'README.md'),
  `# tiny-corpus: the corpus kiln ships for its tiny end-to-end run

A few Python source files in exactly the Parquet schema of
[\`bigcode/the-stack-dedup\`](https://huggingface.co/datasets/bigcode/the-stack-dedup), so that
\`configs/tiny.json\` (\`ingest.source: file://./data/tiny-corpus\`) runs on a fresh machine.

- \`${PARQUET}\`: ${rows.length} rows (of ${available} Python files in these repositories),
  ${contentBytes.toLocaleString('en-US')} bytes of content, ${bytes.byteLength.toLocaleString('en-US')} bytes of Parquet
  (zstd, row groups of at most 1,000 rows, written with parquet-wasm from apache-arrow tables).
- Rows sorted by repository, then path.${rows.length < available ? ' The largest files were left out to keep the file under ' + maxBytes.toLocaleString('en-US') + ' bytes.' : ''}
- Columns as in The Stack: \`content\` is the whole file; \`size\`, \`avg_line_length\`,
  \`max_line_length\` and \`alphanum_fraction\` as The Stack computes them; star, issue and fork
  counts and dates are null.

## Where it comes from

The Python rows (\`lang = Python\`) of three repositories of the stack-sample test corpus, each a
snapshot of the repository's default branch at the commit below. Built by
\`scripts/build-tiny-corpus.ts\` (deterministic: the same sample gives the same bytes).

| repository | commit | license (SPDX) | rows | license text |
|---|---|---|---:|---|
${table}

## Licensing

**Each file keeps its repository's license.** Every row names its repository, commit and SPDX ids
(\`max_stars_repo_name\`, \`max_stars_repo_head_hexsha\`, \`max_stars_repo_licenses\`). The license
texts are in \`licenses/\`; keep them with any copy of this data.
`,
);

console.log(`wrote ${join(OUT, PARQUET)}: ${rows.length} rows, ${bytes.byteLength} bytes`);
