/**
 * kiln dedup --input <clean stage folder> [--out <artifacts root>] [--seed 1234] [--num-perm 256]
 *            [--bands 32] [--rows 8] [--ngram 5] [--threshold 0.85] [--no-exact] [--no-near] [--json]
 * Runs the dedup activity locally on a finished stage (read from its _MANIFEST.json); prints
 * the duplicate counts and the time taken (the dedup benchmark). --out defaults to the input's
 * own artifacts root.
 */
import type { ParseArgsConfig } from 'node:util';
import { dedupStage, type DedupParams } from '../../activities/dedup/index.js';
import { formatNumber as fmt, numberOption, readStageInput, runStageCommand, resolveInputAndOut } from '../stageCommand.js';

const OPTIONS: ParseArgsConfig['options'] = {
  input: { type: 'string' },
  out: { type: 'string' },
  seed: { type: 'string' },
  'num-perm': { type: 'string' },
  bands: { type: 'string' },
  rows: { type: 'string' },
  ngram: { type: 'string' },
  threshold: { type: 'string' },
  'no-exact': { type: 'boolean' },
  'no-near': { type: 'boolean' },
};

const USAGE =
  'Usage: kiln dedup --input <clean stage folder> [--out <artifacts root>] [--seed 1234] [--num-perm 256] [--bands 32]\n' +
  '                  [--rows 8] [--ngram 5] [--threshold 0.85] [--no-exact] [--no-near] [--json]\n';

export async function run(argv: string[]): Promise<number> {
  return runStageCommand(
    'dedup',
    USAGE,
    OPTIONS,
    argv,
    async (v) => {
      const { inputDir, out } = await resolveInputAndOut(v, USAGE);
      const params: Partial<DedupParams> = {
        numPerm: numberOption(v, 'num-perm', true),
        bands: numberOption(v, 'bands', true),
        rows: numberOption(v, 'rows', true),
        ngram: numberOption(v, 'ngram', true),
        threshold: numberOption(v, 'threshold', false),
        exact: v['no-exact'] ? false : undefined,
        near: v['no-near'] ? false : undefined,
      };
      return dedupStage({ artifactsRoot: out, input: await readStageInput(inputDir), params, seed: numberOption(v, 'seed', true) ?? 1234 });
    },
    (r) => {
      const s = r.stats as Record<string, unknown>;
      return [
        `dedup: kept ${fmt(s.kept)} of ${fmt(s.rows_in)} rows: ${fmt(s.exact_duplicates)} exact duplicates, ${fmt(s.near_duplicates)} near duplicates in ${fmt(s.clusters)} clusters`,
        `  candidate pairs ${fmt(s.candidate_pairs)}, verified ${fmt(s.verified_pairs)}`,
      ];
    },
  );
}
