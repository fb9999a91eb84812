/**
 * ingest: Parquet in The Stack's schema (or its older column names) from local files, folders and
 * globs, S3 prefixes, https URLs or the Hugging Face hub (lib/storage/sources.ts) -> one partition
 * per language, `lang=<folder>/part-NNNNN.parquet`, exactly The Stack's schema, zstd.
 *
 * Source files are read row group by row group and parts are written row group by row group, so
 * memory follows the row group, not the file (remote files are spooled to local disk first).
 *
 * Spread over workers as plan -> part(i) -> commit (contracts/fanOut.ts): each part (a run of
 * source files up to `bytesPerPart`, or a row-group range of one bigger local file) writes its
 * rows under `_work/`; the commit adds the counts up and moves the files into place.
 *
 * Bad input: a file that is not Parquet, lacks a required column, or has a row group that cannot be
 * decoded is skipped and counted (`onBadFile: "skip"`, the default: one broken file of a thousand
 * should not stop a run) or fails the stage naming the file (`"fail"`). Skipped files are listed in
 * `_DETAILS.json` with their reason. Rows whose binary content is not UTF-8 and documents over
 * `maxDocumentBytes` are dropped and counted. A source with no usable row, or without a requested
 * language, fails with the reasons. The fingerprint covers each file's URI, size and content id
 * (hub files) - not content hashes: the source may be a multi-terabyte dataset.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_ON_BAD_FILE, DEFAULTS } from '../../lib/config/defaults.js';
import type { StagePlan } from '../../contracts/fanOut.js';
import { commitStage, joinUri, openStage, type StageResult } from '../../lib/manifest.js';
import { ParquetRowGroups } from '../../lib/parquetRowGroups.js';
import { fileUriToPath } from '../../lib/storage/fileStore.js';
import { listSourceFiles, type SourceFile } from '../../lib/storage/sources.js';
import { withHeartbeat } from '../support/heartbeat.js';
import { defaultStore, memoized } from '../support/stageIo.js';
import { commitIngest } from './commit.js';
import { PartIngest, partWorkDir } from './readPart.js';
import type { IngestDeps, IngestInput, IngestProgress, IngestOptions, IngestPartSummary, IngestPlan, IngestPlanRef, PartResult, PartSpec } from './types.js';

export type { IngestDeps, IngestInput, IngestPlan, IngestPlanRef, IngestProgress, OnBadFile } from './types.js';

/** A partition is split into a new part file past either limit. */
export const PART_MAX_ROWS = 50_000;
export const PART_MAX_CONTENT_BYTES = 64 * 1024 * 1024;
/** Source bytes per part: consecutive small files share a part, a bigger file is a part of its own. */
export const DEFAULT_BYTES_PER_PART = DEFAULTS.ingest.bytesPerPart;
const STAGE = 'ingest';

function resolveOptions(input: IngestInput, deps: IngestDeps | undefined): IngestOptions {
  const onBadFile = input.onBadFile ?? DEFAULT_ON_BAD_FILE;
  if (onBadFile !== 'skip' && onBadFile !== 'fail') {
    throw fatal(ErrorType.InvalidConfig, `Expected ingest.onBadFile to be "skip" or "fail", got ${JSON.stringify(onBadFile)}.`);
  }
  const maxDocumentBytes = input.maxDocumentBytes === undefined ? DEFAULT_MAX_DOCUMENT_BYTES : input.maxDocumentBytes;
  if (maxDocumentBytes !== null && !(Number.isInteger(maxDocumentBytes) && maxDocumentBytes >= 1)) {
    throw fatal(ErrorType.InvalidConfig, `Expected ingest.maxDocumentBytes to be a positive integer or null, got ${JSON.stringify(maxDocumentBytes)}.`);
  }
  const partLimits = deps?.partLimits ?? { rows: PART_MAX_ROWS, contentBytes: PART_MAX_CONTENT_BYTES };
  return { onBadFile, maxDocumentBytes, languages: input.languages, maxRowsPerLanguage: input.maxRowsPerLanguage, partLimits };
}

