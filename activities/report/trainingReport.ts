/**
 * The training run report: loss and throughput curves (SVG) and a table of gang attempts, from
 * rank 0's trainer events kept beside the checkpoints (activities/train/metrics.ts). Written to
 * <run dir>/report/training.html; every attempt is its own series, so restarts and the steps they
 * redid (lost work) show as overlapping curves.
 */
import { joinUri } from '../../lib/manifest.js';
import { store } from '../../lib/storage/index.js';
import { htmlFigure, htmlPage, htmlParagraph, htmlTable, type Cell } from '../../lib/report/html.js';
import { lineChart } from '../../lib/report/svg.js';
import { readMetrics, runDirUri, type MetricsEvent } from '../train/metrics.js';

export interface AttemptSummary {
  attempt: number;
  startedAt: string;
  /** Step the attempt resumed at (its `start` event), 0 from scratch. */
  fromStep: number;
  lastStep: number;
  /** How it ended: done, stopped (pause, continue-as-new, shutdown) or lost (killed, hung). */
  end: 'done' | 'stopped' | 'lost';
  /** Steps this attempt trained that the next attempt redid. */
  lostSteps: number;
  steps: number;
}

export interface TrainingReportResult {
  reportUri: string;
  attempts: AttemptSummary[];
}

/** Groups events by attempt, in order of first appearance. */
export function summarizeAttempts(events: MetricsEvent[]): { summary: AttemptSummary; events: MetricsEvent[] }[] {
  const byGang = new Map<string, MetricsEvent[]>();
  for (const e of events) {
    const key = e.gang ?? String(e.attempt);
    if (!byGang.has(key)) byGang.set(key, []);
    byGang.get(key)!.push(e);
  }
  const groups = [...byGang.values()].map((evs) => {
    const attempt = evs[0]!.attempt;
    const steps = evs.filter((e) => e.event === 'step').map((e) => Number(e.step));
    const start = evs.find((e) => e.event === 'start');
    const fromStep = start ? Number(start.step ?? 0) : Math.max(0, (steps[0] ?? 1) - 1);
    const end: AttemptSummary['end'] = evs.some((e) => e.event === 'done') ? 'done' : evs.some((e) => e.event === 'stopped') ? 'stopped' : 'lost';
    const summary: AttemptSummary = {
      attempt,
      startedAt: new Date(evs[0]!.t).toISOString(),
      fromStep,
      lastStep: steps.length ? Math.max(...steps) : fromStep,
      end,
      lostSteps: 0,
      steps: steps.length,
    };
    return { summary, events: evs };
  });
  for (let i = 0; i + 1 < groups.length; i++) {
    const cur = groups[i]!.summary;
    cur.lostSteps = Math.max(0, cur.lastStep - groups[i + 1]!.summary.fromStep);
  }
  return groups;
}

export function renderTrainingReport(title: string, events: MetricsEvent[]): { html: string; attempts: AttemptSummary[] } {
  const groups = summarizeAttempts(events);
  const series = (event: string, field: string) =>
    groups.map((g) => ({
      name: `attempt ${g.summary.attempt}`,
      points: g.events.filter((e) => e.event === event && e[field] !== undefined).map((e) => [Number(e.step), Number(e[field])] as [number, number]),
    }));
  const loss = series('step', 'loss');
  const val = series('eval', 'val_loss').filter((s) => s.points.length > 0).map((s) => ({ ...s, name: `${s.name} (validation)` }));
  const throughput = series('step', 'tokens_per_s');
  const rows: Cell[][] = groups.map(({ summary: a }) => [a.attempt, a.startedAt, a.fromStep, a.lastStep, a.steps, a.end, a.lostSteps]);
  const restarts = groups.length - 1;
  const html = htmlPage(title, [
    {
      heading: 'Summary',
      html: htmlParagraph(
        events.length === 0
          ? 'No trainer events were recorded for this run.'
          : `${groups.length} gang attempt(s), ${restarts} restart(s) or resumption(s); ${groups.reduce((n, g) => n + g.summary.lostSteps, 0)} step(s) redone after restarts.`,
      ),
    },
    { heading: 'Loss', html: htmlFigure(lineChart({ title: 'Training loss', xLabel: 'step', yLabel: 'loss', series: [...loss, ...val], logY: true }), 'One series per gang attempt: a restart resumes at its checkpoint, so redone steps overlap.') },
    { heading: 'Throughput', html: htmlFigure(lineChart({ title: 'Throughput', xLabel: 'step', yLabel: 'tokens/s', series: throughput })) },
    {
      heading: 'Gang attempts',
      html: htmlTable(['attempt', 'started (UTC)', 'from step', 'last step', 'steps', 'end', 'steps redone by the next'], rows, { numeric: [0, 2, 3, 4, 6] }),
    },
  ]);
  return { html, attempts: groups.map((g) => g.summary) };
}

/** Builds the report from the metrics beside `checkpointsUri` and writes it next to them. */
export async function trainingReport(input: { checkpointsUri: string; title?: string }): Promise<TrainingReportResult> {
  const events = await readMetrics(input.checkpointsUri);
  const { html, attempts } = renderTrainingReport(input.title ?? 'Training run', events);
  const reportUri = joinUri(runDirUri(input.checkpointsUri), 'report', 'training.html');
  await store.writeBytes(reportUri, html);
  return { reportUri, attempts };
}
