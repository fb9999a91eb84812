// The rollout's statistics and decision rule, on hand-made windows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyVersionStats, type GatewayStats, type VersionStats } from '../../contracts/gateway.js';
import { ROLLOUT_DEFAULTS, type RolloutThresholds } from '../../contracts/rollout.js';
import { decideStep } from '../../lib/rollout/decide.js';
import { holmReject, normalCdf, normalQuantile, twoProportionZTest, wilsonInterval } from '../../lib/rollout/stats.js';

const T: RolloutThresholds = { ...ROLLOUT_DEFAULTS, minViews: 100, minRequests: 50 };

/** One arm: requests, errors, every latency in one bucket, views/accepts per language. */
function arm(opts: { requests: number; errors?: number; latencyLe?: number; langs: Record<string, [views: number, accepts: number]> }): VersionStats {
  const v = emptyVersionStats();
  v.requests = opts.requests;
  v.errors = opts.errors ?? 0;
  const answered = opts.requests - v.errors;
  for (const le of Object.keys(v.latencyMsBuckets)) {
    v.latencyMsBuckets[le] = le === '+Inf' || Number(le) >= (opts.latencyLe ?? 50) ? answered : 0;
  }
  for (const [lang, [views, accepts]] of Object.entries(opts.langs)) {
    v.byLanguage[lang] = { completions: views, views, accepts, rejects: views - accepts, acceptedChars: accepts * 10, acceptedLines: accepts };
  }
  return v;
}

function window(candidate: VersionStats, production: VersionStats): GatewayStats {
  return { startedAt: 0, now: 60_000, versions: { v2: candidate, v1: production } };
}

const decide = (w: GatewayStats, holds = 0, t = T) => decideStep({ window: w, candidate: 'v2', production: 'v1', thresholds: t, holds });

describe('rollout statistics', () => {
  it('normal CDF and quantile agree with tabulated values', () => {
    assert.ok(Math.abs(normalCdf(1.959963985) - 0.975) < 1e-6);
    assert.ok(Math.abs(normalCdf(-1) - 0.158655254) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963985) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.001) + 3.090232306) < 1e-6);
  });

  it('Wilson interval: known value and bounds kept inside [0, 1]', () => {
    const { low, high } = wilsonInterval(40, 100);
    assert.ok(Math.abs(low - 0.3094) < 1e-3 && Math.abs(high - 0.4980) < 1e-3, `${low} ${high}`);
    assert.deepEqual(wilsonInterval(0, 0), { low: 0, high: 1 });
    assert.equal(wilsonInterval(0, 20).low, 0);
    assert.ok(wilsonInterval(20, 20).high <= 1);
  });

  it('two-proportion z-test: sign and p-values', () => {
    const t = twoProportionZTest(30, 100, 50, 100);
    assert.ok(t.z < -2.8 && t.z > -2.9, String(t.z)); // pooled: -0.2 / sqrt(.4*.6*.02) = -2.887
    assert.ok(t.pWorse < 0.01 && t.pBetter > 0.99);
    assert.equal(twoProportionZTest(0, 50, 0, 50).pWorse, 1);
  });

  it('Holm rejects step-down and stops at the first failure', () => {
    assert.deepEqual(holmReject([0.01, 0.04, 0.03], 0.05), [true, false, false]); // 0.01 <= .05/3; 0.03 > .05/2
    assert.deepEqual(holmReject([0.001, 0.02, 0.04], 0.05), [true, true, true]);
    assert.deepEqual(holmReject([], 0.05), []);
  });
});

