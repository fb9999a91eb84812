/**
 * clean: the filters of filters.ts in their fixed order (first match drops the file), then PII
 * redaction of the kept documents. One output file per input file (same relative path, so the
 * `lang=` partitions stay), The Stack's schema kept. The stats columns (avg_line_length,
 * max_line_length, alphanum_fraction) and `size` are recomputed from the final content: inputs
 * may carry wrong or null values. `hexsha` keeps the source blob id (provenance), even when
 * redaction changed the content. Counts per filter and language go to the manifest stats;
 * samples of what each filter removed go to `_DETAILS.json` in the stage folder.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { commitStage, describeBytes, DETAILS_NAME, joinUri, openStage, type ManifestFile, type OpenedStage, type StageIdentity, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { readParquetTable, writeParquetTable } from '../../lib/parquet.js';
import { assertStackSchema, rowsToTable, tableToRows, type StackRow } from '../../lib/stackSchema.js';
import { defaultStore, memoized, parquetOutputs, relativeTo, type StageDeps } from '../support/stageIo.js';
import { withHeartbeat, yieldToEventLoop } from '../support/heartbeat.js';
import { buildBenchmarkIndex, loadBenchmark, type LoadedBenchmark } from './decontaminate.js';
import { addCleanCounts, addCounts, cleanCountsStats, cleanDetails, emptyCleanCounts, languageCounts, recordDrop, type CleanCounts } from './details.js';
import {
  applyFilters,
  computeLineStats,
  DEFAULT_CLEAN_PARAMS,
  DROP_REASONS,
  enabledFilters,
  toCleanDoc,
  type CleanParams,
  type DropReason,
  type FilterContext,
  type LineStats,
  type QualityThresholds,
} from './filters.js';
import { redactPii, type PiiType } from './redact.js';
import { SyntaxChecker, type SyntaxLanguageCounts } from './syntax.js';

export { cleanCountsStats, emptyCleanCounts, type CleanCounts } from './details.js';

const YIELD_EVERY_ROWS = 500;

export interface CleanInput {
  artifactsRoot: string;
  /** The ingest stage's result. */
  input: StageResult;
  /** The config's clean section; missing fields take their defaults. */
  params?: Partial<CleanParams>;
}

type FieldCheck = (value: unknown) => string | null; // null: fine; else what was expected

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const number = (min: number, max = Infinity, integer = false): FieldCheck => (v) =>
  isNum(v) && v >= min && v <= max && (!integer || Number.isInteger(v))
    ? null
    : `${integer ? 'an integer' : 'a number'}${max === Infinity ? ` >= ${min}` : ` in [${min}, ${max}]`}`;
const nullable = (check: FieldCheck): FieldCheck => (v) => (v === null ? null : check(v) && `${check(v)} or null`);
const fraction = number(0, 1);
const stringList = (allowed?: readonly string[]): FieldCheck => (v) =>
  Array.isArray(v) && v.every((x) => typeof x === 'string' && (!allowed || allowed.includes(x)))
    ? null
    : `a list of ${allowed ? `names from ${allowed.join(', ')}` : 'strings'}`;

const THRESHOLD_CHECKS: Record<keyof QualityThresholds, FieldCheck> = {
  maxLineLength: nullable(number(1, Infinity, true)),
  maxAvgLineLength: nullable(number(0)),
  minAlphanumFraction: nullable(fraction),
  minAlphabeticFraction: nullable(fraction),
  minChars: nullable(number(0, Infinity, true)),
  maxChars: nullable(number(0, Infinity, true)),
};

function checkPerExtension(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'an object of extension -> thresholds';
  for (const [ext, t] of Object.entries(value)) {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return `an object for extension ${JSON.stringify(ext)}`;
    for (const [field, v] of Object.entries(t)) {
      const check = THRESHOLD_CHECKS[field as keyof QualityThresholds];
      if (!check) return `one of ${Object.keys(THRESHOLD_CHECKS).join(', ')} for .${ext} (got the field ${field})`;
      const problem = check(v);
      if (problem) return `${problem} for .${ext}.${field}`;
    }
  }
  return null;
}

