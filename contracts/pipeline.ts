// What llmPipeline returns: read by `kiln run`'s summary and by tests.
import type { TrainingRunResult } from './training.js';

export interface PipelineResult {
  name: string;
  artifacts: Record<string, string>;
  stats: Record<string, unknown>;
  train: TrainingRunResult;
  eval: { passAtK: Record<string, number>; problems: number; samplesUri: string; resultsUri: string };
  deployment: { endpoint: string; model: string; modelVersion: string; recordUri: string; sampleCompletion: string; latencyMs: number };
  /** Reports to read: `data` is the data report's HTML page (or `dataError` why there is none). */
  reports: Record<string, string>;
}
