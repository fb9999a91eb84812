/**
 * dedup's first step: the stage's fingerprint and folder (a committed manifest ends the stage
 * here), its partitions (the input's Parquet files sorted by URI) and its reducer count. The
 * plan travels to every later step; a document is (partition, row).
 */
import { ErrorType, fatal } from '../../contracts/errors.js';
import { joinUri, openStage, type StageResult } from '../../lib/manifest.js';
import type { ArtifactStore } from '../../lib/storage/types.js';
import { parquetOutputs } from '../support/stageIo.js';
import { resolveDedupParams, type DedupParams } from './params.js';

export interface DedupInput {
  artifactsRoot: string;
  /** The clean stage's result. */
  input: StageResult;
  params?: Partial<DedupParams>;
  /** Seeds the MinHash permutations. */
  seed: number;
  /** Band-bucket reducers; default from the input's row count. Never changes the result. */
  reducers?: number;
}

export interface DedupPlan {
  dir: string;
  fingerprint: string;
  inputDir: string;
  inputs: unknown[];
  params: DedupParams;
  seed: number;
  partitions: string[];
  reducers: number;
  /** Folder of the intermediate files. */
  work: string;
}

export type DedupStart = { done: StageResult; plan?: undefined } | { plan: DedupPlan; done?: undefined };

/** Band-key records (16 bytes each) a reducer should hold at most, when the count is automatic. */
const RECORDS_PER_REDUCER = 4_000_000;

export async function planDedup(store: ArtifactStore, input: DedupInput): Promise<DedupStart> {
  const params = resolveDedupParams(input.params);
  if (!Number.isInteger(input.seed) || input.seed < 0) throw fatal(ErrorType.InvalidConfig, `Expected seed to be a non-negative integer, got ${input.seed}.`);
  const stageParams = { ...params, seed: input.seed };
  const inputs = [{ stage: input.input.stage, fingerprint: input.input.fingerprint }];
  const { fingerprint, dir, reused } = await openStage(store, input.artifactsRoot, { stage: 'dedup', params: stageParams, inputs });
  if (reused) return { done: reused };
  const partitions = parquetOutputs(input.input);
  const reducers = resolveReducers(input, params, partitions.length);
  return { plan: { dir, fingerprint, inputDir: input.input.dir, inputs, params, seed: input.seed, partitions, reducers, work: joinUri(dir, '_work', `r${reducers}`) } };
}

/** The requested reducer count, checked; or one from the input's row count (one band-key record per band, plus the exact one). */
function resolveReducers(input: DedupInput, params: DedupParams, partitions: number): number {
  const reducers = input.reducers;
  if (reducers !== undefined && !(Number.isInteger(reducers) && reducers >= 1 && reducers <= 4096)) {
    throw fatal(ErrorType.InvalidConfig, `Expected the dedup reducer count to be an integer in 1..4096, got ${reducers}.`);
  }
  if (reducers !== undefined) return reducers;
  const s = input.input.stats;
  const rows = typeof s.kept === 'number' ? s.kept : typeof s.rows_out === 'number' ? s.rows_out : partitions * 100_000;
  return Math.max(1, Math.min(256, Math.ceil((rows * (params.bands + 1)) / RECORDS_PER_REDUCER)));
}
