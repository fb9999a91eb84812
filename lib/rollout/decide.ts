/**
 * The rollout's decision rule: from one window of gateway figures (two /admin/stats snapshots
 * subtracted), promote the candidate to the next traffic step, hold (extend the window: not enough
 * data yet), or roll back. Pure and deterministic: the same figures always give the same decision.
 *
 * 1. Guardrails, on the candidate arm once it has `minRequests` requests: error rate above
 *    `maxErrorRate`, p95 latency above `maxP95LatencyMs` or above production's p95 times
 *    `maxP95Ratio` -> roll back.
 * 2. Acceptance (accepts / views) per language, candidate against production, pooled two-proportion
 *    z-test, one-sided each way, Holm-corrected over the languages tested so that testing five
 *    languages does not give five chances of a false alarm; a language is tested once both arms
 *    have `minViewsToTest` views. Any language significantly worse -> roll back, even before the
 *    other languages have data.
 * 3. Every language that is not `ignored` (fewer than `ignoreBelowViews` views in both arms) needs
 *    `minViews` views per arm, and the guardrails their `minRequests`: otherwise hold, at most
 *    `maxHolds` times, then roll back (a rollout that cannot measure is not promoted).
 * 4. Otherwise promote: no guardrail crossed and no language measurably worse.
 */
import type { GatewayStats, LanguageStats, VersionStats } from '../../contracts/gateway.js';
import { percentileFromBuckets } from '../../contracts/gateway.js';
import type { ArmFigures, LanguageComparison, RolloutDecision, RolloutThresholds } from '../../contracts/rollout.js';
import { holmReject, twoProportionZTest, wilsonInterval } from './stats.js';

export interface DecideInput {
  /** The window: later snapshot minus the step's first one (contracts/gateway.ts subtractStats). */
  window: GatewayStats;
  candidate: string;
  production: string;
  thresholds: RolloutThresholds;
  /** Windows this step has already been extended by. */
  holds: number;
}

function languageTotals(v: VersionStats | undefined): { views: number; accepts: number } {
  let views = 0;
  let accepts = 0;
  for (const l of Object.values(v?.byLanguage ?? {})) {
    views += l.views;
    accepts += l.accepts;
  }
  return { views, accepts };
}

/** One arm's figures: requests, error rate, latency percentiles, overall acceptance. */
export function armFigures(window: GatewayStats, version: string): ArmFigures {
  const v = window.versions[version];
  const requests = v?.requests ?? 0;
  const errors = v?.errors ?? 0;
  const { views, accepts } = languageTotals(v);
  const pct = (q: number) => (v ? percentileFromBuckets(v.latencyMsBuckets, q) : undefined);
  return {
    version,
    requests,
    errors,
    errorRate: requests > 0 ? errors / requests : 0,
    p50LatencyMs: pct(0.5),
    p95LatencyMs: pct(0.95),
    p99LatencyMs: pct(0.99),
    p95TtftMs: v ? percentileFromBuckets(v.ttftMsBuckets, 0.95) : undefined,
    views,
    accepts,
    acceptance: views > 0 ? accepts / views : undefined,
  };
}

function side(l: LanguageStats | undefined) {
  const views = l?.views ?? 0;
  const accepts = l?.accepts ?? 0;
  return { views, accepts, rate: views > 0 ? accepts / views : undefined, ...wilsonInterval(accepts, views) };
}

