// The one shape of a stage spread over activities: plan -> part(i) -> commit. The plan activity
// opens the stage (its committed result when one exists), each part is memoized by its inputs, and
// the commit adds the parts up and writes the manifest. workflows/fanOut.ts drives it.
import type { StageResult } from '../lib/manifest.js';

/** What a plan activity returns: the stage's committed result, or a plan with `parts` parts to run. */
export type StagePlan<P> = { done: StageResult } | { plan: P; parts: number };
