import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { computeLineStats } from '../../activities/clean/filters.js';
import { cleanStage } from '../../activities/clean/index.js';
import { dedupStage, resolveDedupParams } from '../../activities/dedup/index.js';
import { ingestStage } from '../../activities/ingest.js';
import type { Manifest, StageResult } from '../../lib/manifest.js';
import { readParquetTable } from '../../lib/parquet.js';
import { tableToRows, type StackRow } from '../../lib/stackSchema.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { STACK_SAMPLE_URI, stackRow, tmpDir, writeRows } from './fixtures.js';

function rowsOf(result: StageResult): StackRow[] {
  return result.outputs.flatMap((uri) => tableToRows(readParquetTable(readFileSync(fileUriToPath(uri)), uri)));
}

function manifestOf(result: StageResult): Manifest {
  return JSON.parse(readFileSync(fileUriToPath(result.manifestUri), 'utf8')) as Manifest;
}

/** Known cross-repository copies (stack-sample README), Python ones. */
const REQUESTS_COPIES = ['__version__.py', '_internal_utils.py', 'api.py', 'hooks.py', 'status_codes.py', 'structures.py'].map((f) => [
  `psf/requests:src/requests/${f}`,
  `pypa/pip:src/pip/_vendor/requests/${f}`,
]);

const key = (r: StackRow) => `${r.max_stars_repo_name}:${r.max_stars_repo_path}`;

describe('clean and dedup on the stack sample (Python)', () => {
  const root = fileUri(tmpDir());
  let ingest: StageResult;
  let clean: StageResult;
  let dedup: StageResult;

  before(async () => {
    ingest = await ingestStage({ artifactsRoot: root, source: `${STACK_SAMPLE_URI}/data/python`, languages: ['Python'], maxRowsPerLanguage: null, seed: 1 });
    clean = await cleanStage({ artifactsRoot: root, input: ingest, params: {} });
    dedup = await dedupStage({ artifactsRoot: root, input: clean, params: {}, seed: 1234 });
  });

  it('clean keeps the partition layout and accounts for every row', () => {
    assert.deepEqual(clean.outputs, [`${clean.dir}/lang=python/part-00000.parquet`]);
    const s = clean.stats as { rows_in: number; kept: number; dropped: number; drop_reasons: Record<string, number> };
    assert.equal(s.rows_in, 1488);
    assert.equal(s.kept + s.dropped, 1488);
    assert.equal(Object.values(s.drop_reasons).reduce((a, b) => a + b, 0), s.dropped);
    assert.ok(s.drop_reasons.auto_generated! >= 11, 'the *_pb2.py modules are generated'); // 11 *_pb2.py files
    const rows = rowsOf(clean);
    assert.equal(rows.length, s.kept);
    assert.ok(!rows.some((r) => r.max_stars_repo_path!.endsWith('_pb2.py')));
    for (const r of rows.slice(0, 200)) {
      const stats = computeLineStats(r.content!);
      assert.equal(r.avg_line_length, stats.avgLineLength);
      assert.equal(r.size, Buffer.byteLength(r.content!, 'utf8'));
    }
  });

  it('dedup drops exact duplicates, keeping one of each cross-repository copy', () => {
    const cleaned = rowsOf(clean);
    const expectedExact = cleaned.length - new Set(cleaned.map((r) => r.content)).size;
    assert.equal(dedup.stats.exact_duplicates, expectedExact);
    assert.ok(expectedExact >= REQUESTS_COPIES.length);
    const kept = new Set(rowsOf(dedup).map(key));
    for (const [a, b] of REQUESTS_COPIES) {
      assert.equal(Number(kept.has(a!)) + Number(kept.has(b!)), 1, `${a} / ${b}`);
    }
    const s = dedup.stats as Record<string, number>;
    assert.equal(s.kept, s.rows_in! - s.exact_duplicates! - s.near_duplicates!);
    assert.equal(rowsOf(dedup).length, s.kept);
  });

  it('returns memoized results on a second run', async () => {
    const again = await cleanStage({ artifactsRoot: root, input: ingest, params: {} });
    assert.equal(again.reused, true);
    assert.deepEqual(manifestOf(again), manifestOf(clean));
    const againDedup = await dedupStage({ artifactsRoot: root, input: again, params: {}, seed: 1234 });
    assert.equal(againDedup.reused, true);
    assert.equal(againDedup.fingerprint, dedup.fingerprint);
  });
});

