/** Renders a DataReport as one self-contained HTML page (inline SVG charts, no external assets). */
import { formatBytes, formatCount, formatPercent, formatSi } from '../../lib/report/format.js';
import { escapeHtml, htmlDetails, htmlFigure, htmlPage, htmlParagraph, htmlTable, type Cell, type Section } from '../../lib/report/html.js';
import { barChart, histogram } from '../../lib/report/svg.js';
import type { Bin } from '../../lib/report/distribution.js';
import type { DataReport, MetricReport, Removal, SummaryStep } from './dataReportModel.js';
import { DATA_STAGES, type DataStageName } from './stageChain.js';

const count = (n: number | null | undefined): Cell => (n === null || n === undefined ? { html: '–', numeric: true } : { html: formatCount(n), numeric: true });
const bytes = (n: number | null | undefined): Cell => (n === null || n === undefined ? { html: '–', numeric: true } : { html: escapeHtml(formatBytes(n)), numeric: true });
const pct = (part: number | null, whole: number | null): Cell => ({ html: part === null || whole === null ? '–' : formatPercent(part, whole), numeric: true });
/** Charts side by side (drawn at about the size they are shown, so text stays legible). */
const HALF = { width: 520, height: 300 };
const charts = (...svgs: string[]) => `<div class="charts">${svgs.map((s) => htmlFigure(s)).join('')}</div>`;
/** A log axis when the largest value dwarfs the smallest non-zero one. */
const skewed = (values: number[]) => {
  const positive = values.filter((v) => v > 0);
  return positive.length > 1 && Math.max(...positive) / Math.min(...positive) > 50;
};

function summarySection(r: DataReport): Section {
  const first = r.summary[0];
  const last = r.summary[r.summary.length - 1];
  const filesIn = first?.filesIn ?? first?.filesOut ?? null;
  const lead =
    first && last && filesIn !== null && last.filesOut !== null
      ? `${formatCount(filesIn)} files in, ${formatCount(last.filesOut)} kept (${last.bytesOut === null ? '?' : formatBytes(last.bytesOut)}): ` +
        `${formatPercent(filesIn - last.filesOut, filesIn)} removed.`
      : 'No stage outputs to summarize.';
  const rows = r.summary.map((s: SummaryStep) => [s.step, count(s.filesIn), count(s.removed), pct(s.removed, s.filesIn), count(s.filesOut), bytes(s.bytesIn), bytes(s.bytesOut)]);
  const stages = htmlTable(['stage', 'folder', 'fingerprint'], r.stages.map((s) => [s.stage, { html: `<code>${escapeHtml(s.dir)}</code>` }, { html: `<code>${escapeHtml(s.fingerprint.slice(0, 16))}</code>` }]));
  return {
    heading: 'Summary',
    html: [
      `<p><strong>${escapeHtml(lead)}</strong></p>`,
      htmlTable(['step', 'files in', 'removed', '% removed', 'files out', 'bytes in', 'bytes out'], rows),
      htmlParagraph('Steps run top to bottom; each clean filter sees only the files the filters above it kept. Bytes are content bytes.', 'muted'),
      htmlDetails('Stage folders', stages),
    ].join('\n'),
  };
}

/** "auto_generated 2,051 · vendored_path 3": the reasons that removed the most files first. */
function topReasons(droppedBy: Record<string, number>, max = 3): string {
  const sorted = Object.entries(droppedBy).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = sorted.slice(0, max).map(([f, n]) => `${f} ${formatCount(n)}`);
  if (sorted.length > max) shown.push(`${sorted.length - max} more`);
  return shown.join(' · ');
}

function languagesSection(r: DataReport): Section {
  const stages = DATA_STAGES.filter((k) => r.languages.some((l) => l.stageFiles[k] !== null));
  const first = stages[0];
  const last = stages[stages.length - 1];
  const hasReasons = r.languages.some((l) => Object.keys(l.droppedBy).length > 0);
  const headers = ['language', ...stages.map((k) => `files: ${k}`), '% kept', ...(hasReasons ? ['removed by clean (top reasons)'] : []), ...stages.map((k) => `bytes: ${k}`)];
  const rows = r.languages.map((l) => [
    l.lang,
    ...stages.map((k) => count(l.stageFiles[k])),
    pct(first ? l.stageFiles[last] : null, first ? l.stageFiles[first] : null),
    ...(hasReasons ? [topReasons(l.droppedBy)] : []),
    ...stages.map((k) => bytes(l.bytes[k])),
  ]);
  const total = (get: (l: DataReport['languages'][number]) => number | null) => (r.languages.some((l) => get(l) === null) ? null : r.languages.reduce((a, l) => a + (get(l) ?? 0), 0));
  const files = (k: DataStageName) => total((l) => l.stageFiles[k]);
  const totals: Cell[][] = [
    ['all languages', ...stages.map((k) => count(files(k))), pct(first ? files(last) : null, first ? files(first) : null), ...(hasReasons ? [''] : []), ...stages.map((k) => bytes(total((l) => l.bytes[k])))],
  ];
  const parts = [htmlTable(headers, rows, { totals })];
  if (r.funnelColumns.length > stages.length) {
    // Every clean filter as a column: wide, so folded away.
    const matrix = r.languages.map((l) => [l.lang, ...l.files.map(count)]);
    parts.push(htmlDetails('Files after each filter, per language', htmlTable(['language', ...r.funnelColumns], matrix)));
  }
  if (first) {
    const kept = r.languages.map((l) => ({ label: l.lang, value: l.stageFiles[first] ? Math.round((1000 * (l.stageFiles[last] ?? 0)) / l.stageFiles[first]!) / 10 : 0 }));
    const finalFiles = r.languages.map((l) => ({ label: l.lang, value: l.stageFiles[last] ?? 0 }));
    const wide = { width: 960, height: 340 };
    parts.push(htmlFigure(barChart({ title: `Files per language after ${last}`, xLabel: 'language', yLabel: 'files', bars: finalFiles, logY: skewed(finalFiles.map((b) => b.value)), ...wide })));
    parts.push(htmlFigure(barChart({ title: `Share of each language's files kept (${first} to ${last})`, xLabel: 'language', yLabel: '% kept', bars: kept, ...wide })));
  }
  return { heading: 'Files per language', html: parts.join('\n') };
}

