/**
 * clean: the filters of filters.ts in their fixed order (first match drops the file), then PII
 * redaction of the kept documents. One output file per input file (same relative path, so the
 * `lang=` partitions stay), The Stack's schema kept. The stats columns (avg_line_length,
 * max_line_length, alphanum_fraction) and `size` are recomputed from the final content: inputs
 * may carry wrong or null values. `hexsha` keeps the source blob id (provenance), even when
 * redaction changed the content. Counts per filter and language go to the manifest stats;
 * samples of what each filter removed go to `_DETAILS.json` in the stage folder.
 *
 * The steps, one module each: params.ts (the settings), rows.ts (filters and redaction of rows),
 * plan.ts, part.ts and commit.ts (the stage spread over activities, as the pipeline runs it),
 * stage.ts (the whole stage in one activity, as `kiln clean` runs it).
 */
export { cleanCommit, commitClean, mergeCleanParts } from './commit.js';
export { createFilterContext } from './context.js';
export { cleanCountsStats, emptyCleanCounts, type CleanCounts } from './details.js';
export { resolveCleanParams, type CleanParams } from './params.js';
export { cleanFile, cleanPart } from './part.js';
export { cleanPlan, type CleanInput, type CleanPartResult, type CleanPlan } from './plan.js';
export { cleanRows } from './rows.js';
export { cleanStage } from './stage.js';
