/**
 * Eval problems in one model from three formats, as JSON lines (plain or gzip-compressed, told
 * apart by the gzip magic bytes, not the file name):
 *  - human-eval: task_id, prompt, test, entry_point (+ canonical_solution); language python;
 *  - HumanEval-X: task_id `<Lang>/<n>` (Python/ JavaScript/ Go/ Java/ Rust/ CPP/), prompt,
 *    declaration, test, canonical_solution (Go adds import and test_setup);
 *  - MultiPL-E: name, language, prompt, tests, stop_tokens (program = prompt + completion + tests).
 * The format is told per line by its fields. Bad input fails as InvalidInput/SchemaMismatch
 * naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { assemble, LANGUAGE_SPECS, languageNamed, languageOfHumanEvalX, type AssembledProgram, type Language } from './languages/index.js';

export type { Language } from './languages/index.js';
export type ProblemFormat = 'human-eval' | 'humaneval-x' | 'multipl-e';

export interface Problem {
  task_id: string;
  prompt: string;
  /** The checks (MultiPL-E's `tests`). */
  test: string;
  /** The function under test (derived from the declaration for HumanEval-X; '' when unknown). */
  entry_point: string;
  canonical_solution?: string;
  language: Language;
  /** Where a completion is cut: the problem's own (MultiPL-E) or the language's defaults. */
  stop_tokens: string[];
  format: ProblemFormat;
  /** HumanEval-X: the imports + signature (C++ checks are compiled against it as a prototype). */
  declaration?: string;
  /** HumanEval-X Go: the test file's package clause and imports. */
  test_setup?: string;
  /** HumanEval-X Go: the prompt's import block. */
  import?: string;
}

/**
 * A problem as callers may build it: human-eval's fields, the rest defaulting to Python; a
 * `language` given as a name (`rs`, `Rust`) is resolved, an unknown one fails as InvalidInput.
 */
export type ProblemInput = Omit<Problem, 'language' | 'stop_tokens' | 'format'> & Partial<Pick<Problem, 'stop_tokens' | 'format'>> & { language?: string };

const REQUIRED = ['task_id', 'prompt', 'test', 'entry_point'] as const;
const HUMANEVAL_X_REQUIRED = ['task_id', 'prompt', 'test', 'declaration'] as const;
const MULTIPL_E_REQUIRED = ['name', 'language', 'prompt', 'tests'] as const;

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

function requireStrings(value: Record<string, unknown>, fields: readonly string[], source: string, line: number): void {
  for (const field of fields) {
    if (typeof value[field] !== 'string') {
      throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected the field \`${field}\` to be a string, got ${JSON.stringify(value[field]) ?? 'nothing'}.`);
    }
  }
}

function optionalString(value: Record<string, unknown>, field: string, source: string, line: number): string | undefined {
  if (value[field] === undefined) return undefined;
  if (typeof value[field] !== 'string') throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected the field \`${field}\` to be a string.`);
  return value[field];
}

