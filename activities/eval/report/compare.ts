/**
 * Two evaluated models side by side: per-language pass@k of a candidate against a baseline (the
 * deployed model, say), and the gate the deploy stage applies to it. Pure: callers read the two
 * metrics.json files (readEvalMetrics in gate.ts). The model rollout reuses compareEvalMetrics.
 */

/** The part of an eval's metrics.json a comparison reads. Old (Python-only) metrics have only `passAtK`. */
export interface ComparableMetrics {
  passAtK?: Record<string, number>;
  languages?: Record<string, { passAtK: Record<string, number>; problems?: number }>;
}

export interface LanguageDelta {
  language: string;
  metric: string;
  baseline: number;
  candidate: number;
  /** candidate - baseline, in percentage points. */
  deltaPoints: number;
}

export interface EvalComparison {
  deltas: LanguageDelta[];
  /** Languages (or metrics) only one side has: not compared. */
  onlyBaseline: string[];
  onlyCandidate: string[];
}

/** pass@k per language; metrics from before multi-language eval count as Python. */
export function passAtKByLanguage(metrics: ComparableMetrics): Record<string, Record<string, number>> {
  if (metrics.languages && Object.keys(metrics.languages).length > 0) {
    return Object.fromEntries(Object.entries(metrics.languages).map(([lang, m]) => [lang, m.passAtK ?? {}]));
  }
  return metrics.passAtK ? { python: metrics.passAtK } : {};
}

/** Per-language, per-metric deltas of the candidate against the baseline, languages in name order. */
export function compareEvalMetrics(baseline: ComparableMetrics, candidate: ComparableMetrics): EvalComparison {
  const before = passAtKByLanguage(baseline);
  const after = passAtKByLanguage(candidate);
  const deltas: LanguageDelta[] = [];
  const onlyBaseline: string[] = [];
  const onlyCandidate: string[] = [];
  for (const language of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const b = before[language];
    const a = after[language];
    if (!a) {
      onlyBaseline.push(language);
      continue;
    }
    if (!b) {
      onlyCandidate.push(language);
      continue;
    }
    for (const metric of Object.keys(b).filter((m) => m in a).sort((x, y) => Number(x.slice(5)) - Number(y.slice(5)))) {
      deltas.push({ language, metric, baseline: b[metric]!, candidate: a[metric]!, deltaPoints: round2((a[metric]! - b[metric]!) * 100) });
    }
  }
  return { deltas, onlyBaseline, onlyCandidate };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export interface GateVerdict {
  passed: boolean;
  maxDropPoints: number;
  /** Deltas that drop more than the limit (the reasons the gate fails). */
  violations: LanguageDelta[];
  comparison: EvalComparison;
}

/** The gate: no language's pass@k may drop more than `maxDropPoints` percentage points. */
export function applyEvalGate(comparison: EvalComparison, maxDropPoints: number): GateVerdict {
  const violations = comparison.deltas.filter((d) => -d.deltaPoints > maxDropPoints + 1e-9);
  return { passed: violations.length === 0, maxDropPoints, violations, comparison };
}

/** One sentence a person can act on: which language, before and after, and the limit. */
export function describeGateFailure(verdict: GateVerdict): string {
  const parts = verdict.violations.map(
    (v) => `${v.language} ${v.metric} ${(v.baseline * 100).toFixed(1)}% -> ${(v.candidate * 100).toFixed(1)}% (${v.deltaPoints.toFixed(1)} points)`,
  );
  return `Eval gate: ${parts.join('; ')}: more than the ${verdict.maxDropPoints} points allowed by eval.gate.maxDropPoints below the baseline. Fix the model, or raise the limit or change eval.gate.baseline in the config.`;
}
