// Shapes of the ingest stage: its input, its plan, and what each part records for the commit.
import type { ManifestFile } from '../../lib/manifest.js';
import type { HttpStore } from '../../lib/storage/httpStore.js';
import type { SourceFile } from '../../lib/storage/sources.js';
import type { StageDeps } from '../support/stageIo.js';
import type { PartLimits } from './partitions.js';

export type OnBadFile = 'skip' | 'fail';

export interface IngestInput {
  artifactsRoot: string;
  /** Where the Parquet files are: see lib/storage/sources.ts (file://, s3://, https://, hf://; folders and globs). */
  source: string;
  /** `lang` values to keep, case-insensitive; empty keeps every language. */
  languages: string[];
  /** First rows (in source order) kept per language; null for all. */
  maxRowsPerLanguage: number | null;
  /** Not used: ingest takes rows in source order, so the seed takes no part in its output. */
  seed?: number;
  /** A file that cannot be read: "skip" (count it, list it in _DETAILS.json) or "fail". Default "skip". */
  onBadFile?: OnBadFile;
  /** Documents with more content bytes are dropped and counted; null keeps all. Default 10 MiB. */
  maxDocumentBytes?: number | null;
  /** Source bytes per part (consecutive small files share one; a bigger file is alone). Default 256 MiB. */
  bytesPerPart?: number;
}

export interface IngestProgress {
  filesRead: number;
  files: number;
  rowsIn: number;
  rowsOut: number;
  file?: string;
}

export interface IngestDeps extends StageDeps {
  /** Part-file limits of ingest (tests use small ones); defaults PART_MAX_ROWS, PART_MAX_CONTENT_BYTES. */
  partLimits?: PartLimits;
  /** The HTTP client for https:// and hf:// sources (tests pass short retry delays). */
  http?: HttpStore;
  /** Called as ingest advances (the CLI draws a progress bar). */
  onIngestProgress?: (p: IngestProgress) => void;
}

export interface IngestOptions {
  onBadFile: OnBadFile;
  maxDocumentBytes: number | null;
  languages: string[];
  maxRowsPerLanguage: number | null;
  partLimits: PartLimits;
}

/** The stage opened and not yet committed: one part per source file. */
export interface IngestPlan {
  artifactsRoot: string;
  source: string;
  stage: string;
  fingerprint: string;
  dir: string;
  params: unknown;
  inputs: unknown[];
  options: IngestOptions;
  files: SourceFile[];
  parts: PartSpec[];
}

/**
 * What one part reads: files[files[0]] .. files[files[1] - 1], or, for one file bigger than a
 * part, its row groups rowGroups[0] .. rowGroups[1] - 1.
 */
export interface PartSpec {
  files: [number, number];
  rowGroups?: [number, number];
}

/** One language of one part: its rows and the part files they were written to. */
export interface FilePartition {
  lang: string;
  folder: string;
  rowsIn: number;
  rowsOut: number;
  contentBytes: number;
  /** Source files that gave this language at least one row. */
  sourceFiles: string[];
  /** Under `_work/`, in order; the commit moves them to their final names. */
  parts: (ManifestFile & { contentBytes: number })[];
}

/** What a part records in `_work/p-NNNNN.json`: the commit adds these up. */
export interface PartResult {
  index: number;
  files: number;
  filesRead: number;
  filesSkipped: number;
  filesEmpty: number;
  bytesRead: number;
  rowsIn: number;
  rowsWithoutLang: number;
  rowsInvalidUtf8: number;
  rowsTooLarge: number;
  rowGroupsSkipped: number;
  rowsInSkippedRowGroups: number;
  /** Every `lang` value seen, with its row count (for the error when a language is missing). */
  present: Record<string, number>;
  /** Skipped files and row groups with their reasons (URIs without query strings). */
  skipped: { uri: string; reason: string }[];
  /** The first bad-input failure of this part, rethrown when the stage has one file. */
  badInput?: { type: string; message: string; details?: unknown };
  partitions: FilePartition[];
}

/** What the workflow carries between plan, parts and commit: where the plan is, not the plan. */
export interface IngestPlanRef {
  dir: string;
  planUri: string;
}

/** What a part returns to the workflow: counts only (the record stays in the store). */
export interface IngestPartSummary {
  index: number;
  rowsIn: number;
  rowsOut: number;
  /** For the worker's throughput metrics (lib/observability/workDone.ts). */
  bytesRead?: number;
}