const FIELD_CHECKS: Record<keyof CleanParams, FieldCheck> = {
  maxAvgLineLength: number(0),
  maxLineLength: number(1, Infinity, true),
  minAlphanumFraction: fraction,
  minAlphabeticFraction: nullable(fraction),
  perExtension: checkPerExtension,
  generatedMarkerLines: number(0, Infinity, true),
  vendoredDirs: stringList(),
  minifiedAvgLineLength: number(0),
  minifiedMaxWhitespaceFraction: fraction,
  xmlHeaderExemptExtensions: stringList(),
  htmlMinVisibleFraction: fraction,
  htmlMinVisibleChars: number(0, Infinity, true),
  decontaminationBenchmarks: stringList(),
  decontaminationNgram: number(1, 1000, true),
  decontaminationMinOverlap: number(Number.MIN_VALUE, 1),
  syntaxLanguages: stringList(),
  syntaxMaxBytes: number(0, Infinity, true),
  disabledFilters: stringList(DROP_REASONS),
  redactPii: (v) => (typeof v === 'boolean' ? null : 'a boolean'),
};

/** Fields resolved against the defaults; unknown or ill-typed fields fail with the field's name. */
export function resolveCleanParams(params: Partial<CleanParams> = {}): CleanParams {
  const out: CleanParams = { ...DEFAULT_CLEAN_PARAMS };
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const check = FIELD_CHECKS[key as keyof CleanParams];
    if (!check) throw fatal(ErrorType.InvalidConfig, `clean.${key} is not a clean setting.`);
    const problem = check(value);
    if (problem) throw fatal(ErrorType.InvalidConfig, `Expected clean.${key} to be ${problem}, got ${JSON.stringify(value)}.`);
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  // Extensions are matched in lower case, without the dot.
  const bareExtension = (ext: string) => ext.toLowerCase().replace(/^\./, '');
  out.perExtension = Object.fromEntries(Object.entries(out.perExtension).map(([ext, t]) => [bareExtension(ext), t]));
  out.xmlHeaderExemptExtensions = out.xmlHeaderExemptExtensions.map(bareExtension);
  return out;
}

/** Filters and redacts rows; counts what it keeps and drops, and why. */
export function cleanRows(rows: StackRow[], params: CleanParams, counts: CleanCounts, ctx: FilterContext = {}): StackRow[] {
  const kept: StackRow[] = [];
  for (const row of rows) {
    counts.rowsIn++;
    let content = row.content ?? '';
    const bytesIn = Buffer.byteLength(content, 'utf8');
    counts.contentBytesIn += bytesIn;
    const path = row.max_stars_repo_path ?? '';
    const lang = row.lang ?? '';
    const perLang = languageCounts(counts, lang);
    perLang.rows_in++;
    perLang.bytes_in += bytesIn;
    const statsStarted = ctx.timings ? performance.now() : 0;
    const doc = toCleanDoc(content, { path, ext: row.ext ?? undefined, lang, bytes: bytesIn });
    if (ctx.timings) ctx.timings.line_stats = (ctx.timings.line_stats ?? 0) + (performance.now() - statsStarted);
    const verdict = applyFilters(doc, params, ctx);
    if (verdict !== 'keep') {
      recordDrop(counts, verdict, { repo: row.max_stars_repo_name ?? '', path, lang, content, bytes: bytesIn }, detailOf(verdict, ctx));
      continue;
    }
    let stats: LineStats = doc.stats;
    if (params.redactPii) {
      const started = ctx.timings ? performance.now() : 0;
      const redacted = redactPii(content);
      if (ctx.timings) ctx.timings.redaction = (ctx.timings.redaction ?? 0) + (performance.now() - started);
      let any = false;
      for (const [type, n] of Object.entries(redacted.counts) as [PiiType, number][]) {
        counts.redactions[type] += n;
        if (n > 0) any = true;
      }
      if (any) {
        counts.documentsRedacted++;
        content = redacted.text;
        stats = computeLineStats(content);
      }
    }
    const size = content === row.content ? bytesIn : Buffer.byteLength(content, 'utf8');
    counts.contentBytesOut += size;
    counts.kept++;
    perLang.kept++;
    perLang.bytes_out += size;
    kept.push({
      ...row,
      content,
      size,
      avg_line_length: stats.avgLineLength,
      max_line_length: stats.maxLineLength,
      alphanum_fraction: stats.alphanumFraction,
    });
  }
  return kept;
}

