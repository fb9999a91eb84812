/**
 * kiln clean --input <ingest stage folder> [--out <artifacts root>] [--max-avg-line-length N]
 *            [--max-line-length N] [--min-alphanum-fraction F] [--generated-marker-lines N]
 *            [--disable filter,filter] [--syntax-languages Python,Go] [--benchmarks humaneval,<uri>]
 *            [--no-redact] [--json]
 * Runs the clean activity locally on a finished ingest stage (read from its _MANIFEST.json) and
 * prints a table of what each filter removed (files and bytes), in the order the filters run.
 * --out defaults to the input's own artifacts root.
 */
import type { ParseArgsConfig } from 'node:util';
import { cleanStage } from '../../activities/clean/index.js';
import type { CleanParams } from '../../activities/clean/params.js';
import type { DropReason } from '../../activities/clean/reasons.js';
import type { SyntaxLanguageCounts } from '../../activities/clean/syntax.js';
import { DEFAULTS } from '../../lib/config/defaults.js';
import type { StageResult } from '../../lib/manifest.js';
import { formatBytes, formatNumber as fmt, numberOption, readStageInput, runStageCommand, resolveInputAndOut } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  input: { type: 'string' },
  out: { type: 'string' },
  'max-avg-line-length': { type: 'string' },
  'max-line-length': { type: 'string' },
  'min-alphanum-fraction': { type: 'string' },
  'generated-marker-lines': { type: 'string' },
  disable: { type: 'string' },
  'syntax-languages': { type: 'string' },
  benchmarks: { type: 'string' },
  'no-redact': { type: 'boolean' },
};

const D = DEFAULTS.clean;
const USAGE =
  `Usage: kiln clean --input <ingest stage folder> [--out <artifacts root>] [--max-avg-line-length ${D.maxAvgLineLength}]\n` +
  `                  [--max-line-length ${D.maxLineLength}] [--min-alphanum-fraction ${D.minAlphanumFraction}] [--generated-marker-lines ${D.generatedMarkerLines}]\n` +
  '                  [--disable syntax_error,decontaminated] [--syntax-languages Python,Go] [--benchmarks humaneval]\n' +
  '                  [--no-redact] [--json]\n';

function listOption(v: Record<string, unknown>, name: string): string[] | undefined {
  const text = v[name];
  if (typeof text !== 'string') return undefined;
  return text.split(',').map((s) => s.trim()).filter(Boolean);
}

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : '-');

/** The readable summary: one row per filter in run order, then syntax and redaction lines. */
export function cleanSummary(r: StageResult): string[] {
  const s = r.stats as Record<string, unknown>;
  const rowsIn = Number(s.rows_in ?? 0);
  const bytesIn = Number(s.content_bytes_in ?? 0);
  const reasons = (s.drop_reasons ?? {}) as Record<string, number>;
  const bytes = (s.drop_bytes ?? {}) as Record<string, number>;
  const order = (s.filter_order ?? Object.keys(reasons)) as DropReason[];
  const redactions = (s.redactions ?? {}) as Record<string, number>;
  const timing = (s.seconds_by_step ?? {}) as Record<string, number>;
  const seconds = (step: string) => (timing[step] === undefined ? '-' : timing[step]!.toFixed(2));
  const lines = [
    `clean: kept ${fmt(s.kept)} of ${fmt(rowsIn)} rows, dropped ${fmt(s.dropped)}; content ${formatBytes(bytesIn)} -> ${formatBytes(s.content_bytes_out)}`,
    `          ${'filter (in run order)'.padEnd(21)} ${'files'.padStart(9)} ${'% files'.padStart(8)} ${'bytes'.padStart(10)} ${'% bytes'.padStart(8)} ${'time s'.padStart(8)}`,
  ];
  for (const name of order) {
    const n = reasons[name] ?? 0;
    const b = bytes[name] ?? 0;
    lines.push(`  dropped ${name.padEnd(21)} ${fmt(n).padStart(9)} ${pct(n, rowsIn).padStart(8)} ${formatBytes(b).padStart(10)} ${pct(b, bytesIn).padStart(8)} ${seconds(name).padStart(8)}`);
  }
  const dropped = Number(s.dropped ?? 0);
  const droppedBytes = Object.values(bytes).reduce((a, b) => a + b, 0);
  lines.push(`  dropped ${'(total)'.padEnd(21)} ${fmt(dropped).padStart(9)} ${pct(dropped, rowsIn).padStart(8)} ${formatBytes(droppedBytes).padStart(10)} ${pct(droppedBytes, bytesIn).padStart(8)}`);
  const syntax = (s.syntax ?? {}) as Record<string, SyntaxLanguageCounts>;
  const parsed = Object.entries(syntax).filter(([, c]) => c.checked + c.skipped_too_large > 0);
  if (parsed.length > 0) {
    lines.push(
      `  syntax (tree-sitter): ${parsed
        .map(([lang, c]) => `${lang} ${fmt(c.failed)}/${fmt(c.checked)} failed (${pct(c.failed, c.checked)})${c.skipped_too_large ? `, ${fmt(c.skipped_too_large)} too large to parse` : ''}`)
        .join('; ')}`,
    );
  }
  const decon = (s.decontaminated_by_benchmark ?? {}) as Record<string, number>;
  if (Object.keys(decon).length > 0) lines.push(`  decontaminated: ${Object.entries(decon).map(([b, n]) => `${b} ${fmt(n)}`).join(', ')}`);
  if (Object.keys(timing).length > 0) lines.push(`  time: line statistics ${seconds('line_stats')} s, filters above, PII redaction ${seconds('redaction')} s`);
  lines.push(`  redacted ${Object.entries(redactions).map(([t, n]) => `${t} ${fmt(n)}`).join(', ')} (in ${fmt(s.documents_redacted)} documents)`);
  lines.push(`  samples of each filter's removals: ${r.dir}/_DETAILS.json`);
  return lines;
}

export async function run(argv: string[]): Promise<number> {
  return runStageCommand(
    'clean',
    USAGE,
    OPTIONS,
    argv,
    async (v) => {
      const { inputDir, out } = await resolveInputAndOut(v, USAGE);
      const params: Partial<CleanParams> = {
        maxAvgLineLength: numberOption(v, 'max-avg-line-length', false),
        maxLineLength: numberOption(v, 'max-line-length', true),
        minAlphanumFraction: numberOption(v, 'min-alphanum-fraction', false),
        generatedMarkerLines: numberOption(v, 'generated-marker-lines', true),
        // Names are checked against the schema's lists by resolveCleanParams (an error names the field).
        disabledFilters: listOption(v, 'disable') as CleanParams['disabledFilters'] | undefined,
        syntaxLanguages: listOption(v, 'syntax-languages') as CleanParams['syntaxLanguages'] | undefined,
        decontaminationBenchmarks: listOption(v, 'benchmarks'),
        redactPii: v['no-redact'] ? false : undefined,
      };
      return cleanStage({ artifactsRoot: out, input: await readStageInput(inputDir), params });
    },
    cleanSummary,
  );
}