function removalDetails(r: Removal): string {
  const head = `${r.filter}: ${formatCount(r.dropped)} files${r.droppedBytes === null ? '' : `, ${formatBytes(r.droppedBytes)}`}`;
  if (!r.samples.length) return htmlDetails(head, htmlParagraph(r.dropped ? 'No examples recorded.' : 'Removed nothing.', 'muted'));
  const examples = r.samples
    .map((s) => {
      const where = `${s.repo}:${s.path}`;
      const meta = [s.lang, s.size === null ? '' : formatBytes(s.size)].filter(Boolean).join(', ');
      return `<h3><code>${escapeHtml(where)}</code> <span class="muted">${escapeHtml(meta)}</span></h3>\n<pre>${escapeHtml(s.excerpt)}</pre>`;
    })
    .join('\n');
  return htmlDetails(head, examples);
}

function removalsSection(r: DataReport): Section {
  const parts: string[] = [];
  if (!r.removals.length) parts.push(htmlParagraph('No filter counts recorded (no clean stage, or it wrote none).', 'muted'));
  else {
    const bars = r.removals.map((x) => ({ label: x.filter, value: x.dropped }));
    parts.push(htmlFigure(barChart({ title: 'Files removed per filter', xLabel: 'filter (in run order)', yLabel: 'files', bars, logY: skewed(bars.map((b) => b.value)) })));
    parts.push(htmlParagraph('A file is counted by the first filter that drops it. Open a reason to see examples (the first characters of each file).', 'muted'));
    parts.push(r.removals.map(removalDetails).join('\n'));
  }
  if (r.skipped.length) {
    parts.push('<h3>Source files ingest skipped</h3>');
    parts.push(htmlTable(['file', 'reason'], r.skipped.map((s) => [{ html: `<code>${escapeHtml(s.uri)}</code>` }, s.reason])));
  }
  return { heading: 'Why files were removed', html: parts.join('\n') };
}

function summaryCells(s: MetricReport['stages'][number]['summary']): Cell[] {
  const v = (n: number | null) => ({ html: n === null ? '–' : escapeHtml(formatSi(n)), numeric: true });
  return [count(s.count), v(s.p50), v(s.p90), v(s.p99), v(s.max), v(s.mean)];
}

function distributionSection(r: DataReport): Section {
  const parts = r.distributions.map((m) => {
    const table = htmlTable(['stage', 'files', 'p50', 'p90', 'p99', 'max', 'mean'], m.stages.map((s) => [s.stage, ...summaryCells(s.summary)]));
    const shown = [m.stages[0], m.stages[m.stages.length - 1]].filter((s, i, all) => s && all.indexOf(s) === i);
    // Same x range on both sides (empty bins pad the edges), counts on a log axis so single outliers show.
    const edges = shown.flatMap((s) => s.bins).filter((b) => b.count > 0 || b.from > 0);
    const lo = Math.min(...edges.map((b) => b.from));
    const hi = Math.max(...edges.map((b) => b.to));
    const padded = (bins: Bin[]): Bin[] => (bins.length ? [{ from: lo, to: bins[0].from, count: 0 }, ...bins, { from: bins[bins.length - 1].to, to: hi, count: 0 }].filter((b) => b.to > b.from) : bins);
    const figs = shown.map((s) => histogram({ title: `${m.label}: ${s.stage} output`, xLabel: m.label, yLabel: 'files', bins: padded(s.bins), logX: true, logY: true, ...HALF }));
    const last = m.stages[m.stages.length - 1]?.stage ?? '';
    const perLang = htmlDetails(`Per language (${last} output)`, htmlTable(['language', 'files', 'p50', 'p90', 'p99', 'max', 'mean'], m.perLanguage.map((l) => [l.lang, ...summaryCells(l.summary)])));
    return `<h3>${escapeHtml(m.label)}</h3>\n${table}\n${charts(...figs)}\n${perLang}`;
  });
  return {
    heading: 'File size and line length',
    html: [htmlParagraph('Histograms on log axes (sizes and counts), so long tails and single outliers stay visible. Percentiles are read from 40 buckets per decade (within about 3%); max is exact.', 'muted'), ...parts].join('\n'),
  };
}

