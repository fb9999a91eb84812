/** The eval report: one self-contained HTML page (lib/report/html.ts), pure and deterministic. */
import { escapeHtml, htmlPage, htmlParagraph, htmlTable, type Cell, type Section } from '../../../lib/report/html.js';
import type { Interval } from './bootstrap.js';
import { FAILURE_CLASSES, type LanguageMetrics, type ProblemRow } from './metrics.js';

export interface InfillingMetrics {
  examples: number;
  exactMatch: number;
  interval: Interval;
}

/** metrics.json of an eval run. */
export interface EvalMetrics {
  /** pass@k of the first language (Python when evaluated): what runs before multi-language eval reported. */
  passAtK: Record<string, number>;
  problems: number;
  samples: number;
  passed: number;
  notes: string[];
  isolation: string;
  languages: Record<string, LanguageMetrics>;
  infilling?: InfillingMetrics;
  toolchains: Record<string, string>;
  generation: Record<string, unknown>;
  bootstrap: { resamples: number; seed: number; level: number };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function passCell([c, n]: [number, number] | undefined = [0, 0]): Cell {
  if (n === 0) return { html: '<span class="muted">-</span>' };
  const mark = c === n ? '✓' : c === 0 ? '✗' : '◐';
  return { html: `${mark} ${c}/${n}`, numeric: true };
}

export function renderEvalReport(title: string, metrics: EvalMetrics, table: ProblemRow[]): string {
  const langs = Object.keys(metrics.languages);
  const ks = [...new Set(langs.flatMap((l) => Object.keys(metrics.languages[l]!.passAtK)))].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  const sections: Section[] = [];
  sections.push({
    heading: 'pass@k per language',
    html:
      htmlTable(
        ['language', 'problems', 'samples', 'passed', ...ks.map((k) => `${k} [95% interval]`)],
        langs.map((l) => {
          const m = metrics.languages[l]!;
          return [l, m.problems, m.samples, m.passed, ...ks.map((k) => (k in m.passAtK ? { html: `${pct(m.passAtK[k]!)} <span class="muted">[${pct(m.intervals[k]!.low)}, ${pct(m.intervals[k]!.high)}]</span>`, numeric: true } : '-'))];
        }),
      ) +
      htmlParagraph(`Unbiased pass@k (Chen et al. 2021), mean over problems; intervals: percentile bootstrap over problems, ${metrics.bootstrap.resamples} resamples, seed ${metrics.bootstrap.seed}.`, 'muted') +
      (metrics.infilling
        ? htmlParagraph(`Single-line infilling (FIM, exact match after stripping whitespace): ${pct(metrics.infilling.exactMatch)} of ${metrics.infilling.examples} examples [${pct(metrics.infilling.interval.low)}, ${pct(metrics.infilling.interval.high)}].`)
        : ''),
  });
  sections.push({
    heading: 'Failures',
    html: htmlTable(['language', ...FAILURE_CLASSES.map((f) => f.replace('_', ' '))], langs.map((l) => [l, ...FAILURE_CLASSES.map((f) => metrics.languages[l]!.failures[f])])),
  });
  sections.push({
    heading: 'Per problem',
    html: htmlTable(['problem', ...langs], table.map((r) => [r.problem, ...langs.map((l) => passCell(r.byLanguage[l]))])) + htmlParagraph('Passed samples of samples, per problem and language (✓ all, ◐ some, ✗ none).', 'muted'),
  });
  const settings = Object.entries(metrics.generation).map(([k, v]) => [k, JSON.stringify(v)] as Cell[]);
  sections.push({
    heading: 'Run',
    html:
      htmlTable(['generation', 'value'], settings) +
      htmlTable(['toolchain', 'version'], Object.entries(metrics.toolchains).map(([k, v]) => [k, v] as Cell[])) +
      `<p>Sandbox layers in force (one line per distinct set):</p><ul>${(metrics.isolation || 'not reported').split(' | ').map((l) => `<li><code>${escapeHtml(l)}</code></li>`).join('')}</ul>` +
      (metrics.notes.length ? `<div class="note">${metrics.notes.map((n) => escapeHtml(n)).join('<br>')}</div>` : ''),
  });
  return htmlPage(title, sections);
}