function detailOf(reason: DropReason, ctx: FilterContext): string | undefined {
  if (reason === 'decontaminated' && ctx.benchmarks?.lastMatch) {
    const m = ctx.benchmarks.lastMatch;
    return `${m.benchmark} ${m.taskId} ${m.kind}, ${Math.round(m.overlap * 100)}% of its ${ctx.benchmarks.n}-grams`;
  }
  return undefined;
}

/** The decontamination benchmarks the params ask for (none when that filter is off). */
async function loadBenchmarks(params: CleanParams, store: ArtifactStore): Promise<LoadedBenchmark[]> {
  if (params.disabledFilters.includes('decontaminated') || params.decontaminationBenchmarks.length === 0) return [];
  return Promise.all(params.decontaminationBenchmarks.map((b) => loadBenchmark(b, store)));
}

/** The syntax checker and benchmark index the params ask for (loading grammars and benchmark files). */
export async function createFilterContext(params: CleanParams, store: ArtifactStore): Promise<{ ctx: FilterContext; benchmarks: LoadedBenchmark[] }> {
  const ctx: FilterContext = {};
  if (!params.disabledFilters.includes('syntax_error') && params.syntaxLanguages.length > 0) {
    ctx.syntax = await SyntaxChecker.create(params.syntaxLanguages, params.syntaxMaxBytes);
  }
  try {
    const benchmarks = await loadBenchmarks(params, store);
    if (benchmarks.length > 0) ctx.benchmarks = buildBenchmarkIndex(benchmarks, params.decontaminationNgram, params.decontaminationMinOverlap);
    return { ctx, benchmarks };
  } catch (err) {
    ctx.syntax?.dispose(); // the parsers live in WebAssembly memory, which no GC frees
    throw err;
  }
}

/** What a clean of one input file found (the part of the stage one activity does). */
export interface CleanPartResult {
  /** Index of the file in the plan. */
  index: number;
  output?: ManifestFile;
  counts: CleanCounts;
  syntax?: Record<string, SyntaxLanguageCounts>;
  decontamination?: Record<string, number>;
  timings: Record<string, number>;
  bytesRead: number;
  bytesWritten: number;
}

/** A clean spread over activities: one per input file, then a commit. */
export interface CleanPlan {
  stage: Omit<OpenedStage, 'reused'>;
  inputDir: string;
  files: string[];
  params: CleanParams;
}

/** Cleans one input file of the plan into the stage folder (same relative path); counts go to `counts`. */
async function cleanFile(
  store: ArtifactStore,
  plan: CleanPlan,
  uri: string,
  counts: CleanCounts,
  ctx: FilterContext,
): Promise<{ output?: ManifestFile; bytesRead: number; bytesWritten: number }> {
  const { params } = plan;
  const out = joinUri(plan.stage.dir, relativeTo(plan.inputDir, uri));
  const bytes = await store.readBytes(uri);
  const table = readParquetTable(bytes, uri);
  assertStackSchema(table, uri);
  const rows = tableToRows(table);
  const kept: StackRow[] = [];
  for (let i = 0; i < rows.length; i += YIELD_EVERY_ROWS) {
    kept.push(...cleanRows(rows.slice(i, i + YIELD_EVERY_ROWS), params, counts, ctx));
    await yieldToEventLoop(); // lets heartbeats and cancellation through
  }
  if (kept.length === 0) return { bytesRead: bytes.byteLength, bytesWritten: 0 };
  const data = writeParquetTable(rowsToTable(kept));
  await store.writeBytes(out, data);
  return { output: describeBytes(out, data, kept.length), bytesRead: bytes.byteLength, bytesWritten: data.byteLength };
}

