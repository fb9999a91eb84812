/**
 * Runs a module of python/ (kiln_native, kiln_trainer) and reads its protocol: one JSON
 * object per stdout line. Exit code 2 (or an `error` event) is a fatal input/config error; any
 * other failure is retryable. stderr is kept (tail) for error messages.
 */
import { execa, type ResultPromise } from 'execa';
import { ErrorType, fatal, transient } from '../contracts/errors.js';
import { pythonEnv, pythonExecutable, pythonDir } from './python.js';

export interface ToolEvent {
  event: string;
  [key: string]: unknown;
}

export const EXIT_FATAL = 2;
// Runs argv[1:] after asking the kernel to SIGKILL it when its parent (this worker) dies, so a
// worker killed with -9 leaves no orphaned trainer behind.
export const EXEC_WITH_PARENT_DEATH_SIGNAL =
  'import ctypes,os,sys\n' +
  'ctypes.CDLL(None, use_errno=True).prctl(1, 9)\n' +
  'os.execvp(sys.argv[1], sys.argv[1:])';

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
export const EXIT_STOPPED = 75;

export interface RunToolOptions {
  onEvent?: (event: ToolEvent) => void;
  cancelSignal?: AbortSignal;
  env?: Record<string, string>;
  /** Error type of a fatal failure (exit 2 / error event). */
  fatalType: ErrorType;
  /** Whole command instead of `python -m module` (e.g. torchrun). */
  command?: { file: string; args: string[] };
  /** Grace period after SIGTERM before SIGKILL. */
  killAfterMs?: number;
}

export interface ToolRun {
  events: ToolEvent[];
  exitCode: number;
  stderrTail: string;
}

export async function runPythonTool(module: string, args: string[], opts: RunToolOptions): Promise<ToolRun> {
  const file = opts.command?.file ?? pythonExecutable();
  const argv = opts.command?.args ?? ['-m', module, ...args];
  const child: ResultPromise = execa(pythonExecutable(), ['-c', EXEC_WITH_PARENT_DEATH_SIGNAL, file, ...argv], {
    cwd: pythonDir(),
    env: pythonEnv(opts.env),
    reject: false,
    stdin: 'ignore',
    // Its own process group: SIGTERM reaches torchrun and its trainers alike.
    detached: true,
    cleanup: true,
    buffer: false,
  });
  const stopGroup = () => {
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), opts.killAfterMs ?? 45_000).unref();
  };
  if (opts.cancelSignal?.aborted) stopGroup();
  opts.cancelSignal?.addEventListener('abort', stopGroup, { once: true });
  const events: ToolEvent[] = [];
  const tail: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    if (process.env.KILN_VERBOSE) process.stderr.write(chunk);
    tail.push(...chunk.split('\n'));
    if (tail.length > 60) tail.splice(0, tail.length - 60);
  });
  let pending = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const event = JSON.parse(line) as ToolEvent;
        events.push(event);
        opts.onEvent?.(event);
      } catch {
        // not protocol output
      }
    }
  });
  const result = await child;
  opts.cancelSignal?.removeEventListener('abort', stopGroup);
  const stderrTail = tail.join('\n').trim().split('\n').slice(-20).join('\n');
  const exitCode = typeof result.exitCode === 'number' ? result.exitCode : -1;
  const errorEvent = events.find((e) => e.event === 'error');
  if (exitCode === EXIT_FATAL || (errorEvent && exitCode !== 0)) {
    const message = String(errorEvent?.message ?? stderrTail ?? 'failed');
    throw fatal(opts.fatalType, `${module}: ${message}`);
  }
  return { events, exitCode, stderrTail };
}

/**
 * Throws for an unexpected non-zero exit: the activity's cancellation reason when `cancelSignal`
 * stopped the tool (the activity ends cancelled), else a retryable ToolFailed with stderr's tail.
 */
export function assertSucceeded(module: string, run: ToolRun, cancelSignal?: AbortSignal): void {
  if (run.exitCode === 0) return;
  if (cancelSignal?.aborted) throw cancelSignal.reason;
  throw transient(ErrorType.ToolFailed, `${module} exited with code ${run.exitCode}:\n${run.stderrTail}`);
}
