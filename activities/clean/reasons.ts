/**
 * What a clean filter is (datatrove-style): a function of one document that keeps it or names the
 * reason it drops it. DROP_REASONS is the fixed order the filters run in; the first that drops a
 * file names the reason (cheap and certain first, the tree-sitter parse last):
 *   vendored_path, auto_generated, generated_path, minified,          (what the file is)
 *   xml_header, max_line_length, avg_line_length, alphanum_fraction,  (StarCoder's quality
 *   alphabetic_fraction, size_window, html_visible_text,               filters, per extension)
 *   decontaminated, syntax_error                                       (benchmarks, parse)
 */
import type { BenchmarkIndex } from './decontaminate.js';
import type { CleanParams } from './params.js';
import type { SyntaxChecker } from './syntax.js';
import type { CleanDoc } from './textStats.js';

export const DROP_REASONS = [
  'vendored_path',
  'auto_generated',
  'generated_path',
  'minified',
  'xml_header',
  'max_line_length',
  'avg_line_length',
  'alphanum_fraction',
  'alphabetic_fraction',
  'size_window',
  'html_visible_text',
  'decontaminated',
  'syntax_error',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type Verdict = 'keep' | DropReason;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
/** configs/schema.json's clean.disabledFilters lists exactly these names (else this does not compile). */
const _schemaListsEveryFilter: Same<DropReason, CleanParams['disabledFilters'][number]> = true;

/** What the filters that need more than the document use; absent parts switch their filter off. */
export interface FilterContext {
  syntax?: SyntaxChecker;
  benchmarks?: BenchmarkIndex;
  /** When present, each filter's time (ms, by name) is added here: what each filter costs. */
  timings?: Record<string, number>;
}

export type Filter = (doc: CleanDoc, params: CleanParams, ctx: FilterContext) => Verdict;
