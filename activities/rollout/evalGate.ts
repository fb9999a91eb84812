/**
 * The eval gate before any traffic moves: the candidate's eval scores per language against
 * production's, from their registry records, through the multi-language eval's own comparison
 * (activities/eval/report/compare.ts, the deploy stage's gate): no language's pass@k may drop
 * more than `maxEvalDropPoints` percentage points.
 */
import { applyEvalGate, compareEvalMetrics, describeGateFailure, type LanguageDelta } from '../eval/report/compare.js';
import type { EvalScores } from '../../lib/registry/types.js';

export interface EvalGateResult {
  pass: boolean;
  reasons: string[];
  deltas: LanguageDelta[];
}

export function evalGate(candidate: EvalScores, production: EvalScores, maxDropPoints: number): EvalGateResult {
  const verdict = applyEvalGate(compareEvalMetrics(production, candidate), maxDropPoints);
  const { deltas, onlyBaseline } = verdict.comparison;
  const reasons: string[] = [];
  if (deltas.length === 0) reasons.push('no language has eval scores for both versions');
  if (onlyBaseline.length) reasons.push(`the candidate has no eval scores for ${onlyBaseline.join(', ')}, which production has`);
  if (!verdict.passed) reasons.push(describeGateFailure(verdict));
  const pass = reasons.length === 0;
  if (pass) {
    const list = deltas.map((d) => `${d.language} ${d.metric} ${(100 * d.baseline).toFixed(1)}% -> ${(100 * d.candidate).toFixed(1)}%`).join(', ');
    reasons.push(`no language drops more than ${maxDropPoints} points (${list})`);
  }
  return { pass, reasons, deltas };
}