/** Lists the source files and opens the stage: its committed result, or the plan of its parts. */
export async function ingestPlan(input: IngestInput, deps?: IngestDeps): Promise<StagePlan<IngestPlanRef>> {
  const store = await defaultStore(deps);
  const options = resolveOptions(input, deps);
  const files = await listSourceFiles(store, input.source, deps?.http);
  const bytesPerPart = input.bytesPerPart ?? DEFAULT_BYTES_PER_PART;
  if (!(Number.isInteger(bytesPerPart) && bytesPerPart >= 1)) {
    throw fatal(ErrorType.InvalidConfig, `Expected ingest.bytesPerPart to be a positive integer, got ${JSON.stringify(bytesPerPart)}.`);
  }
  // Non-default part limits change the file layout, so they take part in the fingerprint.
  const params = {
    languages: input.languages,
    maxRowsPerLanguage: input.maxRowsPerLanguage,
    onBadFile: options.onBadFile,
    maxDocumentBytes: options.maxDocumentBytes,
    ...(deps?.partLimits ? { partLimits: deps.partLimits } : {}),
    ...(bytesPerPart !== DEFAULT_BYTES_PER_PART ? { bytesPerPart } : {}),
  };
  const inputs = [{ source: input.source, files: files.map((f) => ({ uri: f.uri, size: f.size, ...(f.version ? { version: f.version } : {}) })) }];
  const opened = await openStage(store, input.artifactsRoot, { stage: STAGE, params, inputs });
  if (opened.reused) return { done: opened.reused };
  const { reused: _, ...identity } = opened;
  // The plan (every file's URI) stays in the store: payloads carry its reference, not the list.
  const parts = await planParts(files, bytesPerPart);
  const plan: IngestPlan = { ...identity, artifactsRoot: input.artifactsRoot, source: input.source, options, files, parts };
  const ref: IngestPlanRef = { dir: opened.dir, planUri: joinUri(opened.dir, '_work', 'plan.json') };
  await store.writeBytes(ref.planUri, JSON.stringify(plan));
  return { plan: ref, parts: parts.length };
}

/**
 * Consecutive files into parts of at most `budget` bytes. A local file bigger than that is split
 * by row-group ranges of about `budget` bytes each (sizes estimated from its rows per row group;
 * the footer is read here); a remote one stays one part (splitting it would download it once per
 * part: the stores read whole objects).
 */
export async function planParts(files: SourceFile[], budget: number): Promise<PartSpec[]> {
  const parts: PartSpec[] = [];
  let start = 0;
  let bytes = 0;
  const flush = (end: number) => {
    if (end > start) parts.push({ files: [start, end] });
    start = end;
    bytes = 0;
  };
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const slices = file.size > budget ? await rowGroupSlices(file, budget) : undefined;
    if (slices) {
      flush(i);
      for (const rowGroups of slices) parts.push({ files: [i, i + 1], rowGroups });
      start = i + 1;
      continue;
    }
    if (i > start && bytes + file.size > budget) flush(i);
    bytes += file.size;
  }
  flush(files.length);
  return parts;
}

/** Row-group ranges of a big local file, or undefined (remote, unreadable, or one row group). */
async function rowGroupSlices(file: SourceFile, budget: number): Promise<[number, number][] | undefined> {
  if (!file.fetch.startsWith('file://')) return undefined;
  let rows: number[];
  try {
    const reader = await ParquetRowGroups.open(fileUriToPath(file.fetch), file.uri);
    rows = reader.rowGroupRows;
    await reader.close();
  } catch {
    return undefined; // the part reads it whole and applies ingest.onBadFile
  }
  const total = rows.reduce((a, b) => a + b, 0);
  if (rows.length < 2 || total === 0) return undefined;
  const slices: [number, number][] = [];
  let from = 0;
  let acc = 0;
  rows.forEach((n, g) => {
    acc += (file.size * n) / total;
    if (acc >= budget && g + 1 < rows.length) {
      slices.push([from, g + 1]);
      from = g + 1;
      acc = 0;
    }
  });
  slices.push([from, rows.length]);
  return slices.length > 1 ? slices : undefined;
}

