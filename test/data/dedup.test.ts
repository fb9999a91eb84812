import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { computeLineStats } from '../../activities/clean/textStats.js';
import { cleanStage } from '../../activities/clean/index.js';
import { dedupStage, resolveDedupParams } from '../../activities/dedup/index.js';
import { ingestStage } from '../../activities/ingest/index.js';
import type { Manifest, StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { tableToRows, type StackRow } from '../../lib/stackSchema.js';
import { fileUri, fileUriToPath, store } from '../../lib/storage/index.js';
import { bucketReducer } from '../../activities/dedup/buckets.js';
import { planDedup } from '../../activities/dedup/plan.js';
import { signPartition } from '../../activities/dedup/signatures.js';
import { verifyPartition } from '../../activities/dedup/verify.js';
import { u32Of, workFiles } from '../../activities/dedup/workFiles.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { exactJaccard } from '../../activities/dedup/minhash.js';
import { tableFromArrays } from 'apache-arrow';
import { ErrorType } from '../../contracts/errors.js';
import { failureMatching } from '../support/failures.js';
import { writeDedupCorpus } from './dedupCorpus.js';
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

  it('refuses bands * rows > numPerm non-retryably, naming the fields', async () => {
    await assert.rejects(
      dedupStage({ artifactsRoot: roots[4]!, input, params: { numPerm: 128, bands: 32, rows: 8 }, seed: 1 }),
      failureMatching(ErrorType.InvalidConfig, /dedup\.numPerm/, /32 \* 8 = 256/),
    );
    assert.throws(() => resolveDedupParams({ threshold: 2 }), /dedup\.threshold/);
  });
});

describe('dedup keeps the best-ranked file of each cluster, across partitions', () => {
  const corpus = writeDedupCorpus(tmpDir(), 8, 3);
  const families = 8;
  const [rootA, rootB] = [fileUri(tmpDir()), fileUri(tmpDir())];
  let result: StageResult;
  let unverified: StageResult;

  before(async () => {
    result = await dedupStage({ artifactsRoot: rootA, input: corpus.input, params: {}, seed: 5 });
    unverified = await dedupStage({ artifactsRoot: rootB, input: corpus.input, params: { verify: false }, seed: 5 });
  });

  it('keeps the permissive copy with the most stars, then drops the other near copies', () => {
    const kept = new Set(rowsOf(result).map(key));
    for (let f = 0; f < families; f++) {
      const k = (v: string) => kept.has(`org${f}/${v}:src/f${f}_${v}.py`);
      // orig (MIT, f % 3 stars), copy (10 stars; GPL when f is odd), edit1 (one line changed, MIT, 5 stars)
      if (f % 2 === 0) assert.deepEqual([k('orig'), k('copy'), k('edit1')], [false, true, false], `family ${f}`);
      else assert.deepEqual([k('orig'), k('copy'), k('edit1')], [false, false, true], `family ${f}`);
      assert.ok(k('other'), `family ${f}: an unrelated file is kept`);
    }
    // "x = 1" has fewer than 5 tokens: no signature, but exact dedup keeps one (smallest path).
    assert.ok(kept.has('org0/short:src/f0_short.py'));
    assert.ok(!kept.has('org4/short:src/f4_short.py'));
    const s = result.stats as Record<string, number>;
    assert.equal(s.exact_duplicates, families + 1);
    assert.equal(s.kept, s.rows_in! - s.exact_duplicates! - s.near_duplicates!);
  });

  it('finds 30% rewrites only when their exact Jaccard reaches the threshold', () => {
    const kept = new Set(rowsOf(result).map(key));
    const all = corpus.rows.flat();
    for (let f = 0; f < families; f++) {
      const orig = all.find((r) => r.max_stars_repo_name === `org${f}/orig`)!.content!;
      const edit = all.find((r) => r.max_stars_repo_name === `org${f}/edit30`)!.content!;
      const j = exactJaccard(new TextEncoder().encode(orig), new TextEncoder().encode(edit), 5);
      if (j < 0.55) assert.ok(kept.has(`org${f}/edit30:src/f${f}_edit30.py`), `family ${f}: Jaccard ${j.toFixed(2)} is kept`);
      if (j > 0.85) assert.ok(!kept.has(`org${f}/edit30:src/f${f}_edit30.py`), `family ${f}: Jaccard ${j.toFixed(2)} is dropped`);
    }
  });

  it('without verification keeps every candidate pair', () => {
    const s = unverified.stats as Record<string, number>;
    assert.equal(s.verified_pairs, s.candidate_pairs);
    assert.ok((result.stats.verified_pairs as number) <= (result.stats.candidate_pairs as number));
    assert.ok(s.kept! <= (result.stats.kept as number));
  });

  it('writes _DETAILS.json with cluster sizes and the largest clusters', () => {
    const details = JSON.parse(readFileSync(join(fileUriToPath(result.dir), '_DETAILS.json'), 'utf8'));
    const s = result.stats as Record<string, number>;
    assert.equal(details.exact_duplicates, s.exact_duplicates);
    assert.equal(details.near_duplicates, s.near_duplicates);
    const sizes = Object.entries(details.cluster_sizes as Record<string, number>);
    assert.equal(sizes.reduce((a, [, c]) => a + c, 0), s.duplicate_clusters);
    assert.ok(s.clusters! <= s.duplicate_clusters!);
    assert.equal(sizes.reduce((a, [size, c]) => a + (Number(size) - 1) * c, 0), s.exact_duplicates! + s.near_duplicates!);
    assert.ok(details.largest_clusters.length <= 10 && details.largest_clusters[0].removed.length <= 5);
  });
});

