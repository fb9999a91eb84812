/** HumanEval-X (bundled in data/humaneval-x) for the multi-language eval tests. */
import { join } from 'node:path';
import { readProblemsFile, type Problem } from '../../activities/eval/problems.js';
import type { Language } from '../../activities/eval/languages/index.js';
import { repoRoot } from '../../lib/python.js';

const FILES: Record<Exclude<Language, 'typescript'>, string> = {
  python: 'humaneval_python.jsonl.gz',
  javascript: 'humaneval_js.jsonl.gz',
  go: 'humaneval_go.jsonl.gz',
  java: 'humaneval_java.jsonl.gz',
  rust: 'humaneval_rust.jsonl.gz',
  cpp: 'humaneval_cpp.jsonl.gz',
};

export function humanEvalXPath(language: Exclude<Language, 'typescript'>): string {
  return join(repoRoot(), 'data', 'humaneval-x', FILES[language]);
}

/** A language's 164 problems; TypeScript runs HumanEval-X's JavaScript (valid TypeScript) through its own pipeline. */
export async function humanEvalX(language: Language): Promise<Problem[]> {
  if (language === 'typescript') {
    return (await readProblemsFile(humanEvalXPath('javascript'))).map((p) => ({ ...p, task_id: p.task_id.replace('JavaScript/', 'TypeScript/'), language }));
  }
  return readProblemsFile(humanEvalXPath(language));
}
