/**
 * Self-fencing: a node that cannot reach the Temporal server for longer than its heartbeat
 * timeout must assume the server has declared it lost and started a new gang; it stops its
 * trainer and commits nothing more, so two gangs never train the same run at once.
 *
 * Why a probe of our own: while the worker is cut off, the SDK tells the activity nothing. Its
 * heartbeats are buffered by the worker (core) and retried; the cancellation that says the server
 * timed the node out (`cancellationDetails.timedOut` / `notFound`) comes back with the first
 * heartbeat answered after the network heals, which may be never, or hours after a new gang
 * started. So the node asks the server itself, once a second, with a short deadline.
 */
import type { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { CommitGuard } from './fence.js';

/** Resolves when the server answered within `timeoutMs`; rejects otherwise. */
export type ServerProbe = (timeoutMs: number) => Promise<unknown>;

/** The cheapest call every Temporal frontend answers: GetSystemInfo, with a deadline. */
export function probeServer(client: Client): ServerProbe {
  return (timeoutMs) => client.connection.withDeadline(Date.now() + timeoutMs, () => client.workflowService.getSystemInfo({}));
}

export interface SelfFenceOptions {
  probe: ServerProbe;
  /** Silence allowed before fencing: the activity's heartbeat timeout (ms). */
  limitMs: number;
  /** Time between probes (ms). Default 1000. */
  everyMs?: number;
  /** Called once, with the reason in words, when the server has been out of reach too long. */
  onFence(why: string): void;
  now?: () => number;
}

/**
 * Probes the server until the returned function is called, or until it fences. The server counts
 * as reached at the moment a probe that got an answer was sent: a slow answer proves nothing
 * about the time between.
 */
export function watchServer(opts: SelfFenceOptions): () => void {
  const now = opts.now ?? Date.now;
  const everyMs = opts.everyMs ?? 1000;
  // A probe's answer must come well inside the limit, or the limit would be overrun waiting.
  const deadlineMs = Math.max(250, Math.min(2000, opts.limitMs / 4));
  let lastReached = now();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const round = async () => {
    const sent = now();
    // Bounded here too: a probe that ignores its deadline must not stall the watch.
    const reached = await Promise.race([
      opts.probe(deadlineMs).then(() => true, () => false),
      new Promise<boolean>((r) => setTimeout(() => r(false), deadlineMs + 500).unref()),
    ]);
    if (stopped) return;
    if (reached) lastReached = Math.max(lastReached, sent);
    const silentMs = now() - lastReached;
    if (silentMs > opts.limitMs) {
      stopped = true;
      opts.onFence(`no answer from the Temporal server for ${(silentMs / 1000).toFixed(1)} s (heartbeat timeout ${(opts.limitMs / 1000).toFixed(1)} s): the server has taken this node for lost`);
      return;
    }
    timer = setTimeout(() => void round(), Math.max(0, everyMs - (now() - sent)));
  };
  timer = setTimeout(() => void round(), everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * Watches, for one node activity, both ways of learning that the server has given up on it: the
 * probe (while cut off) and a cancellation that says so (TIMED_OUT, NOT_FOUND: the first heartbeat
 * answered after a partition heals). Returns the function that stops watching.
 */
export function startSelfFence(ctx: Context, probe: ServerProbe, onFence: (why: string) => void): () => void {
  const limitMs = ctx.info.heartbeatTimeoutMs;
  const stopWatch = limitMs ? watchServer({ probe, limitMs, onFence }) : () => undefined;
  const onCancel = () => {
    const details = ctx.cancellationDetails;
    if (details?.timedOut) onFence('the server timed this node out (no heartbeat within its timeout)');
    else if (details?.notFound) onFence('the server no longer knows this node (its gang was replaced or its run ended)');
  };
  ctx.cancellationSignal.addEventListener('abort', onCancel, { once: true });
  return () => {
    stopWatch();
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
  };
}

/**
 * A node's fencing, wired: the server watch (or a telling cancellation) fences the node's commit
 * guard, and a fenced guard (that, or a commit refused by a newer gang) stops the trainer.
 */
export function fenceNode(ctx: Context, probe: ServerProbe, guard: CommitGuard, trainer: { fence(why: string): void }): () => void {
  guard.onFenced = (why) => {
    ctx.log.warn(`This node fenced itself: ${why}`);
    trainer.fence(why);
  };
  return startSelfFence(ctx, probe, (why) => guard.fence(why));
}
