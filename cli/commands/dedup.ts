/**
 * kiln dedup --input <clean stage folder> [--out <artifacts root>] [--seed 1234] [--num-perm 256]
 *            [--bands B --rows R] [--ngram 5] [--threshold 0.7] [--no-verify] [--no-exact]
 *            [--no-near] [--reducers K] [--json]
 * Runs dedup's map-reduce steps (the same functions the dedupWorkflow runs as activities) one
 * after the other in this process on a finished stage (read from its _MANIFEST.json); prints a
 * line per step on stderr, then the duplicate counts and the time taken. --out defaults to the
 * input's own artifacts root.
 */
import type { ParseArgsConfig } from 'node:util';
import { dedupStage, type DedupParams, type DedupProgress } from '../../activities/dedup/index.js';
import { DEFAULT_SEED, DEFAULTS } from '../../lib/config/defaults.js';
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
  reducers: { type: 'string' },
  'no-verify': { type: 'boolean' },
  'no-exact': { type: 'boolean' },
  'no-near': { type: 'boolean' },
};

const D = DEFAULTS.dedup;
const USAGE =
  `Usage: kiln dedup --input <clean stage folder> [--out <artifacts root>] [--seed ${DEFAULT_SEED}] [--num-perm ${D.numPerm}] [--bands B --rows R]\n` +
  `                  [--ngram ${D.ngram}] [--threshold ${D.threshold}] [--no-verify] [--no-exact] [--no-near] [--reducers K] [--json]\n`;

/** One stderr line per finished step (runDedupSteps reports done === total once per step). */
function progressPrinter(): (p: DedupProgress) => void {
  const started = performance.now();
  return (p) => {
    if (p.done !== p.total) return;
    process.stderr.write(`  ${p.phase.padEnd(10)} ${p.total > 1 ? `${p.total} parts ` : ''}done at ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  };
}

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
        verify: v['no-verify'] ? false : undefined,
        exact: v['no-exact'] ? false : undefined,
        near: v['no-near'] ? false : undefined,
      };
      return dedupStage(
        { artifactsRoot: out, input: await readStageInput(inputDir), params, seed: numberOption(v, 'seed', true) ?? DEFAULT_SEED, reducers: numberOption(v, 'reducers', true) },
        { onProgress: v.json ? undefined : progressPrinter() },
      );
    },
    (r) => {
      const s = r.stats as Record<string, unknown>;
      return [
        `dedup: kept ${fmt(s.kept)} of ${fmt(s.rows_in)} rows: ${fmt(s.exact_duplicates)} exact duplicates, ${fmt(s.near_duplicates)} near duplicates in ${fmt(s.clusters)} clusters`,
        `  LSH ${fmt(s.bands)} bands x ${fmt(s.rows)} rows; candidate pairs ${fmt(s.candidate_pairs)}, kept after verification ${fmt(s.verified_pairs)}`,
      ];
    },
  );
}
