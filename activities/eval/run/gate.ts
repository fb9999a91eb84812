/**
 * The eval gate before deploy (data worker): the candidate's metrics.json against the baseline's
 * (`eval.gate.baseline`: a metrics.json, or an eval stage folder holding one). A drop beyond the
 * limit fails non-retryably, naming the language, before and after, and the limit.
 */
import { ErrorType, fatal } from '../../../contracts/errors.js';
import { joinUri } from '../../../lib/manifest.js';
import type { ArtifactStore } from '../../../lib/storage/index.js';
import { defaultStore, type StageDeps } from '../../support/stageIo.js';
import { applyEvalGate, compareEvalMetrics, describeGateFailure, type ComparableMetrics, type GateVerdict } from '../report/compare.js';

/** The metrics.json at `uri`, or in the folder `uri` names. */
export async function readEvalMetrics(store: ArtifactStore, uri: string): Promise<ComparableMetrics> {
  const file = /\.json$/i.test(uri) ? uri : joinUri(uri, 'metrics.json');
  if (!(await store.exists(file))) throw fatal(ErrorType.NotFound, `No eval metrics at ${file}: eval.gate.baseline must name a metrics.json or an eval stage folder holding one.`);
  try {
    return JSON.parse(new TextDecoder().decode(await store.readBytes(file))) as ComparableMetrics;
  } catch (error) {
    throw fatal(ErrorType.InvalidInput, `${file} is not valid JSON (${(error as Error).message}).`);
  }
}

export async function evalGate(input: { metricsUri: string; baseline: string; maxDropPoints: number }, deps?: StageDeps): Promise<GateVerdict> {
  const store = await defaultStore(deps);
  const verdict = applyEvalGate(compareEvalMetrics(await readEvalMetrics(store, input.baseline), await readEvalMetrics(store, input.metricsUri)), input.maxDropPoints);
  if (!verdict.passed) throw fatal(ErrorType.EvalGateFailed, describeGateFailure(verdict), { violations: verdict.violations, baseline: input.baseline });
  return verdict;
}