describe('dedup on a crafted corpus', () => {
  const lines = Array.from({ length: 80 }, (_, i) => `    total_${i} = compute_value(items[${i}], factor=${i * 7}) + offset_${i % 9}`);
  const base = `def run(items):\n${lines.join('\n')}\n    return total_0\n`;
  const oneLineChanged = base.replace('total_40 = compute_value(items[40]', 'total_40 = other_function(items[40]');
  const different = base.replace(/compute_value/g, 'x').replace(/total_/g, 'y').replace(/offset_/g, 'z').replace(/factor/g, 'w') + '# other\n'.repeat(3);
  const docs = [
    stackRow(base, { max_stars_repo_path: 'a/base.py' }),
    stackRow(different, { max_stars_repo_path: 'a/different.py' }),
    stackRow(oneLineChanged, { max_stars_repo_path: 'b/changed.py' }),
    stackRow(base, { max_stars_repo_path: 'b/copy.py' }),
    stackRow('{}\n', { max_stars_repo_path: 'b/empty.py' }),
  ];
  const source = tmpDir();
  writeRows(join(source, 'part-0.parquet'), docs.slice(0, 2));
  writeRows(join(source, 'part-1.parquet'), docs.slice(2));
  const ingestRoot = fileUri(tmpDir());
  const roots = Array.from({ length: 5 }, () => fileUri(tmpDir()));
  let input: StageResult;

  before(async () => {
    input = await ingestStage({ artifactsRoot: ingestRoot, source: fileUri(source), languages: [], maxRowsPerLanguage: null, seed: 1 });
  });

  it('removes the exact copy and the one-line edit, keeps different files', async () => {
    const r = await dedupStage({ artifactsRoot: roots[0]!, input, params: {}, seed: 1234 });
    assert.deepEqual(rowsOf(r).map((x) => x.max_stars_repo_path), ['a/base.py', 'a/different.py', 'b/empty.py']);
    assert.equal(r.stats.exact_duplicates, 1);
    assert.equal(r.stats.near_duplicates, 1);
    assert.equal(r.stats.clusters, 1);
    assert.equal(r.stats.kept, 3);
  });

  it('keeps the near-duplicate when near dedup is off', async () => {
    const r = await dedupStage({ artifactsRoot: roots[1]!, input, params: { near: false }, seed: 1234 });
    assert.deepEqual(rowsOf(r).map((x) => x.max_stars_repo_path), ['a/base.py', 'a/different.py', 'b/changed.py', 'b/empty.py']);
  });

  it('is deterministic across runs and artifact roots', async () => {
    const a = await dedupStage({ artifactsRoot: roots[2]!, input, params: { threshold: 0.5 }, seed: 7 });
    const b = await dedupStage({ artifactsRoot: roots[3]!, input, params: { threshold: 0.5 }, seed: 7 });
    assert.equal(a.reused, false);
    assert.equal(b.reused, false);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.deepEqual(a.stats, b.stats);
    assert.deepEqual(manifestOf(a).outputs.map((o) => o.sha256), manifestOf(b).outputs.map((o) => o.sha256));
  });

  it('clean fails with the drop reasons when it would keep nothing', async () => {
    await assert.rejects(
      cleanStage({ artifactsRoot: roots[4]!, input, params: { minAlphanumFraction: 0.99 } }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'KilnInvalidInput' && /dropped all 5 rows .*\(alphanum_fraction 5\)/.test(err.message),
    );
  });

  it('refuses numPerm != bands * rows, naming dedup.numPerm', async () => {
    await assert.rejects(
      dedupStage({ artifactsRoot: roots[4]!, input, params: { numPerm: 128, bands: 32, rows: 8 }, seed: 1 }),
      (err: unknown) => err instanceof ApplicationFailure && err.type === 'KilnInvalidConfig' && err.nonRetryable && /dedup\.numPerm/.test(err.message) && /32 \* 8 = 256/.test(err.message),
    );
    assert.throws(() => resolveDedupParams({ threshold: 2 }), /dedup\.threshold/);
  });
});
