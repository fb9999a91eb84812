/**
 * kiln report --input <stage folder> [--out <artifacts root>] [--title <text>] [--json]
 * Writes the data report of a finished run's artifacts: pass its dedup stage folder (or clean,
 * ingest, or a later stage such as shard); the stages it came from are found through the
 * manifests. The report goes to <artifacts root>/stages/data-report/<fingerprint>/report.html
 * (and report.json); --out defaults to the input's own artifacts root.
 */
import type { ParseArgsConfig } from 'node:util';
import { dataReportStage } from '../../activities/report/dataReport.js';
import { DATA_STAGES, findStageChain } from '../../activities/report/stageChain.js';
import { artifactsRootOf, formatNumber as fmt, runStageCommand, toUri, UsageError } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  input: { type: 'string' },
  out: { type: 'string' },
  title: { type: 'string' },
};

const USAGE = 'Usage: kiln report --input <stage folder: dedup, clean or ingest> [--out <artifacts root>] [--title <text>] [--json]\n';

export async function run(argv: string[]): Promise<number> {
  return runStageCommand(
    'report',
    USAGE,
    OPTIONS,
    argv,
    async (v) => {
      if (typeof v.input !== 'string') throw new UsageError(`Missing the \`--input\` option.\n${USAGE}`);
      const inputDir = (await toUri(v.input)).replace(/\/+$/, '');
      const inputRoot = artifactsRootOf(inputDir);
      if (!inputRoot) throw new UsageError(`Expected \`--input\` to be a <root>/stages/<stage>/<fingerprint> folder, got \`${inputDir}\`.`);
      const out = typeof v.out === 'string' ? await toUri(v.out) : inputRoot;
      const { store } = await import('../../lib/storage/index.js');
      const chain = await findStageChain(store, inputRoot, inputDir);
      for (const dir of chain.missing) process.stderr.write(`kiln report: warning: ${dir} is named by a manifest but has none; left out.\n`);
      const found = DATA_STAGES.filter((s) => chain.stages[s]);
      if (!found.length) throw new UsageError(`No ingest, clean or dedup stage found from ${inputDir}.`);
      return dataReportStage({ artifactsRoot: out, ...chain.stages, title: typeof v.title === 'string' ? v.title : undefined });
    },
    (r) => {
      const s = r.stats as { html: string; files_in: number | null; files_out: number | null };
      return [`report: ${fmt(s.files_in)} files in, ${fmt(s.files_out)} kept`, `open: ${s.html}`];
    },
  );
}
