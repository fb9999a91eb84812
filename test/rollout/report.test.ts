// The A/B report's page and JSON from a hand-made rollout: figures, intervals, decision, escaping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyVersionStats, type GatewayStats } from '../../contracts/gateway.js';
import { ROLLOUT_DEFAULTS, type RolloutStatus } from '../../contracts/rollout.js';
import { renderRolloutReport } from '../../activities/rollout/report.js';
import { decideStep } from '../../lib/rollout/decide.js';
import { formatStatus } from '../../cli/commands/rollout.js';

function stats(): GatewayStats {
  const v2 = emptyVersionStats();
  const v1 = emptyVersionStats();
  v2.requests = 300;
  v1.requests = 900;
  for (const [v, n] of [[v2, 300], [v1, 900]] as const) {
    for (const le of Object.keys(v.latencyMsBuckets)) v.latencyMsBuckets[le] = le === '5' ? 0 : n; // all in (5, 10] ms
  }
  v2.byLanguage = { Python: { completions: 150, views: 150, accepts: 90, rejects: 60, acceptedChars: 900, acceptedLines: 90 }, '<Go>': { completions: 150, views: 150, accepts: 75, rejects: 75, acceptedChars: 1, acceptedLines: 1 } };
  v1.byLanguage = { Python: { completions: 450, views: 450, accepts: 135, rejects: 315, acceptedChars: 1, acceptedLines: 1 }, '<Go>': { completions: 450, views: 450, accepts: 160, rejects: 290, acceptedChars: 1, acceptedLines: 1 } };
  return { startedAt: 0, now: 10_000, versions: { v2, v1 } };
}

describe('A/B report', () => {
  it('shows acceptance per language per arm with Wilson 95% intervals, latency and the decision', () => {
    const total = stats();
    const decision = decideStep({ window: total, candidate: 'v2', production: 'v1', thresholds: ROLLOUT_DEFAULTS, holds: 0 });
    const status: RolloutStatus = { model: 'm', candidate: 'v2', production: 'v1', state: 'promoted', step: 1, steps: [25, 100], arms: [], languages: [], holds: 0, log: [{ step: 0, percent: 25, action: 'promote', by: 'auto', reasons: decision.reasons }] };
    const { html, json } = renderRolloutReport({
      reportRoot: 'file:///r', model: 'm', candidate: 'v2', production: 'v1', workflowId: 'rollout/m/v2', outcome: 'promoted', reasons: ['all steps passed'], total,
      windows: [{ step: 0, percent: 25, holds: 0, from: 0, to: 10_000, decision }], status, thresholds: ROLLOUT_DEFAULTS, evalGate: { pass: true, reasons: ['ok'], deltas: [] },
    });
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /Outcome: promoted v2 to production\./);
    // Python candidate: 90/150 = 60.0%, Wilson 95% 52.0-67.5%.
    assert.match(html, /<td>Python<\/td><td>candidate v2<\/td><td class="num">150<\/td><td class="num">90<\/td><td class="num">60\.0%<\/td><td>52\.0–67\.5%<\/td>/);
    assert.match(html, /<td>v2<\/td><td>candidate<\/td><td class="num">300<\/td><td class="num">0<\/td><td class="num">0\.0%<\/td><td class="num">8<\/td><td class="num">10<\/td>/);
    assert.ok(html.includes('&lt;Go&gt;') && !html.includes('<Go>'), 'language names are escaped');
    assert.doesNotMatch(html, /<script|(src|href)="https?:/, 'self-contained: no scripts, no external assets');
    const j = json as { languages: { language: string; verdict: string }[]; outcome: string };
    assert.equal(j.outcome, 'promoted');
    assert.deepEqual(j.languages.map((l) => [l.language, l.verdict]), [['<Go>', 'better'], ['Python', 'better']]);
  });

  it('says so when no traffic moved', () => {
    const status: RolloutStatus = { model: 'm', candidate: 'v2', production: 'v1', state: 'rejected', step: -1, steps: [100], arms: [], languages: [], holds: 0, log: [] };
    const { html } = renderRolloutReport({ reportRoot: 'file:///r', model: 'm', candidate: 'v2', production: 'v1', workflowId: 'w', outcome: 'rejected', reasons: ['eval gate failed'], total: null, windows: [], status, thresholds: ROLLOUT_DEFAULTS, evalGate: { pass: false, reasons: ['x'], deltas: [] } });
    assert.match(html, /rejected v2 before any traffic moved/);
    assert.match(html, /No traffic moved: the rollout ended before its first step\./);
  });

  it('kiln rollout status prints the arms, the languages and the decision log', () => {
    const decision = decideStep({ window: stats(), candidate: 'v2', production: 'v1', thresholds: ROLLOUT_DEFAULTS, holds: 0 });
    const text = formatStatus({
      model: 'm', candidate: 'v2', production: 'v1', state: 'observing', step: 0, steps: [25, 100], holds: 1, languages: decision.languages,
      arms: [{ version: 'v2', role: 'candidate', share: 0.25, figures: decision.candidate }, { version: 'v1', role: 'production', share: 0.75, figures: decision.production }],
      log: [{ step: 0, percent: 25, action: 'hold', by: 'auto', reasons: ['Python: 10 candidate and 40 production view(s), fewer than 100 per arm'] }],
    });
    assert.match(text, /^m: v2 vs v1: observing, step 1 of 2 \(25 -> 100%\), 1 hold\(s\)/);
    assert.match(text, /^v2\s+candidate\s+25\.0%\s+300\s+0\.0%\s+10\s+300\s+55\.0%$/m);
    assert.match(text, /^Python\s+60\.0% of 150\s+30\.0% of 450\s+1\.0\s+better$/m);
    assert.match(text, /step 1 \(25%\) hold by auto: Python: 10 candidate/);
  });
});