describe('decideStep', () => {
  it('promotes a candidate that is better and within the guardrails', () => {
    const d = decide(window(arm({ requests: 400, langs: { Python: [200, 120], Go: [200, 110] } }), arm({ requests: 400, langs: { Python: [200, 60], Go: [200, 64] } })));
    assert.equal(d.action, 'promote', d.reasons.join('; '));
    assert.deepEqual(d.languages.map((l) => [l.language, l.verdict]), [['Go', 'better'], ['Python', 'better']]);
    assert.match(d.reasons[1]!, /significantly better in Go, Python/);
  });

  it('rolls back when one language is significantly worse, naming it', () => {
    const d = decide(window(arm({ requests: 400, langs: { Python: [200, 30], Go: [200, 100] } }), arm({ requests: 400, langs: { Python: [200, 90], Go: [200, 100] } })));
    assert.equal(d.action, 'rollback');
    assert.equal(d.reasons.length, 1);
    assert.match(d.reasons[0]!, /^Python: acceptance 15\.0% \(30\/200\) is significantly below production's 45\.0%/);
    assert.deepEqual(d.languages.map((l) => l.verdict), ['no-difference', 'worse']);
  });

  it('a difference significant alone but not after Holm over many languages does not roll back', () => {
    // p ~ 0.03 one-sided for Python, four languages with no difference: Holm needs p <= 0.05/5.
    const same: [number, number] = [150, 60];
    const langs = { A: same, B: same, C: same, D: same };
    const d = decide(window(arm({ requests: 800, langs: { ...langs, Python: [150, 50] } }), arm({ requests: 800, langs: { ...langs, Python: [150, 66] } })));
    const py = d.languages.find((l) => l.language === 'Python')!;
    assert.ok(py.pWorse! < 0.05 && py.pWorse! > 0.01, String(py.pWorse));
    assert.equal(py.verdict, 'no-difference');
    assert.equal(d.action, 'promote');
  });

  it('rolls back on the error rate and on p95 latency, absolute and relative', () => {
    const langs = { Python: [150, 60] as [number, number] };
    const errors = decide(window(arm({ requests: 200, errors: 10, langs }), arm({ requests: 200, langs })));
    assert.equal(errors.action, 'rollback');
    assert.match(errors.reasons[0]!, /error rate 5\.0% is above the limit of 2\.0%/);
    const slow = decide(window(arm({ requests: 200, latencyLe: 3000, langs }), arm({ requests: 200, latencyLe: 50, langs })));
    assert.equal(slow.action, 'rollback');
    assert.match(slow.reasons.join('; '), /p95 latency \d+ ms is above the limit of 2000 ms/);
    assert.match(slow.reasons.join('; '), /more than 1\.5x production's/);
  });

  it('holds while data is short, then gives up after maxHolds', () => {
    const w = window(arm({ requests: 30, langs: { Python: [30, 15] } }), arm({ requests: 300, langs: { Python: [300, 140] } }));
    const first = decide(w, 0);
    assert.equal(first.action, 'hold');
    assert.match(first.reasons.join('; '), /served 30 request\(s\), fewer than the 50/);
    assert.match(first.reasons.join('; '), /Python: 30 candidate and 300 production view\(s\), fewer than 100 per arm/);
    const last = decide(w, T.maxHolds);
    assert.equal(last.action, 'rollback');
    assert.match(last.reasons[0]!, /^not enough data after 3 extended window\(s\)/);
  });

  it('ignores a language too rare to measure instead of waiting for it', () => {
    const d = decide(window(arm({ requests: 400, langs: { Python: [200, 90], Rust: [3, 0] } }), arm({ requests: 400, langs: { Python: [200, 88], Rust: [4, 3] } })));
    assert.equal(d.action, 'promote', d.reasons.join('; '));
    assert.equal(d.languages.find((l) => l.language === 'Rust')!.verdict, 'ignored');
  });

  it('does not test a language on a handful of views, however lopsided', () => {
    const d = decide(window(arm({ requests: 400, langs: { Python: [4, 0], Go: [200, 100] } }), arm({ requests: 400, langs: { Python: [43, 31], Go: [200, 100] } })));
    assert.equal(d.action, 'hold', d.reasons.join('; '));
    assert.equal(d.languages.find((l) => l.language === 'Python')!.pWorse, undefined);
  });

  it('holds on an empty window', () => {
    const d = decide({ startedAt: 0, now: 1, versions: {} });
    assert.equal(d.action, 'hold');
    assert.match(d.reasons.join('; '), /no language has enough views yet/);
  });

  it('is deterministic: the same window gives the same decision', () => {
    const w = window(arm({ requests: 400, langs: { Python: [200, 120] } }), arm({ requests: 400, langs: { Python: [200, 60] } }));
    assert.deepEqual(decide(w), decide(structuredClone(w)));
  });
});
