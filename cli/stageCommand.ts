/** Shared plumbing of the commands that run one stage locally (kiln ingest, clean, dedup). */
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorType, fatal } from '../contracts/errors.js';
import { readManifest, toStageResult, type StageResult } from '../lib/manifest.js';

export class UsageError extends Error {}

/** A URI as is (file://, s3://, https://), or a local path (relative to the working directory) as file://. */
export async function toUri(arg: string): Promise<string> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) return arg;
  const { fileUri } = await import('../lib/storage/index.js');
  return fileUri(resolve(arg));
}

/** The StageResult of a finished stage folder, from its _MANIFEST.json. */
export async function readStageInput(dir: string): Promise<StageResult> {
  const { store } = await import('../lib/storage/index.js');
  const clean = dir.replace(/\/+$/, '');
  const manifest = await readManifest(store, clean);
  if (!manifest) {
    throw fatal(ErrorType.NotFound, `no _MANIFEST.json in ${clean}: pass the folder of a finished stage (<root>/stages/<stage>/<fingerprint>).`);
  }
  return toStageResult(clean, manifest, true);
}

/** `<root>` of a stage folder `<root>/stages/<stage>/<fingerprint>`, the default --out of clean and dedup. */
export function artifactsRootOf(stageDir: string): string | undefined {
  return /^(.*)\/stages\/[^/]+\/[^/]+\/*$/.exec(stageDir)?.[1];
}

export function parseCli(argv: string[], options: ParseArgsConfig['options'], usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as Record<
      string,
      string | boolean | undefined
    >;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${usage}`);
  }
}

export function numberOption(values: Record<string, unknown>, name: string, integer: boolean): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new UsageError(`Expected \`--${name}\` to be ${integer ? 'an integer' : 'a number'}, got \`${String(text)}\`.`);
  }
  return value;
}

const fmt = (n: unknown) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n));
export { fmt as formatNumber };

export function formatBytes(n: unknown): string {
  if (typeof n !== 'number') return String(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** Runs a stage command: timing, --json or a readable summary, errors to stderr with exit codes. */
export async function runStageCommand(
  name: string,
  usage: string,
  options: ParseArgsConfig['options'],
  argv: string[],
  run: (values: Record<string, string | boolean | undefined>) => Promise<StageResult>,
  summarize: (result: StageResult) => string[],
): Promise<number> {
  try {
    const values = parseCli(argv, options, usage);
    if (values.help) {
      process.stdout.write(usage);
      return 0;
    }
    const started = performance.now();
    const result = await run(values);
    const seconds = Math.round((performance.now() - started) / 10) / 100;
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...result, seconds }, null, 2) + '\n');
    } else {
      const lines = summarize(result);
      lines[0] += ` in ${seconds} s${result.reused ? ' (memoized: an earlier run with the same inputs)' : ''}`;
      process.stdout.write([...lines, `output: ${result.dir}`, ''].join('\n'));
    }
    return 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`kiln ${name}: ${message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** `--input` (a finished stage folder) and `--out` (an artifacts root; default: the input's own). */
export async function resolveInputAndOut(v: Record<string, unknown>, usage: string): Promise<{ inputDir: string; out: string }> {
  if (typeof v.input !== 'string') throw new UsageError(`Missing the \`--input\` option.\n${usage}`);
  const inputDir = await toUri(v.input);
  const out = typeof v.out === 'string' ? await toUri(v.out) : artifactsRootOf(inputDir);
  if (!out) throw new UsageError(`Missing the \`--out\` option (${inputDir} is not a <root>/stages/<stage>/<fingerprint> folder).`);
  return { inputDir, out };
}

