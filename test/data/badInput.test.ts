// Bad input (issue 3 §6), fed to the stage functions (ingest, then clean and dedup on its output)
// and to `kiln ingest`: corrupt Parquet, a missing column, non-UTF-8 bytes, an empty file, one
// 50 MB document, a file that is all one line. Each gives a counted outcome (skipped with a
// reason) or a non-retryable error naming the file; never a crash or a lost partition.
// Fixtures are generated here, in temporary folders.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Binary, Field, List, Table, Utf8, vectorFromArray } from 'apache-arrow';
import { Compression, Table as WasmTable, writeParquet, WriterPropertiesBuilder } from 'parquet-wasm';
import { tableToIPC } from 'apache-arrow';
import { cleanStage } from '../../activities/clean/index.js';
import { dedupStage } from '../../activities/dedup/index.js';
import { ingestStage, type IngestInput } from '../../activities/ingest/index.js';
import type { StageResult } from '../../lib/manifest.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { rowsToTable, tableToRows } from '../../lib/stackSchema.js';
import { fileUri, fileUriToPath } from '../../lib/storage/index.js';
import { stackRow, tmpDir, writeRows } from './fixtures.js';
import { failureMatching } from '../support/failures.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const GOOD = `def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n`;

function details(r: StageResult): { per_language: Record<string, { rows: number }>; skipped: { uri: string; reason: string }[] } {
  return JSON.parse(readFileSync(join(fileUriToPath(r.dir), '_DETAILS.json'), 'utf8'));
}

/** ingest -> clean -> dedup, called directly; returns the three results. */
async function throughStages(source: string, extra: Partial<IngestInput> = {}) {
  const root = fileUri(tmpDir());
  const ingest = await ingestStage({ artifactsRoot: root, source, languages: [], maxRowsPerLanguage: null, ...extra });
  const clean = await cleanStage({ artifactsRoot: root, input: ingest });
  const dedup = await dedupStage({ artifactsRoot: root, input: clean, seed: 1 });
  return { ingest, clean, dedup };
}


/** A Stack file whose `content` holds non-UTF-8 bytes in a string column (written uncompressed, then patched). */
function stringColumnWithBadUtf8(path: string): void {
  const table = rowsToTable([stackRow(GOOD), stackRow('x = "MARKER_TO_BREAK"\n'), stackRow(GOOD)]);
  const props = new WriterPropertiesBuilder().setCompression(Compression.UNCOMPRESSED).setDictionaryEnabled(false).build();
  const bytes = Buffer.from(writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props));
  let at = bytes.indexOf('MARKER_TO_BREAK');
  assert.ok(at > 0);
  for (; at >= 0; at = bytes.indexOf('MARKER_TO_BREAK', at + 1)) bytes[at] = 0xff;
  writeFileSync(path, bytes);
}

/** Older column names, `content` as binary: one row valid UTF-8, one not. */
function binaryContentWithBadUtf8(path: string): void {
  const enc = new TextEncoder();
  const table = new Table({
    content: vectorFromArray([enc.encode(GOOD), Uint8Array.from([0x70, 0x72, 0xff, 0xfe, 0x0a])], new Binary()),
    lang: vectorFromArray(['Python', 'Python'], new Utf8()),
    repository_name: vectorFromArray(['octo/a', 'octo/b'], new Utf8()),
    path: vectorFromArray(['a.py', 'b.py'], new Utf8()),
    licenses: vectorFromArray([['MIT'], ['MIT']], new List(new Field('item', new Utf8(), true))),
  });
  writeFileSync(path, writeParquetTable(table));
}

