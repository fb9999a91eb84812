/**
 * kiln eval-samples --problems <jsonl|jsonl.gz> [--problems ...] --samples <jsonl> [--k 1,10]
 *                   [--timeout 10] [--memory-mb 1024] [--out results.jsonl] [--seed 0] [--bootstrap 1000]
 * Runs each sample against its problem's tests in the sandbox and prints pass@k as JSON on stdout:
 * over all problems at the top (`{"pass@1":0.5, ...}`, as before multi-language eval) and per
 * language under `languages` with 95% bootstrap intervals over problems and failure classes.
 * Problems in human-eval's, HumanEval-X's or MultiPL-E's format; --problems may repeat (one file
 * per language). Notes and a summary go to stderr. --out writes one line per sample with `passed`
 * and `result` (human-eval's results format, plus language and failure). Exit 0 on success, 2 on
 * bad usage, 1 on bad input files or a sandbox failure.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { executeSamples, parseSamples } from '../../activities/eval/executeSamples.js';
import { readProblemsFile, type Problem } from '../../activities/eval/problems.js';
import { failureOf, languageOf, summarizeResults } from '../../activities/eval/report/metrics.js';

const USAGE = 'Usage: kiln eval-samples --problems <jsonl|jsonl.gz> [--problems ...] --samples <jsonl> [--k 1,10] [--timeout 10] [--memory-mb 1024] [--out results.jsonl] [--seed 0] [--bootstrap 1000]\n';

class UsageError extends Error {}

function parseNumberList(name: string, text: string): number[] {
  const values = text.split(',').map((s) => s.trim());
  for (const v of values) {
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`Expected \`--${name}\` to be a comma-separated list of positive integers, got \`${text}\`.`);
  }
  return values.map(Number);
}

function parsePositive(name: string, text: string, integer: boolean, minimum: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < minimum || (integer && !Number.isInteger(value)) || (!integer && value <= 0)) {
    throw new UsageError(`Expected \`--${name}\` to be ${integer ? `an integer of at least ${minimum}` : 'a positive number'}, got \`${text}\`.`);
  }
  return value;
}

function parseCli(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        problems: { type: 'string', multiple: true },
        samples: { type: 'string' },
        k: { type: 'string', default: '1' },
        timeout: { type: 'string', default: '10' },
        'memory-mb': { type: 'string', default: '1024' },
        out: { type: 'string' },
        seed: { type: 'string', default: '0' },
        bootstrap: { type: 'string', default: '1000' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help) return undefined;
  if (!v.problems?.length) throw new UsageError('Missing the `--problems` option (a HumanEval .jsonl or .jsonl.gz file).');
  if (!v.samples) throw new UsageError('Missing the `--samples` option (a .jsonl file of {task_id, completion}).');
  return {
    problems: v.problems,
    samples: v.samples,
    ks: parseNumberList('k', v.k!),
    timeoutSeconds: parsePositive('timeout', v.timeout!, false, 0),
    memoryMb: parsePositive('memory-mb', v['memory-mb']!, true, 64),
    out: v.out,
    seed: parsePositive('seed', v.seed!, true, 0),
    bootstrap: parsePositive('bootstrap', v.bootstrap!, true, 1),
  };
}

/** Where the command writes (tests pass their own). */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export async function run(argv: string[], io: CommandIo = process): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`kiln eval-samples: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (!options) {
    io.stdout.write(USAGE);
    return 0;
  }
  try {
    const problems: Problem[] = [];
    for (const file of options.problems) problems.push(...(await readProblemsFile(file)));
    let samplesBytes: Uint8Array;
    try {
      samplesBytes = await readFile(options.samples);
    } catch (error) {
      throw new Error(`Cannot read samples file ${options.samples}: ${(error as Error).message}`, { cause: error });
    }
    const samples = parseSamples(samplesBytes, options.samples);
    const started = performance.now();
    const out = await executeSamples({ problems, samples, ks: options.ks, timeoutSeconds: options.timeoutSeconds, memoryMb: options.memoryMb });
    const results = out.results.map((r) => {
      const line = { ...r, language: languageOf(r) };
      return { ...line, failure: failureOf(line) };
    });
    if (options.out) await writeFile(options.out, results.map((r) => JSON.stringify(r)).join('\n') + (results.length ? '\n' : ''));
    for (const note of out.notes) io.stderr.write(`kiln eval-samples: note: ${note}\n`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    io.stderr.write(`kiln eval-samples: ${out.passed} of ${out.samples} samples passed over ${out.problems} problems in ${seconds} s (sandbox: ${out.isolation})\n`);
    const { languages } = summarizeResults(results, { ks: options.ks, resamples: options.bootstrap, seed: options.seed });
    const perLanguage = Object.fromEntries(Object.entries(languages).map(([l, m]) => [l, { problems: m.problems, ...m.passAtK, intervals: m.intervals, failures: m.failures }]));
    io.stdout.write(JSON.stringify({ ...out.passAtK, languages: perLanguage }) + '\n');
    return 0;
  } catch (error) {
    const message = error instanceof ApplicationFailure || error instanceof Error ? error.message : String(error);
    io.stderr.write(`kiln eval-samples: ${message}\n`);
    return 1;
  }
}
