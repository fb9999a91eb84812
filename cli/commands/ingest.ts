/**
 * kiln ingest --source <uri|path|glob> --out <artifacts root> [--languages Python,Go]
 *             [--max-rows-per-language N] [--on-bad-file skip|fail] [--max-document-bytes N|none] [--json]
 * Runs the ingest activity locally (outside Temporal) and prints a summary, the skipped files with
 * their reasons, and the output folder.
 */
import type { ParseArgsConfig } from 'node:util';
import cliProgress from 'cli-progress';
import { ingestStage, type IngestProgress, type OnBadFile } from '../../activities/ingest/index.js';
import { resolveUri } from '../../activities/prepareRun.js';
import { DEFAULT_MAX_DOCUMENT_BYTES, DEFAULT_ON_BAD_FILE, DEFAULT_SEED } from '../../lib/config/defaults.js';
import { DETAILS_NAME } from '../../lib/manifest.js';
import { UsageError, toUri, numberOption, formatBytes, runStageCommand, formatNumber as fmt } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  source: { type: 'string' },
  out: { type: 'string' },
  languages: { type: 'string' },
  'max-rows-per-language': { type: 'string' },
  seed: { type: 'string' },
  'on-bad-file': { type: 'string' },
  'max-document-bytes': { type: 'string' },
};

const USAGE =
  'Usage: kiln ingest --source <uri|path> --out <uri|path> [--languages Python,Go] [--max-rows-per-language N] [--json]\n' +
  '  --source  Parquet in The Stack schema: a file, a folder or a glob (a local path, file://, s3://), one https:// URL,\n' +
  '            or hf://datasets/<owner>/<name>[@<revision>][/<path or glob>] (HF_TOKEN from the environment for gated data)\n' +
  '  --out     the artifacts root; the output goes to <out>/stages/ingest/<fingerprint>\n' +
  `  --on-bad-file skip|fail     unreadable files: skip and count them or stop (default ${DEFAULT_ON_BAD_FILE})\n` +
  `  --max-document-bytes N|none documents above N bytes are dropped and counted (default ${DEFAULT_MAX_DOCUMENT_BYTES ?? 'none'})\n`;

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
      const onBadFile = v['on-bad-file'] ?? DEFAULT_ON_BAD_FILE;
      if (onBadFile !== 'skip' && onBadFile !== 'fail') throw new UsageError(`Expected \`--on-bad-file\` to be skip or fail, got \`${String(onBadFile)}\`.`);
      const maxDoc = v['max-document-bytes'] === 'none' ? null : numberOption(v, 'max-document-bytes', true);
      if (maxDoc !== undefined && maxDoc !== null && maxDoc < 1) throw new UsageError(`Expected \`--max-document-bytes\` to be at least 1 or none, got \`${maxDoc}\`.`);
      const input = {
        artifactsRoot: resolveUri(await toUri(v.out)),
        source: resolveUri(await toUri(v.source)),
        languages,
        maxRowsPerLanguage: max ?? null,
        seed: numberOption(v, 'seed', true) ?? DEFAULT_SEED,
        onBadFile: onBadFile as OnBadFile,
        ...(maxDoc !== undefined ? { maxDocumentBytes: maxDoc } : {}),
      };
      const bar = progressBar(Boolean(v.json));
      try {
        return await ingestStage(input, { onIngestProgress: bar.update });
      } finally {
        bar.stop();
      }
    },
    (r) => {
      const s = r.stats as Record<string, unknown>;
      const per = (s.per_language ?? {}) as Record<string, { rows_in: number; rows_out: number; parts: number }>;
      const width = Math.max(8, ...Object.keys(per).map((l) => l.length));
      const dropped = [
        s.files_skipped ? `${fmt(s.files_skipped)} file(s) skipped as unreadable` : '',
        s.files_empty ? `${fmt(s.files_empty)} empty file(s)` : '',
        s.row_groups_skipped ? `${fmt(s.row_groups_skipped)} row group(s) skipped (${fmt(s.rows_in_skipped_row_groups)} rows)` : '',
        s.rows_invalid_utf8 ? `${fmt(s.rows_invalid_utf8)} row(s) not UTF-8` : '',
        s.rows_too_large ? `${fmt(s.rows_too_large)} row(s) over --max-document-bytes` : '',
      ].filter(Boolean);
      return [
        `ingest: ${fmt(s.rows_out)} rows kept of ${fmt(s.rows_in)} read from ${fmt(s.files_read)} file(s), ${formatBytes(s.bytes_read)} read, ${formatBytes(s.bytes_written)} written`,
        ...Object.entries(per).map(([lang, p]) => `  ${lang.padEnd(width)} ${fmt(p.rows_out).padStart(9)} of ${fmt(p.rows_in)} rows, ${p.parts} part(s)`),
        ...(dropped.length > 0 ? [`  dropped: ${dropped.join(', ')} (reasons in ${r.dir}/${DETAILS_NAME})`] : []),
      ];
    },
  );
}

/** A files-read bar on stderr when it is a terminal (never with --json). */
function progressBar(json: boolean): { update: (p: IngestProgress) => void; stop: () => void } {
  if (json || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: 'ingest [{bar}] {value}/{total} files | {rowsOut} rows kept of {rowsIn}', hideCursor: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (p) => {
      if (!started) bar.start(p.files, 0, { rowsIn: 0, rowsOut: 0 });
      started = true;
      bar.update(p.filesRead, { rowsIn: p.rowsIn.toLocaleString('en-US'), rowsOut: p.rowsOut.toLocaleString('en-US') });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