async function readPlan(ref: IngestPlanRef, deps?: IngestDeps): Promise<IngestPlan> {
  const store = await defaultStore(deps);
  return JSON.parse(new TextDecoder().decode(await store.readBytes(ref.planUri))) as IngestPlan;
}

function recordUri(dir: string, index: number): string {
  return `${partWorkDir(dir, index)}.json`;
}

async function readPartOnce(plan: IngestPlan, index: number, deps?: IngestDeps, onFile?: (uri: string, soFar: PartResult) => void): Promise<PartResult> {
  const store = await defaultStore(deps);
  const spec = plan.parts[index];
  if (!spec) throw fatal(ErrorType.InvalidInput, `ingest: part ${index} is not in the plan (${plan.parts.length} parts)`);
  return memoized(store, recordUri(plan.dir, index), () => {
    const reader = new PartIngest(store, plan.dir, index, plan.files.slice(...spec.files), plan.options, deps?.http, onFile, spec.rowGroups);
    return withHeartbeat(
      () => reader.run(),
      // The same progress shape as `kiln ingest` reports, for this part's files.
      (): IngestProgress => ({ filesRead: reader.result.filesRead, files: reader.result.files, rowsIn: reader.result.rowsIn, rowsOut: reader.rowsOut(), ...(reader.current() ? { file: reader.current() } : {}) }),
    );
  });
}

/** One source file: its rows written under `_work/`, its counts recorded. Idempotent. */
export async function ingestPart(ref: IngestPlanRef, index: number, deps?: IngestDeps): Promise<IngestPartSummary> {
  const r = await readPartOnce(await readPlan(ref, deps), index, deps);
  return { index, rowsIn: r.rowsIn, rowsOut: r.partitions.reduce((n, p) => n + p.rowsOut, 0), bytesRead: r.bytesRead };
}

/** Adds the parts up, moves their files into place and writes the manifest. */
export async function ingestCommit(ref: IngestPlanRef, deps?: IngestDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const plan = await readPlan(ref, deps);
  const { artifactsRoot: _root, source: _source, options: _options, files: _files, parts: _parts, ...identity } = plan;
  const results = await Promise.all(plan.parts.map((_, i) => store.readBytes(recordUri(plan.dir, i)).then((b) => JSON.parse(new TextDecoder().decode(b)) as PartResult)));
  let moved = 0;
  const work = await withHeartbeat(
    () => commitIngest(store, plan, results, (n) => (moved = n)),
    () => ({ partsMoved: moved }),
  );
  return commitStage(store, identity, work);
}

/** The whole stage in one process (`kiln ingest`, benchmarks): the same plan, parts and commit. */
export async function ingestStage(input: IngestInput, deps?: IngestDeps): Promise<StageResult> {
  const opened = await ingestPlan(input, deps);
  if ('done' in opened) return opened.done;
  const ref = opened.plan;
  const plan = await readPlan(ref, deps);
  let filesRead = 0;
  let rowsIn = 0;
  let rowsOut = 0;
  const progress = (file?: string, soFar?: PartResult) =>
    deps?.onIngestProgress?.({ filesRead: filesRead + (soFar?.filesRead ?? 0), files: plan.files.length, rowsIn: rowsIn + (soFar?.rowsIn ?? 0), rowsOut, ...(file ? { file } : {}) });
  for (let i = 0; i < plan.parts.length; i++) {
    const part = await readPartOnce(plan, i, deps, progress);
    filesRead += part.filesRead;
    rowsIn += part.rowsIn;
    rowsOut += part.partitions.reduce((n, p) => n + p.rowsOut, 0);
    progress();
  }
  return ingestCommit(ref, deps);
}
