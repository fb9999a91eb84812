/**
 * HumanEval single-line infilling, the FIM paper's recipe (Bavarian et al. 2022, "Efficient
 * Training of Language Models to Fill in the Middle"): for every canonical solution, each
 * non-blank line in turn is the middle; the prefix is the prompt and the lines before it, the
 * suffix the lines after it. Scored by exact match of the generated line, whitespace stripped.
 */
import type { Problem } from '../problems.js';

export interface InfillingExample {
  task_id: string;
  /** The problem the example comes from. */
  source: string;
  prefix: string;
  suffix: string;
  /** The line the model should write (without its newline). */
  middle: string;
}

/** Every single-line infilling example of the problems that have a canonical solution, in order. */
export function buildInfillingExamples(problems: Problem[], limit: number | null = null): InfillingExample[] {
  const examples: InfillingExample[] = [];
  for (const problem of problems) {
    if (typeof problem.canonical_solution !== 'string') continue;
    const lines = problem.canonical_solution.split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const suffix = lines.slice(i + 1).join('\n');
      examples.push({
        task_id: `SingleLineInfilling/${problem.task_id.replace(/\//g, '_')}/L${i}`,
        source: problem.task_id,
        prefix: problem.prompt + lines.slice(0, i).map((l) => l + '\n').join(''),
        suffix: i < lines.length - 1 ? '\n' + suffix : suffix,
        middle: line,
      });
    });
    if (limit !== null && examples.length >= limit) break;
  }
  return limit === null ? examples : examples.slice(0, limit);
}

/** Whether a generated middle matches the expected line (whitespace-stripped exact match). */
export function infillMatches(completion: string, middle: string): boolean {
  return completion.trim() === middle.trim();
}
