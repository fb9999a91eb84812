/**
 * kiln clean --input <ingest stage folder> [--out <artifacts root>] [--max-avg-line-length N]
 *            [--max-line-length N] [--min-alphanum-fraction F] [--generated-marker-lines N]
 *            [--no-redact] [--json]
 * Runs the clean activity locally on a finished ingest stage (read from its _MANIFEST.json).
 * --out defaults to the input's own artifacts root.
 */
import type { ParseArgsConfig } from 'node:util';
import { cleanStage } from '../../activities/clean/index.js';
import type { CleanParams } from '../../activities/clean/filters.js';
import { formatBytes, formatNumber as fmt, numberOption, readStageInput, runStageCommand, resolveInputAndOut } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  input: { type: 'string' },
  out: { type: 'string' },
  'max-avg-line-length': { type: 'string' },
  'max-line-length': { type: 'string' },
  'min-alphanum-fraction': { type: 'string' },
  'generated-marker-lines': { type: 'string' },
  'no-redact': { type: 'boolean' },
};

const USAGE =
  'Usage: kiln clean --input <ingest stage folder> [--out <artifacts root>] [--max-avg-line-length 100]\n' +
  '                  [--max-line-length 1000] [--min-alphanum-fraction 0.25] [--generated-marker-lines 5] [--no-redact] [--json]\n';

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
        redactPii: v['no-redact'] ? false : undefined,
      };
      return cleanStage({ artifactsRoot: out, input: await readStageInput(inputDir), params });
    },
    (r) => {
      const s = r.stats as Record<string, unknown>;
      const reasons = (s.drop_reasons ?? {}) as Record<string, number>;
      const redactions = (s.redactions ?? {}) as Record<string, number>;
      return [
        `clean: kept ${fmt(s.kept)} of ${fmt(s.rows_in)} rows, dropped ${fmt(s.dropped)}; content ${formatBytes(s.content_bytes_in)} -> ${formatBytes(s.content_bytes_out)}`,
        ...Object.entries(reasons).map(([reason, n]) => `  dropped ${reason.padEnd(18)} ${fmt(n).padStart(9)}`),
        `  redacted ${Object.entries(redactions).map(([t, n]) => `${t} ${fmt(n)}`).join(', ')} (in ${fmt(s.documents_redacted)} documents)`,
      ];
    },
  );
}
