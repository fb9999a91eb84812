// What llmPipeline returns: read by `kiln run`'s summary and by tests.
import type { TrainingRunResult } from './training.js';

export interface PipelineResult {
  name: string;
  artifacts: Record<string, string>;
  stats: Record<string, unknown>;
  train: TrainingRunResult;
  eval: {
    passAtK: Record<string, number>;
    problems: number;
    samplesUri: string;
    resultsUri: string;
    /** Per language (multi-language eval): pass@k with its 95% bootstrap interval, failure classes. */
    languages?: Record<string, { problems: number; passAtK: Record<string, number>; intervals: Record<string, { low: number; high: number }>; failures: Record<string, number> }>;
    /** Single-line infilling, when eval.infilling is on: exact-match rate. */
    infilling?: { examples: number; exactMatch: number; interval: { low: number; high: number } };
    /** The eval's HTML report and metrics.json. */
    reportUri?: string;
    metricsUri?: string;
  };
  deployment: { endpoint: string; model: string; modelVersion: string; recordUri: string; sampleCompletion: string; latencyMs: number };
  /** Reports to read: `data` is the data report's HTML page (or `dataError` why there is none), `training` the training report, `eval` the eval report. */
  reports: Record<string, string>;
}
