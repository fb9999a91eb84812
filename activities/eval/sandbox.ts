/**
 * Runs a batch of generated programs in the sandbox runner (kiln_native.sandbox): jobs as a JSON
 * list on stdin, one JSON result per job on stdout. The runner isolates each program (own process,
 * namespaces, rlimits, wall-clock timeout, no network), compiling it first in the same sandbox
 * when its language has a compile step; see sandbox.py and sandbox_langs.py.
 */
import { execa } from 'execa';
import { ErrorType, fatal, transient } from '../../contracts/errors.js';
import { pythonEnv, pythonExecutable, pythonDir } from '../../lib/python.js';
import type { Language } from './languages/index.js';

export interface SandboxSample {
  task_id: string;
  /** Python: the whole program (prompt + completion + test + check). Others: prompt + completion. */
  program: string;
  /** Default python. */
  language?: Language;
  /** The trusted checks (not Python). */
  test?: string;
  /** Trusted context for the checks (Go test_setup, Java imports, C++ prototype). */
  header?: string;
}

/** Why a sample failed; null when it passed. */
export type FailureClass = null | 'compile_error' | 'wrong_answer' | 'timeout' | 'crash' | 'exited_early';

export interface SandboxOutcome {
  task_id: string;
  passed: boolean;
  /** "passed" | "failed: <why>" | "timed out" | "exited early" */
  result: string;
  /** The isolation layers in force, e.g. "uid65534,userns,netns,pidns,mountns-readonly,rlimits,pyguard". */
  isolation: string;
  /** The fields below are set by the real runner (optional so that injected fakes stay valid). */
  language?: Language;
  failure?: FailureClass;
  /** The toolchain the sample ran with, as its tools print their version. */
  toolchain?: string;
}

export interface SandboxOptions {
  /** Wall-clock seconds per program. */
  timeoutSeconds: number;
  /** Address-space limit per program. */
  memoryMb: number;
  /** Programs the runner runs at once (default 1: callers run several runners instead). */
  parallel?: number;
  cancelSignal?: AbortSignal;
}

const COMPILE_SECONDS = 60;

interface RunnerRecord {
  id?: string;
  passed?: boolean;
  result?: string;
  isolation?: string;
  language?: Language;
  failure?: FailureClass;
  toolchain?: string;
  event?: string;
  message?: string;
}

/** Runs the samples in one runner process; outcomes come back in the samples' order. */
export async function runSandbox(samples: SandboxSample[], opts: SandboxOptions): Promise<SandboxOutcome[]> {
  if (samples.length === 0) return [];
  const parallel = opts.parallel ?? 1;
  const jobs = samples.map((s, i) => ({ id: String(i), program: s.program, language: s.language ?? 'python', test: s.test, header: s.header }));
  // A safety net only: the runner enforces each program's own timeout.
  // Compiled languages may add a compile step of up to COMPILE_SECONDS (sandbox_langs.py).
  const compiles = samples.some((s) => (s.language ?? 'python') !== 'python');
  const batchTimeoutMs = (Math.ceil(samples.length / parallel) * (opts.timeoutSeconds + 5 + (compiles ? COMPILE_SECONDS : 0)) + 60) * 1000;
  const child = await execa(
    pythonExecutable(),
    ['-m', 'kiln_native.sandbox', '--timeout', String(opts.timeoutSeconds), '--memory-mb', String(opts.memoryMb), '--jobs', String(parallel)],
    {
      cwd: pythonDir(),
      env: pythonEnv(),
      extendEnv: false,
      input: JSON.stringify(jobs),
      reject: false,
      timeout: batchTimeoutMs,
      cancelSignal: opts.cancelSignal,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  const records: RunnerRecord[] = [];
  for (const line of String(child.stdout).split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      records.push(JSON.parse(line) as RunnerRecord);
    } catch {
      // not protocol output
    }
  }
  const error = records.find((r) => r.event === 'error');
  if (child.exitCode === 2 || error) {
    throw fatal(ErrorType.InvalidInput, `sandbox runner refused the batch: ${error?.message ?? String(child.stderr).slice(-500)}`);
  }
  // The activity's cancellation (a CancelledFailure) ends it as cancelled, not failed.
  if (child.isCanceled) throw opts.cancelSignal?.reason ?? transient(ErrorType.ToolFailed, 'sandbox run was cancelled');
  if (child.exitCode !== 0) {
    const why = child.timedOut ? `did not finish within ${batchTimeoutMs / 1000} s` : `exited with code ${child.exitCode ?? child.signal}`;
    throw transient(ErrorType.ToolFailed, `sandbox runner ${why}: ${String(child.stderr).slice(-1000)}`);
  }
  const byId = new Map(records.map((r) => [r.id, r]));
  return samples.map((sample, i) => {
    const r = byId.get(String(i));
    if (!r || typeof r.passed !== 'boolean' || typeof r.result !== 'string') {
      throw transient(ErrorType.ToolFailed, `sandbox runner returned no result for sample ${i} (${sample.task_id}): ${String(child.stderr).slice(-500)}`);
    }
    return {
      task_id: sample.task_id, passed: r.passed, result: r.result, isolation: r.isolation ?? '', language: r.language ?? sample.language ?? 'python',
      failure: r.failure ?? (r.passed ? null : 'crash'), toolchain: r.toolchain ?? '',
    };
  });
}
