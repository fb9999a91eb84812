/** Shared test data for the eval tests: HumanEval from ../shared/data. */
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../lib/python.js';

export const humanEvalPath = join(repoRoot(), '..', 'shared', 'data', 'humaneval', 'HumanEval.jsonl.gz');

export interface RawProblem {
  task_id: string;
  prompt: string;
  canonical_solution: string;
  test: string;
  entry_point: string;
}

export function loadHumanEval(): RawProblem[] {
  return gunzipSync(readFileSync(humanEvalPath))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as RawProblem);
}
