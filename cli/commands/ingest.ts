/**
 * kiln ingest --source <uri|path> --out <artifacts root> [--languages Python,Go]
 *             [--max-rows-per-language N] [--json]
 * Runs the ingest activity locally (outside Temporal) and prints a summary and the output folder.
 */
import type { ParseArgsConfig } from 'node:util';
import { ingestStage } from '../../activities/ingest.js';
import { UsageError, toUri, numberOption, formatBytes, runStageCommand, formatNumber as fmt } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  source: { type: 'string' },
  out: { type: 'string' },
  languages: { type: 'string' },
  'max-rows-per-language': { type: 'string' },
  seed: { type: 'string' },
};

const USAGE =
  'Usage: kiln ingest --source <uri|path> --out <uri|path> [--languages Python,Go] [--max-rows-per-language N] [--json]\n' +
  '  --source  a .parquet file or a folder of them in The Stack schema (file://, s3://, https:// or a local path)\n' +
  '  --out     the artifacts root; the output goes to <out>/stages/ingest/<fingerprint>\n';

export async function run(argv: string[]): Promise<number> {
  return runStageCommand(
    'ingest',
    USAGE,
    OPTIONS,
    argv,
    async (v) => {
      if (typeof v.source !== 'string') throw new UsageError(`Missing the \`--source\` option.\n${USAGE}`);
      if (typeof v.out !== 'string') throw new UsageError(`Missing the \`--out\` option.\n${USAGE}`);
      const max = numberOption(v, 'max-rows-per-language', true);
      if (max !== undefined && max < 1) throw new UsageError(`Expected \`--max-rows-per-language\` to be at least 1, got \`${max}\`.`);
      const languages = typeof v.languages === 'string' ? v.languages.split(',').map((s) => s.trim()).filter(Boolean) : [];
      return ingestStage({
        artifactsRoot: await toUri(v.out),
        source: await toUri(v.source),
        languages,
        maxRowsPerLanguage: max ?? null,
        seed: numberOption(v, 'seed', true) ?? 1234,
      });
    },
    (r) => {
      const s = r.stats as Record<string, unknown>;
      const per = (s.per_language ?? {}) as Record<string, { rows_in: number; rows_out: number; parts: number }>;
      const width = Math.max(8, ...Object.keys(per).map((l) => l.length));
      return [
        `ingest: ${fmt(s.rows_out)} rows kept of ${fmt(s.rows_in)} read from ${fmt(s.files_read)} file(s), ${formatBytes(s.bytes_read)} read, ${formatBytes(s.bytes_written)} written`,
        ...Object.entries(per).map(([lang, p]) => `  ${lang.padEnd(width)} ${fmt(p.rows_out).padStart(9)} of ${fmt(p.rows_in)} rows, ${p.parts} part(s)`),
      ];
    },
  );
}
