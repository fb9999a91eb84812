import { Context } from '@temporalio/activity';

/**
 * Heartbeats every few seconds while `work` runs, so a worker killed mid-activity is noticed
 * within the heartbeat timeout and cancellation reaches the activity. `details` supplies the
 * latest progress shown in the Temporal UI (never secrets).
 * Outside an activity (the `kiln <stage>` commands) it just runs `work`.
 */
export async function withHeartbeat<T>(work: () => Promise<T>, details?: () => unknown, everyMs = 3000): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    return work();
  }
  const beat = () => ctx!.heartbeat(details?.());
  beat();
  const timer = setInterval(beat, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** The activity's cancellation signal, or undefined outside an activity. */
export function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Yields to the event loop so heartbeats and cancellation get through CPU-bound loops. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