/** The stage's identity: params, the benchmark files' digests (a changed one must not reuse a result), the input. */
function cleanIdentity(input: CleanInput, params: CleanParams, benchmarks: LoadedBenchmark[]): StageIdentity {
  const fingerprintParams = benchmarks.length > 0 ? { ...params, benchmarkSha256: Object.fromEntries(benchmarks.map((b) => [b.name, b.sha256])) } : params;
  return { stage: 'clean', params: fingerprintParams, inputs: [{ stage: input.input.stage, fingerprint: input.input.fingerprint }] };
}

/** Every file's counts added up, in file order (so samples are the same as one pass over all). */
export function mergeCleanParts(parts: readonly CleanPartResult[]): Omit<CleanPartResult, 'index' | 'output'> & { outputs: ManifestFile[] } {
  const total = { outputs: [] as ManifestFile[], counts: emptyCleanCounts(), timings: {} as Record<string, number>, bytesRead: 0, bytesWritten: 0 } as ReturnType<typeof mergeCleanParts>;
  for (const part of [...parts].sort((a, b) => a.index - b.index)) {
    if (part.output) total.outputs.push(part.output);
    addCleanCounts(total.counts, part.counts);
    if (part.syntax) {
      total.syntax ??= {};
      for (const [lang, n] of Object.entries(part.syntax)) {
        const into = (total.syntax[lang] ??= { checked: 0, failed: 0, skipped_too_large: 0 });
        addCounts(into, n);
      }
    }
    if (part.decontamination) addCounts((total.decontamination ??= {}), part.decontamination);
    addCounts(total.timings, part.timings);
    total.bytesRead += part.bytesRead;
    total.bytesWritten += part.bytesWritten;
  }
  return total;
}