describe('bad input through ingest, clean and dedup', () => {
  it('corrupt Parquet (garbage and a truncated file) is skipped and listed; with onBadFile "fail" the error names it', async () => {
    const dir = tmpDir();
    writeRows(join(dir, 'a-good.parquet'), [stackRow(GOOD)]);
    writeFileSync(join(dir, 'b-garbage.parquet'), 'PAR1 this is not Parquet PAR1');
    const good = readFileSync(join(dir, 'a-good.parquet'));
    writeFileSync(join(dir, 'c-truncated.parquet'), good.subarray(0, good.length - 40));
    const { ingest, clean, dedup } = await throughStages(fileUri(dir));
    assert.equal(ingest.stats.files_skipped, 2);
    assert.equal(ingest.stats.rows_out, 1);
    assert.deepEqual(details(ingest).skipped.map((s) => s.uri.replace(/.*\//, '')), ['b-garbage.parquet', 'c-truncated.parquet']);
    assert.ok(details(ingest).skipped.every((s) => /cannot read .* as Parquet/.test(s.reason)));
    assert.equal(clean.stats.rows_in, 1);
    assert.ok(dedup.outputs.length >= 1);
    await assert.rejects(
      ingestStage({ artifactsRoot: fileUri(tmpDir()), source: fileUri(dir), languages: [], maxRowsPerLanguage: null, onBadFile: 'fail' }),
      failureMatching('KilnInvalidInput', /b-garbage\.parquet/, /cannot read/),
    );
  });

  it('a dataset where every file is bad fails with the reasons, not an empty success', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'x.parquet'), 'not parquet');
    writeFileSync(join(dir, 'y.parquet'), writeParquetTable(new Table({ lang: vectorFromArray(['Python'], new Utf8()) })));
    await assert.rejects(
      ingestStage({ artifactsRoot: fileUri(tmpDir()), source: fileUri(dir), languages: [], maxRowsPerLanguage: null }),
      failureMatching('KilnInvalidInput', /no rows with a language/, /2 of 2 file\(s\) skipped as unreadable/),
    );
  });

  it('a missing column skips the file with the column named', async () => {
    const dir = tmpDir();
    writeRows(join(dir, 'a.parquet'), [stackRow(GOOD)]);
    const noContent = new Table({ lang: vectorFromArray(['Python'], new Utf8()), path: vectorFromArray(['x.py'], new Utf8()) });
    writeFileSync(join(dir, 'b-no-content.parquet'), writeParquetTable(noContent));
    const { ingest, dedup } = await throughStages(fileUri(dir));
    assert.equal(ingest.stats.files_skipped, 1);
    assert.match(details(ingest).skipped[0]!.reason, /b-no-content\.parquet is not in The Stack's schema: missing column\(s\) .*content/);
    assert.ok(dedup.outputs.length >= 1);
  });

  it('non-UTF-8 bytes: binary content rows are dropped and counted; an undecodable string row group is skipped and counted', async () => {
    const dir = tmpDir();
    binaryContentWithBadUtf8(join(dir, 'a-binary.parquet'));
    stringColumnWithBadUtf8(join(dir, 'b-string.parquet'));
    writeRows(join(dir, 'c-good.parquet'), [stackRow(GOOD, { max_stars_repo_path: 'c.py' })]);
    const { ingest, clean, dedup } = await throughStages(fileUri(dir));
    assert.equal(ingest.stats.rows_invalid_utf8, 1);
    assert.equal(ingest.stats.row_groups_skipped, 1);
    assert.equal(ingest.stats.rows_in_skipped_row_groups, 3);
    assert.equal(ingest.stats.rows_out, 2); // a-binary's valid row + c-good
    const skipped = details(ingest).skipped;
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!.reason, /cannot decode row group 0 of .*b-string\.parquet \(3 rows\)/);
    const rows = tableToRows(readParquetTable(readFileSync(fileUriToPath(ingest.outputs[0]!)), 'x'));
    assert.deepEqual(rows.map((r) => [r.max_stars_repo_name, r.max_stars_repo_path]), [['octo/a', 'a.py'], ['octo/repo', 'c.py']]);
    assert.ok(clean.outputs.length >= 1 && dedup.outputs.length >= 1);
  });

  it('an empty file (0 rows) is counted and listed; the other partitions go on', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'a-empty.parquet'), writeParquetTable(rowsToTable([])));
    writeRows(join(dir, 'b.parquet'), [stackRow(GOOD)]);
    const { ingest, dedup } = await throughStages(fileUri(dir));
    assert.equal(ingest.stats.files_empty, 1);
    assert.equal(ingest.stats.rows_out, 1);
    assert.match(details(ingest).skipped[0]!.reason, /empty: the file holds 0 rows/);
    assert.ok(dedup.outputs.length >= 1);
    // Only empty files: an error that says so, not an empty dataset.
    const onlyEmpty = tmpDir();
    writeFileSync(join(onlyEmpty, 'e.parquet'), writeParquetTable(rowsToTable([])));
    await assert.rejects(
      ingestStage({ artifactsRoot: fileUri(tmpDir()), source: fileUri(onlyEmpty), languages: [], maxRowsPerLanguage: null }),
      failureMatching('KilnInvalidInput', /1 file\(s\) empty/),
    );
  });

  it('one 50 MB document: dropped and counted by default (maxDocumentBytes); with no limit it goes through clean and dedup', async () => {
    const dir = tmpDir();
    const line = 'total = total + compute_value(index, scale)\n';
    const big = line.repeat(Math.ceil((50 * 1024 * 1024) / line.length));
    writeRows(join(dir, 'a.parquet'), [stackRow(big, { max_stars_repo_path: 'big.py' }), stackRow(GOOD)]);
    const root = fileUri(tmpDir());
    const capped = await ingestStage({ artifactsRoot: root, source: fileUri(dir), languages: [], maxRowsPerLanguage: null });
    assert.equal(capped.stats.rows_too_large, 1);
    assert.equal(capped.stats.rows_out, 1);
    const { ingest, clean, dedup } = await throughStages(fileUri(dir), { maxDocumentBytes: null });
    assert.equal(ingest.stats.rows_out, 2);
    assert.ok(clean.outputs.length >= 1);
    assert.ok(dedup.outputs.length >= 1);
  });

  it('a file that is all one line goes through ingest and is dropped by clean with its reason', async () => {
    const dir = tmpDir();
    writeRows(join(dir, 'a.parquet'), [stackRow(`var a=[${'1,'.repeat(1_000_000)}1];`, { max_stars_repo_path: 'min.js' }), stackRow(GOOD)]);
    const { ingest, clean, dedup } = await throughStages(fileUri(dir));
    assert.equal(ingest.stats.rows_out, 2);
    assert.equal(clean.stats.dropped, 1);
    const reasons = clean.stats.drop_reasons as Record<string, number>;
    assert.equal((reasons.minified ?? 0) + (reasons.max_line_length ?? 0), 1, JSON.stringify(reasons));
    assert.ok(dedup.outputs.length >= 1);
  });
});

describe('bad input through kiln ingest', () => {
  const dir = tmpDir();
  writeRows(join(dir, 'a-good.parquet'), [stackRow(GOOD)]);
  writeFileSync(join(dir, 'b-garbage.parquet'), 'PAR1 nope PAR1');
  writeFileSync(join(dir, 'c-empty.parquet'), writeParquetTable(rowsToTable([])));
  const kiln = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'ingest', ...args], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });

  it('skips and reports bad files, exit 0', () => {
    const r = kiln(['--source', join(dir, '*.parquet'), '--out', tmpDir()]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /dropped: 1 file\(s\) skipped as unreadable, 1 empty file\(s\) \(reasons in .*_DETAILS\.json\)/);
  });

  it('with --on-bad-file fail, exits 1 naming the file', () => {
    const r = kiln(['--source', dir, '--out', tmpDir(), '--on-bad-file', 'fail']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /kiln ingest: cannot read .*b-garbage\.parquet as Parquet/);
  });
});
