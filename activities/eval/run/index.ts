/** The eval stage's activities (plan.ts explains the shape). */
export { evalCommit } from './commit.js';
export { evalGate, readEvalMetrics } from './gate.js';
export { executePart, generatePart } from './parts.js';
export { evalPlan, type EvalPlan, type EvalPlanInput } from './plan.js';