describe('dedup steps and bad input', () => {
  const corpus = writeDedupCorpus(tmpDir(), 3, 2);
  const [rootA, rootB, rootC] = [fileUri(tmpDir()), fileUri(tmpDir()), fileUri(tmpDir())];

  it('a finished step is memoized: a retry returns its summary without reading the input again', async () => {
    const { plan } = await planDedup(store, { artifactsRoot: rootA, input: corpus.input, seed: 1 });
    assert.ok(plan);
    const first = await signPartition(store, plan, 0);
    assert.equal(first.rows, corpus.rows[0]!.length);
    const path = fileUriToPath(corpus.input.outputs[0]!);
    renameSync(path, path + '.moved');
    try {
      assert.deepEqual(await signPartition(store, plan, 0), first);
    } finally {
      renameSync(path + '.moved', path);
    }
  });

  it('verify(p) reads its own near candidates only, not every reducer\'s edges', async () => {
    const { plan } = await planDedup(store, { artifactsRoot: fileUri(tmpDir()), input: corpus.input, seed: 1, reducers: 3 });
    assert.ok(plan);
    for (let p = 0; p < plan.partitions.length; p++) await signPartition(store, plan, p);
    for (let k = 0; k < plan.reducers; k++) await bucketReducer(store, plan, k);
    const files = workFiles(plan.work);
    let checked = 0;
    for (let p = 0; p < plan.partitions.length; p++) {
      const read: string[] = [];
      const watched: ArtifactStore = Object.create(store, { readBytes: { value: (uri: string) => (read.push(uri), store.readBytes(uri)) } });
      const summary = await verifyPartition(watched, plan, p);
      assert.deepEqual(read.filter((u) => /\/edges-\d+\.bin$/.test(u)), [], 'no reducer-wide edge file');
      // Every near candidate of p, each pair once, however many reducers found it.
      const mine = new Set<string>();
      for (let k = 0; k < plan.reducers; k++) {
        const e = u32Of(readFileSync(fileUriToPath(files.edges(k))));
        for (let i = 0; i < e.length; i += 5) if (e[i] === p && e[i + 4] === 0) mine.add(Array.from(e.subarray(i, i + 4)).join());
      }
      assert.equal(summary.checked, mine.size, `partition ${p}`);
      checked += summary.checked;
    }
    assert.ok(checked > 0, 'the corpus has near candidates');
  });

  it('fails non-retryably, naming the file and the columns, on a partition without The Stack\'s schema', async () => {
    const bad = writeDedupCorpus(tmpDir(), 2, 2);
    writeFileSync(fileUriToPath(bad.input.outputs[1]!), writeParquetTable(tableFromArrays({ content: ['x = 1'] })));
    await assert.rejects(
      dedupStage({ artifactsRoot: rootB, input: bad.input, seed: 1 }),
      failureMatching(ErrorType.SchemaMismatch, /part-00001\.parquet/, /max_stars_repo_path/),
    );
  });

  it('an empty partition is counted and gives no output file', async () => {
    const withEmpty = writeDedupCorpus(tmpDir(), 2, 3);
    writeRows(fileUriToPath(withEmpty.input.outputs[2]!), []);
    const r = await dedupStage({ artifactsRoot: rootC, input: withEmpty.input, seed: 1 });
    assert.equal(r.stats.files_read, 3);
    assert.equal(r.stats.rows_in, withEmpty.rows[0]!.length + withEmpty.rows[1]!.length);
    assert.ok(!r.outputs.some((u) => u.endsWith('part-00002.parquet')));
  });
});
