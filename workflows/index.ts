export { llmPipeline } from './pipeline.js';
export { trainingRun } from './training.js';
export { dedupWorkflow } from './dedup.js';
export { modelRollout } from './rollout.js';
