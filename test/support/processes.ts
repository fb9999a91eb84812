// Watching child processes from tests: is a tool started with these arguments running, and
// cancelling an activity once it is (so a test proves the cancellation reached the process).
import { execFileSync } from 'node:child_process';
import type { MockActivityEnvironment } from '@temporalio/testing';

/** Command lines of this machine's processes that contain every one of `parts`. */
export function processesMatching(...parts: string[]): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => parts.every((p) => line.includes(p)) && !line.startsWith('ps '));
}

/** Polls until a process matching `parts` runs, then cancels the activity; resolves with its command line. */
export async function cancelWhenRunning(env: MockActivityEnvironment, parts: string[], timeoutMs = 120_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [found] = processesMatching(...parts);
    if (found !== undefined) {
      env.cancel();
      return found;
    }
    if (Date.now() > deadline) throw new Error(`no process matching ${parts.join(' ')} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until no process matches `parts` (a stopped tool may take a moment to exit). */
export async function waitGone(parts: string[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (processesMatching(...parts).length > 0) {
    if (Date.now() > deadline) throw new Error(`still running after ${timeoutMs} ms: ${processesMatching(...parts).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
