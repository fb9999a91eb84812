import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { Field, List, Struct, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { ingestStage } from '../../activities/ingest/index.js';
import type { StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { stackSchema, tableToRows } from '../../lib/stackSchema.js';
import { normalizeLicences } from '../../lib/stackSource.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { STACK_SAMPLE, STACK_SAMPLE_URI, stackRow, tmpDir, writeRows } from './fixtures.js';
import { failureMatching } from '../support/failures.js';


function readOutput(uri: string) {
  return readParquetTable(readFileSync(fileUriToPath(uri)), uri);
}

describe('ingestStage on the stack sample', () => {
  const root = fileUri(tmpDir());
  let result: StageResult;

  before(async () => {
    // The sample's root folder: README.md and licenses/*.txt are skipped, data/**/*.parquet read.
    result = await ingestStage({ artifactsRoot: root, source: STACK_SAMPLE_URI, languages: ['Python', 'Go'], maxRowsPerLanguage: null, seed: 1 });
  });

  it('keeps the rows of the requested languages, one partition each', () => {
    assert.equal(result.reused, false);
    assert.deepEqual(result.outputs, [
      `${result.dir}/lang=go/part-00000.parquet`,
      `${result.dir}/lang=python/part-00000.parquet`,
    ]);
    const perLanguage = result.stats.per_language as Record<string, { rows_in: number; rows_out: number }>;
    assert.deepEqual(perLanguage.Python, { rows_in: 1488, rows_out: 1488, parts: 1 });
    assert.deepEqual(perLanguage.Go, { rows_in: 3644, rows_out: 3644, parts: 1 });
    assert.equal(result.stats.rows_out, 1488 + 3644);
    assert.equal(result.stats.files_read, 49);
    assert.equal(result.stats.rows_in, 27854);
    assert.equal(readOutput(result.outputs[1]!).numRows, 1488);
  });

  it("writes The Stack's exact schema and keeps every value", () => {
    const table = readOutput(result.outputs[1]!);
    assert.deepEqual(
      table.schema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable}`),
      stackSchema.fields.map((f) => `${f.name}:${String(f.type)}:${f.nullable}`),
    );
    const source = join(STACK_SAMPLE, 'data/python/train-00000-of-00002.parquet');
    const first = tableToRows(readParquetTable(readFileSync(source), source), [0])[0]!;
    const out = tableToRows(table, [0])[0]!;
    assert.deepEqual(out, first);
    assert.equal(out.max_stars_count, null);
    assert.ok(Array.isArray(out.max_stars_repo_licenses));
  });

  it('returns the memoized result on a second run', async () => {
    const manifest = readFileSync(fileUriToPath(result.manifestUri), 'utf8');
    const again = await ingestStage({ artifactsRoot: root, source: STACK_SAMPLE_URI, languages: ['Python', 'Go'], maxRowsPerLanguage: null, seed: 1 });
    assert.equal(again.reused, true);
    assert.equal(again.fingerprint, result.fingerprint);
    assert.deepEqual(again.outputs, result.outputs);
    assert.equal(readFileSync(fileUriToPath(again.manifestUri), 'utf8'), manifest);
  });
});

describe('ingestStage options', () => {
  const root = fileUri(tmpDir());
  const pythonFile = fileUri(join(STACK_SAMPLE, 'data/python/train-00001-of-00002.parquet'));

  it('reads one file and matches languages case-insensitively', async () => {
    const r = await ingestStage({ artifactsRoot: root, source: pythonFile, languages: ['PYTHON'], maxRowsPerLanguage: null, seed: 1 });
    assert.equal(r.stats.rows_out, 710);
    assert.equal(r.stats.files_read, 1);
  });

  it('keeps the first N rows per language in source order', async () => {
    const r = await ingestStage({ artifactsRoot: root, source: pythonFile, languages: [], maxRowsPerLanguage: 10, seed: 1 });
    const rows = tableToRows(readOutput(r.outputs[0]!));
    const path = fileUriToPath(pythonFile);
    const firstTen = tableToRows(readParquetTable(readFileSync(path), path)).slice(0, 10);
    assert.deepEqual(rows.map((x) => x.hexsha), firstTen.map((x) => x.hexsha));
  });

  it('splits a partition into part files past the row limit', async () => {
    const r = await ingestStage(
      { artifactsRoot: root, source: pythonFile, languages: ['Python'], maxRowsPerLanguage: null, seed: 1 },
      { partLimits: { rows: 300, contentBytes: 1e12 } },
    );
    assert.deepEqual(
      r.outputs.map((u) => u.slice(r.dir.length + 1)),
      [0, 1, 2].map((i) => `lang=python/part-0000${i}.parquet`),
    );
    assert.deepEqual(r.outputs.map((u) => readOutput(u).numRows), [300, 300, 110]);
  });

  it('fails with the languages present when a language has no rows', async () => {
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: pythonFile, languages: ['Python', 'Klingon'], maxRowsPerLanguage: null, seed: 1 }),
      failureMatching('KilnInvalidInput', /no rows for languages \[Klingon\]/, /languages present: Python \(710\)/, /train-00001-of-00002\.parquet/),
    );
  });

  it('fails with NotFound when the source holds no Parquet file', async () => {
    const empty = tmpDir();
    writeFileSync(join(empty, 'notes.txt'), 'hello');
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: fileUri(empty), languages: [], maxRowsPerLanguage: null, seed: 1 }),
      failureMatching('KilnNotFound', /no Parquet files/),
    );
  });
});

describe('ingestStage on bad input', () => {
  const root = fileUri(tmpDir());

  it('with onBadFile "fail", names the missing and mistyped columns and the file', async () => {
    const dir = tmpDir();
    writeRows(join(dir, 'a-good.parquet'), [stackRow('print(1)\n')]);
    const utf8 = (v: string) => vectorFromArray([v], new Utf8());
    const bad = new Table({ hexsha: utf8('x'), size: utf8('12'), lang: utf8('Python') }); // size as string; no content...
    writeFileSync(join(dir, 'b-bad.parquet'), writeParquetTable(bad));
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: fileUri(dir), languages: [], maxRowsPerLanguage: null, seed: 1, onBadFile: 'fail' }),
      failureMatching(
        'KilnSchemaMismatch',
        /b-bad\.parquet/,
        /missing column\(s\) max_stars_repo_path \(or path\), max_stars_repo_name \(or repository_name, repo_name\), max_stars_repo_licenses \(or licenses, license\), content;/,
        /mistyped column\(s\) size \(expected int64, got Utf8\)/,
        /onBadFile/,
      ),
    );
  });

  it('by default skips such a file, counts it and lists it with its reason in _DETAILS.json', async () => {
    const dir = tmpDir();
    writeRows(join(dir, 'a-good.parquet'), [stackRow('print(1)\n')]);
    writeFileSync(join(dir, 'b-bad.parquet'), writeParquetTable(new Table({ lang: vectorFromArray(['Python'], new Utf8()) })));
    const r = await ingestStage({ artifactsRoot: root, source: fileUri(dir), languages: [], maxRowsPerLanguage: null, seed: 1 });
    assert.equal(r.stats.files_skipped, 1);
    assert.equal(r.stats.files_read, 1);
    assert.equal(r.stats.rows_out, 1);
    const details = JSON.parse(readFileSync(join(fileUriToPath(r.dir), '_DETAILS.json'), 'utf8'));
    assert.equal(details.skipped.length, 1);
    assert.match(details.skipped[0].uri, /b-bad\.parquet$/);
    assert.match(details.skipped[0].reason, /missing column\(s\) .*content/);
    assert.deepEqual(details.per_language.Python, { rows: 1, bytes: 9, files: 1, source_files: 1 });
  });

  it('with onBadFile "fail", fails with InvalidInput naming a file that is not Parquet', async () => {
    const dir = tmpDir();
    mkdirSync(join(dir, 'sub'));
    copyFileSync(join(STACK_SAMPLE, 'data/perl/train-00000-of-00001.parquet'), join(dir, 'a.parquet'));
    writeFileSync(join(dir, 'sub', 'corrupt.parquet'), 'PAR1 this is not really parquet PAR1');
    await assert.rejects(
      ingestStage({ artifactsRoot: root, source: fileUri(dir), languages: [], maxRowsPerLanguage: null, seed: 1, onBadFile: 'fail' }),
      failureMatching('KilnInvalidInput', /sub\/corrupt\.parquet/, /cannot read .* as Parquet/),
    );
  });
});

describe('ingestStage on older schemas of The Stack', () => {
  const root = fileUri(tmpDir());

  it('maps repository_name, path and licenses (also BigQuery {list:[{item}]}) and computes hexsha, size, ext', async () => {
    const dir = tmpDir();
    const utf8 = (v: string[]) => vectorFromArray(v, new Utf8());
    const item = new Struct([new Field('item', new Utf8(), true)]);
    const bigQueryList = new Struct([new Field('list', new List(new Field('element', item, true)), true)]);
    const table = new Table({
      content: utf8(['print(1)\n', 'x = 2\n']),
      lang: utf8(['Python', 'Python']),
      repository_name: utf8(['octo/old', 'octo/old2']),
      path: utf8(['src/a.py', 'lib/b.pyw']),
      licenses: vectorFromArray([{ list: [{ item: 'MIT' }, { item: 'Apache-2.0' }] }, { list: [] }], bigQueryList),
    });
    writeFileSync(join(dir, 'old.parquet'), writeParquetTable(table));
    const r = await ingestStage({ artifactsRoot: root, source: fileUri(dir), languages: [], maxRowsPerLanguage: null, seed: 1 });
    const rows = tableToRows(readOutput(r.outputs[0]!));
    assert.deepEqual(
      rows.map((x) => [x.max_stars_repo_name, x.max_stars_repo_path, x.max_stars_repo_licenses, x.max_forks_repo_name, x.ext, x.size]),
      [
        ['octo/old', 'src/a.py', ['MIT', 'Apache-2.0'], 'octo/old', 'py', 9],
        ['octo/old2', 'lib/b.pyw', [], 'octo/old2', 'pyw', 6],
      ],
    );
    // hexsha is the git blob id of the content, as in The Stack (`git hash-object`).
    assert.equal(rows[0]!.hexsha, createHash('sha1').update('blob 9\0print(1)\n').digest('hex'));
  });

  it('normalises every licence shape to list<string>', () => {
    assert.deepEqual(normalizeLicences({ list: [{ item: 'MIT' }, { item: null }, { item: 'BSD-3-Clause' }] }), ['MIT', 'BSD-3-Clause']);
    assert.deepEqual(normalizeLicences(['MIT']), ['MIT']);
    assert.deepEqual(normalizeLicences('GPL-3.0'), ['GPL-3.0']);
    assert.equal(normalizeLicences(null), null);
  });
});

describe('ingestStage sources: globs', () => {
  it('reads a file:// glob across folders, and only what matches', async () => {
    const r = await ingestStage({
      artifactsRoot: fileUri(tmpDir()),
      source: `${STACK_SAMPLE_URI}/data/{python,go}/train-00000-*.parquet`,
      languages: [],
      maxRowsPerLanguage: null,
      seed: 1,
    });
    assert.equal(r.stats.files_listed, 2);
    assert.deepEqual(Object.keys(r.stats.per_language as object), ['Go', 'Python']);
  });
});

describe('ingest as plan -> part(i) -> commit', () => {
  it('gives the same rows whether files share a part or each is a part, the language cap applied in source order', async () => {
    const dir = tmpDir();
    for (const f of [0, 1, 2]) {
      writeRows(join(dir, `src/f${f}.parquet`), [0, 1, 2, 3].map((r) => stackRow(`x = ${f * 10 + r}\n`, { max_stars_repo_path: `f${f}/r${r}.py` })));
    }
    const source = fileUri(join(dir, 'src'));
    const rowsOf = (r: StageResult) => r.outputs.flatMap((u) => tableToRows(readParquetTable(readFileSync(fileUriToPath(u)), u)).map((row) => row.max_stars_repo_path));
    const run = (bytesPerPart?: number) =>
      ingestStage({ artifactsRoot: fileUri(join(dir, `out-${bytesPerPart ?? 'default'}`)), source, languages: [], maxRowsPerLanguage: 6, ...(bytesPerPart ? { bytesPerPart } : {}) });
    const together = await run();
    const apart = await run(1); // every file a part of its own: the cap cuts file 1 and drops file 2
    const expected = ['f0/r0.py', 'f0/r1.py', 'f0/r2.py', 'f0/r3.py', 'f1/r0.py', 'f1/r1.py'];
    assert.deepEqual(rowsOf(together), expected);
    assert.deepEqual(rowsOf(apart), expected);
    assert.equal(apart.stats.rows_out, 6);
    assert.deepEqual((apart.stats.per_language as Record<string, unknown>).Python, { rows_in: 12, rows_out: 6, parts: 2 });
    // The files are moved into place: nothing of the parts is left under _work/ but their records.
    assert.ok(apart.outputs.every((u) => !u.includes('/_work/')));
  });
});

describe('ingest of a file bigger than a part', () => {
  it('splits it by row-group ranges over several parts, with the same rows as one part', async () => {
    const dir = tmpDir();
    const rows = Array.from({ length: 2500 }, (_, r) => stackRow(`y = ${r}\n`, { max_stars_repo_path: `big/r${r}.py` }));
    writeRows(join(dir, 'src/big.parquet'), rows); // 3 row groups of at most 1,000 rows
    writeRows(join(dir, 'src/small.parquet'), [stackRow('z = 1\n', { max_stars_repo_path: 'small/z.py' })]);
    const source = fileUri(join(dir, 'src'));
    const paths = (r: StageResult) => r.outputs.flatMap((u) => tableToRows(readParquetTable(readFileSync(fileUriToPath(u)), u)).map((row) => row.max_stars_repo_path));
    const run = (bytesPerPart?: number) =>
      ingestStage({ artifactsRoot: fileUri(join(dir, `out-${bytesPerPart ?? 'default'}`)), source, languages: [], maxRowsPerLanguage: null, ...(bytesPerPart ? { bytesPerPart } : {}) });
    const whole = await run();
    const size = statSync(join(dir, 'src/big.parquet')).size;
    const split = await run(Math.ceil(size / 3)); // the big file in 3 slices, the small one a part of its own
    const record = JSON.parse(readFileSync(join(fileUriToPath(split.dir), '_work', 'plan.json'), 'utf8')) as { parts: { files: number[]; rowGroups?: number[] }[] };
    assert.deepEqual(record.parts, [
      { files: [0, 1], rowGroups: [0, 1] },
      { files: [0, 1], rowGroups: [1, 2] },
      { files: [0, 1], rowGroups: [2, 3] },
      { files: [1, 2] },
    ]);
    assert.deepEqual(paths(split), paths(whole));
    assert.equal(paths(split).length, 2501);
    // The big file is counted once, however many parts read it.
    assert.equal(split.stats.files_read, 2);
    assert.equal(split.stats.bytes_read, whole.stats.bytes_read);
  });
});