/** Integer sizes with counts -> log-spaced bins (5 a decade; each bin holds at least one integer). */
function logBins(sizes: { size: number; count: number }[]): { from: number; to: number; count: number }[] {
  const bins = new Map<number, { from: number; to: number; count: number }>();
  for (const { size, count: n } of sizes) {
    if (size < 1) continue;
    const j = Math.floor(Math.log10(size) * 5 + 1e-9);
    const from = Math.max(Math.ceil(10 ** (j / 5) - 1e-9), 1);
    const to = Math.max(Math.ceil(10 ** ((j + 1) / 5) - 1e-9), from + 1);
    const bin = bins.get(from) ?? { from, to, count: 0 };
    bin.count += n;
    bins.set(from, bin);
  }
  return [...bins.values()].sort((a, b) => a.from - b.from);
}

function dedupSection(r: DataReport): Section | null {
  const d = r.dedup;
  if (!d) return null;
  const parts = [
    htmlTable(['', 'files'], [['exact duplicates removed', count(d.exactDuplicates)], ['near duplicates removed', count(d.nearDuplicates)], ['near-duplicate clusters', count(d.clusters)]]),
  ];
  if (d.clusterSizes.length) {
    const title = 'Duplicate clusters by size';
    const logY = skewed(d.clusterSizes.map((c) => c.count));
    if (d.clusterSizes.length <= 24) {
      const bars = d.clusterSizes.map((c) => ({ label: String(c.size), value: c.count }));
      parts.push(htmlFigure(barChart({ title, xLabel: 'files in the cluster', yLabel: 'clusters', bars, logY })));
    } else {
      parts.push(htmlFigure(histogram({ title, xLabel: 'files in the cluster', yLabel: 'clusters', bins: logBins(d.clusterSizes), logX: true, logY })));
    }
  } else parts.push(htmlParagraph('No cluster sizes recorded (dedup wrote no _DETAILS.json).', 'muted'));
  if (d.largestClusters.length) {
    const items = d.largestClusters.map((c) => {
      const rows: Cell[][] = [['kept', { html: `<code>${escapeHtml(`${c.kept.repo}:${c.kept.path}`)}</code>` }], ...c.removed.map((x): Cell[] => ['removed', { html: `<code>${escapeHtml(`${x.repo}:${x.path}`)}</code>` }])];
      return htmlDetails(`${formatCount(c.size)} files: ${c.kept.repo}:${c.kept.path}`, htmlTable(['', 'file'], rows));
    });
    parts.push('<h3>Largest clusters</h3>', ...items);
  }
  return { heading: 'Duplicates', html: parts.join('\n') };
}

function piiSection(r: DataReport): Section | null {
  if (!r.pii) return null;
  const bars = r.pii.counts.map((c) => ({ label: c.type, value: c.count }));
  return {
    heading: 'PII redactions',
    html: [
      htmlTable(['placeholder', 'values replaced'], r.pii.counts.map((c) => [`<${c.type}>`, count(c.count)]), { totals: r.pii.documentsRedacted === null ? [] : [['files changed', count(r.pii.documentsRedacted)]] }),
      htmlFigure(barChart({ title: 'Values redacted per type', xLabel: 'type', yLabel: 'values', bars, logY: skewed(bars.map((b) => b.value)) })),
    ].join('\n'),
  };
}

function syntaxSection(r: DataReport): Section | null {
  if (!r.syntax) return null;
  const skipped = r.syntax.some((s) => s.skipped !== null);
  const rows = r.syntax.map((s) => [s.lang, count(s.checked), count(s.failed), pct(s.failed, s.checked), ...(skipped ? [count(s.skipped)] : [])]);
  const bars = r.syntax.map((s) => ({ label: s.lang, value: s.checked ? Math.round((1000 * s.failed) / s.checked) / 10 : 0 }));
  return {
    heading: 'Syntax check failures',
    html: [htmlTable(['language', 'files parsed', 'failed', 'failure rate', ...(skipped ? ['not parsed (too large)'] : [])], rows), htmlFigure(barChart({ title: 'Parse failures per language (%)', xLabel: 'language', yLabel: '% failed', bars }))].join('\n'),
  };
}

function notesSection(r: DataReport): Section | null {
  if (!r.notes.length) return null;
  return { heading: 'Notes', html: `<ul>${r.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` };
}

export function renderDataReportHtml(r: DataReport, title = 'Data report'): string {
  const sections = [
    summarySection(r),
    languagesSection(r),
    removalsSection(r),
    distributionSection(r),
    dedupSection(r),
    piiSection(r),
    syntaxSection(r),
    notesSection(r),
  ].filter((s): s is Section => s !== null);
  return htmlPage(title, sections);
}
