/**
 * A clean spread over activities: cleanPlan opens the stage (or finds it committed), one cleanPart
 * per input file (part.ts), then cleanCommit (commit.ts). What the parts hand the commit lives in
 * the stage folder, one marker per part.
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import type { StagePlan } from '../../contracts/fanOut.js';
import { joinUri, openStage, type ManifestFile, type OpenedStage, type StageIdentity, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/index.js';
import { defaultStore, parquetOutputs, type StageDeps } from '../support/stageIo.js';
import { loadBenchmarks } from './context.js';
import type { LoadedBenchmark } from './decontaminate.js';
import type { CleanCounts } from './details.js';
import { resolveCleanParams, type CleanParams } from './params.js';
import type { SyntaxLanguageCounts } from './syntax.js';

export interface CleanInput {
  artifactsRoot: string;
  /** The ingest stage's result. */
  input: StageResult;
  /** The config's clean section; missing fields take their defaults. */
  params?: Partial<CleanParams>;
}

/** A clean spread over activities: one per input file, then a commit. */
export interface CleanPlan {
  stage: Omit<OpenedStage, 'reused'>;
  inputDir: string;
  files: string[];
  params: CleanParams;
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

/** The stage's identity: params, the benchmark files' digests (a changed one must not reuse a result), the input. */
export function cleanIdentity(input: CleanInput, params: CleanParams, benchmarks: LoadedBenchmark[]): StageIdentity {
  const fingerprintParams = benchmarks.length > 0 ? { ...params, benchmarkSha256: Object.fromEntries(benchmarks.map((b) => [b.name, b.sha256])) } : params;
  return { stage: 'clean', params: fingerprintParams, inputs: [{ stage: input.input.stage, fingerprint: input.input.fingerprint }] };
}

/** Opens the stage: its committed result, or the plan of a run (one part per input file). */
export async function cleanPlan(input: CleanInput, deps?: StageDeps): Promise<StagePlan<CleanPlan>> {
  const store = await defaultStore(deps);
  const params = resolveCleanParams(input.params);
  // Loading the benchmarks gives their digests, part of the stage's identity.
  const benchmarks = await loadBenchmarks(params, store);
  const { reused, ...stage } = await openStage(store, input.artifactsRoot, cleanIdentity(input, params, benchmarks));
  if (reused) return { done: reused };
  const files = parquetOutputs(input.input);
  return { plan: { stage, inputDir: input.input.dir, files, params }, parts: files.length };
}

/** Where part `index` records its result. */
export function partMarker(plan: CleanPlan, index: number): string {
  return joinUri(plan.stage.dir, '_work', `part-${String(index).padStart(5, '0')}.json`);
}

export async function readPartMarker(store: ArtifactStore, plan: CleanPlan, index: number): Promise<CleanPartResult> {
  const marker = partMarker(plan, index);
  if (!(await store.exists(marker))) throw fatal(ErrorType.NotFound, `clean commit: part ${index} (${plan.files[index]}) has not been cleaned (no ${marker}).`);
  return JSON.parse(new TextDecoder().decode(await store.readBytes(marker))) as CleanPartResult;
}