/** The function name in a HumanEval-X declaration's last signature ('' when none is found). */
function entryPointOf(declaration: string, language: Language): string {
  const patterns: Record<Language, RegExp> = {
    python: /def\s+(\w+)\s*\(/g,
    javascript: /(?:const|function)\s+(\w+)\s*[=(]/g,
    typescript: /(?:const|function)\s+(\w+)\s*[=(<]/g,
    go: /func\s+(\w+)\s*\(/g,
    java: /public\s+[\w<>,\s[\]]+?\s+(\w+)\s*\(/g,
    rust: /fn\s+(\w+)\s*[(<]/g,
    cpp: /(\w+)\s*\([^()]*\)\s*\{\s*$/g,
  };
  const matches = [...declaration.matchAll(patterns[language])];
  return matches.at(-1)?.[1] ?? '';
}

function parseRow(value: Record<string, unknown>, source: string, line: number): Problem {
  const canonical = optionalString(value, 'canonical_solution', source, line);
  let problem: Problem;
  if (typeof value.name === 'string' && value.tests !== undefined && value.task_id === undefined) {
    requireStrings(value, MULTIPL_E_REQUIRED, source, line);
    const language = languageNamed(value.language as string);
    if (!language) throw fatal(ErrorType.InvalidInput, `${source}: line ${line}: unsupported language ${JSON.stringify(value.language)} (supported: ${Object.keys(LANGUAGE_SPECS).join(', ')}).`);
    const stops = value.stop_tokens;
    if (stops !== undefined && !(Array.isArray(stops) && stops.every((t) => typeof t === 'string'))) {
      throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected \`stop_tokens\` to be a list of strings.`);
    }
    problem = {
      task_id: value.name, prompt: value.prompt as string, test: value.tests as string,
      entry_point: optionalString(value, 'entry_point', source, line) ?? '', language,
      stop_tokens: (stops as string[] | undefined) ?? [...LANGUAGE_SPECS[language].stopTokens], format: 'multipl-e',
    };
  } else if (typeof value.task_id === 'string' && value.entry_point === undefined && languageOfHumanEvalX(value.task_id)) {
    requireStrings(value, HUMANEVAL_X_REQUIRED, source, line);
    const language = languageOfHumanEvalX(value.task_id)!;
    const declaration = value.declaration as string;
    problem = {
      task_id: value.task_id, prompt: value.prompt as string, test: value.test as string,
      entry_point: entryPointOf(declaration, language), language, stop_tokens: [...LANGUAGE_SPECS[language].stopTokens],
      format: 'humaneval-x', declaration,
    };
    const testSetup = optionalString(value, 'test_setup', source, line);
    const imports = optionalString(value, 'import', source, line);
    if (testSetup !== undefined) problem.test_setup = testSetup;
    if (imports !== undefined) problem.import = imports;
  } else {
    requireStrings(value, REQUIRED, source, line);
    problem = {
      task_id: value.task_id as string, prompt: value.prompt as string, test: value.test as string, entry_point: value.entry_point as string,
      language: 'python', stop_tokens: [...LANGUAGE_SPECS.python.stopTokens], format: 'human-eval',
    };
  }
  if (canonical !== undefined) problem.canonical_solution = canonical;
  return problem;
}

/** Problems from the bytes of a .jsonl or .jsonl.gz file; `source` names it in errors. */
export function parseProblems(bytes: Uint8Array, source: string): Problem[] {
  const seen = new Set<string>();
  const problems = parseJsonlObjects(decodeJsonl(bytes, source), source).map(({ line, value }) => {
    const problem = parseRow(value, source, line);
    if (seen.has(problem.task_id)) throw fatal(ErrorType.InvalidInput, `${source}: line ${line}: duplicate task_id ${JSON.stringify(problem.task_id)}.`);
    seen.add(problem.task_id);
    return problem;
  });
  if (problems.length === 0) throw fatal(ErrorType.InvalidInput, `${source}: no problems (the file is empty).`);
  return problems;
}

/** A problem built by hand with human-eval's fields, completed with the Python defaults. */
export function withDefaults(problem: ProblemInput): Problem {
  const language = problem.language === undefined ? 'python' : languageNamed(problem.language);
  if (!language) throw fatal(ErrorType.InvalidInput, `problem ${problem.task_id}: unsupported language ${JSON.stringify(problem.language)} (supported: ${Object.keys(LANGUAGE_SPECS).join(', ')}).`);
  return { ...problem, language, stop_tokens: problem.stop_tokens ?? [...LANGUAGE_SPECS[language].stopTokens], format: problem.format ?? 'human-eval' };
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

/** The Python program the sandbox runs for one human-eval sample (human-eval's check_program). */
export function programFor(problem: ProblemInput, completion: string): string {
  return `${problem.prompt}${completion}\n${problem.test}\ncheck(${problem.entry_point})`;
}

/** What the sandbox runs for one sample of any language and format (see ./languages). */
export function assembleSample(problem: ProblemInput, completion: string): AssembledProgram {
  return assemble(withDefaults(problem), completion);
}
