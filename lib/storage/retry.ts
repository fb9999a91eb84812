/**
 * Rides out a short outage of the artifact store inside one call: `op` is retried while it fails
 * with a retryable error (a refused connection, 5xx, a full disk), with exponential backoff, for at
 * most `patienceMs`; a non-retryable failure (NotFound, AccessDenied...) or the last error after
 * that passes through. For work that Temporal cannot retry at no cost: a training node's
 * checkpoint upload, whose failure would restart the whole gang. Stage activities need none of
 * this: their retry policies bridge an outage.
 */
import { isRetryable } from '../../contracts/errors.js';

export interface RetryOptions {
  /** How long to keep trying, from the first attempt (ms). */
  patienceMs: number;
  /** First backoff (ms); doubles up to `maxDelayMs`. Defaults 1 s and 15 s. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stop early and rethrow (e.g. the work became moot). */
  giveUp?: (err: unknown) => boolean;
  /** Told before each wait: for a log line or a heartbeat. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export async function retryTransient<T>(op: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const deadline = Date.now() + opts.patienceMs;
  let delay = opts.initialDelayMs ?? 1_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isRetryable(err) || opts.giveUp?.(err) || Date.now() + delay > deadline) throw err;
      opts.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 15_000);
    }
  }
}
