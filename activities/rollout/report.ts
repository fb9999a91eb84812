/**
 * The A/B report of one rollout: a self-contained HTML page (lib/report/html.ts, as the data and
 * training reports) plus report.json with the same figures. Acceptance per language per arm over
 * the whole rollout with Wilson 95% intervals, latency percentiles per arm, every window's
 * decision, and the outcome with its reasons.
 */
import type { GatewayStats } from '../../contracts/gateway.js';
import type { LanguageComparison, RolloutDecision, RolloutStatus, RolloutThresholds } from '../../contracts/rollout.js';
import { joinUri } from '../../lib/manifest.js';
import { escapeHtml, htmlFigure, htmlPage, htmlParagraph, htmlTable, type Cell } from '../../lib/report/html.js';
import { PALETTE } from '../../lib/report/chartFrame.js';
import { armFigures, compareLanguages } from '../../lib/rollout/decide.js';
import { store } from '../../lib/storage/index.js';
import type { EvalGateResult } from './evalGate.js';

export interface RolloutWindow {
  step: number;
  percent: number;
  /** Extensions of this step's window before this decision. */
  holds: number;
  /** Gateway clock (ms) at the window's start and end. */
  from: number;
  to: number;
  decision: RolloutDecision;
  /** A signal overrode the rule's decision. */
  override?: 'promote' | 'rollback';
}

export interface ReportInput {
  reportRoot: string;
  model: string;
  candidate: string;
  production: string;
  workflowId: string;
  outcome: 'promoted' | 'rolled-back' | 'rejected';
  reasons: string[];
  /** Whole rollout: the last snapshot minus the first (null when no traffic moved). */
  total: GatewayStats | null;
  windows: RolloutWindow[];
  status: RolloutStatus;
  thresholds: RolloutThresholds;
  evalGate: EvalGateResult;
}

const rate = (x: number | undefined) => (x === undefined ? '–' : `${(100 * x).toFixed(1)}%`);
const interval = (low: number, high: number, views: number) => (views === 0 ? '–' : `${(100 * low).toFixed(1)}–${(100 * high).toFixed(1)}%`);
const ms = (x: number | undefined) => (x === undefined ? '–' : `${Math.round(x)}`);

/** Dot-and-whisker chart: acceptance with its 95% interval, per language, one colour per arm. */
function intervalChart(rows: LanguageComparison[], candidate: string, production: string): string {
  const width = 640;
  const rowH = 34;
  const left = 120;
  const plot = width - left - 20;
  const height = 40 + rows.length * rowH + 30;
  const x = (v: number) => left + v * plot;
  const parts: string[] = [];
  for (let t = 0; t <= 10; t += 2) {
    parts.push(`<line x1="${x(t / 10)}" y1="30" x2="${x(t / 10)}" y2="${height - 30}" stroke="#d1d9e0"/>`);
    parts.push(`<text x="${x(t / 10)}" y="${height - 12}" font-size="11" text-anchor="middle">${t * 10}%</text>`);
  }
  rows.forEach((row, i) => {
    const y = 40 + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 12}" font-size="12" text-anchor="end">${escapeHtml(row.language)}</text>`);
    ([['candidate', row.candidate, PALETTE[0]], ['production', row.production, PALETTE[1]]] as const).forEach(([, arm, colour], j) => {
      if (arm.views === 0) return;
      const yy = y + 4 + j * 12;
      parts.push(`<line x1="${x(arm.low)}" y1="${yy}" x2="${x(arm.high)}" y2="${yy}" stroke="${colour}" stroke-width="2"/>`);
      parts.push(`<circle cx="${x(arm.rate ?? 0)}" cy="${yy}" r="4" fill="${colour}"/>`);
    });
  });
  parts.push(`<text x="${left}" y="18" font-size="12"><tspan fill="${PALETTE[0]}">● candidate ${escapeHtml(candidate)}</tspan>  <tspan fill="${PALETTE[1]}" dx="12">● production ${escapeHtml(production)}</tspan></text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Acceptance per language with 95% intervals">${parts.join('')}</svg>`;
}