/** Writes _DETAILS.json and the manifest from the added-up counts. */
async function commitClean(store: ArtifactStore, plan: CleanPlan, total: ReturnType<typeof mergeCleanParts>): Promise<StageResult> {
  const { counts } = total;
  if (counts.rowsIn > 0 && counts.kept === 0) {
    const reasons = Object.entries(counts.dropReasons).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`);
    throw fatal(
      ErrorType.InvalidInput,
      `clean dropped all ${counts.rowsIn} rows of ${plan.inputDir} (${reasons.join(', ')}): loosen the clean settings or check the input.`,
    );
  }
  await store.writeBytes(joinUri(plan.stage.dir, DETAILS_NAME), JSON.stringify(cleanDetails(counts, total.syntax, enabledFilters(plan.params)), null, 2) + '\n');
  return commitStage(store, plan.stage, {
    outputs: total.outputs,
    stats: {
      files_read: plan.files.length,
      ...cleanCountsStats(counts, total.syntax, total.decontamination),
      bytes_read: total.bytesRead,
      bytes_written: total.bytesWritten,
      // Seconds per step: line statistics, each filter (over the files that reached it), PII redaction.
      seconds_by_step: Object.fromEntries(Object.entries(total.timings).map(([k, ms]) => [k, Math.round(ms) / 1000])),
    },
  });
}

/** Opens the stage: its committed result, or the plan of a run (one part per input file). */
export async function cleanPlan(input: CleanInput, deps?: StageDeps): Promise<{ done: StageResult } | { plan: CleanPlan }> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  // Loading the benchmarks gives their digests, part of the stage's identity.
  const benchmarks = await loadBenchmarks(params, store);
  const { reused, ...stage } = await openStage(store, input.artifactsRoot, cleanIdentity(input, params, benchmarks));
  if (reused) return { done: reused };
  return { plan: { stage, inputDir: input.input.dir, files: parquetOutputs(input.input), params } };
}

/** Cleans the plan's file `index`; a finished part is recorded and not redone on a retry. */
export async function cleanPart(plan: CleanPlan, index: number, deps?: StageDeps): Promise<{ index: number; rowsIn: number; kept: number }> {
  const store = await defaultStore(deps);
  const result = await memoized(store, partMarker(plan, index), async (): Promise<CleanPartResult> => {
    const uri = plan.files[index]!;
    const { ctx } = await createFilterContext(plan.params, store);
    try {
      const counts = emptyCleanCounts();
      const timings: Record<string, number> = {};
      ctx.timings = timings;
      const done = await withHeartbeat(
        () => cleanFile(store, plan, uri, counts, ctx),
        () => ({ file: uri, rowsIn: counts.rowsIn, kept: counts.kept }),
      );
      return { index, ...done, counts, syntax: ctx.syntax?.counts, decontamination: ctx.benchmarks?.dropped, timings };
    } finally {
      ctx.syntax?.dispose();
    }
  });
  return { index, rowsIn: result.counts.rowsIn, kept: result.counts.kept };
}

/** Adds up the parts' counts, writes _DETAILS.json, commits the stage. */
export async function cleanCommit(plan: CleanPlan, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const parts: CleanPartResult[] = [];
  return withHeartbeat(
    async () => {
      for (let i = 0; i < plan.files.length; i++) parts.push(await readPartMarker(store, plan, i));
      return commitClean(store, plan, mergeCleanParts(parts));
    },
    () => ({ partsRead: parts.length, parts: plan.files.length }),
  );
}

function partMarker(plan: CleanPlan, index: number): string {
  return joinUri(plan.stage.dir, '_work', `part-${String(index).padStart(5, '0')}.json`);
}

async function readPartMarker(store: ArtifactStore, plan: CleanPlan, index: number): Promise<CleanPartResult> {
  const marker = partMarker(plan, index);
  if (!(await store.exists(marker))) throw fatal(ErrorType.NotFound, `clean commit: part ${index} (${plan.files[index]}) has not been cleaned (no ${marker}).`);
  return JSON.parse(new TextDecoder().decode(await store.readBytes(marker))) as CleanPartResult;
}

/**
 * The whole stage in one activity (`kiln clean`, benchmarks): one filter context for every file.
 * The pipeline fans out instead (cleanPlan, cleanPart per file, cleanCommit); both give the same
 * outputs and counts.
 */
export async function cleanStage(input: CleanInput, deps?: StageDeps): Promise<StageResult> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  const files = parquetOutputs(input.input);
  const { ctx, benchmarks } = await createFilterContext(params, store);
  try {
    const { reused, ...stage } = await openStage(store, input.artifactsRoot, cleanIdentity(input, params, benchmarks));
    if (reused) return reused;
    const plan: CleanPlan = { stage, inputDir: input.input.dir, files, params };
    const counts = emptyCleanCounts();
    const timings: Record<string, number> = {};
    ctx.timings = timings;
    const total = { outputs: [] as ManifestFile[], bytesRead: 0, bytesWritten: 0 };
    let filesDone = 0;
    await withHeartbeat(
      async () => {
        for (const uri of files) {
          const done = await cleanFile(store, plan, uri, counts, ctx);
          if (done.output) total.outputs.push(done.output);
          total.bytesRead += done.bytesRead;
          total.bytesWritten += done.bytesWritten;
          filesDone++;
        }
      },
      () => ({ filesDone, files: files.length, kept: counts.kept, dropped: counts.dropped }),
    );
    return await commitClean(store, plan, { ...total, counts, syntax: ctx.syntax?.counts, decontamination: ctx.benchmarks?.dropped, timings });
  } finally {
    ctx.syntax?.dispose();
  }
}