/** Acceptance per language, candidate against production, with Holm-corrected verdicts. */
export function compareLanguages(window: GatewayStats, candidate: string, production: string, t: RolloutThresholds): LanguageComparison[] {
  const c = window.versions[candidate]?.byLanguage ?? {};
  const p = window.versions[production]?.byLanguage ?? {};
  const languages = [...new Set([...Object.keys(c), ...Object.keys(p)])].sort();
  const rows: LanguageComparison[] = languages.map((language) => ({
    language,
    candidate: side(c[language]),
    production: side(p[language]),
    verdict: 'not-enough-data',
  }));
  const tested: LanguageComparison[] = [];
  for (const row of rows) {
    if (Math.max(row.candidate.views, row.production.views) < t.ignoreBelowViews) {
      row.verdict = 'ignored';
      continue;
    }
    // Below this the normal approximation misleads (a 0/4 against 31/43 is not evidence enough).
    if (Math.min(row.candidate.views, row.production.views) < t.minViewsToTest) continue;
    const test = twoProportionZTest(row.candidate.accepts, row.candidate.views, row.production.accepts, row.production.views);
    Object.assign(row, { diff: test.diff, z: test.z, pWorse: test.pWorse, pBetter: test.pBetter });
    tested.push(row);
  }
  const worse = holmReject(tested.map((r) => r.pWorse!), t.alpha);
  const better = holmReject(tested.map((r) => r.pBetter!), t.alpha);
  tested.forEach((row, i) => {
    const enough = row.candidate.views >= t.minViews && row.production.views >= t.minViews;
    if (worse[i]) row.verdict = 'worse';
    else if (!enough) row.verdict = 'not-enough-data';
    else row.verdict = better[i] ? 'better' : 'no-difference';
  });
  return rows;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ms = (x: number | undefined) => (x === undefined ? 'n/a' : `${Math.round(x)} ms`);

export function decideStep(input: DecideInput): RolloutDecision {
  const { window, candidate, production, thresholds: t, holds } = input;
  const cand = armFigures(window, candidate);
  const prod = armFigures(window, production);
  const languages = compareLanguages(window, candidate, production, t);
  const rollback: string[] = [];
  const short: string[] = [];

  if (cand.requests < t.minRequests) {
    short.push(`the candidate served ${cand.requests} request(s), fewer than the ${t.minRequests} its error rate and latency need`);
  } else {
    if (cand.errorRate > t.maxErrorRate) rollback.push(`candidate error rate ${pct(cand.errorRate)} is above the limit of ${pct(t.maxErrorRate)}`);
    if (cand.p95LatencyMs !== undefined && cand.p95LatencyMs > t.maxP95LatencyMs) {
      rollback.push(`candidate p95 latency ${ms(cand.p95LatencyMs)} is above the limit of ${ms(t.maxP95LatencyMs)}`);
    }
    if (cand.p95LatencyMs !== undefined && prod.p95LatencyMs !== undefined && prod.requests >= t.minRequests && cand.p95LatencyMs > prod.p95LatencyMs * t.maxP95Ratio) {
      rollback.push(`candidate p95 latency ${ms(cand.p95LatencyMs)} is more than ${t.maxP95Ratio}x production's ${ms(prod.p95LatencyMs)}`);
    }
  }
  for (const l of languages) {
    if (l.verdict === 'worse') {
      rollback.push(
        `${l.language}: acceptance ${pct(l.candidate.rate!)} (${l.candidate.accepts}/${l.candidate.views}) is significantly below production's ${pct(l.production.rate!)} (${l.production.accepts}/${l.production.views}), one-sided p = ${l.pWorse!.toPrecision(2)}, Holm-corrected over ${languages.filter((x) => x.pWorse !== undefined).length} language(s) at alpha ${t.alpha}`,
      );
    } else if (l.verdict === 'not-enough-data') {
      short.push(`${l.language}: ${l.candidate.views} candidate and ${l.production.views} production view(s), fewer than ${t.minViews} per arm`);
    }
  }
  const measured = languages.filter((l) => l.verdict === 'better' || l.verdict === 'no-difference');
  if (measured.length === 0 && !languages.some((l) => l.verdict === 'not-enough-data')) short.push('no language has enough views yet');

  const decision = (action: RolloutDecision['action'], reasons: string[]): RolloutDecision => ({ action, reasons, candidate: cand, production: prod, languages });
  if (rollback.length > 0) return decision('rollback', rollback);
  if (short.length > 0) {
    if (holds >= t.maxHolds) return decision('rollback', [`not enough data after ${holds} extended window(s): ${short.join('; ')}`]);
    return decision('hold', short);
  }
  const better = measured.filter((l) => l.verdict === 'better').map((l) => l.language);
  return decision('promote', [
    `error rate ${pct(cand.errorRate)} and p95 latency ${ms(cand.p95LatencyMs)} within limits (production p95 ${ms(prod.p95LatencyMs)})`,
    `no language significantly worse (${measured.length} measured)` + (better.length ? `; significantly better in ${better.join(', ')}` : ''),
  ]);
}