export function renderRolloutReport(input: ReportInput): { html: string; json: unknown } {
  const { candidate, production, total } = input;
  const languages = total ? compareLanguages(total, candidate, production, input.thresholds) : [];
  const arms = total ? [armFigures(total, candidate), armFigures(total, production)] : [];
  const acceptanceRows: Cell[][] = languages.flatMap((l) => [
    [l.language, `candidate ${candidate}`, l.candidate.views, l.candidate.accepts, rate(l.candidate.rate), interval(l.candidate.low, l.candidate.high, l.candidate.views)],
    [l.language, `production ${production}`, l.production.views, l.production.accepts, rate(l.production.rate), interval(l.production.low, l.production.high, l.production.views)],
  ]);
  const latencyRows: Cell[][] = arms.map((a) => [a.version, a.version === candidate ? 'candidate' : 'production', a.requests, a.errors, rate(a.errorRate), ms(a.p50LatencyMs), ms(a.p95LatencyMs), ms(a.p99LatencyMs), ms(a.p95TtftMs)]);
  const windowRows: Cell[][] = input.windows.map((w) => [
    w.step + 1,
    `${w.percent}%`,
    w.holds,
    ((w.to - w.from) / 1000).toFixed(1),
    w.override ? `${w.override} (signal; rule said ${w.decision.action})` : w.decision.action,
    w.decision.candidate.views,
    w.decision.production.views,
    w.decision.reasons.join('; '),
  ]);
  const logRows: Cell[][] = input.status.log.map((e) => [e.step + 1, `${e.percent}%`, e.action, e.by, e.reasons.join('; ')]);
  const verdict = input.outcome === 'promoted' ? `promoted ${candidate} to production` : input.outcome === 'rolled-back' ? `rolled back ${candidate}; ${production} serves all traffic` : `rejected ${candidate} before any traffic moved`;
  const html = htmlPage(`A/B report: ${input.model} ${candidate} vs ${production}`, [
    {
      heading: 'Decision',
      html:
        htmlParagraph(`Outcome: ${verdict}.`) +
        `<ul>${input.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('')}</ul>` +
        htmlParagraph(`Rollout ${input.workflowId}; steps ${input.status.steps.map((s) => `${s}%`).join(' → ')}; eval gate: ${input.evalGate.pass ? 'passed' : 'failed'} (${input.evalGate.reasons.join('; ')}).`, 'muted'),
    },
    {
      heading: 'Acceptance per language',
      html: total
        ? htmlFigure(intervalChart(languages, candidate, production), 'Accepted / viewed completions over the whole rollout, with Wilson 95% intervals.') +
          htmlTable(['language', 'arm', 'views', 'accepts', 'acceptance', '95% interval'], acceptanceRows, { numeric: [2, 3, 4] }) +
          htmlParagraph(
            `Decisions test each language with a pooled two-proportion z-test, one-sided, Holm-corrected over languages at alpha ${input.thresholds.alpha}; a language needs ${input.thresholds.minViews} views per arm in a window to count as measured.`,
            'muted',
          )
        : htmlParagraph('No traffic moved: the rollout ended before its first step.'),
    },
    {
      heading: 'Latency and errors',
      html: total
        ? htmlTable(['version', 'arm', 'requests', 'errors', 'error rate', 'p50 ms', 'p95 ms', 'p99 ms', 'p95 TTFT ms'], latencyRows, { numeric: [2, 3, 4, 5, 6, 7, 8] }) +
          htmlParagraph(`Percentiles interpolated inside the gateway's fixed histogram buckets (as Prometheus' histogram_quantile). Limits: error rate ${rate(input.thresholds.maxErrorRate)}, p95 ${input.thresholds.maxP95LatencyMs} ms and at most ${input.thresholds.maxP95Ratio}x production's.`, 'muted')
        : htmlParagraph('No traffic moved.'),
    },
    { heading: 'Windows', html: windowRows.length ? htmlTable(['step', 'candidate share', 'holds', 'seconds', 'decision', 'candidate views', 'production views', 'why'], windowRows, { numeric: [0, 2, 3, 5, 6] }) : htmlParagraph('No window was observed.') },
    { heading: 'Decision log', html: htmlTable(['step', 'share', 'action', 'by', 'why'], logRows, { numeric: [0] }) },
  ]);
  const json = { model: input.model, candidate, production, workflowId: input.workflowId, outcome: input.outcome, reasons: input.reasons, evalGate: input.evalGate, languages, arms, windows: input.windows, log: input.status.log, thresholds: input.thresholds };
  return { html, json };
}

/** Writes ab-report.html and ab-report.json under `reportRoot`; returns the HTML's URI. */
export async function writeRolloutReport(input: ReportInput): Promise<string> {
  const { html, json } = renderRolloutReport(input);
  const htmlUri = joinUri(input.reportRoot, 'ab-report.html');
  await store.writeBytes(joinUri(input.reportRoot, 'ab-report.json'), `${JSON.stringify(json, null, 2)}\n`);
  await store.writeBytes(htmlUri, html);
  return htmlUri;
}
